"""The parts of a fit, built from a run's setup: the LightningModule, the datamodule, the
callbacks and the Lightning trainer (:func:`seglab.train.run.train` puts them together)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seglab.config import TrainConfig
from seglab.train.setup import RunPlan, RunSetup, is_time_driven

if TYPE_CHECKING:  # heavy: imported where used
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping

    from seglab.train.callbacks import RunWriter, TimeBudget
    from seglab.train.instance_module import MaskRCNNModule
    from seglab.train.module import OptimizationPlan, SegmentationModule
    from seglab.train.timing import RoundSignal, TimeDriven
    from seglab.transforms import Pipeline
    from seglab.transforms.augment import Augmentation


@dataclass(frozen=True)
class Network:
    """The LightningModule with what the data and the model card need to know of its network."""

    module: SegmentationModule | MaskRCNNModule
    classes: list[str]
    multiple: int  # input sides must be multiples of this
    gpu: bool  # channels-last on a GPU, pinned loader memory


@dataclass(frozen=True)
class TrainData:
    """The datamodule and the transforms it applies (the model card records them)."""

    datamodule: Any
    preprocess: Pipeline | None
    augment: Augmentation


@dataclass(frozen=True)
class Stops:
    """The callbacks that may end a run early; how it ended is read back from them."""

    budget: TimeBudget | TimeDriven | None
    stopper: EarlyStopping | None
    signal: RoundSignal | None = None  # a time-driven run's end of round (the sampler stops)


def build_network(setup: RunSetup) -> Network:
    """The seeded network, its loss and optimizer in a :class:`SegmentationModule` (an
    instance run of the ``border`` family: interiors and borders, one more output channel)."""
    import torch

    from seglab.losses import create_loss
    from seglab.models.build import build_model, size_multiple
    from seglab.train.module import SegmentationModule

    config, stats = setup.config, setup.stats
    classes = list(setup.train.classes)
    if config.adversarial is not None:
        refuse_adversarial(config)
    if config.instance_method == "maskrcnn":
        return _maskrcnn_network(setup)
    border = config.instance_method == "border"
    torch.manual_seed(config.seed)
    out_channels = len(classes) + 1 if border else None  # + the border class
    net = build_model(
        config.model,
        in_channels=stats.channels,
        num_classes=len(classes),
        out_channels=out_channels,
    )
    multiple = size_multiple(net)
    gpu = torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda")
    if gpu:
        net = net.to(memory_format=torch.channels_last)
    binary = len(classes) <= 2 and not border
    loss_name = config.loss or ("bce_dice" if binary else "ce_dice")
    outputs = out_channels or (1 if binary else len(classes))
    loss = create_loss(loss_name, num_classes=outputs, **config.loss_options)
    adversary = None
    if config.adversarial is not None:
        from seglab.train.adversarial import AdversarialPlan, Discriminator

        # seeded after the network, so the segmenter's weights do not depend on --adversarial
        adversary = AdversarialPlan(
            Discriminator(stats.channels + outputs),
            weight=config.adversarial,
            start=config.adversarial_start,
            lr=config.adversarial_lr,
        )
    optim = optimization_plan(config, has_val=setup.val is not None)
    # a binary run chooses its probability threshold on val, unless the user gave one
    choose = binary and setup.val is not None and config.threshold is None
    module = SegmentationModule(
        net,
        loss,
        optim,
        threshold=config.threshold or 0.5,
        channels_last=gpu,
        score_thresholds=choose,
        instance_ap=border and setup.val is not None,
        adversary=adversary,
    )
    return Network(module, classes, multiple, gpu)


def refuse_adversarial(config: TrainConfig) -> None:
    """:class:`ConfigError` for what ``--adversarial`` (manual optimisation of two networks)
    does not support: Mask R-CNN (its own losses, no label map), LBFGS (a closure re-running
    the loss), gradient accumulation and the learning-rate finder (both drive the optimizer
    step themselves)."""
    from seglab.errors import ConfigError

    why = None
    if config.instance_method == "maskrcnn":
        why = "Mask R-CNN has no label map to judge; use a semantic model (--task instance "
        why += "with another model cuts objects from interiors and borders)"
    elif config.optimizer == "lbfgs":
        why = "lbfgs re-runs the loss in its step; choose another --optimizer"
    elif config.accumulate > 1:
        why = "gradient accumulation is not supported with it; leave --accumulate at 1"
    elif config.lr_find:
        why = "the learning-rate finder is not supported with it; give --lr instead"
    if why is not None:
        raise ConfigError(f"--adversarial: {why}")


def _maskrcnn_network(setup: RunSetup) -> Network:
    """torchvision's Mask R-CNN (its own losses) in a :class:`MaskRCNNModule`."""
    import torch

    from seglab.models.build import build_model, size_multiple
    from seglab.train.instance_module import MaskRCNNModule

    config, stats = setup.config, setup.stats
    classes = list(setup.train.classes)
    torch.manual_seed(config.seed)
    net = build_model(
        config.model,
        in_channels=stats.channels,
        num_classes=len(classes),
        out_channels=len(classes),  # torchvision counts the background
    )
    module = MaskRCNNModule(net, optimization_plan(config, has_val=setup.val is not None))
    gpu = torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda")
    return Network(module, classes, size_multiple(net), gpu)


