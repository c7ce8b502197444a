"""Attention to scale: any segmentation network run on several scales of its input, fused per
pixel by learned weights.

Chen, Yang, Wang, Xu and Yuille, "Attention to Scale: Scale-aware Semantic Image Segmentation",
CVPR 2016. The shared network sees the image at each scale (theirs: 1, 0.75, 0.5); each scale's
score map is brought back to the input size and the maps are averaged with per-pixel weights,
a softmax over the scales of an attention model's output (their eq. 1-2). Their attention model
is two convolution layers on the network's features (3x3 with 512 channels, then 1x1 to one
channel per scale); seglab wraps networks whose features it cannot reach in general (smp,
torchvision, ReSeg...), so here the attention head reads the concatenated per-scale *logits*
instead: conv 3x3 -> ReLU -> conv 1x1 to ``S`` channels, softmax over ``S``.

The paper found extra supervision essential: the loss is that of the fused output plus that
of each scale's output (each resized to the input, their "extra supervision" with weight 1).
:class:`MultiScale` keeps the per-scale logits of the last training forward in
:attr:`MultiScale.aux_logits`; :class:`seglab.train.module.SegmentationModule` adds their
losses, times :attr:`MultiScale.aux_weight`.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

PAPER_SCALES = (1.0, 0.75, 0.5)
"""Chen et al.'s three scales."""


def scaled_size(size: int, scale: float, multiple: int) -> int:
    """``size * scale`` rounded, then up to a multiple of ``multiple`` (at least one multiple):
    a smp encoder refuses other sizes, so a scale of an allowed size must stay allowed.

    Integer arithmetic only (the scale as a fraction): while an exporter traces the network,
    ``size`` is a tensor, and this keeps the sizes following the input's."""
    ratio = Fraction(scale).limit_denominator(1000)
    side = (size * ratio.numerator + ratio.denominator // 2) // ratio.denominator
    fitted = (side + multiple - 1) // multiple * multiple
    return max(multiple, fitted) if isinstance(fitted, int) else fitted


class MultiScale(nn.Module):
    """``net`` (logits ``N x C x H x W``) at each of ``scales``, fused by an attention head.

    ``out_channels`` is ``net``'s output channels ``C``; ``multiple`` the size ``net``'s inputs
    must be multiples of (:func:`seglab.models.build.size_multiple`): each scaled input is
    resized to the nearest allowed size at or above ``size * scale``, and its logits back to
    ``H x W`` (bilinear both ways, as in the paper). ``hidden``: the attention head's width.
    ``aux_weight``: the weight of each scale's own loss in training (the paper's 1).

    ``forward(x)`` returns the fused logits; in training it also sets :attr:`aux_logits` (one
    ``N x C x H x W`` tensor per scale; ``None`` in eval). :meth:`fuse` returns the fused
    logits, the weights ``N x S x H x W`` and the per-scale logits.
    """

    def __init__(
        self,
        net: nn.Module,
        out_channels: int,
        scales: Sequence[float] = PAPER_SCALES,
        *,
        multiple: int = 1,
        hidden: int = 32,
        aux_weight: float = 1.0,
    ):
        super().__init__()
        scales = tuple(float(s) for s in scales)
        if not scales or any(not 0 < s <= 4 for s in scales):
            raise ValueError(f"scales {scales}: expected one or more numbers in (0, 4]")
        if len(set(scales)) != len(scales):
            raise ValueError(f"scales {scales}: each scale once")
        self.net = net
        self.scales = scales
        self.multiple = int(multiple)
        self.aux_weight = float(aux_weight)
        count = len(scales)
        self.attention = nn.Sequential(
            nn.Conv2d(count * out_channels, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, count, 1),
        )
        self.aux_logits: list[torch.Tensor] | None = None

    def _at(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        """``net``'s logits for ``x`` at ``scale``, at ``x``'s size."""
        height, width = x.shape[-2:]
        size = (
            scaled_size(height, scale, self.multiple),
            scaled_size(width, scale, self.multiple),
        )
        # traced sizes are tensors: always resize then (bilinear to the same size is exact)
        tracing = torch.jit.is_tracing()
        if tracing or size != (height, width):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        out = self.net(x)
        if tracing or tuple(out.shape[-2:]) != (height, width):
            out = F.interpolate(out, size=(height, width), mode="bilinear", align_corners=False)
        return out

    def fuse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """The fused logits, the per-pixel scale weights (softmax over scales: they sum to 1)
        and each scale's logits."""
        outs = [self._at(x, scale) for scale in self.scales]
        weights = torch.softmax(self.attention(torch.cat(outs, dim=1)).float(), dim=1)
        stacked = torch.stack(outs, dim=1)  # N x S x C x H x W
        fused = (weights.to(stacked.dtype).unsqueeze(2) * stacked).sum(1)
        return fused, weights, outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused, _, outs = self.fuse(x)
        # the per-scale supervision exists in training only; eval and export see one tensor
        self.aux_logits = outs if self.training else None
        return fused

    def extra_repr(self) -> str:
        return f"scales={self.scales}, multiple={self.multiple}, aux_weight={self.aux_weight}"
