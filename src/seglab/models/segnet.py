"""Encoder-decoders that upsample by unpooling: SegNet and DeconvNet.

* SegNet -- V. Badrinarayanan, A. Kendall, R. Cipolla, "SegNet: A Deep Convolutional
  Encoder-Decoder Architecture for Image Segmentation", IEEE TPAMI 39(12), 2017.
* DeconvNet -- H. Noh, S. Hong, B. Han, "Learning Deconvolution Network for Semantic
  Segmentation", ICCV 2015.

Both keep the argmax positions of every 2x2 max pooling in the encoder and, in the mirrored
decoder, put each coarse value back exactly there (``nn.MaxUnpool2d``); the sparse map that
gives is then densified by convolutions (SegNet) or transposed convolutions (DeconvNet). There
are no skip concatenations: only the indices cross from encoder to decoder, which is what makes
the decoder cheap in memory.

Example
-------
>>> import torch
>>> model = SegNet(3, 2, base_width=8, depth=3)
>>> model(torch.zeros(1, 3, 40, 48)).shape
torch.Size([1, 2, 40, 48])
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import (
    ConvNormAct,
    LayerFactory,
    layer_factories,
)

__all__ = ["MAX_DEPTH", "DeconvNet", "SegNet", "build_deconvnet", "build_segnet"]

MAX_DEPTH = 8
"""The deepest encoder built: inputs must be multiples of ``2**depth`` pixels a side."""


class _DeconvNormAct(nn.Sequential):
    """``3x3 transposed conv (stride 1) -> norm -> activation``: DeconvNet's "deconvolution"
    layer. The stride is 1 because the unpooling before it already doubled the size."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        norm_layer: LayerFactory,
        act_layer: LayerFactory,
    ):
        super().__init__(
            OrderedDict(
                conv=nn.ConvTranspose2d(in_channels, out_channels, 3, padding=1),
                norm=norm_layer(out_channels),
                act=act_layer(),
            )
        )


def _stage(
    block: type[nn.Module],
    in_channels: int,
    out_channels: int,
    convs: int,
    parts: dict[str, LayerFactory],
) -> nn.Sequential:
    """``convs`` blocks, the first changing ``in_channels`` to ``out_channels``."""
    return nn.Sequential(
        *(
            block(in_channels if i == 0 else out_channels, out_channels, **parts)
            for i in range(convs)
        )
    )


