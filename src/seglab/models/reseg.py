"""Recurrent segmentation: the ReNet layer, the ReSeg model and a ReNet context block.

* ReNet -- F. Visin, K. Kastner, K. Cho, M. Matteucci, A. Courville, Y. Bengio, "ReNet: A
  Recurrent Neural Network Based Alternative to Convolutional Networks", arXiv:1505.00393, 2015.
* ReSeg -- F. Visin, M. Ciccone, A. Romero, K. Kastner, K. Cho, Y. Bengio, M. Matteucci,
  A. Courville, "ReSeg: A Recurrent Neural Network-Based Model for Semantic Segmentation",
  CVPR Workshops 2016.

A ReNet layer sweeps a bidirectional GRU along every row, then another along every column of
what the first gave. After the two sweeps each output position has seen the whole feature map
(the row sweep gathers its row, the column sweep gathers those rows), so one layer has a global
receptive field where a conv stack needs depth proportional to the image size.

Example
-------
>>> import torch
>>> model = ReSeg(3, 2, base_width=8, depth=2)
>>> model(torch.zeros(1, 3, 32, 40)).shape
torch.Size([1, 2, 32, 40])
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

__all__ = ["UPSAMPLING", "ReNet", "ReNetContext", "ReSeg", "build_reseg"]

UPSAMPLING = ("transpose", "bilinear")
MAX_DEPTH = 8


class ReNet(nn.Module):
    """One ReNet layer (Visin et al. 2015) on a ``N x C x H x W`` map, with 1x1 patches:
    a bidirectional GRU over the ``N*H`` rows (sequences of length ``W``), then one over the
    ``N*W`` columns (length ``H``) of its output. Returns ``N x 2*hidden x H x W``.
    """

    def __init__(self, in_channels: int, hidden: int):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("hidden", hidden)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"ReNet {name} must be a positive integer, got {value!r}")
        self.hidden = hidden
        self.rows = nn.GRU(in_channels, hidden, batch_first=True, bidirectional=True)
        self.columns = nn.GRU(2 * hidden, hidden, batch_first=True, bidirectional=True)

    @property
    def out_channels(self) -> int:
        """``2 * hidden``: the forward and backward states side by side."""
        return 2 * self.hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``N x 2*hidden x H x W`` for ``N x in_channels x H x W``."""
        n, channels, height, width = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n * height, width, channels)
        rows, _ = self.rows(rows)
        # N*H x W x 2h -> N x H x W x 2h -> N x W x H x 2h: columns as sequences
        columns = rows.reshape(n, height, width, -1).transpose(1, 2)
        columns, _ = self.columns(columns.reshape(n * width, height, -1))
        return columns.reshape(n, width, height, -1).permute(0, 3, 2, 1)


