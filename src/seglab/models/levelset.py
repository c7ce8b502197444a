"""Unrolled Chan-Vese level-set refinement of a network's binary logits (differentiable).

Chan & Vese, "Active Contours Without Edges", IEEE Trans. Image Processing 10(2), 2001. The
level-set function ``phi`` (positive inside) evolves by their eq. (9)::

    dphi/dt = delta_eps(phi) [ mu div(grad phi / |grad phi|) - lambda1 (I - c1)^2
                               + lambda2 (I - c2)^2 ]

with ``c1``, ``c2`` the mean intensities inside and outside (eq. 6, with the smoothed
Heaviside ``H_eps(phi) = 1/2 (1 + 2/pi atan(phi/eps))`` of eq. 8 and its derivative
``delta_eps(phi) = eps / (pi (eps^2 + phi^2))``); the area term ``nu`` is 0, as in their
experiments. Here ``phi`` is the network's logit, so the zero level set is the 0.5-probability
boundary, and a few explicit Euler steps are unrolled so gradients reach the network.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from seglab.errors import ConfigError, DataError


def _curvature(phi: Tensor, eps: float = 1e-8) -> Tensor:
    """``div(grad phi / |grad phi|)`` by central differences (replicated borders: no flux
    through the image edge, Chan & Vese's Neumann boundary condition)."""
    p = nn.functional.pad(phi, (1, 1, 1, 1), mode="replicate")
    gy = (p[:, :, 2:, 1:-1] - p[:, :, :-2, 1:-1]) / 2
    gx = (p[:, :, 1:-1, 2:] - p[:, :, 1:-1, :-2]) / 2
    # eps keeps the normal finite where phi is flat
    norm = torch.sqrt(gx * gx + gy * gy + eps)
    ny = nn.functional.pad(gy / norm, (1, 1, 1, 1), mode="replicate")
    nx = nn.functional.pad(gx / norm, (1, 1, 1, 1), mode="replicate")
    return (ny[:, :, 2:, 1:-1] - ny[:, :, :-2, 1:-1]) / 2 + (
        nx[:, :, 1:-1, 2:] - nx[:, :, 1:-1, :-2]
    ) / 2


class LevelSetRefine(nn.Module):
    """``iterations`` Chan-Vese steps on binary logits ``N x 1 x H x W`` against the image.

    ``forward(logits, image)`` returns refined logits of the same shape. ``dt`` is the time
    step, ``mu`` the length (curvature) weight, ``lambda1``/``lambda2`` the inside/outside
    fitting weights (Chan & Vese used ``lambda1 = lambda2 = 1``), ``eps`` the width of the
    smoothed Heaviside and delta (theirs: 1, in the units of ``phi``). The image's channels
    each have their own ``c1``, ``c2`` and their fitting terms are averaged (the vector-valued
    Chan-Vese model); ``c1``, ``c2`` are recomputed per image and step, from ``H_eps(phi)``.
    Every step is plain tensor arithmetic, so the whole refinement is differentiable with
    respect to the logits and the image. The fitting term scales with the image's contrast
    squared: give images in about 0..1 or standardised.
    """

    def __init__(
        self,
        iterations: int = 5,
        dt: float = 1.0,
        mu: float = 0.2,
        lambda1: float = 1.0,
        lambda2: float = 1.0,
        eps: float = 1.0,
    ):
        super().__init__()
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ConfigError(f"iterations must be an integer >= 0, got {iterations!r}")
        for name, value in (("dt", dt), ("eps", eps)):
            if not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value!r}")
        for name, value in (("mu", mu), ("lambda1", lambda1), ("lambda2", lambda2)):
            if not value >= 0:
                raise ConfigError(f"{name} must be >= 0, got {value!r}")
        self.iterations, self.dt, self.mu = iterations, dt, mu
        self.lambda1, self.lambda2, self.eps = lambda1, lambda2, eps

    def forward(self, logits: Tensor, image: Tensor) -> Tensor:
        if logits.ndim != 4 or logits.shape[1] != 1:
            raise DataError(
                f"LevelSetRefine takes binary logits N x 1 x H x W, got {tuple(logits.shape)}"
            )
        if (
            image.ndim != 4
            or image.shape[0] != logits.shape[0]
            or image.shape[2:] != logits.shape[2:]
        ):
            raise DataError(
                f"image shape {tuple(image.shape)} does not match logits {tuple(logits.shape)}"
            )
        phi, x = logits.float(), image.float()
        for _ in range(self.iterations):
            inside = 0.5 * (1 + (2 / math.pi) * torch.atan(phi / self.eps))  # H_eps, eq. 8
            outside = 1 - inside
            # per image and channel (N x C x 1 x 1); the clamp keeps an empty region finite
            c1 = (x * inside).sum((2, 3), keepdim=True) / inside.sum(
                (2, 3), keepdim=True
            ).clamp_min(1e-6)
            c2 = (x * outside).sum((2, 3), keepdim=True) / outside.sum(
                (2, 3), keepdim=True
            ).clamp_min(1e-6)
            fit = -self.lambda1 * ((x - c1) ** 2).mean(1, keepdim=True) + self.lambda2 * (
                (x - c2) ** 2
            ).mean(1, keepdim=True)
            delta = self.eps / (math.pi * (self.eps**2 + phi * phi))
            phi = phi + self.dt * delta * (self.mu * _curvature(phi) + fit)
        return phi.to(logits.dtype)

    def extra_repr(self) -> str:
        return (
            f"iterations={self.iterations}, dt={self.dt}, mu={self.mu}, "
            f"lambda1={self.lambda1}, lambda2={self.lambda2}, eps={self.eps}"
        )


class LevelSetHead(nn.Module):
    """``net`` (a binary model: logits ``N x 1 x H x W``) followed by :class:`LevelSetRefine`
    on its input averaged to grey (Chan & Vese's model is for a grey image), trained end to end:
    the unrolled steps pass gradients to the network. ``options``: :class:`LevelSetRefine`'s.
    """

    def __init__(self, net: nn.Module, **options: Any):
        super().__init__()
        self.net = net
        self.refine = LevelSetRefine(**options)

    @property
    def aux_logits(self) -> list[Tensor] | None:
        """The wrapped network's per-scale logits (a multi-scale network inside)."""
        return getattr(self.net, "aux_logits", None)

    @property
    def aux_weight(self) -> float:
        return float(getattr(self.net, "aux_weight", 1.0))

    def forward(self, x: Tensor) -> Tensor:
        return self.refine(self.net(x), x.mean(1, keepdim=True))