def optimization_plan(config: TrainConfig, *, has_val: bool) -> OptimizationPlan:
    """The optimizer and schedule of ``config`` (a plateau schedule watches the train loss
    when there is no val split)."""
    from seglab.train.module import OptimizationPlan

    scheduler_options = dict(config.scheduler_options)
    if config.scheduler == "reduce_on_plateau" and not has_val:
        scheduler_options.setdefault("monitor", "train_loss")
    return OptimizationPlan(
        optimizer=config.optimizer or "adamw",
        lr=config.lr,
        weight_decay=config.weight_decay,
        optimizer_options=dict(config.optimizer_options),
        scheduler=config.scheduler or "none",
        scheduler_options=scheduler_options,
        epochs=config.epochs or 1,
        time_driven=is_time_driven(config),
    )


def build_data(setup: RunSetup, net: Network, stops: Stops) -> TrainData:
    """The train (and val) samples, preprocessed and augmented, in a datamodule."""
    from seglab.train.data import SampleSpec, SegmentationSamples, make_datamodule
    from seglab.transforms import build_pipeline
    from seglab.transforms.augment import build_augment

    config, stats, train_src, val_src = setup.config, setup.stats, setup.train, setup.val
    if config.instance_method == "maskrcnn":
        return _maskrcnn_data(setup, net, stops)
    target = None
    if config.instance_method == "border":  # objects in, interiors and borders out
        from seglab.train.border import BorderSource, BorderTarget, border_width

        scale = min(1.0, config.image_size / stats.long_side) if config.image_size else 1.0
        width = border_width(stats.object_p50, scale)
        target = BorderTarget(len(train_src.classes), width)
        train_src = BorderSource(train_src)
        val_src = BorderSource(val_src) if val_src is not None else None
    preprocess = build_pipeline(config.preprocess) if config.preprocess else None
    augment = build_augment(config.augment)
    spec = SampleSpec.of(config, stats.channels)
    strict = config.data.strict
    train_set = SegmentationSamples(
        train_src,
        spec,
        preprocess=preprocess,
        augment=augment,
        train=True,
        strict=strict,
        target=target,
    )
    val_set = (
        SegmentationSamples(val_src, spec, preprocess=preprocess, strict=strict, target=target)
        if val_src is not None
        else None
    )
    datamodule = make_datamodule(
        train_set,
        val_set,
        batch_size=config.batch_size or 8,
        val_batch_size=1 if config.crop_size is None and config.image_size is None else None,
        multiple=net.multiple,
        workers=config.workers or 0,
        pin_memory=net.gpu,
        seed=config.seed,
        signal=stops.signal,
    )
    return TrainData(datamodule, preprocess, augment)


def _maskrcnn_data(setup: RunSetup, net: Network, stops: Stops) -> TrainData:
    """Images and their objects (boxes, classes, masks) for Mask R-CNN, through the same
    preparation, crops, augmentation and samplers as the semantic samples."""
    from seglab.train.data import SampleSpec, make_datamodule
    from seglab.train.instance_data import InstanceSamples, instance_collate
    from seglab.transforms import build_pipeline
    from seglab.transforms.augment import build_augment

    config, stats = setup.config, setup.stats
    preprocess = build_pipeline(config.preprocess) if config.preprocess else None
    augment = build_augment(config.augment)
    spec = SampleSpec.of(config, stats.channels)
    strict = config.data.strict
    train_set = InstanceSamples(
        setup.train, spec, preprocess=preprocess, augment=augment, train=True, strict=strict
    )
    val_set = (
        InstanceSamples(setup.val, spec, preprocess=preprocess, strict=strict)
        if setup.val is not None
        else None
    )
    datamodule = make_datamodule(
        train_set,
        val_set,
        batch_size=config.batch_size or 2,
        val_batch_size=1,
        multiple=net.multiple,
        workers=config.workers or 0,
        pin_memory=net.gpu,
        seed=config.seed,
        signal=stops.signal,
        collate=instance_collate,
    )
    return TrainData(datamodule, preprocess, augment)


