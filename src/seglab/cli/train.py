"""``seglab train``: every :class:`~seglab.config.TrainConfig` field as a flag.

Flags left out keep the value of ``--config run.yaml`` (when given), else the recipe chooses
(:mod:`seglab.train.recipe`). Kept apart from :mod:`seglab.cli` because it is long.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

Opt = typer.Option


def _kv(items: list[str] | None, what: str) -> dict[str, Any]:
    from seglab.config import parse_assignments

    return parse_assignments(items, what=what)


def train_cmd(
    data: Annotated[
        Path | None, Opt("--data", help="Labelled dataset (COCO or image/mask folders).")
    ] = None,
    config: Annotated[
        Path | None, Opt("--config", help="YAML with any of these options (a run's config.yaml).")
    ] = None,
    out: Annotated[Path | None, Opt("--out", help="Folder of runs [runs].")] = None,
    name: Annotated[str | None, Opt("--name", help="Run folder name [train, train-2...].")] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Reuse an existing run folder.")] = False,
    recipe: Annotated[
        str | None, Opt("--recipe", help="auto (sized for this machine) or seed (the notebook's).")
    ] = None,
    model: Annotated[
        str | None, Opt("--model", help="unet, smp.<arch>, torchvision.<name> (seglab models).")
    ] = None,
    model_option: Annotated[
        list[str] | None,
        Opt("--model-option", "-m", help="Model option NAME=VALUE, e.g. -m base_width=32."),
    ] = None,
    activation: Annotated[
        str | None, Opt("--activation", help="relu, leaky_relu, elu, gelu, silu, prelu, tanh...")
    ] = None,
    init: Annotated[
        str | None,
        Opt("--init", help="kaiming_normal, kaiming_uniform, xavier_*, orthogonal, default."),
    ] = None,
    encoder_weights: Annotated[
        Path | None, Opt("--encoder-weights", help="Local pretrained encoder weights file.")
    ] = None,
    loss: Annotated[
        str | None, Opt("--loss", help="bce_dice, dice, bce, focal, tversky, lovasz, ce_dice...")
    ] = None,
    loss_option: Annotated[
        list[str] | None, Opt("--loss-option", help="e.g. pos_weight=3, class_weights=[0.2,1,1].")
    ] = None,
    optimizer: Annotated[
        str | None, Opt("--optimizer", help="adamw, adam, radam, sgd, rmsprop, lbfgs...")
    ] = None,
    lr: Annotated[float | None, Opt("--lr", help="Learning rate.")] = None,
    weight_decay: Annotated[float | None, Opt("--weight-decay")] = None,
    optimizer_option: Annotated[
        list[str] | None, Opt("--optimizer-option", help="e.g. momentum=0.9, nesterov=true.")
    ] = None,
    scheduler: Annotated[
        str | None,
        Opt("--scheduler", help="reduce_on_plateau, cosine, onecycle, poly, step, none."),
    ] = None,
    scheduler_option: Annotated[
        list[str] | None, Opt("--scheduler-option", help="e.g. warmup_epochs=1, factor=0.5.")
    ] = None,
    epochs: Annotated[int | None, Opt("--epochs")] = None,
    time_limit: Annotated[
        str | None, Opt("--time-limit", help="Stop in time and keep the best: 10m, 1h30m, 90s.")
    ] = None,
    patience: Annotated[
        int | None, Opt("--patience", help="Early stopping after N epochs without gain.")
    ] = None,
    monitor: Annotated[str | None, Opt("--monitor", help="val_dice or val_loss.")] = None,
    batch_size: Annotated[int | None, Opt("--batch-size")] = None,
    image_size: Annotated[
        int | None, Opt("--image-size", help="Resize so the longer side is this (px).")
    ] = None,
    crop_size: Annotated[int | None, Opt("--crop-size", help="Square training crops (px).")] = None,
    object_crop: Annotated[
        float | None, Opt("--object-crop", help="Share of crops centred on an object [0.7].")
    ] = None,
    accumulate: Annotated[int | None, Opt("--accumulate", help="Gradient accumulation.")] = None,
    augment: Annotated[
        str | None,
        Opt("--augment", help="none, light, default, heavy, or names: flip,rotate,elastic,mosaic."),
    ] = None,
    preprocess: Annotated[
        str | None, Opt("--preprocess", help="Pipeline run on every image, e.g. 'clahe'.")
    ] = None,
    precision: Annotated[
        str | None, Opt("--precision", help="auto, 32, bf16-mixed, 16-mixed.")
    ] = None,
    accelerator: Annotated[str | None, Opt("--accelerator", help="auto, cpu, gpu.")] = None,
    devices: Annotated[str | None, Opt("--devices", help="auto, a count, or ids like 0,1.")] = None,
    num_nodes: Annotated[int | None, Opt("--num-nodes")] = None,
    workers: Annotated[int | None, Opt("--workers", help="Data loader processes.")] = None,
    seed: Annotated[int | None, Opt("--seed")] = None,
    deterministic: Annotated[
        bool | None, Opt("--deterministic/--no-deterministic", help="Deterministic algorithms.")
    ] = None,
    resume: Annotated[
        Path | None, Opt("--resume", help="Run folder (or .ckpt) to continue.")
    ] = None,
    lr_find: Annotated[
        bool, Opt("--lr-find", help="Run the learning-rate finder first (plot saved).")
    ] = False,
    threshold: Annotated[float | None, Opt("--threshold", help="Probability threshold.")] = None,
    val_fraction: Annotated[
        float | None, Opt("--val-fraction", help="Held out of train when there is no val split.")
    ] = None,
    strict_data: Annotated[
        bool, Opt("--strict-data", help="Stop at an unreadable image instead of skipping it.")
    ] = False,
    num_classes: Annotated[int | None, Opt("--num-classes")] = None,
    classes: Annotated[str | None, Opt("--classes", help="Class names, background first.")] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
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
    """
    from seglab.api import train
    from seglab.cli import console

    options: dict[str, Any] = {}
    data_opts = {
        "path": data,
        "val_fraction": val_fraction,
        "num_classes": num_classes,
        "classes": [c.strip() for c in classes.split(",")] if classes else None,
        "seed": seed,
        "strict": strict_data or None,
    }
    data_opts = {k: v for k, v in data_opts.items() if v is not None}
    if data_opts:
        options["data"] = data_opts
    model_opts: dict[str, Any] = {}
    extra = _kv(model_option, "--model-option")
    if activation is not None:
        extra["activation"] = activation
    if extra:
        model_opts["options"] = extra
    for key, value in (("name", model), ("init", init), ("encoder_weights", encoder_weights)):
        if value is not None:
            model_opts[key] = value
    if model_opts:
        options["model"] = model_opts
    flat = {
        "out": out,
        "name": name,
        "overwrite": overwrite or None,
        "recipe": recipe,
        "loss": loss,
        "optimizer": optimizer,
        "lr": lr,
        "weight_decay": weight_decay,
        "scheduler": scheduler,
        "epochs": epochs,
        "time_limit": time_limit,
        "patience": patience,
        "monitor": monitor,
        "batch_size": batch_size,
        "image_size": image_size,
        "crop_size": crop_size,
        "object_crop": object_crop,
        "accumulate": accumulate,
        "augment": augment,
        "preprocess": preprocess,
        "precision": precision,
        "accelerator": accelerator,
        "devices": int(devices) if devices and devices.isdigit() else devices,
        "num_nodes": num_nodes,
        "workers": workers,
        "seed": seed,
        "deterministic": deterministic,
        "resume": resume,
        "lr_find": lr_find or None,
        "threshold": threshold,
        "loss_options": _kv(loss_option, "--loss-option") or None,
        "optimizer_options": _kv(optimizer_option, "--optimizer-option") or None,
        "scheduler_options": _kv(scheduler_option, "--scheduler-option") or None,
    }
    options.update({k: v for k, v in flat.items() if v is not None})
    if data is None and config is None and resume is None:
        raise typer.BadParameter("give --data DATASET (or --config run.yaml, or --resume RUN)")

    def say(text: str) -> None:
        console.print(text, highlight=False, markup=False)

    result = train(config, progress=not quiet, print_fn=say, **options)
    from seglab.train.run import process_rank

    if process_rank() > 0:  # a DDP process: rank 0 reports
        return
    console.print(
        f"[bold]{result.status}[/bold] after {result.epochs} epochs in {result.seconds:.0f} s; "
        f"run folder: {result.run_dir}",
        highlight=False,
    )
    if result.status == "interrupted":
        raise typer.Exit(130)
