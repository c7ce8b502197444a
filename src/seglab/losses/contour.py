"""Contour losses from variational segmentation: the active-contour loss and the Mumford-Shah loss.

* :func:`active_contour` -- Chen, Williams, Vallabhaneni, Czanner, Williams & Zheng, "Learning
  Active Contour Models for Medical Image Segmentation", CVPR 2019: a length term plus a region
  term against the target mask (their eq. 4-6).
* :func:`mumford_shah` -- Kim & Ye, "Mumford-Shah Loss Functional for Image Segmentation With
  Deep Learning", IEEE TIP 29, 2019: the piecewise-constant Mumford-Shah functional of the
  network's outputs against the *input image* (their eq. 6), needing no labels; the registered
  ``mumford_shah`` loss adds it (:func:`weighted_mumford_shah`) to :func:`supervised_ce`, as in
  their semi-supervised setting.

Both follow :mod:`seglab.losses`' conventions (logits, integer targets, ignore index 255, float32)
and, unlike the papers' sums, are normalised by the pixel count so that their scale (about 0..1)
suits the other losses and does not change with the image size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError, DataError
from seglab.losses._inputs import Weights, binary, multiclass, no_weights_for_binary
from seglab.losses.pixel import bce, cross_entropy


def _probabilities(logits: Tensor, target: Tensor | None, ignore_index: int | None, loss: str):
    """``(p, t, valid)``: per-class probabilities ``N x K x H x W`` (binary: K = 1, the
    sigmoid), one-hot targets of the same shape (``None`` without a target) and the valid mask.
    """
    if target is None:  # unsupervised: nothing is ignored, the target's shape is only checked
        target = torch.zeros(logits.shape[0], *logits.shape[2:], dtype=torch.long)
        target = target.to(logits.device)
        ignore_index, have_target = None, False
    else:
        have_target = True
    if logits.ndim == 4 and logits.shape[1] == 1:
        z, t, valid = binary(logits, target, ignore_index, loss)
        p, t = torch.sigmoid(z).unsqueeze(1), t.unsqueeze(1)
    else:
        z, t, valid = multiclass(logits, target, ignore_index, loss)
        p = torch.softmax(z, dim=1)
        t = F.one_hot(t, z.shape[1]).permute(0, 3, 1, 2).float()
    return p, (t if have_target else None), valid


def _differences(u: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Forward differences of ``u`` (``N x K x H x W``) down and across at the pixels
    ``(i, j), i < H-1, j < W-1``, and where all three pixels they use are valid (``N x 1 x ...``).
    """
    dy = u[:, :, 1:, :-1] - u[:, :, :-1, :-1]
    dx = u[:, :, :-1, 1:] - u[:, :, :-1, :-1]
    v = valid.unsqueeze(1)
    both = v[:, :, :-1, :-1] & v[:, :, 1:, :-1] & v[:, :, :-1, 1:]
    return dy, dx, both.float()


def _mean_over(values: Tensor, weights: Tensor) -> Tensor:
    """``sum(values * weights) / sum(weights)`` over all but the class dimension (``N x K x ...``
    -> ``K``); 0 where every weight is 0, so an all-ignored batch gives 0, never NaN."""
    dims = [0, *range(2, values.ndim)]
    total = weights.sum(dims)
    return (values * weights).sum(dims) / torch.where(total > 0, total, 1.0)