def build_stops(setup: RunSetup, net: Network, monitor: str) -> Stops:
    """What ends the run: its time budget (``--time-limit``: :class:`TimeDriven` when time
    drives the run, a cap on the epochs otherwise) and early stopping (``--patience``)."""
    from lightning.pytorch.callbacks import EarlyStopping

    from seglab.train.callbacks import TimeBudget
    from seglab.train.timing import RoundSignal, TimeDriven

    config = setup.config
    budget, signal = None, None
    if is_time_driven(config):
        signal = RoundSignal()
        batch = (config.batch_size or 8) * config.accumulate
        from seglab.train.instance_choice import cut_reserve

        # an instance run chooses its cut after training, inside the same budget
        reserve = cut_reserve(config.time_limit) if config.instance_method else 0.0
        budget = TimeDriven(
            config.time_limit - reserve,
            signal,
            schedule=net.module.optim.time_schedule(
                steps_per_pass=max(1, len(setup.train) // batch)
            ),
            started=setup.started,
            first_pause=setup.val_seconds,
        )
    elif config.time_limit:
        budget = TimeBudget(config.time_limit, first_val=setup.val_seconds)
    stopper = None
    if config.patience:
        mode = "min" if monitor.endswith("loss") else "max"
        stopper = EarlyStopping(monitor=monitor, patience=config.patience, mode=mode)
    return Stops(budget, stopper, signal)


def build_callbacks(plan: RunPlan, writer: RunWriter, stops: Stops) -> list:
    """The run writer, the resume checkpoint, the epoch seed, the stops, the caller's extra
    callbacks and the progress bar, in that order."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from seglab.train.callbacks import EpochSeed

    callbacks: list = [
        writer,
        ModelCheckpoint(
            dirpath=plan.run_dir / "checkpoints",
            filename="last",
            save_last=False,
            save_top_k=1,
            monitor=None,
            every_n_epochs=1,
            enable_version_counter=False,
        ),
        EpochSeed(plan.setup.config.seed),
    ]
    callbacks.extend(stop for stop in (stops.budget, stops.stopper) if stop is not None)
    callbacks.extend(plan.callbacks)
    if plan.progress:
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar(leave=False))
    return callbacks


def _strategy(config: TrainConfig) -> str:
    """Lightning's ``auto``, except for an adversarial run in several processes: each of its
    two backward passes a step leaves the other network without gradients, which DDP must be
    told to expect (else it stops at the second step)."""
    from seglab.core.devices import process_count

    several = process_count(config.accelerator, config.devices, config.num_nodes) > 1
    return "ddp_find_unused_parameters_true" if config.adversarial and several else "auto"


def build_trainer(config: TrainConfig, callbacks: list, plan: RunPlan) -> pl.Trainer:
    """The Lightning trainer of ``config``: no logger, no sanity check, the run folder as its
    root."""
    import lightning.pytorch as pl

    from seglab.train.callbacks import AtomicCheckpointIO
    from seglab.train.loggers import build_logger

    precision = config.precision if config.precision != "auto" else "32"
    timed = is_time_driven(config)
    return pl.Trainer(
        max_epochs=-1 if timed else config.epochs,  # time-driven: the budget ends it
        accelerator=config.accelerator,
        strategy=_strategy(config),
        devices=config.devices,
        num_nodes=config.num_nodes,
        precision=precision,
        accumulate_grad_batches=config.accumulate,
        deterministic="warn" if config.deterministic else None,
        callbacks=callbacks,
        logger=build_logger(config, plan.run_dir),
        enable_progress_bar=plan.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_train_batches=config.limit_train_batches,
        limit_val_batches=config.limit_val_batches,
        default_root_dir=plan.run_dir,
        use_distributed_sampler=not timed,  # time-driven samplers shard themselves
        plugins=[AtomicCheckpointIO()],  # a process killed mid-write leaves the old checkpoint
    )