class SegNet(nn.Module):
    """SegNet (Badrinarayanan et al., TPAMI 2017): logits ``N x num_classes x H x W`` for
    ``H, W`` multiples of ``2**depth``.

    Encoder level ``l`` is ``convs`` conv-norm-act blocks of width ``min(base_width * 2**l,
    width_cap)`` then ``MaxPool2d(2, return_indices=True)``; decoder level ``l`` is
    ``MaxUnpool2d(2)`` with that level's indices, then ``convs`` blocks back to the width of the
    level above. A 1x1 convolution gives the logits. The defaults (64-128-256-512-512, depth 5)
    are the VGG-16 widths of the paper; the paper's 3 convs in the deeper stages are 2 here
    throughout (``convs``).

    Parameters
    ----------
    in_channels, num_classes:
        Input channels and output channels (one logit map per class).
    base_width, depth, width_cap:
        Width of the first level, number of poolings (and unpoolings), largest width.
    convs:
        Conv blocks per encoder and per decoder level.
    act_layer, norm_layer:
        Classes called as ``act_layer()`` and ``norm_layer(channels)``.

    Raises
    ------
    ConfigError
        For a bad option, and in ``forward`` for a side that is not a multiple of ``2**depth``
        (seglab's engine pads inputs to it, see :func:`seglab.models.build.size_multiple`).
    """

    # The decoder's densifying block; DeconvNet swaps in transposed convolutions.
    decoder_block: type[nn.Module] = ConvNormAct
    name = "SegNet"

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1,
        *,
        base_width: int = 64,
        depth: int = 5,
        width_cap: int = 512,
        convs: int = 2,
        act_layer: LayerFactory = nn.ReLU,
        norm_layer: LayerFactory = nn.BatchNorm2d,
    ):
        super().__init__()
        _check_options(self.name, in_channels, num_classes, base_width, depth, width_cap, convs)
        for option, layer in (("act_layer", act_layer), ("norm_layer", norm_layer)):
            if not callable(layer):
                raise ConfigError(f"{self.name} {option} must be a class such as nn.ReLU")
        # ``depth`` is what size_multiple reads to pad inputs to 2**depth.
        self.depth = depth
        parts = {"norm_layer": norm_layer, "act_layer": act_layer}
        widths = [min(base_width * 2**level, width_cap) for level in range(depth)]
        self.encoder = nn.ModuleList(
            _stage(ConvNormAct, ([in_channels, *widths])[level], widths[level], convs, parts)
            for level in range(depth)
        )
        self.pool = nn.MaxPool2d(2, stride=2, return_indices=True)
        # One unpooling module per level (no parameters) so a hook can watch each level.
        self.unpools = nn.ModuleList(nn.MaxUnpool2d(2, stride=2) for _ in range(depth))
        self.decoder = nn.ModuleList(
            _stage(self.decoder_block, widths[level], widths[max(level - 1, 0)], convs, parts)
            for level in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``N x num_classes x H x W`` for images ``N x in_channels x H x W``."""
        multiple = 2**self.depth
        height, width = x.shape[-2:]
        if height % multiple or width % multiple:
            raise ConfigError(
                f"{self.name} of depth {self.depth} needs height and width multiples of "
                f"{multiple}, got {height}x{width}; pad the images (seglab's engine does) or "
                "lower depth"
            )
        indices = []
        for stage in self.encoder:
            x, index = self.pool(stage(x))
            indices.append(index)
        for unpool, stage in zip(self.unpools, self.decoder, strict=True):
            # The values go back to the argmax positions their own pooling recorded.
            x = stage(unpool(x, indices.pop()))
        return self.head(x)


class DeconvNet(SegNet):
    """DeconvNet (Noh et al., ICCV 2015): :class:`SegNet`'s encoder and unpooling, with each
    decoder level densified by 3x3 transposed convolutions ("deconvolution" layers) instead of
    convolutions.

    The paper's fully connected centre (a 7x7 convolution to 4096 channels and back) is left
    out: it would fix the smallest input at 7 * 2**depth pixels and dominate the parameters.
    Same options as :class:`SegNet`.
    """

    decoder_block = _DeconvNormAct
    name = "DeconvNet"


def _check_options(owner, in_channels, num_classes, base_width, depth, width_cap, convs):
    positive = {
        "in_channels": in_channels,
        "num_classes": num_classes,
        "base_width": base_width,
        "depth": depth,
        "convs": convs,
    }
    for name, value in positive.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{owner} {name} must be a positive integer, got {value!r}")
    if not isinstance(width_cap, int) or isinstance(width_cap, bool) or width_cap < base_width:
        raise ConfigError(
            f"{owner} width_cap must be an integer >= base_width ({base_width}), got {width_cap!r}"
        )
    if depth > MAX_DEPTH:
        raise ConfigError(f"{owner} depth must be at most {MAX_DEPTH}, got {depth}")


def build_segnet(
    *,
    in_channels: int = 3,
    num_classes: int = 1,
    base_width: int = 64,
    depth: int = 5,
    width_cap: int = 512,
    convs: int = 2,
    activation: str | LayerFactory = "relu",
    norm: str | LayerFactory = "batch",
) -> SegNet:
    """The registry's ``"segnet"``: :class:`SegNet` (Badrinarayanan et al. 2017), the
    activation and norm given by name (:data:`~seglab.models.layers.ACTIVATIONS`,
    :data:`~seglab.models.layers.NORMS`).

    ONNX: exports. PyTorch's TorchScript-based ONNX exporter has no ``max_unpool2d``, so
    :func:`~seglab.predict.export.export_model` falls back to the dynamo exporter, which
    decomposes the unpooling into a scatter (slower to export, same probabilities).
    """
    return SegNet(
        in_channels,
        num_classes,
        base_width=base_width,
        depth=depth,
        width_cap=width_cap,
        convs=convs,
        **layer_factories(activation, norm),
    )


def build_deconvnet(
    *,
    in_channels: int = 3,
    num_classes: int = 1,
    base_width: int = 64,
    depth: int = 5,
    width_cap: int = 512,
    convs: int = 2,
    activation: str | LayerFactory = "relu",
    norm: str | LayerFactory = "batch",
) -> DeconvNet:
    """The registry's ``"deconvnet"``: :class:`DeconvNet` (Noh et al. 2015), options as
    :func:`build_segnet`.

    ONNX: exports, through the dynamo exporter as for SegNet (the unpooling).
    """
    return DeconvNet(
        in_channels,
        num_classes,
        base_width=base_width,
        depth=depth,
        width_cap=width_cap,
        convs=convs,
        **layer_factories(activation, norm),
    )
