"""Segmentation networks by name: seglab's U-Net (the seed's) and a zoo from smp and torchvision.

Every model is a plain ``nn.Module`` returning logits ``N x num_classes x H x W``, but for
``maskrcnn`` and ``maskrcnn_v2`` (torchvision's Mask R-CNN, :mod:`seglab.models.maskrcnn`: the
detection interface, for instance runs). smp and torchvision are imported only when one of
their models is built.

Example
-------
>>> import torch
>>> from seglab.models import create_model
>>> model = create_model("unet", num_classes=2, base_width=8)
>>> model(torch.zeros(1, 3, 37, 45)).shape
torch.Size([1, 2, 37, 45])
"""

from __future__ import annotations

from functools import partial

from torch import nn

from seglab.models._checks import accepts_var_keywords, check_options, keyword_names, lookup
from seglab.models.init import INITS, init_weights, initialise
from seglab.models.layers import ACTIVATIONS, NORMS, get_activation, get_norm
from seglab.models.maskrcnn import maskrcnn_network, maskrcnn_v2_network
from seglab.models.reseg import build_reseg
from seglab.models.segnet import build_deconvnet, build_segnet
from seglab.models.unet import UNet, build_unet
from seglab.models.zoo import build_smp, build_torchvision, input_multiple

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "MODELS",
    "NORMS",
    "UNet",
    "create_model",
    "get_activation",
    "get_norm",
    "init_weights",
    "initialise",
    "input_multiple",
    "list_models",
    "model_options",
]

MODELS = {
    "unet": build_unet,
    "smp.unet": partial(build_smp, "Unet"),
    "smp.unetplusplus": partial(build_smp, "UnetPlusPlus"),
    "smp.fpn": partial(build_smp, "FPN"),
    "smp.pspnet": partial(build_smp, "PSPNet"),
    "smp.deeplabv3": partial(build_smp, "DeepLabV3"),
    "smp.deeplabv3plus": partial(build_smp, "DeepLabV3Plus"),
    "smp.linknet": partial(build_smp, "Linknet"),
    "smp.manet": partial(build_smp, "MAnet"),
    "smp.pan": partial(build_smp, "PAN"),
    "smp.upernet": partial(build_smp, "UPerNet"),
    "smp.segformer": partial(build_smp, "Segformer"),
    "torchvision.fcn_resnet50": partial(build_torchvision, "fcn_resnet50"),
    "torchvision.deeplabv3_resnet50": partial(build_torchvision, "deeplabv3_resnet50"),
    "torchvision.deeplabv3_mobilenet_v3_large": partial(
        build_torchvision, "deeplabv3_mobilenet_v3_large"
    ),
    "torchvision.lraspp_mobilenet_v3_large": partial(
        build_torchvision, "lraspp_mobilenet_v3_large"
    ),
    # seglab's own further families: unpooling encoder-decoders, a recurrent segmenter
    "segnet": build_segnet,
    "deconvnet": build_deconvnet,
    "reseg": build_reseg,
    # instance models: torchvision's detection interface (a list of images in; losses in
    # training, detections in eval), not logits; num_classes counts the background
    "maskrcnn": maskrcnn_network,
    "maskrcnn_v2": maskrcnn_v2_network,
}
"""Model name -> builder called as ``builder(in_channels=..., num_classes=..., **options)``."""


def list_models() -> list[str]:
    """The registered model names, in registry order."""
    return list(MODELS)


def model_options(name: str) -> list[str]:
    """The keyword options ``create_model(name, ...)`` takes beyond in_channels/num_classes.

    smp models also take their smp class's own options (``decoder_channels``...); those are
    checked when the model is built.
    """
    builder = lookup("model", name, MODELS)
    return keyword_names(builder, skip=("in_channels", "num_classes"))


def create_model(name: str, *, in_channels: int = 3, num_classes: int = 1, **kwargs) -> nn.Module:
    """Build the registered model ``name``, returning logits ``N x num_classes x H x W``.

    Parameters
    ----------
    name:
        One of :func:`list_models`: ``"unet"`` (the seed's U-Net; ``base_width``, ``depth``,
        ``width_cap``, ``upsampling``, ``activation``, ``norm``, ``dropout``), ``"smp.<arch>"``
        (``encoder="resnet18"``, ``encoder_depth``, ``encoder_weights``, ``activation`` for
        ``tu-`` encoders, and the smp class's options) or ``"torchvision.<name>"``
        (``weights_backbone``), or ``"maskrcnn"`` / ``"maskrcnn_v2"`` (``backbone``, ``norm``,
        anchor ``sizes``... see :func:`~seglab.models.maskrcnn.maskrcnn_network`; not logits).
    in_channels, num_classes:
        Image channels and output channels (one logit map per class).
    kwargs:
        The model's options, see :func:`model_options`. Pretrained weights are local files only.

    Input sizes: ``"unet"`` and the torchvision models take any size (the U-Net needs at least
    ``2**depth`` pixels a side). Most smp models need height and width divisible by 32
    (``2**encoder_depth``; 8 or 16 for DeepLabV3/V3+ and PAN), given by
    :func:`input_multiple`; the engine pads images to it. ``smp.pan`` also needs at least
    128 px a side with its default depth.

    Raises
    ------
    ConfigError
        For an unknown name (listing the valid ones), an unknown option (naming it and the valid
        ones), a bad value, or a request to download pretrained weights.
    """
    builder = lookup("model", name, MODELS)
    if not accepts_var_keywords(builder):
        check_options(f"model {name!r}", kwargs, model_options(name))
    return builder(in_channels=in_channels, num_classes=num_classes, **kwargs)
