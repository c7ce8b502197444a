"""Building the pieces of a run from a resolved :class:`~seglab.config.TrainConfig`:
the network, the loss, the sample sets, and ``model.json`` (what rebuilds the network)."""

from __future__ import annotations

from typing import Any

from torch import nn

import seglab
from seglab.config import ModelConfig, TrainConfig
from seglab.errors import ConfigError

MODEL_FORMAT = "seglab.model/1"
"""The ``format`` of ``model.json``; readers refuse other values with a clear message."""


def output_channels(num_classes: int) -> int:
    """Logit channels for a dataset with ``num_classes`` classes (background included):
    one sigmoid channel for binary data, one softmax channel per class otherwise."""
    return 1 if num_classes <= 2 else num_classes


def build_model(model: ModelConfig, *, in_channels: int, num_classes: int) -> nn.Module:
    """The network of ``model`` for ``in_channels`` inputs and ``num_classes`` classes, with its
    weight initialisation applied (never over a loaded pretrained encoder)."""
    from seglab.models import create_model, initialise
    from seglab.models.init import NONLINEARITIES

    options = dict(model.options)
    if model.encoder_weights is not None:
        if model.name.startswith("smp."):
            options["encoder_weights"] = str(model.encoder_weights)
        elif model.name.startswith("torchvision."):
            options["weights_backbone"] = str(model.encoder_weights)
        else:
            raise ConfigError(
                f"model {model.name!r} has no pretrained encoder: --encoder-weights works with "
                "smp.* and torchvision.* models"
            )
    net = create_model(
        model.name,
        in_channels=in_channels,
        num_classes=output_channels(num_classes),
        **options,
    )
    activation = options.get("activation", "relu")
    nonlinearity = activation if isinstance(activation, str) else "relu"
    initialise(
        net,
        model.init,
        pretrained_encoder=model.encoder_weights is not None,
        nonlinearity=nonlinearity if nonlinearity in NONLINEARITIES else "relu",
    )
    return net


def size_multiple(net: nn.Module) -> int:
    """Pad inputs to multiples of this: the encoder stride, or ``2**depth`` for the U-Net."""
    from seglab.models import input_multiple

    multiple = input_multiple(net)
    depth = getattr(net, "depth", None)
    if multiple == 1 and isinstance(depth, int):
        multiple = 2**depth
    return multiple


def model_info(
    config: TrainConfig,
    *,
    in_channels: int,
    classes: list[str],
    multiple: int,
    preprocess: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The ``model.json`` content: everything :mod:`seglab.predict` needs besides the weights."""
    model = config.model or ModelConfig()
    return {
        "format": MODEL_FORMAT,
        "seglab_version": seglab.__version__,
        "architecture": model.name,
        "options": dict(model.options),
        "in_channels": in_channels,
        "num_classes": len(classes),
        "out_channels": output_channels(len(classes)),
        "classes": list(classes),
        "input": {
            "image_size": config.image_size,
            "crop_size": config.crop_size,
            "multiple": multiple,
            "scale": "uint8 / 255; 16-bit / 65535; float as read",
        },
        "preprocess": preprocess or [],
        "threshold": config.threshold,
    }
