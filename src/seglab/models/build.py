"""Networks from configs and from model cards: :func:`build_model` (a
:class:`~seglab.config.ModelConfig`), :func:`size_multiple` (the stride inputs are padded to),
:func:`model_card` (what a run writes to ``model.json``) and :func:`build_network` (the network
a :class:`~seglab.models.card.ModelCard` describes, for prediction and export)."""

from __future__ import annotations

from typing import Any

from torch import nn

from seglab._version import __version__
from seglab.config import ModelConfig, TrainConfig
from seglab.errors import ConfigError
from seglab.models.card import InputSpec, ModelCard, output_channels

__all__ = ["build_model", "build_network", "model_card", "output_channels", "size_multiple"]


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


def model_card(
    config: TrainConfig,
    *,
    in_channels: int,
    classes: list[str],
    multiple: int,
    preprocess: list[dict[str, Any]] | None,
    augment: list[str] | None = None,
    train_long_side: int | None = None,
) -> ModelCard:
    """The :class:`~seglab.models.card.ModelCard` of a run about to train (no best epoch yet):
    everything :mod:`seglab.predict` needs besides the weights."""
    model = config.model or ModelConfig()
    return ModelCard(
        seglab_version=__version__,
        architecture=model.name,
        options=dict(model.options),
        in_channels=in_channels,
        classes=tuple(classes),
        input=InputSpec(
            image_size=config.image_size,
            crop_size=config.crop_size,
            multiple=multiple,
            train_long_side=train_long_side,
        ),
        preprocess=tuple(preprocess or ()),
        augment=tuple(augment or ()),
        threshold=config.threshold or 0.5,
    )


def build_network(card: ModelCard) -> nn.Module:
    """The network that ``card`` describes, ready for its weights: the card is all it needs."""
    model = ModelConfig(name=card.architecture, options=dict(card.options))
    return build_model(model, in_channels=card.in_channels, num_classes=len(card.classes))