class ReNetContext(nn.Module):
    """Global context for any encoder's bottleneck: ``x + conv1x1(ReNet(x))``, keeping
    ``channels``. The residual leaves the encoder's own features intact and adds what the
    ReNet layer (Visin et al. 2015) gathered from the whole map.

    ``hidden`` defaults to ``channels // 2`` so the ReNet output is ``channels`` wide.
    """

    def __init__(self, channels: int, hidden: int | None = None):
        super().__init__()
        self.renet = ReNet(channels, hidden or max(channels // 2, 1))
        self.proj = nn.Conv2d(self.renet.out_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The same shape as ``x``."""
        return x + self.proj(self.renet(x))


class ReSeg(nn.Module):
    """ReSeg (Visin et al. 2016): logits ``N x num_classes x H x W`` for ``H, W`` multiples
    of ``2**depth``.

    A conv encoder (per level: two conv-norm-act blocks, then a 2x2 max pool; widths
    ``min(base_width * 2**l, width_cap)``) downsamples by ``2**depth``; ``renet_layers``
    ReNet layers of ``hidden`` units per direction sweep the coarse map; ``depth`` 2x
    upsamplings (``"transpose"``: 2x2 transposed conv, as in the paper, or ``"bilinear"`` +
    3x3 conv), each followed by norm and activation, and a 1x1 conv give the logits. The paper
    used VGG-16 features as its encoder; this one trains from scratch.

    Raises
    ------
    ConfigError
        For a bad option, and in ``forward`` for a side that is not a multiple of ``2**depth``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1,
        *,
        base_width: int = 32,
        depth: int = 3,
        width_cap: int = 256,
        hidden: int = 64,
        renet_layers: int = 2,
        upsampling: str = "transpose",
        act_layer: LayerFactory = nn.ReLU,
        norm_layer: LayerFactory = nn.BatchNorm2d,
    ):
        super().__init__()
        _check_options(in_channels, num_classes, base_width, depth, width_cap, hidden, renet_layers)
        if upsampling not in UPSAMPLING:
            raise ConfigError(
                f"unknown ReSeg upsampling {upsampling!r}; valid names: {', '.join(UPSAMPLING)}"
            )
        # ``depth`` is what size_multiple reads to pad inputs to 2**depth.
        self.depth = depth
        parts = {"norm_layer": norm_layer, "act_layer": act_layer}
        widths = [min(base_width * 2**level, width_cap) for level in range(depth)]
        levels = []
        channels = in_channels
        for width in widths:
            levels += [
                ConvNormAct(channels, width, **parts),
                ConvNormAct(width, width, **parts),
                nn.MaxPool2d(2),
            ]
            channels = width
        self.encoder = nn.Sequential(*levels)
        renets = []
        for _ in range(renet_layers):
            renets.append(ReNet(channels, hidden))
            channels = 2 * hidden
        self.renets = nn.Sequential(*renets)
        ups = []
        for level in reversed(range(depth)):
            ups.append(_up(channels, widths[level], upsampling, parts))
            channels = widths[level]
        self.decoder = nn.Sequential(*ups)
        self.head = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``N x num_classes x H x W`` for images ``N x in_channels x H x W``."""
        multiple = 2**self.depth
        height, width = x.shape[-2:]
        if height % multiple or width % multiple:
            raise ConfigError(
                f"ReSeg of depth {self.depth} needs height and width multiples of {multiple}, "
                f"got {height}x{width}; pad the images (seglab's engine does) or lower depth"
            )
        return self.head(self.decoder(self.renets(self.encoder(x))))


def _up(
    in_channels: int, out_channels: int, upsampling: str, parts: dict[str, LayerFactory]
) -> nn.Sequential:
    """One 2x upsampling to ``out_channels``, then norm and activation."""
    if upsampling == "bilinear":
        layers = OrderedDict(
            up=nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            conv=nn.Conv2d(in_channels, out_channels, 3, padding=1),
        )
    else:
        layers = OrderedDict(conv=nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2))
    layers["norm"] = parts["norm_layer"](out_channels)
    layers["act"] = parts["act_layer"]()
    return nn.Sequential(layers)


def _check_options(in_channels, num_classes, base_width, depth, width_cap, hidden, layers):
    positive = {
        "in_channels": in_channels,
        "num_classes": num_classes,
        "base_width": base_width,
        "depth": depth,
        "hidden": hidden,
        "renet_layers": layers,
    }
    for name, value in positive.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"ReSeg {name} must be a positive integer, got {value!r}")
    if not isinstance(width_cap, int) or isinstance(width_cap, bool) or width_cap < base_width:
        raise ConfigError(
            f"ReSeg width_cap must be an integer >= base_width ({base_width}), got {width_cap!r}"
        )
    if depth > MAX_DEPTH:
        raise ConfigError(f"ReSeg depth must be at most {MAX_DEPTH}, got {depth}")


def build_reseg(
    *,
    in_channels: int = 3,
    num_classes: int = 1,
    base_width: int = 32,
    depth: int = 3,
    width_cap: int = 256,
    hidden: int = 64,
    renet_layers: int = 2,
    upsampling: str = "transpose",
    activation: str | LayerFactory = "relu",
    norm: str | LayerFactory = "batch",
) -> ReSeg:
    """The registry's ``"reseg"``: :class:`ReSeg` (Visin et al. 2016), the activation and norm
    given by name (:data:`~seglab.models.layers.ACTIVATIONS`,
    :data:`~seglab.models.layers.NORMS`).

    ONNX: exports with PyTorch's TorchScript-based exporter (ONNX's own bidirectional ``GRU``).
    """
    return ReSeg(
        in_channels,
        num_classes,
        base_width=base_width,
        depth=depth,
        width_cap=width_cap,
        hidden=hidden,
        renet_layers=renet_layers,
        upsampling=upsampling,
        **layer_factories(activation, norm),
    )
