"""Networks from configs and from model cards: :func:`build_model` (a
:class:`~seglab.config.ModelConfig`), :func:`size_multiple` (the stride inputs are padded to),
:func:`model_card` (what a run writes to ``model.json``) and :func:`build_network` (the network
a :class:`~seglab.models.card.ModelCard` describes, for prediction and export)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

from torch import nn

from seglab._version import __version__
from seglab.config import MASKRCNN_MODELS, ModelConfig, TrainConfig
from seglab.errors import ConfigError, DataError
from seglab.models.card import InputSpec, InstanceSpec, ModelCard, output_channels

__all__ = [
    "MAX_PARAMETERS",
    "build_model",
    "build_network",
    "load_network_weights",
    "model_card",
    "output_channels",
    "size_multiple",
    "unwrapped",
    "wrap",
]


def build_model(
    model: ModelConfig, *, in_channels: int, num_classes: int, out_channels: int | None = None
) -> nn.Module:
    """The network of ``model`` for ``in_channels`` inputs and ``num_classes`` classes, with its
    weight initialisation applied (never over a loaded pretrained encoder).

    ``out_channels``: the network's output channels when they are not the semantic ones
    (:func:`~seglab.models.card.output_channels`), as for an instance model."""
    from seglab.models import create_model, initialise
    from seglab.models.init import NONLINEARITIES

    _check_wrappable(model)  # before a Mask R-CNN is built for nothing
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
        num_classes=out_channels or output_channels(num_classes),
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
    return wrap(net, model, out_channels=out_channels or output_channels(num_classes))


def wrap(net: nn.Module, model: ModelConfig, *, out_channels: int) -> nn.Module:
    """``net`` inside the wrappers ``model`` asks for: :class:`~seglab.models.multiscale.
    MultiScale` (``model.multiscale``), then the ``model.head`` refinement on the fused logits
    (the paper's order: the CRF refines the final score map). ``net`` itself when none.

    Raises
    ------
    ConfigError
        Wrappers on Mask R-CNN (detections, not logits), or a level-set head on a network of
        more than one output channel (Chan-Vese separates a foreground from a background).
    """
    if model.multiscale is None and model.head is None:
        return net
    _check_wrappable(model)
    if model.multiscale is not None:
        from seglab.models.multiscale import MultiScale

        net = _wrapped(
            MultiScale,
            "multiscale_options",
            model.multiscale_options,
            net,
            out_channels,
            model.multiscale,
            multiple=size_multiple(net),
        )
    if model.head == "crf":
        from seglab.models.crf import CRFHead

        net = _wrapped(CRFHead, "head_options", model.head_options, net, out_channels)
    elif model.head == "levelset":
        from seglab.models.levelset import LevelSetHead

        if out_channels != 1:
            raise ConfigError(
                f"--head levelset refines a binary model's single foreground logit; this "
                f"network has {out_channels} output channels: use --head crf"
            )
        net = _wrapped(LevelSetHead, "head_options", model.head_options, net)
    return net


def wrapper_options(kind: type) -> tuple[str, ...]:
    """The settings a wrapper takes from ``ModelConfig.multiscale_options`` / ``head_options``:
    the parameters with defaults of its constructor (the heads': of the layer they build),
    less those :func:`wrap` sets itself."""
    from seglab.models.crf import ConvCRF
    from seglab.models.levelset import LevelSetRefine

    layer = {"CRFHead": ConvCRF, "LevelSetHead": LevelSetRefine}.get(kind.__name__, kind)
    own = {"num_classes", "scales", "multiple"}
    return tuple(
        name
        for name, param in inspect.signature(layer.__init__).parameters.items()
        if param.default is not inspect.Parameter.empty and name not in own
    )


def _wrapped(kind: type, field: str, options: dict[str, Any], *args: Any, **fixed: Any) -> Any:
    """``kind(*args, **fixed, **options)``; an unknown option or a value the wrapper refuses
    is a :class:`ConfigError` naming ``model.<field>`` and what it takes."""
    allowed = wrapper_options(kind)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"model.{field}: unknown {', '.join(unknown)}; {kind.__name__} takes "
            f"{', '.join(allowed)}"
        )
    try:
        return kind(*args, **fixed, **options)
    except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
        raise ConfigError(f"model.{field}: {exc}") from None


def _check_wrappable(model: ModelConfig) -> None:
    if model.name in MASKRCNN_MODELS and (model.multiscale is not None or model.head is not None):
        raise ConfigError(
            f"{model.name} returns detections, not logits: --multiscale and --head wrap "
            "semantic networks (and border instance runs); drop them, or choose another --model"
        )


def unwrapped(net: nn.Module) -> nn.Module:
    """The registered network inside :func:`wrap`'s wrappers (each keeps it as ``net``)."""
    from seglab.models.crf import CRFHead
    from seglab.models.levelset import LevelSetHead
    from seglab.models.multiscale import MultiScale

    while isinstance(net, MultiScale | CRFHead | LevelSetHead):
        net = net.net
    return net


def size_multiple(net: nn.Module) -> int:
    """Pad inputs to multiples of this: the encoder stride, or ``2**depth`` for the U-Net."""
    from seglab.models import input_multiple

    # a wrapper resizes its inputs to the wrapped network's multiples: that is the stride
    net = unwrapped(net)
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
    category_ids: list[Any] | None = None,
) -> ModelCard:
    """The :class:`~seglab.models.card.ModelCard` of a run about to train (no best epoch yet):
    everything :mod:`seglab.predict` needs besides the weights (``category_ids``: the
    dataset's ids of ``classes[1:]``, for COCO results)."""
    model = config.model or ModelConfig()
    method = config.instance_method
    return ModelCard(
        task=config.task,
        instance=InstanceSpec(method=method) if method else None,
        category_ids=tuple(category_ids) if category_ids else None,
        seglab_version=__version__,
        architecture=model.name,
        options=dict(model.options),
        multiscale=tuple(model.multiscale) if model.multiscale is not None else None,
        head=model.head,
        multiscale_options=dict(model.multiscale_options),
        head_options=dict(model.head_options),
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


MAX_PARAMETERS = 2_000_000_000
"""The most parameters a model card may describe (8 GB of float32): far above the zoo's largest
networks, and far below what a hand-edited width (``base_width: 1000000``) would allocate."""

_PRETRAINED_OPTIONS = ("encoder_weights", "weights_backbone")


def build_network(card: ModelCard, *, source: str | Path = "model.json") -> nn.Module:
    """The network that ``card`` describes, ready for its weights: the card is all it needs.

    ``source`` is the card's file, named in errors.

    Raises
    ------
    DataError
        seglab cannot build that network: an unknown ``architecture``, an option the
        architecture does not take or of the wrong type or value (``options.NAME``), more than
        :data:`MAX_PARAMETERS` parameters, or an ``input.multiple`` the network's stride does
        not divide. The message names ``source`` and the field.
    """
    import torch

    from seglab.models import MODELS

    if card.architecture not in MODELS:
        raise _card_error(
            source,
            "architecture",
            f"unknown model {card.architecture!r}; this seglab builds {', '.join(MODELS)}",
        )
    _check_instance_method(card, source)
    _check_option_types(card, source)
    if not any(key in card.options for key in _PRETRAINED_OPTIONS):
        # built first on the meta device (no memory, no initialisation): the size and the stride
        # are checked before a hand-edited width could allocate gigabytes
        with torch.device("meta"):
            probe = _build(card, source)
        parameters = sum(p.numel() for p in probe.parameters())
        if parameters > MAX_PARAMETERS:
            raise _card_error(
                source,
                "options",
                f"describes a network of {parameters:,} parameters (at most "
                f"{MAX_PARAMETERS:,}): a width or depth was edited",
            )
        _check_multiple(card, probe, source)
        del probe
    net = _build(card, source)
    _check_multiple(card, net, source)
    return net


def _build(card: ModelCard, source: str | Path) -> nn.Module:
    """:func:`build_model` of the card; any error building it is the card's, named as such."""
    try:
        model = ModelConfig(
            name=card.architecture,
            options=dict(card.options),
            multiscale=list(card.multiscale) if card.multiscale is not None else None,
            head=card.head,
            multiscale_options=dict(card.multiscale_options),
            head_options=dict(card.head_options),
        )
        return build_model(
            model,
            in_channels=card.in_channels,
            num_classes=len(card.classes),
            out_channels=card.out_channels,
        )
    except Exception as exc:  # the builders raise many types for options they cannot take
        field = _culprit(card, str(exc))
        message = f"cannot build {card.architecture}: {_first_line(exc)}"
        raise _card_error(source, field, message) from None


def _check_instance_method(card: ModelCard, source: str | Path) -> None:
    """A Mask R-CNN architecture goes with an instance card of method ``maskrcnn`` and only
    with it: another pairing would feed detections to a watershed, or logits to nothing."""
    rcnn = card.architecture in MASKRCNN_MODELS
    method = card.instance.method if card.instance is not None else None
    if rcnn and method != "maskrcnn":
        raise _card_error(
            source,
            "task" if method is None else "instance.method",
            f"{card.architecture} finds objects by itself: its card has task instance and "
            "instance.method maskrcnn",
        )
    if method == "maskrcnn" and not rcnn:
        raise _card_error(
            source,
            "instance.method",
            f"maskrcnn, but the architecture is {card.architecture}: method border goes with "
            "a semantic network",
        )


def _check_option_types(card: ModelCard, source: str | Path) -> None:
    """Each option the builder declares must have the type of its default (JSON has no
    classes: a name, not a layer); options a builder without ``**kwargs`` lacks are refused."""
    from seglab.models import MODELS
    from seglab.models._checks import accepts_var_keywords

    builder = MODELS[card.architecture]
    params = {
        p.name: p
        for p in inspect.signature(builder).parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and p.name not in ("in_channels", "num_classes")
    }
    for key, value in card.options.items():
        if key not in params:
            if accepts_var_keywords(builder):
                continue  # smp's own options: checked by smp when built
            raise _card_error(
                source,
                f"options.{key}",
                f"{card.architecture} has no option {key!r}; its options: {', '.join(params)}",
            )
        kind = _default_kind(params[key].default)
        if kind is not None and not _is_kind(value, kind):
            raise _card_error(
                source, f"options.{key}", f"expected {_KIND_WORDS[kind]}, got {value!r}"
            )


_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a name"}


def _default_kind(default: Any) -> type | None:
    """The JSON type an option with this default takes (``None``: any, e.g. a ``None``
    default or none at all)."""
    for kind in (bool, int, float, str):  # bool before int: True is an int
        if isinstance(default, kind):
            return kind
    return None


def _is_kind(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


def _culprit(card: ModelCard, message: str) -> str:
    """The card field a builder's error is about: the option it names first (by name, or by
    its value as ``got VALUE``), else ``options`` (or ``in_channels``/``classes`` when those
    are named); ``multiscale_options`` / ``head_options`` when a wrapper refused its own."""
    for wrapper in ("multiscale_options", "head_options"):
        if wrapper in message:
            return wrapper
    named = {
        key: found.start()
        for key in card.options
        if (found := re.search(rf"\b{re.escape(key)}\b", message))
    }
    if named:  # the option the message starts with, "width_cap must be >= base_width"
        return f"options.{min(named, key=named.__getitem__)}"
    for key, value in card.options.items():
        if f"got {value!r}" in message:
            return f"options.{key}"
    if "in_channels" in message:
        return "in_channels"
    return "options"


def _check_multiple(card: ModelCard, net: nn.Module, source: str | Path) -> None:
    """``input.multiple`` (what inputs are padded to) must be a multiple of the stride."""
    stride = size_multiple(net)
    if card.input.multiple % stride:
        raise _card_error(
            source,
            "input.multiple",
            f"{card.input.multiple} is not a multiple of the stride ({stride}) of the network "
            "that architecture and options describe: images padded to it would not fit it",
        )


def _card_error(source: str | Path, field: str, message: str) -> DataError:
    return DataError(
        f"{message} (model.json is written by `seglab train`; if it was edited, put back the "
        "original or retrain the run)",
        path=source,
        field=field,
    )


def load_network_weights(net: nn.Module, weights: str | Path, *, card: str | Path) -> None:
    """Load the safetensors ``weights`` into ``net``, built from the model card ``card``.

    Raises
    ------
    DataError
        The file is damaged or not safetensors, or its tensors do not fit the network (missing,
        unexpected, or of another shape: the message names the first one and both files).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = Path(weights)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise DataError(
            f"cannot read the weights ({_first_line(exc)}): the file is damaged or not a "
            "safetensors file; copy the run folder again from where it was trained, or retrain",
            path=weights,
        ) from None
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        if wrong:
            key = wrong[0]
            first = (
                f"{key} is {_shape(state[key].shape)} in the file but "
                f"{_shape(own[key].shape)} for the card"
            )
        elif missing:
            first = f"{missing[0]} is missing"
        else:
            first = f"{unexpected[0]} is not in the network"
        raise DataError(
            f"the weights do not fit the network {Path(card).name} describes ({first}; "
            f"{len(wrong)} of another shape, {len(missing)} missing, {len(unexpected)} "
            f"unexpected): {Path(card).name} and {weights.name} are not from the same run, or "
            "one was edited; put back the pair `seglab train` wrote, or retrain",
            path=weights,
        )
    net.load_state_dict(state)


def _shape(shape: Any) -> str:
    return "x".join(str(int(n)) for n in shape) or "a scalar"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