def active_contour(
    logits: Tensor,
    target: Tensor,
    *,
    lambda_region: float = 1.0,
    eps: float = 1e-8,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Active-contour loss ``length + lambda_region * region`` (Chen et al., CVPR 2019).

    With ``u`` the predicted probability map and ``v`` the target mask (eq. 4-6 of the paper)::

        length = sum_ij sqrt(|du_x|^2 + |du_y|^2 + eps)
        region = |sum_ij u (c1 - v)^2| + |sum_ij (1 - u) (c2 - v)^2|,   c1 = 1, c2 = 0

    ``du_x``, ``du_y`` are forward finite differences, as in the paper's implementation. The
    region term is the Chan-Vese fitting energy with the target as the image: it is 0 for a
    perfect prediction; the length term penalises long, jagged boundaries.

    Here both sums are divided by their pixel counts (the paper sums the region term and averages
    the length term), so the total is about 0..2 whatever the image size and ``lambda_region``
    (paper: 1) weighs like-for-like terms. ``eps`` (paper: 1e-8) keeps the square root
    differentiable where ``u`` is flat. Multiclass logits: the loss of each foreground class
    (softmax probability against its one-hot target), averaged; the background is left out
    since its map is the complement of the others'. Ignored pixels are left out of the region
    term, and out of the length term wherever a finite difference touches one.
    """
    if not lambda_region >= 0:
        raise ConfigError(f"lambda_region must be >= 0, got {lambda_region!r}; the paper uses 1")
    if not eps > 0:
        raise ConfigError(f"eps must be > 0 (it keeps sqrt differentiable), got {eps!r}")
    p, t, valid = _probabilities(logits, target, ignore_index, "active_contour")
    if p.shape[1] > 1:
        p, t = p[:, 1:], t[:, 1:]
    dy, dx, pairs = _differences(p, valid)
    length = _mean_over(torch.sqrt(dy * dy + dx * dx + eps), pairs)
    w = valid.unsqueeze(1).float()
    # c1 = 1 inside, c2 = 0 outside: (c1 - v)^2 = 1 - v and (c2 - v)^2 = v for a 0/1 mask
    inside = _mean_over(p * (1.0 - t) ** 2, w).abs()
    outside = _mean_over((1.0 - p) * t**2, w).abs()
    return (length + lambda_region * (inside + outside)).mean()


def _check_image(image: Tensor | None, logits: Tensor, loss: str) -> Tensor:
    if image is None:
        raise ConfigError(
            f"loss {loss!r} needs the input image (loss(logits, target, image=images)); "
            "seglab's training passes it to losses whose needs_image is True"
        )
    if not isinstance(image, Tensor) or image.ndim != 4:
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise DataError(f"{loss}: image must be a tensor N x C x H x W, got {shape}")
    n, _, h, w = logits.shape
    if image.shape[0] != n or tuple(image.shape[2:]) != (h, w):
        raise DataError(
            f"{loss}: image shape {tuple(image.shape)} does not match logits "
            f"{tuple(logits.shape)} (same N, H and W expected)"
        )
    return image.float()


def mumford_shah(
    logits: Tensor,
    target: Tensor | None = None,
    *,
    image: Tensor,
    beta: float = 1.0,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """The piecewise-constant Mumford-Shah loss (Kim & Ye, IEEE TIP 2019, eq. 6), unsupervised.

    With ``y_n`` the network's class probabilities (softmax; binary: ``sigmoid`` and
    ``1 - sigmoid``, the two regions) and ``x`` the input image::

        L = sum_n sum_pixels |x - c_n|^2 y_n  +  beta * sum_n sum_pixels |grad y_n|
        c_n = sum_pixels x y_n / sum_pixels y_n          (per image and per channel of x)

    the first term is each region's spread around its mean intensity (eq. 7: ``c_n``); the
    second the total variation (the boundary length of soft regions). ``|grad y_n|`` is the
    anisotropic ``|dy| + |dx|`` of forward differences, as in the authors' implementation. No
    labels are used: ``target`` only marks ignored pixels (left out of ``c_n``, the fitting
    term, and the total variation where a difference touches one); ``None`` ignores nothing.

    Both sums are divided by the pixel count (the paper sums them) and the fitting term by the
    image's channels, so the value is about the image's variance and does not grow with the
    size. ``beta`` (the paper's TV weight) trades boundary length against region fit.
    """
    if not beta >= 0:
        raise ConfigError(f"beta must be >= 0, got {beta!r}")
    x = _check_image(image, logits, "mumford_shah")
    p, _, valid = _probabilities(logits, target, ignore_index, "mumford_shah")
    if p.shape[1] == 1:
        p = torch.cat([p, 1.0 - p], dim=1)  # the binary output splits the image in two regions
    w = valid.unsqueeze(1).float()
    # ignored pixels are 0 (whatever they hold) so that NaN/inf there reaches nothing
    x = torch.where(valid.unsqueeze(1), x, 0.0)
    y = p * w  # N x K x H x W
    # c_n per image and channel: N x K x C; the clamp keeps an empty region finite (its c_n
    # then multiplies y_n = 0 everywhere, so its value does not matter)
    mass = y.sum((2, 3)).clamp_min(1e-6)
    c = torch.einsum("nkhw,nchw->nkc", y, x) / mass.unsqueeze(-1)
    # sum_c (x - c_n)^2 = |x|^2 - 2 x.c_n + |c_n|^2 (avoids an N x K x C x H x W tensor)
    sq = (x * x).sum(1, keepdim=True) - 2 * torch.einsum("nchw,nkc->nkhw", x, c)
    sq = sq + (c * c).sum(-1)[..., None, None]
    fit = (y * sq.clamp_min(0.0)).sum((1, 2, 3)).sum() / (w.sum().clamp_min(1.0) * x.shape[1])
    dy, dx, pairs = _differences(p, valid)
    tv = ((dy.abs() + dx.abs()) * pairs).sum() / pairs.sum().clamp_min(1.0)
    return fit + beta * tv


def supervised_ce(
    logits: Tensor,
    target: Tensor,
    *,
    pos_weight: float | Tensor | None = None,
    class_weights: Weights = None,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """:func:`bce` for binary logits, :func:`cross_entropy` for multiclass: the supervised term
    of the registered ``mumford_shah`` loss, so one registered loss serves both kinds of task."""
    if logits.ndim == 4 and logits.shape[1] == 1:
        no_weights_for_binary(class_weights, "mumford_shah")
        return bce(logits, target, pos_weight=pos_weight, ignore_index=ignore_index)
    return cross_entropy(logits, target, class_weights=class_weights, ignore_index=ignore_index)


def weighted_mumford_shah(
    logits: Tensor,
    target: Tensor,
    *,
    image: Tensor,
    beta: float = 1.0,
    mumford_shah_weight: float = 0.1,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """``mumford_shah_weight * mumford_shah(...)``: the unsupervised term of the registered
    ``mumford_shah`` loss, added to :func:`supervised_ce` as in Kim & Ye's semi-supervised loss
    ``L_CE + alpha * L_MS``.

    The default weight 0.1 is chosen for seglab's scale, not copied: with both terms normalised
    per pixel and standardised images the Mumford-Shah value is about the within-region variance
    (up to ~1), the size of a cross-entropy, so 0.1 keeps the labels in charge while the image
    term pulls boundaries onto intensity edges; the paper's own weights apply to unnormalised
    sums and raw intensities, which do not carry over.
    """
    if not mumford_shah_weight >= 0:
        raise ConfigError(f"mumford_shah_weight must be >= 0, got {mumford_shah_weight!r}")
    value = mumford_shah(logits, target, image=image, beta=beta, ignore_index=ignore_index)
    return mumford_shah_weight * value
