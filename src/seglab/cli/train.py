"""``seglab train``: every :class:`~seglab.config.TrainConfig` field as a flag.

The command is generated from one table, :data:`FLAGS`: each entry declares a flag (its names,
type and help) and the TrainConfig field it sets (a dotted path such as ``data.path`` or
``model.options.activation``). Adding a field to TrainConfig takes one entry here; the
signature typer reads and the options passed to :func:`seglab.api.train` both come from it.

Flags left out keep the value of ``--config run.yaml`` (when given), else the recipe chooses
(:mod:`seglab.train.recipe`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from seglab.cli.console import console
from seglab.cli.options import split_names


def _names(text: str, option: str) -> list[str] | None:
    return split_names(text)


def _devices(text: str, option: str) -> int | str:
    # "2" means two devices, "0,1" (or "auto") is passed on as written
    return int(text) if text.isdigit() else text


def _scales(text: str, option: str) -> list[float] | None:
    from seglab.config import parse_scales
    from seglab.errors import ConfigError

    try:
        return parse_scales(text)
    except ConfigError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _assignments(items: list[str], option: str) -> dict[str, Any] | None:
    from seglab.config import parse_assignments

    return parse_assignments(items, what=option) or None


@dataclass(frozen=True)
class Flag:
    """One ``seglab train`` option.

    Attributes
    ----------
    decls: the option's names, space-separated (``"--model-option -m"``); the first one names
        the parameter (``model_option``).
    type: the parameter's type as typer reads it (``int | None``, ``list[str] | None``...).
    help: the help text of ``seglab train --help``.
    sets: the TrainConfig fields it sets, dotted (``"seed data.seed"`` sets both); empty for
        flags that are not fields (``--config``, ``--quiet``).
    convert: ``(value, option) -> field value`` for flags whose text is not the field's value;
        a ``None`` result sets nothing.
    default: the value when the flag is not given. A flag left at it sets nothing, so the field
        keeps the value of ``--config`` or the recipe's choice.
    """

    decls: str
    type: Any
    help: str | None = None
    sets: str = ""
    convert: Callable[[Any, str], Any] | None = None
    default: Any = None

    @property
    def name(self) -> str:
        """The Python parameter name: ``--lr-find`` -> ``lr_find``."""
        return self.decls.split()[0].split("/")[0].lstrip("-").replace("-", "_")

    @property
    def paths(self) -> tuple[str, ...]:
        """The dotted TrainConfig paths this flag sets."""
        return tuple(self.sets.split())


# The order is the order of ``seglab train --help``.
FLAGS: tuple[Flag, ...] = (
    Flag("--data", Path | None, "Labelled dataset (COCO or image/mask folders).", "data.path"),
    Flag("--config", Path | None, "YAML with any of these options (a run's config.yaml)."),
    Flag("--out", Path | None, "Folder of runs [runs].", "out"),
    Flag("--name", str | None, "Run folder name [train, train-2...].", "name"),
    Flag("--overwrite", bool, "Reuse an existing run folder.", "overwrite", default=False),
    Flag("--task", str | None,
         "semantic (a class per pixel) or instance (each object apart: Mask R-CNN with "
         "--model maskrcnn, else the model predicts interiors + borders cut by a watershed).",
         "task"),
    Flag("--recipe", str | None, "auto (sized for this machine) or seed (the notebook's).",
         "recipe"),
    Flag("--model", str | None,
         "unet, smp.<arch>, torchvision.<name>, maskrcnn, maskrcnn_v2 (seglab models).",
         "model.name"),
    Flag("--model-option -m", list[str] | None, "Model option NAME=VALUE, e.g. -m base_width=32.",
         "model.options", _assignments),
    Flag("--activation", str | None, "relu, leaky_relu, elu, gelu, silu, prelu, tanh...",
         "model.options.activation"),
    Flag("--init", str | None,
         "kaiming_normal, kaiming_uniform, xavier_*, orthogonal, default.", "model.init"),
    Flag("--encoder-weights", Path | None,
         "Pretrained encoder: a weights file, or imagenet/ssl/... (cached, else downloaded).",
         "model.encoder_weights"),
    Flag("--multiscale", str | None,
         "Attention to scale: the model on these scales, fused per pixel, e.g. 1,0.75,0.5.",
         "model.multiscale", _scales),
    Flag("--multiscale-option", list[str] | None, "e.g. aux_weight=0.5, hidden=16.",
         "model.multiscale_options", _assignments),
    Flag("--head", str | None, "A trainable refinement of the logits: crf or levelset (binary).",
         "model.head"),
    Flag("--head-option", list[str] | None,
         "e.g. iterations=3, theta_alpha=40 (crf); iterations=10, mu=0.5 (levelset).",
         "model.head_options", _assignments),
    Flag("--loss", str | None, "bce_dice, dice, bce, focal, tversky, lovasz, ce_dice...", "loss"),
    Flag("--loss-option", list[str] | None, "e.g. pos_weight=3, class_weights=[0.2,1,1].",
         "loss_options", _assignments),
    Flag("--optimizer", str | None, "adamw, adam, radam, sgd, rmsprop, lbfgs...", "optimizer"),
    Flag("--lr", float | None, "Learning rate.", "lr"),
    Flag("--weight-decay", float | None, None, "weight_decay"),
    Flag("--optimizer-option", list[str] | None, "e.g. momentum=0.9, nesterov=true.",
         "optimizer_options", _assignments),
    Flag("--scheduler", str | None, "reduce_on_plateau, cosine, onecycle, poly, step, none.",
         "scheduler"),
    Flag("--scheduler-option", list[str] | None, "e.g. warmup_epochs=1, factor=0.5.",
         "scheduler_options", _assignments),
    Flag("--epochs", int | None, None, "epochs"),
    Flag("--time-limit", str | None, "Stop in time and keep the best: 10m, 1h30m, 90s.",
         "time_limit"),
    Flag("--patience", int | None, "Early stopping after N epochs without gain.", "patience"),
    Flag("--monitor", str | None, "val_dice or val_loss.", "monitor"),
    Flag("--batch-size", int | None, None, "batch_size"),
    Flag("--image-size", int | None, "Resize so the longer side is this (px).", "image_size"),
    Flag("--crop-size", int | None, "Square training crops (px).", "crop_size"),
    Flag("--object-crop", float | None, "Share of crops centred on an object [0.7].",
         "object_crop"),
    Flag("--accumulate", int | None, "Gradient accumulation.", "accumulate"),
    Flag("--augment", str | None,
         "none, light, default, heavy, or names: flip,rotate,elastic,mosaic.", "augment"),
    Flag("--preprocess", str | None, "Pipeline run on every image, e.g. 'clahe'.", "preprocess"),
    Flag("--precision", str | None, "auto, 32, bf16-mixed, 16-mixed.", "precision"),
    Flag("--accelerator", str | None, "auto, cpu, gpu.", "accelerator"),
    Flag("--devices", str | None, "auto, a count, or ids like 0,1.", "devices", _devices),
    Flag("--num-nodes", int | None, None, "num_nodes"),
    Flag("--workers", int | None, "Data loader processes.", "workers"),
    Flag("--seed", int | None, None, "seed data.seed"),
    Flag("--deterministic/--no-deterministic", bool | None, "Deterministic algorithms.",
         "deterministic"),
    Flag("--resume", Path | None, "Run folder (or .ckpt) to continue.", "resume"),
    Flag("--lr-find", bool, "Run the learning-rate finder first (plot saved).", "lr_find",
         default=False),
    Flag("--threshold", float | None, "Probability threshold.", "threshold"),
    Flag("--logger", str | None, "csv, tensorboard or mlflow (metrics.csv is always written).",
         "logger"),
    Flag("--adversarial", float | None,
         "Adversarial training (Luc et al. 2016) with this weight, e.g. 0.1.", "adversarial"),
    Flag("--adversarial-start", int | None, "First epoch with the adversarial term [1].",
         "adversarial_start"),
    Flag("--adversarial-lr", float | None, "The discriminator's lr [the segmenter's].",
         "adversarial_lr"),
    Flag("--val-fraction", float | None, "Held out of train when there is no val split.",
         "data.val_fraction"),
    Flag("--folds", int | None,
         "Cross-validation: train K runs, each validating on 1/K of train; mean ± std of "
         "their scores; they predict as an ensemble.", "data.folds"),
    Flag("--val-images", int | None, "Validate on this many val images (a seeded subset).",
         "val_images"),
    Flag("--strict-data", bool, "Stop at an unreadable image instead of skipping it.",
         "data.strict", default=False),
    Flag("--skip-bad-data", bool, "Train even when the data check finds errors, leaving the "
         "faulty records out.", "data.skip_bad", default=False),
    Flag("--num-classes", int | None, None, "data.num_classes"),
    Flag("--classes", str | None, "Class names, background first.", "data.classes", _names),
    Flag("--labels", str | None, "What mask values mean: auto, classes, or instances (an "
         "object per value: 16-bit label images).", "data.labels"),
    Flag("--quiet -q", bool, "No progress bar.", default=False),
)  # fmt: skip


def _set(options: dict[str, Any], path: str, value: Any) -> None:
    """``options`` with ``a.b.c = value``, creating the nested dicts on the way."""
    *parents, key = path.split(".")
    for part in parents:
        options = options.setdefault(part, {})
    options[key] = value


def train_options(values: Mapping[str, Any], flags: Iterable[Flag] = FLAGS) -> dict[str, Any]:
    """The nested TrainConfig options of parsed flag ``values`` (by parameter name), for
    :func:`seglab.api.train`: flags left at their default set nothing, and later flags win
    (``--activation`` over ``-m activation=...``).

    >>> train_options({"data": "d", "seed": 3, "activation": "gelu", "quiet": True})
    {'data': {'path': 'd', 'seed': 3}, 'model': {'options': {'activation': 'gelu'}}, 'seed': 3}
    """
    options: dict[str, Any] = {}
    for flag in flags:
        value = values.get(flag.name, flag.default)
        if value is None or value is flag.default or not flag.paths:
            continue
        if flag.convert is not None:
            value = flag.convert(value, flag.decls.split()[0])
            if value is None:
                continue
        for path in flag.paths:
            _set(options, path, value)
    return options


def train_cmd(**values: Any) -> None:
    """Train a segmentation network and write a run folder: config.yaml, metrics.csv,
    checkpoints/last.ckpt, model.safetensors + model.json (best epoch), plots/, summary.json.

    With no model flags the recipe sizes the model, crops, batch and schedule for this machine
    and this data, and says why; --time-limit makes it plan for the time given.

    Examples:

      seglab train --data sample/ --time-limit 5m

      seglab train --data cig_butts/ --recipe seed   # the notebook's U-Net and recipe

      seglab train --data nuclei/ --model smp.unet -m encoder=resnet18 --epochs 30 --patience 5

      seglab train --data d/ --optimizer sgd --optimizer-option momentum=0.9 --lr 0.05 \\
        --activation gelu --init kaiming_normal --augment heavy

      seglab train --resume runs/train --epochs 60

      seglab train --data small_set/ --folds 5 --epochs 40   # runs/folds/fold-1..5, folds.json

    --folds K trains K runs into runs/folds/fold-1..K (fold i validates on the i-th of K seeded
    parts of the train split, trains on the rest; a val split on disk stays held out), prints
    each fold's best score and their mean ± std; seglab predict --model runs/folds averages
    the folds.
    """
    from seglab.api import train
    from seglab.cli.render import print_folds_result, print_train_result

    options = train_options(values)
    if values["data"] is None and values["config"] is None and values["resume"] is None:
        raise typer.BadParameter("give --data DATASET (or --config run.yaml, or --resume RUN)")

    def say(text: str) -> None:
        console.print(text, highlight=False, markup=False)

    result = train(values["config"], progress=not values["quiet"], print_fn=say, **options)
    if result.rank > 0:  # a DDP process: rank 0 reports
        return
    if hasattr(result, "scores"):  # --folds: a FoldsResult
        print_folds_result(result, console)
    else:
        print_train_result(result, console)
    if result.status == "interrupted":
        raise typer.Exit(130)


def _parameter(flag: Flag) -> inspect.Parameter:
    option = typer.Option(*flag.decls.split(), help=flag.help)
    return inspect.Parameter(
        flag.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=flag.default,
        annotation=Annotated[flag.type, option],
    )


# typer builds the command from inspect.signature: one parameter per table entry.
_PARAMETERS = [_parameter(flag) for flag in FLAGS]
train_cmd.__signature__ = inspect.Signature(_PARAMETERS)  # type: ignore[attr-defined]
train_cmd.__annotations__ = {p.name: p.annotation for p in _PARAMETERS}
