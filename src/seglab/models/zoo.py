"""Zoo models: segmentation-models-pytorch architectures and torchvision's segmentation nets.

Every builder returns a plain ``nn.Module`` mapping ``N x in_channels x H x W`` images to
``N x num_classes x H x W`` logits, and exposes its backbone as ``.encoder`` (see
:func:`seglab.models.init.initialise`). Encoders are built with random weights, then the weights
file the option names is loaded: a local file, or a hub name (``"imagenet"``...) found in the smp /
timm / torchvision caches or downloaded (:mod:`seglab.models.hub`, which never waits offline).

Input sizes (smp 0.6.0): most smp architectures refuse an input whose height or width is not a
multiple of the encoder's output stride (32 for ``encoder_depth=5``, ``2**encoder_depth`` in
general, 8 or 16 for DeepLabV3/V3+ and PAN): :func:`input_multiple` gives the number to pad to.
smp's Unet, and seglab's own U-Net and the torchvision models, take any size. PAN also needs its
deepest features at least 8 pixels a side: 128 px inputs with the default depth.

Activation choice: smp decoders hard-code ReLU and smp's own encoders (``resnet18``...) take no
activation option, so ``activation=`` works with timm encoders only (``encoder="tu-resnet18"``),
where it replaces the encoder's activation (timm ``act_layer``). torchvision models take none.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from torch import nn

from seglab.errors import ConfigError
from seglab.models._checks import check_options, keyword_names
from seglab.models.hub import HubFile, UrlFile, resolve_weights
from seglab.models.layers import get_activation
from seglab.models.weights import load_weights_file

__all__ = ["TorchvisionSegmenter", "build_smp", "build_torchvision", "input_multiple"]

# Options seglab sets itself; smp's ``activation`` is its *output* activation (logits here).
_SMP_RESERVED = (
    "self",
    "encoder_name",
    "encoder_weights",
    "encoder_depth",
    "in_channels",
    "classes",
    "activation",
    "aux_params",
)
_UNET_DECODER = (256, 128, 64, 32, 16)

# smp 0.6 leaves these depth-dependent options at values that only fit its default depth:
# U-Net-like decoders need one channel count per block, and FPN / PSPNet upsample their output
# by a fixed factor (FPN gives 4x the input size at depth 3 without this).
_DEPTH_DEFAULTS = {
    "Unet": lambda depth: {"decoder_channels": _UNET_DECODER[:depth]},
    "UnetPlusPlus": lambda depth: {"decoder_channels": _UNET_DECODER[:depth]},
    "MAnet": lambda depth: {"decoder_channels": _UNET_DECODER[:depth]},
    "FPN": lambda depth: {"upsampling": 2 ** (depth - 3)},
    "PSPNet": lambda depth: {"upsampling": 2**depth},
}


def build_smp(
    arch: str,
    *,
    in_channels: int = 3,
    num_classes: int = 1,
    encoder: str = "resnet18",
    encoder_depth: int | None = None,
    encoder_weights: str | Path | None = None,
    activation: str | None = None,
    **options,
) -> nn.Module:
    """An smp architecture (``arch`` is its class name, e.g. ``"Unet"``) returning logits.

    Parameters
    ----------
    encoder:
        An smp encoder name (``smp.encoders.get_encoder_names()``) or ``"tu-<timm model>"``.
    encoder_depth:
        3, 4 or 5 (``None``: the architecture's default, 5; 3 for PSPNet).
    encoder_weights:
        ``None``, a weights file, or a hub name: one of the encoder's
        ``smp.encoders.encoders[encoder]["pretrained_settings"]`` (``"imagenet"``, ``"ssl"``...)
        or, for ``tu-`` encoders, ``"imagenet"`` (timm's default tag) or a timm tag. Hub weights
        come from the cache, else a download (see :mod:`seglab.models.hub`).
    activation:
        A name from :data:`~seglab.models.layers.ACTIVATIONS` for a ``tu-`` encoder's layers.
    options:
        Further keyword arguments of the smp class, e.g. ``decoder_channels``,
        ``decoder_attention_type="scse"``, ``decoder_use_norm="instancenorm"``,
        ``encoder_output_stride``.

    Raises
    ------
    ConfigError
        For an unknown encoder or option, a depth outside 3-5, an activation with a non-timm
        encoder, an unknown weights name, hub weights neither cached nor downloadable, or a
        weights file that does not fit the encoder.
    """
    import segmentation_models_pytorch as smp

    model_class = getattr(smp, arch)
    owner = f"smp.{arch.lower()}"
    own = keyword_names(build_smp, skip=("arch", "options"))
    extra = keyword_names(model_class.__init__, skip=_SMP_RESERVED)
    check_options(f"model {owner!r}", options, [*own, *extra])
    _check_encoder(encoder, smp.encoders.get_encoder_names())
    weights_file = resolve_weights(
        encoder_weights,
        option="encoder_weights",
        what=f"encoder {encoder!r}",
        sources=lambda name: _encoder_weight_files(encoder, name),
    )
    if encoder_depth is None:
        encoder_depth = inspect.signature(model_class).parameters["encoder_depth"].default
    options = _smp_options(arch, encoder, encoder_depth, activation, options)
    try:
        model = model_class(
            encoder_name=encoder,
            encoder_depth=encoder_depth,
            encoder_weights=None,
            in_channels=in_channels,
            classes=num_classes,
            activation=None,
            **options,
        )
    except (ValueError, KeyError, TypeError, RuntimeError) as error:
        raise ConfigError(f"{owner} with encoder {encoder!r}: {error}") from error
    if weights_file is not None:
        load_weights_file(model.encoder, weights_file, what=f"encoder {encoder!r}")
    return model


def _encoder_weight_files(encoder: str, name: str) -> list[HubFile | UrlFile]:
    """The files smp (or timm, for ``tu-`` encoders) would load for weights ``name``."""
    if encoder.startswith("tu-"):
        return _timm_weight_files(encoder[3:], name)
    import segmentation_models_pytorch as smp

    settings = smp.encoders.encoders[encoder]["pretrained_settings"]
    if name not in settings:
        raise ConfigError(
            f"encoder_weights={name!r}: no such file, and encoder {encoder!r} has pretrained "
            f"weights {', '.join(map(repr, settings)) or 'none'} (smp); pass one of those names "
            "or the path of a weights file"
        )
    # smp 0.6 get_encoder: hf_hub_download(repo_id, "model.safetensors", revision=revision)
    return [HubFile(settings[name]["repo_id"], "model.safetensors", settings[name]["revision"])]


def _timm_weight_files(model: str, name: str) -> list[HubFile | UrlFile]:
    """timm's sources for ``model`` (``arch`` or ``arch.tag``): ``"imagenet"`` is the tag in the
    name or timm's default; another name is a tag. Hub first, then the URL, as timm loads."""
    import timm

    arch = model.partition(".")[0]
    try:
        cfg = timm.models.get_pretrained_cfg(model if name == "imagenet" else f"{arch}.{name}")
    except RuntimeError:  # timm: an invalid tag
        cfg = None
    if cfg is None or not (cfg.hf_hub_id or cfg.url) or cfg.custom_load:
        tags = [found.partition(".")[2] for found in timm.list_pretrained(f"{arch}.*")]
        raise ConfigError(
            f"encoder_weights={name!r}: no such file, and timm has no plain state dict under "
            f"that name for {model!r}; timm tags: {', '.join(tags) or 'none'} ('imagenet': the "
            "default); pass a tag or the path of a weights file"
        )
    files: list[HubFile | UrlFile] = []
    if cfg.hf_hub_id:
        repo_id, _, revision = cfg.hf_hub_id.partition("@")
        names = [cfg.hf_hub_filename] if cfg.hf_hub_filename else []
        names = names or ["model.safetensors", "pytorch_model.bin"]  # timm's safe-first order
        files += [HubFile(repo_id, filename, revision or None) for filename in names]
    if cfg.url:
        files.append(UrlFile(cfg.url))
    return files


def _smp_options(
    arch: str, encoder: str, encoder_depth: int, activation: str | None, options: dict
) -> dict:
    """``options`` checked against the depth and activation, with the architecture's
    depth-dependent defaults and a timm encoder's activation layer added."""
    owner = f"smp.{arch.lower()}"
    if encoder_depth not in (3, 4, 5):
        raise ConfigError(f"{owner}: encoder_depth must be 3, 4 or 5, got {encoder_depth!r}")
    if arch in _DEPTH_DEFAULTS:
        options = {**_DEPTH_DEFAULTS[arch](encoder_depth), **options}
    if activation is not None:
        get_activation(activation)
        if not encoder.startswith("tu-"):
            raise ConfigError(
                f"{owner}: activation={activation!r} needs a timm encoder such as "
                f"'tu-{encoder}'; smp's own encoder {encoder!r} and all smp decoders use ReLU"
            )
        options = {**options, "act_layer": activation}  # timm resolves its own names
    return options


def _check_encoder(encoder: str, smp_names: list[str]) -> None:
    if encoder in smp_names:
        return
    if isinstance(encoder, str) and encoder.startswith("tu-"):
        import timm

        if timm.is_model(encoder[3:]):
            return
        raise ConfigError(
            f"unknown timm encoder {encoder!r}: {encoder[3:]!r} is not in timm.list_models()"
        )
    raise ConfigError(
        f"unknown encoder {encoder!r}; valid names: {', '.join(smp_names)}, "
        "or any timm model as 'tu-<name>' (see timm.list_models())"
    )


class TorchvisionSegmenter(nn.Module):
    """A torchvision segmentation model returning its ``"out"`` logits tensor, not a dict."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    @property
    def encoder(self) -> nn.Module:
        """The backbone (kept as loaded by :func:`~seglab.models.init.initialise`)."""
        return self.model.backbone

    def forward(self, x):
        """Logits ``N x num_classes x H x W`` (torchvision upsamples to the input size)."""
        return self.model(x)["out"]


def build_torchvision(
    name: str,
    *,
    in_channels: int = 3,
    num_classes: int = 1,
    weights_backbone: str | Path | None = None,
) -> TorchvisionSegmenter:
    """torchvision's ``models.segmentation.<name>`` built with ``weights=None``.

    ``weights_backbone`` is ``None``, a local file of the backbone's ImageNet classifier
    (torchvision's ``resnet50-*.pth`` or ``mobilenet_v3_large-*.pth``), or a name of the
    backbone's weights enum (``"DEFAULT"``, ``"IMAGENET1K_V1"``...; ``"imagenet"``: the default)
    taken from torch hub's cache or downloaded into it. Other ``in_channels`` than 3 replace the
    first convolution (a loaded RGB one is adapted).

    Raises
    ------
    ConfigError
        For an unknown weights name, weights neither cached nor downloadable, or a file that
        does not fit the backbone.
    """
    from torchvision.models import segmentation

    weights_file = resolve_weights(
        weights_backbone,
        option="weights_backbone",
        what=f"the backbone of torchvision {name}",
        sources=lambda weights: _backbone_weight_files(getattr(segmentation, name), weights),
    )

    model = getattr(segmentation, name)(
        weights=None, weights_backbone=None, num_classes=num_classes
    )
    if in_channels != 3:
        _replace_first_conv(model.backbone, in_channels)
    if weights_file is not None:
        load_weights_file(model.backbone, weights_file, what=f"the backbone of torchvision {name}")
    return TorchvisionSegmenter(model)


def _backbone_weight_files(builder: Callable[..., nn.Module], weights: str) -> list[UrlFile]:
    """The URL of a torchvision backbone's weights, from the builder's own weights enum."""
    enum = type(inspect.signature(builder).parameters["weights_backbone"].default)
    member = "DEFAULT" if weights == "imagenet" else weights
    if member not in enum.__members__:
        raise ConfigError(
            f"weights_backbone={weights!r}: no such file, and {enum.__name__} has "
            f"{', '.join(enum.__members__)} ('imagenet': DEFAULT); pass one of those names or "
            "the path of a weights file"
        )
    return [UrlFile(enum[member].url)]


def _replace_first_conv(module: nn.Module, in_channels: int) -> None:
    name, conv = next((n, m) for n, m in module.named_modules() if isinstance(m, nn.Conv2d))
    parent_name, _, child = name.rpartition(".")
    replacement = nn.Conv2d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
    )
    setattr(module.get_submodule(parent_name), child, replacement)


def input_multiple(model: nn.Module) -> int:
    """The number a model's input height and width must be multiples of (1: any size).

    smp models that check their input shape need multiples of their encoder's output stride;
    the engine pads images up to it. torchvision's detection models (Mask R-CNN) pad their
    inputs themselves, to their transform's ``size_divisible`` (32): that is their multiple.
    """
    if getattr(model, "requires_divisible_input_shape", False):
        return int(model.encoder.output_stride)
    divisible = getattr(getattr(model, "transform", None), "size_divisible", None)
    if isinstance(divisible, int) and divisible > 1:
        return divisible
    return 1
