"""A dense CRF over any model's probabilities: the convolutional CRF (ConvCRF) of Teichmann and
Cipolla, "Convolutional CRFs for Semantic Segmentation", BMVC 2019 (arXiv:1805.04777).

The fully connected CRF of Krähenbühl and Koltun (NeurIPS 2011) refines a segmentation by
mean-field inference over the energy

* unary ``psi_u(x_i) = -log P(x_i)`` (the model's probabilities), and
* pairwise ``psi_p(x_i, x_j) = mu(x_i, x_j) * k(f_i, f_j)``, with ``mu`` a compatibility
  (initialised to Potts: 1 where the labels differ, 0 where they agree) and ``k`` the sum of
  two Gaussian kernels over positions ``p`` and colours ``I``:

  - appearance ``w1 * exp(-|p_i-p_j|^2 / (2 theta_alpha^2) - |I_i-I_j|^2 / (2 theta_beta^2))``
    (nearby pixels of similar colour want the same label: labels snap to image edges),
  - smoothness ``w2 * exp(-|p_i-p_j|^2 / (2 theta_gamma^2))`` (removes small isolated specks).

ConvCRF's idea is to truncate both kernels to a ``k x k`` window (pixels further apart than
``k // 2`` are assumed independent): message passing becomes a locally connected convolution,
done here with :func:`torch.nn.functional.unfold`, never an ``N^2`` matrix, and exact (no
permutohedral lattice approximation), on any device torch runs on, and differentiable -- so
``w1``, ``w2`` and the compatibility are parameters that a training run could learn (seglab
does not train it yet: the module is used as a fixed post-processing step, ``--crf``).

As in the paper, ``blur`` (an integer factor) optionally runs inference on an image downsampled
by average pooling, so a ``k x k`` window reaches ``blur`` times further for the same cost;
positions are measured in the original image's pixels either way, so the ``theta`` values keep
their meaning.

>>> import numpy as np
>>> probs = np.full((8, 8), 0.9, dtype=np.float32)
>>> image = np.zeros((8, 8, 3), dtype=np.uint8)
>>> refined = crf_refine(probs, image)
>>> refined.shape, bool((refined > 0.5).all())
((8, 8), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_EPS = 1e-6

DEFAULTS: dict[str, Any] = {
    "iterations": 5,
    "filter_size": 7,
    "blur": 2,
    "theta_alpha": 80.0,
    "theta_beta": 13.0,
    "theta_gamma": 3.0,
    "appearance_weight": 5.0,
    "smoothness_weight": 3.0,
}
"""The defaults of :class:`ConvCRF` and :func:`crf_refine`: Krähenbühl and Koltun's kernel widths
(``theta_beta`` for colours on a 0..255 scale), ConvCRF's ``7 x 7`` window on the image
halved (``blur`` 2: the window reaches 6 px either side; the paper blurs by 4) and 5 iterations."""


class ConvCRF(nn.Module):
    """Mean-field inference of a dense CRF with kernels truncated to a ``filter_size`` window
    (Teichmann and Cipolla, BMVC 2019).

    ``forward(probs_or_logits, image)``: ``N x K x H x W`` probabilities (``logits=True``:
    logits; a single channel is a binary model's foreground, taken as two classes) and the
    ``N x C x H x W`` image (colours on a 0..255 scale, as ``theta_beta`` assumes); returns the
    refined probabilities ``N x K' x H x W`` (``K' = 2`` for one input channel), summing to 1
    over the classes.

    ``appearance_weight`` (``w1``), ``smoothness_weight`` (``w2``) and the ``num_classes x
    num_classes`` compatibility (Potts at first) are :class:`torch.nn.Parameter`; the kernel
    widths are fixed.
    """

    def __init__(
        self,
        num_classes: int = 2,
        *,
        iterations: int = DEFAULTS["iterations"],
        filter_size: int = DEFAULTS["filter_size"],
        blur: int = DEFAULTS["blur"],
        theta_alpha: float = DEFAULTS["theta_alpha"],
        theta_beta: float = DEFAULTS["theta_beta"],
        theta_gamma: float = DEFAULTS["theta_gamma"],
        appearance_weight: float = DEFAULTS["appearance_weight"],
        smoothness_weight: float = DEFAULTS["smoothness_weight"],
    ):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes {num_classes}: a CRF needs 2 classes or more")
        if filter_size < 3 or filter_size % 2 == 0:
            raise ValueError(f"filter_size {filter_size}: expected an odd number, 3 or more")
        if iterations < 1:
            raise ValueError(f"iterations {iterations}: expected 1 or more")
        if blur < 1 or int(blur) != blur:
            raise ValueError(f"blur {blur}: expected a whole factor, 1 or more")
        for name, theta in (("alpha", theta_alpha), ("beta", theta_beta), ("gamma", theta_gamma)):
            if theta <= 0:
                raise ValueError(f"theta_{name} {theta}: expected a positive width")
        self.num_classes = num_classes
        self.iterations = int(iterations)
        self.filter_size = int(filter_size)
        self.blur = int(blur)
        self.theta_alpha = float(theta_alpha)
        self.theta_beta = float(theta_beta)
        self.theta_gamma = float(theta_gamma)
        self.appearance_weight = nn.Parameter(torch.tensor(float(appearance_weight)))
        self.smoothness_weight = nn.Parameter(torch.tensor(float(smoothness_weight)))
        self.compatibility = nn.Parameter(1.0 - torch.eye(num_classes))

    def _offsets(self, device: torch.device) -> torch.Tensor:
        """``|p_i - p_j|^2`` of each of the ``k*k`` window offsets, in original-image pixels
        (the same for every pixel, so computed once rather than unfolded)."""
        r = self.filter_size // 2
        steps = torch.arange(-r, r + 1, device=device, dtype=torch.float32) * self.blur
        dy, dx = torch.meshgrid(steps, steps, indexing="ij")
        return (dy**2 + dx**2).reshape(1, -1, 1, 1)

    def _unfold(self, x: torch.Tensor) -> torch.Tensor:
        """``N x D x H x W`` -> ``N x D x k*k x H x W``: each pixel's window, zero outside."""
        n, d, h, w = x.shape
        k = self.filter_size
        return F.unfold(x, k, padding=k // 2).view(n, d, k * k, h, w)

    def kernels(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The appearance and smoothness kernels of each pixel's window, ``N x k*k x H x W``
        each (unweighted); zero outside the image and at the centre (a pixel sends itself no
        message, as in the paper's implementation)."""
        n, _, h, w = image.shape
        distance = self._offsets(image.device)
        colour = image / self.theta_beta
        colour_diff = ((self._unfold(colour) - colour[:, :, None]) ** 2).sum(1)
        appearance = torch.exp(-distance / (2 * self.theta_alpha**2) - colour_diff / 2)
        smoothness = torch.exp(-distance / (2 * self.theta_gamma**2)).expand(n, -1, h, w)
        # zero padding would make off-image neighbours look like black pixels: mask them out
        inside = self._unfold(torch.ones(1, 1, h, w, device=image.device, dtype=image.dtype))[:, 0]
        inside[:, self.filter_size**2 // 2] = 0
        return appearance * inside, smoothness * inside

    def forward(
        self, probs_or_logits: torch.Tensor, image: torch.Tensor, *, logits: bool = False
    ) -> torch.Tensor:
        if probs_or_logits.ndim != 4 or image.ndim != 4:
            raise ValueError("expected N x K x H x W scores and an N x C x H x W image")
        if probs_or_logits.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"scores {tuple(probs_or_logits.shape[-2:])} and image "
                f"{tuple(image.shape[-2:])} differ in size"
            )
        unary = _unary(probs_or_logits.float(), logits=logits)  # N x K x H x W, -log P
        if unary.shape[1] != self.num_classes:
            raise ValueError(f"{unary.shape[1]} classes given to a CRF made for {self.num_classes}")
        height, width = unary.shape[-2:]
        image = image.float()
        if self.blur > 1:
            # ceil_mode keeps the last partial row/column, so upsampling covers the image
            image = F.avg_pool2d(image, self.blur, ceil_mode=True)
        appearance, smoothness = self.kernels(image)
        kernel = self.appearance_weight * appearance + self.smoothness_weight * smoothness
        q = torch.softmax(-unary, dim=1)
        for _ in range(self.iterations):
            small = F.avg_pool2d(q, self.blur, ceil_mode=True) if self.blur > 1 else q
            message = (self._unfold(small) * kernel[:, None]).sum(2)  # N x K x h x w
            if self.blur > 1:
                message = F.interpolate(
                    message, size=(height, width), mode="bilinear", align_corners=False
                )
            # compatibility transform: label l pays mu(l, l') for each neighbour's belief in l'
            pairwise = torch.einsum("lm,nmhw->nlhw", self.compatibility, message)
            q = torch.softmax(-unary - pairwise, dim=1)
        return q


def _unary(scores: torch.Tensor, *, logits: bool) -> torch.Tensor:
    """``-log P`` per class (``N x K x H x W``); one channel is the foreground of two classes."""
    if scores.shape[1] == 1:
        if logits:
            # log sigmoid(-z), log sigmoid(z): background and foreground, stable for large |z|
            return -torch.cat([F.logsigmoid(-scores), F.logsigmoid(scores)], dim=1)
        scores = torch.cat([1 - scores, scores], dim=1)
    if logits:
        return -torch.log_softmax(scores, dim=1)
    # clamped: a probability of exactly 0 would be an infinite energy no neighbour can move
    return -torch.log(scores.clamp(_EPS, 1.0))


def image_scale(image: np.ndarray) -> np.ndarray:
    """``image`` (``H x W`` or ``H x W x C``) as float32 ``C x H x W`` on the 0..255 scale that
    ``theta_beta`` is set for: uint8 as is, other integers by their range, floats up to 1 times
    255, other floats stretched to 0..255."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(f"expected an H x W or H x W x C image, got shape {array.shape}")
    if array.dtype == np.uint8:
        scaled = array.astype(np.float32)
    elif np.issubdtype(array.dtype, np.integer):
        scaled = array.astype(np.float32) * (255.0 / float(np.iinfo(array.dtype).max))
    else:
        scaled = array.astype(np.float32)
        low, high = float(np.nanmin(scaled)), float(np.nanmax(scaled))
        if low >= 0 and high <= 1:
            scaled = scaled * 255.0
        elif high > low:
            scaled = (scaled - low) * (255.0 / (high - low))
    return np.ascontiguousarray(scaled.transpose(2, 0, 1))


def crf_refine(
    probs: np.ndarray, image: np.ndarray, *, device: str | torch.device | None = None, **options
) -> np.ndarray:
    """``probs`` refined by a :class:`ConvCRF` over ``image``, with the same shape and dtype
    float32: ``H x W`` (a binary model's foreground probability) or ``K x H x W``.

    ``image`` is ``H x W`` or ``H x W x C`` at the probabilities' size (:func:`image_scale`
    brings it to 0..255); ``options`` are :class:`ConvCRF`'s (``iterations``,
    ``filter_size``, ``blur``, ``theta_alpha``, ``theta_beta``, ``theta_gamma``,
    ``appearance_weight``, ``smoothness_weight``: :data:`DEFAULTS`). Runs on ``device``
    (default: the CPU), without gradients.
    """
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim not in (2, 3):
        raise ValueError(f"expected H x W or K x H x W probabilities, got shape {probs.shape}")
    scores = probs[None] if probs.ndim == 2 else probs
    if scores.shape[-2:] != np.asarray(image).shape[:2]:
        raise ValueError(
            f"probabilities {scores.shape[-2:]} and image {np.asarray(image).shape[:2]} "
            "differ in size"
        )
    classes = max(2, scores.shape[0])
    target = torch.device(device) if device is not None else torch.device("cpu")
    crf = ConvCRF(classes, **options).to(target)
    with torch.no_grad():
        refined = crf(
            torch.from_numpy(np.ascontiguousarray(scores))[None].to(target),
            torch.from_numpy(image_scale(image))[None].to(target),
        )[0]
    out = refined.cpu().numpy().astype(np.float32)
    return out[1] if probs.ndim == 2 else out


class CRFHead(nn.Module):
    """``net`` followed by a trainable :class:`ConvCRF` over its input: the CRF as a layer
    learned end to end with the network, as in CRF-as-RNN (Zheng et al., ICCV 2015) and
    ConvCRF (Teichmann and Cipolla, BMVC 2019).

    ``out_channels``: ``net``'s logit channels (1: a binary model's foreground). ``forward(x)``
    returns logits of the same shape as ``net``'s, so every loss, threshold and export stays
    as it is: the CRF's probabilities ``Q`` become ``log Q`` (softmax channels) or ``log Q1 -
    log Q0`` (the sigmoid channel). The input ``x`` is the image; seglab's inputs are on a
    0..1 scale (``input.scale`` of ``model.json``), so they are multiplied by 255 for
    ``theta_beta``, which is set for 0..255 colours.
    """

    def __init__(self, net: nn.Module, out_channels: int, **options: Any):
        super().__init__()
        self.net = net
        self.out_channels = int(out_channels)
        # Trained from random weights, a head with the prediction-time pairwise weights
        # smooths an untrained network's small objects away at once and training never
        # recovers (nuclei, 2 minutes: val Dice 0). Starting near the identity (a tenth of
        # those weights), the head learns how much smoothing helps.
        for name in ("appearance_weight", "smoothness_weight"):
            options.setdefault(name, DEFAULTS[name] / 10)
        self.crf = ConvCRF(max(2, self.out_channels), **options)

    @property
    def aux_logits(self) -> list[torch.Tensor] | None:
        """The wrapped network's per-scale logits (a :class:`~seglab.models.multiscale.
        MultiScale` inside), for the training loss."""
        return getattr(self.net, "aux_logits", None)

    @property
    def aux_weight(self) -> float:
        return float(getattr(self.net, "aux_weight", 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        q = self.crf(logits, x * 255.0, logits=True).clamp_min(_EPS).log()
        out = q[:, 1:] - q[:, :1] if self.out_channels == 1 else q
        return out.to(logits.dtype)
