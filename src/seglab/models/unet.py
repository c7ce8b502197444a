"""The seed's U-Net, generalised: depth, widths, upsampling, activation, norm and dropout.

With the defaults it is the seed notebook's network layer for layer: ``double_conv`` blocks
(conv3x3 -> BatchNorm -> ReLU, twice), encoder widths 64-128-256-512-512, four skips, transposed
convolutions in the decoder (the seed builds its ``up`` blocks with ``bilinear=False``), decoder
widths 256-128-64-64 and a 1x1 head. Unlike the seed it returns logits, not ``sigmoid(logits)``.

Example
-------
>>> import torch
>>> model = UNet(3, 2, base_width=8)
>>> model(torch.zeros(1, 3, 37, 45)).shape
torch.Size([1, 2, 37, 45])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import DoubleConv, LayerFactory, layer_factories
from seglab.models.reseg import ReNetContext

__all__ = ["CONTEXTS", "MAX_DEPTH", "UPSAMPLING", "UNet", "build_unet", "unet_widths"]

UPSAMPLING = ("transpose", "bilinear")
CONTEXTS = (None, "renet")
"""Bottleneck context blocks: none (the seed's) or ``"renet"`` (:mod:`~seglab.models.reseg`)."""
MAX_DEPTH = 12
"""The deepest U-Net built: inputs must be at least ``2**depth`` pixels a side (4096 at 12)."""


def unet_widths(base_width: int, depth: int, width_cap: int) -> list[int]:
    """Encoder widths, shallowest first: ``base_width * 2**level``, capped at ``width_cap``.

    >>> unet_widths(64, 4, 512)
    [64, 128, 256, 512, 512]
    """
    return [min(base_width * 2**level, width_cap) for level in range(depth + 1)]


class Up(nn.Module):
    """Upsample ``x`` 2x, pad it to the skip's size, concatenate ``[skip, x]``, DoubleConv."""

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        *,
        upsampling: str,
        norm_layer: LayerFactory,
        act_layer: LayerFactory,
        dropout: float,
    ):
        super().__init__()
        if upsampling == "bilinear":
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels, 2, stride=2)
        self.conv = DoubleConv(
            in_channels + skip_channels,
            out_channels,
            norm_layer=norm_layer,
            act_layer=act_layer,
            dropout=dropout,
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Merge the coarser ``x`` into ``skip``; odd sizes are padded, as in the seed."""
        x = self.up(x)
        dy = skip.shape[-2] - x.shape[-2]
        dx = skip.shape[-1] - x.shape[-1]
        x = F.pad(x, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """U-Net returning logits ``N x num_classes x H x W`` for any ``H, W >= 2**depth``.

    Parameters
    ----------
    in_channels, num_classes:
        Input channels and output channels (one logit map per class).
    base_width:
        Width of the first level; each level doubles it up to ``width_cap``.
    depth:
        Number of 2x poolings (and skips). The seed has 4.
    width_cap:
        Largest encoder width. The seed's deepest level stays at 512 instead of doubling to 1024.
    upsampling:
        ``"transpose"`` (2x2 transposed conv, the seed's choice) or ``"bilinear"``.
    act_layer, norm_layer:
        Classes (or factories) called as ``act_layer()`` and ``norm_layer(channels)``, e.g. from
        :data:`~seglab.models.layers.ACTIVATIONS` and :data:`~seglab.models.layers.NORMS`.
    dropout:
        ``nn.Dropout2d`` probability after the bottleneck and each decoder block (0 = none).
    context:
        ``None`` (the seed's network) or ``"renet"``: a
        :class:`~seglab.models.reseg.ReNetContext` on the bottleneck, whose GRU sweeps give
        every deepest feature the whole image as context (Visin et al., ReSeg, 2016).

    Raises
    ------
    ConfigError
        For a bad option, and in ``forward`` for an input smaller than ``2**depth`` pixels a side.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1,
        *,
        base_width: int = 64,
        depth: int = 4,
        width_cap: int = 512,
        upsampling: str = "transpose",
        act_layer: LayerFactory = nn.ReLU,
        norm_layer: LayerFactory = nn.BatchNorm2d,
        dropout: float = 0.0,
        context: str | None = None,
    ):
        super().__init__()
        _check_unet_options(
            in_channels, num_classes, base_width, depth, width_cap, upsampling, dropout
        )
        _check_layer_factories(act_layer, norm_layer)
        if context not in CONTEXTS:
            raise ConfigError(f"unknown UNet context {context!r}; valid: None, renet")
        self.depth = depth
        widths = unet_widths(base_width, depth, width_cap)
        parts = {"norm_layer": norm_layer, "act_layer": act_layer}
        # Built in this order (inc, downs, ups, head): the order of the random initial weights.
        self.inc = DoubleConv(in_channels, widths[0], **parts)
        self.downs = _encoder(widths, dropout, parts)
        self.ups, channels = _decoder(widths, upsampling, dropout, parts)
        self.head = nn.Conv2d(channels, num_classes, 1)
        # Built last and only when asked: without it the weights (and their random draw) are
        # the seed's, so runs saved before the option load unchanged.
        self.context = ReNetContext(widths[-1]) if context == "renet" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``N x num_classes x H x W`` for images ``N x in_channels x H x W``."""
        smallest = 2**self.depth
        if min(x.shape[-2:]) < smallest:
            raise ConfigError(
                f"input of {x.shape[-2]}x{x.shape[-1]} pixels is too small for a U-Net of depth "
                f"{self.depth}: each side needs at least {smallest} pixels; resize the images "
                "or lower depth"
            )
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        if self.context is not None:
            x = self.context(x)
        for up in self.ups:
            x = up(x, skips.pop())
        return self.head(x)


def _check_unet_options(
    in_channels, num_classes, base_width, depth, width_cap, upsampling, dropout
):
    positive = {
        "in_channels": in_channels,
        "num_classes": num_classes,
        "base_width": base_width,
        "depth": depth,
    }
    for name, value in positive.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"UNet {name} must be a positive integer, got {value!r}")
    if not isinstance(width_cap, int) or width_cap < base_width:
        raise ConfigError(
            f"UNet width_cap must be an integer >= base_width ({base_width}), got {width_cap!r}"
        )
    if depth > MAX_DEPTH:
        # each level halves the image: inputs would need 2**depth pixels a side
        raise ConfigError(f"UNet depth must be at most {MAX_DEPTH}, got {depth}")
    if upsampling not in UPSAMPLING:
        raise ConfigError(
            f"unknown UNet upsampling {upsampling!r}; valid names: {', '.join(UPSAMPLING)}"
        )
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, int | float)
        or not 0.0 <= dropout < 1.0
    ):
        raise ConfigError(f"UNet dropout must be in [0, 1), got {dropout!r}")


def _check_layer_factories(act_layer: LayerFactory, norm_layer: LayerFactory) -> None:
    """Refuse an activation or norm given as something other than a class (e.g. a name)."""
    for option, layer in (("act_layer", act_layer), ("norm_layer", norm_layer)):
        if not callable(layer):
            raise ConfigError(
                f"UNet {option} must be a class such as nn.ReLU, got {layer!r}; "
                "turn a name into one with get_activation(name) / get_norm(name)"
            )


def _encoder(widths: list[int], dropout: float, parts: dict[str, LayerFactory]) -> nn.ModuleList:
    """The down path: max-pool then DoubleConv per level, dropout only at the bottleneck."""
    depth = len(widths) - 1
    return nn.ModuleList(
        nn.Sequential(
            nn.MaxPool2d(2),
            DoubleConv(
                widths[level - 1],
                widths[level],
                dropout=dropout if level == depth else 0.0,
                **parts,
            ),
        )
        for level in range(1, depth + 1)
    )


def _decoder(
    widths: list[int], upsampling: str, dropout: float, parts: dict[str, LayerFactory]
) -> tuple[nn.ModuleList, int]:
    """The up path, deepest level first, and the width of its output."""
    depth = len(widths) - 1
    ups = []
    channels = widths[depth]
    for level in reversed(range(depth)):
        # As in the seed, each decoder block ends one level narrower than its skip.
        out_channels = widths[max(level - 1, 0)]
        ups.append(
            Up(
                channels,
                widths[level],
                out_channels,
                upsampling=upsampling,
                dropout=dropout,
                **parts,
            )
        )
        channels = out_channels
    return nn.ModuleList(ups), channels


def build_unet(
    *,
    in_channels: int = 3,
    num_classes: int = 1,
    base_width: int = 64,
    depth: int = 4,
    width_cap: int = 512,
    upsampling: str = "transpose",
    activation: str | LayerFactory = "relu",
    norm: str | LayerFactory = "batch",
    dropout: float = 0.0,
    context: str | None = None,
) -> UNet:
    """The registry's ``"unet"``: :class:`UNet` with the activation and norm given by name.

    ``activation`` is a key of :data:`~seglab.models.layers.ACTIVATIONS`, ``norm`` one of
    :data:`~seglab.models.layers.NORMS` (a class is accepted too); ``context="renet"`` adds a
    ReNet context block on the bottleneck. The defaults build the seed's network. Names keep
    ``model.json`` plain JSON.
    """
    layers = layer_factories(activation, norm)
    return UNet(
        in_channels,
        num_classes,
        base_width=base_width,
        depth=depth,
        width_cap=width_cap,
        upsampling=upsampling,
        dropout=dropout,
        context=context,
        **layers,
    )
