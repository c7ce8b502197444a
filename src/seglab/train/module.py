"""The LightningModule: a network, a loss, an optimizer and its schedule, epoch metrics.

Logged per epoch (torchmetrics means, so they are correct across DDP processes):
``train_loss``, ``val_loss``, ``val_dice`` (mean per-image Dice at ``threshold``),
``val_soft_dice`` (the seed's Dice of probabilities), ``val_iou``. A loss that is NaN or
infinite stops training before the optimizer step, naming the step and the loss terms.

With a discriminator (``--adversarial``, :mod:`seglab.train.adversarial`, Luc et al. 2016) the
module optimises manually: per batch a discriminator step, then the segmenter's step on its own
loss plus ``lambda`` times the adversarial term; it also logs ``adv_d_loss`` and ``adv_g_loss``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from torch import nn
from torchmetrics import MeanMetric, Metric, SumMetric

from seglab.errors import SeglabError
from seglab.train.batch_metrics import THRESHOLDS, image_scores, soft_dice, threshold_dice

if TYPE_CHECKING:
    from seglab.train.adversarial import AdversarialPlan


class ColumnMeans(Metric):
    """Column means of ``N x K`` rows, summed over processes (per-threshold val Dice)."""

    def __init__(self, columns: int):
        super().__init__()
        self.add_state("total", torch.zeros(columns, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, rows: torch.Tensor) -> None:
        self.total += rows.detach().double().sum(0)
        self.count += rows.shape[0]

    def compute(self) -> torch.Tensor:
        return self.total / self.count.clamp(min=1)


def log_dice_spread(module: pl.LightningModule) -> None:
    """Log ``val_dice_sd`` from ``module``'s ``val_dice``, ``val_dice_sq`` and ``val_images``
    metrics (the per-image val Dice's standard deviation) and reset the last two."""
    images = float(module.val_images.compute())
    mean, mean_sq = float(module.val_dice.compute()), float(module.val_dice_sq.compute())
    if images > 1 and math.isfinite(mean) and math.isfinite(mean_sq):
        sd = math.sqrt(max(0.0, mean_sq - mean * mean) * images / (images - 1))
        module.log("val_dice_sd", sd, on_epoch=True)
    module.val_dice_sq.reset()
    module.val_images.reset()


class NonFiniteLoss(SeglabError):
    """The training loss became NaN or infinite; the message names the step and the terms."""


@dataclass(frozen=True)
class OptimizationPlan:
    """The optimizer and schedule a module builds in ``configure_optimizers``."""

    optimizer: str = "adamw"
    lr: float | None = None
    weight_decay: float | None = None
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    scheduler: str = "none"
    scheduler_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 1
    time_driven: bool = False  # the run's progress is time: the schedule is set per step by
    # seglab.train.timing.TimeDriven (reduce_on_plateau still steps after each validation)

    @property
    def follows_time(self) -> bool:
        """Whether the learning rate is a function of the run's progress (set per step by
        ``TimeDriven``), not a torch scheduler."""
        from seglab.optim.curves import TIME_SCHEDULES

        return self.time_driven and self.scheduler in TIME_SCHEDULES

    def time_schedule(self, *, steps_per_pass: int):
        """The schedule over the run's progress that a time-driven run applies, or ``None``
        (not time-driven, or ``reduce_on_plateau``)."""
        from seglab.optim.curves import time_schedule

        if not self.follows_time:
            return None
        return time_schedule(
            self.scheduler, steps_per_pass=steps_per_pass, **self.scheduler_options
        )


class SegmentationModule(pl.LightningModule):
    """Trains ``model`` (logits ``N x C x H x W``) with ``loss`` (a
    :class:`seglab.losses.SegmentationLoss`) and the optimizer and schedule of ``optim``."""

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        optim: OptimizationPlan,
        *,
        threshold: float = 0.5,
        channels_last: bool = False,
        score_thresholds: bool = False,
        instance_ap: bool = False,
        adversary: AdversarialPlan | None = None,
    ):
        super().__init__()
        self.model = model
        self.loss_fn = loss
        self.optim = optim
        self.threshold = threshold
        self.channels_last = channels_last
        self.train_loss = MeanMetric(nan_strategy="ignore")
        self.val_loss = MeanMetric(nan_strategy="ignore")
        self.val_dice = MeanMetric(nan_strategy="ignore")
        self.val_soft_dice = MeanMetric(nan_strategy="ignore")
        self.val_iou = MeanMetric(nan_strategy="ignore")
        self.val_dice_sq = MeanMetric(nan_strategy="ignore")  # for val_dice_sd
        self.val_images = SumMetric()  # val images scored, over all processes
        # binary runs that choose their threshold: the val Dice at each of THRESHOLDS
        self.score_thresholds = score_thresholds
        self.val_dice_at = ColumnMeans(len(THRESHOLDS))
        self.threshold_means: list[float] | None = None  # of the last validation
        # a border instance run: the val images' DSB mean AP of the objects cut from the outputs
        self.instance_ap = instance_ap
        self.val_ap = MeanMetric(nan_strategy="ignore")
        # adversarial training: the discriminator is a submodule, so it is in the checkpoint
        # (resume) but not in model.safetensors (RunWriter saves ``self.model`` only)
        self.adversary = adversary
        self.discriminator = adversary.discriminator if adversary is not None else None
        if adversary is not None:
            # two optimisers stepped in turn per batch: Lightning's automatic loop steps one
            self.automatic_optimization = False
            self.adv_d_loss = MeanMetric(nan_strategy="ignore")
            self.adv_g_loss = MeanMetric(nan_strategy="ignore")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The network's logits for ``images`` (``N x C x H x W``)."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.model(images)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        """The loss of one batch; :class:`NonFiniteLoss` before a NaN/inf loss reaches the
        weights."""
        images, masks = batch
        logits = self(images)
        loss = self._loss(logits, masks, images)
        self._refuse_non_finite(loss, batch_idx)
        self.train_loss.update(loss.detach(), weight=images.shape[0])
        self.log("loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=False)
        self.log("train_loss", self.train_loss, on_step=False, on_epoch=True)
        if self.adversary is not None:
            self._adversarial_step(images, masks, logits, loss, batch_idx)
            return loss.detach()
        return loss

    def _refuse_non_finite(self, loss: torch.Tensor, batch_idx: int, **extra: float) -> None:
        """:class:`NonFiniteLoss` when ``loss`` is NaN or infinite (``extra``: more terms to
        name, e.g. the adversarial one)."""
        if not bool(torch.isfinite(loss)):
            named = {**self.loss_fn.last_terms, **extra}
            terms = ", ".join(f"{k}={float(v):.4g}" for k, v in named.items())
            raise NonFiniteLoss(
                f"the training loss is {float(loss.detach())} at step {self.global_step} (epoch "
                f"{self.current_epoch}, batch {batch_idx}): {terms or 'no terms'}. The weights "
                "were not updated with it; the last good epoch is in checkpoints/last.ckpt and "
                "the best in model.safetensors. Try a lower --lr, --precision 32, gradient "
                "clipping, or check the data (seglab data check)."
            )

    def _adversarial_step(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        logits: torch.Tensor,
        loss: torch.Tensor,
        batch_idx: int,
    ) -> None:
        """One batch of Luc et al. (2016)'s alternating training, under manual optimisation:
        the discriminator's step on (truth, detached prediction), then the segmenter's on its
        loss + ``lambda * BCE(D(x, p), 1)``. Before ``adversarial_start`` only the segmenter's
        loss trains (the discriminator is neither run nor stepped)."""
        from seglab.train.adversarial import (
            discriminator_loss,
            generator_loss,
            probability_map,
            truth_map,
        )

        plan, disc = self.adversary, self.discriminator
        opt_g, opt_d = self.optimizers()
        total = loss
        if self.current_epoch + 1 >= plan.start:  # epochs count from 1 in every message
            probs = probability_map(logits)
            real = disc(images, truth_map(masks, probs))
            fake = disc(images, probs.detach())  # the segmenter is not trained by this step
            d_loss = discriminator_loss(real, fake)
            self._refuse_non_finite(d_loss, batch_idx, adv_d_loss=float(d_loss.detach()))
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            # through the strategy, not LightningOptimizer.step: that would count a second
            # optimizer step per batch in trainer.global_step, which TimeDriven's schedule
            # (warmup, step drops) and the checkpoints read as the segmenter's steps
            self.trainer.strategy.optimizer_step(opt_d.optimizer, closure=_no_closure)
            # the segmenter's term: the discriminator as it now is, frozen (its gradients here
            # would be the wrong sign for it, and only cost time)
            disc.requires_grad_(False)
            try:
                g_loss = generator_loss(disc(images, probs))
            finally:
                disc.requires_grad_(True)
            total = loss + plan.weight * g_loss
            self._refuse_non_finite(total, batch_idx, adv_g_loss=float(g_loss.detach()))
            n = images.shape[0]
            self.adv_d_loss.update(d_loss.detach(), weight=n)
            self.adv_g_loss.update(g_loss.detach(), weight=n)
            self.log("adv_d_loss", self.adv_d_loss, on_step=False, on_epoch=True)
            self.log("adv_g_loss", self.adv_g_loss, on_step=False, on_epoch=True)
        opt_g.zero_grad()
        self.manual_backward(total)
        opt_g.step()
        self._step_schedulers("step")

    def _step_schedulers(self, interval: str) -> None:
        """Step the schedules of ``interval`` (``step``: per batch, ``epoch``: after the
        validation), as Lightning's automatic loop does and its manual one does not; a plateau
        schedule is given its monitored value and skipped while it is not logged."""
        from torch.optim.lr_scheduler import ReduceLROnPlateau

        for config in self.trainer.lr_scheduler_configs:
            if config.interval != interval:
                continue
            if isinstance(config.scheduler, ReduceLROnPlateau):
                value = self.trainer.callback_metrics.get(config.monitor)
                if value is not None:
                    config.scheduler.step(float(value))
            else:
                config.scheduler.step()

    def on_train_epoch_end(self) -> None:
        """Under manual optimisation (adversarial runs), the epoch schedules' step; it comes
        before the checkpoint (Lightning saves after the module's hook), so a resume carries it."""
        if self.adversary is not None:
            self._step_schedulers("epoch")

    def _loss(self, logits: torch.Tensor, masks: torch.Tensor, images: torch.Tensor):
        """The loss of a batch; a loss whose ``needs_image`` is True (``mumford_shah``) also
        gets the network's input, every other loss only ``(logits, masks)``.

        A multi-scale network in training (:class:`seglab.models.multiscale.MultiScale`) adds
        each scale's loss, times its ``aux_weight``: Chen et al.'s extra supervision."""

        def loss_of(out: torch.Tensor) -> torch.Tensor:
            if getattr(self.loss_fn, "needs_image", False):
                return self.loss_fn(out, masks, image=images)
            return self.loss_fn(out, masks)

        aux = getattr(self.model, "aux_logits", None) if self.model.training else None
        # the scales first: the loss's last_terms then describe the fused output
        extra = [loss_of(out) for out in aux or ()]
        loss = loss_of(logits)
        if extra:
            loss = loss + float(getattr(self.model, "aux_weight", 1.0)) * torch.stack(extra).sum()
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        """Accumulate the val loss, per-image Dice and IoU, and the soft Dice of one batch."""
        images, masks = batch
        logits = self(images)
        loss = self._loss(logits, masks, images)
        dice, iou = image_scores(logits, masks, threshold=self.threshold)
        n = images.shape[0]
        self.val_loss.update(loss.detach(), weight=n)
        self.val_dice.update(dice)
        self.val_dice_sq.update(dice * dice)
        self.val_images.update(float(dice.numel()))
        if self.score_thresholds:
            self.val_dice_at.update(threshold_dice(logits, masks))
        self.val_iou.update(iou)
        self.val_soft_dice.update(soft_dice(logits, masks), weight=n)
        if self.instance_ap:
            from seglab.train.border import batch_ap

            self.val_ap.update(torch.tensor(batch_ap(logits, masks), dtype=torch.float32))
            self.log("val_ap", self.val_ap, on_epoch=True, prog_bar=True)
        self.log("val_loss", self.val_loss, on_epoch=True, prog_bar=True)
        self.log("val_dice", self.val_dice, on_epoch=True, prog_bar=True)
        self.log("val_soft_dice", self.val_soft_dice, on_epoch=True)
        self.log("val_iou", self.val_iou, on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        """Log ``val_dice_sd``: the spread of the per-image val Dice (the noise of the val
        score, which the overfitting verdict weighs a drop against)."""
        log_dice_spread(self)
        if self.score_thresholds:
            self.threshold_means = self.val_dice_at.compute().tolist()
            self.val_dice_at.reset()

    def configure_optimizers(self):
        """The optimizer of :attr:`optim` and its schedule: :func:`configure_optimization`; an
        adversarial run adds the discriminator's Adam second (``trainer.optimizers[0]`` stays
        the segmenter's, whose lr metrics.csv reports)."""
        if self.adversary is None:
            return configure_optimization(self, self.optim)
        segmenter = [p for n, p in self.named_parameters() if not n.startswith("discriminator.")]
        config = configure_optimization(self, self.optim, parameters=segmenter)
        optimizer = config["optimizer"] if isinstance(config, dict) else config
        lr = self.adversary.lr or optimizer.param_groups[0]["lr"]
        # beta1 0.5: the usual Adam for GAN discriminators (Radford et al. 2016), steadier
        # than 0.9 against a moving target
        d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
        if isinstance(config, dict):
            return [optimizer, d_opt], [config["lr_scheduler"]]
        return [optimizer, d_opt]


def _no_closure() -> None:
    """The closure of an optimizer step whose backward was already done (manual optimisation)."""
    return None


def configure_optimization(module: pl.LightningModule, spec: OptimizationPlan, parameters=None):
    """What ``module.configure_optimizers`` returns for the plan ``spec``: the optimizer over
    the module's parameters and its schedule, if any (steps per epoch from the trainer's
    estimate, for schedules stepped per batch). Every seglab LightningModule uses it, so the
    semantic and instance runs share one optimisation. ``parameters``: those it optimises
    (default: all of the module's)."""
    from seglab.optim import create_optimizer, create_scheduler

    optimizer = create_optimizer(
        spec.optimizer,
        module.parameters() if parameters is None else parameters,
        lr=spec.lr,
        weight_decay=spec.weight_decay,
        **spec.optimizer_options,
    )
    if spec.scheduler in (None, "none") or spec.follows_time:
        return optimizer
    epochs = max(1, spec.epochs) if not spec.time_driven else 1_000_000
    total = module.trainer.estimated_stepping_batches
    steps_per_epoch = max(1, math.ceil(total / epochs)) if math.isfinite(total) else 1
    plan = create_scheduler(
        spec.scheduler,
        optimizer,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        **spec.scheduler_options,
    )
    return {"optimizer": optimizer, "lr_scheduler": plan.lightning_config()}
