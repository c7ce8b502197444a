"""The LightningModule of a Mask R-CNN run: torchvision's losses, seglab's optimisation and
validation scores of the objects.

Logged like :class:`~seglab.train.module.SegmentationModule` (torchmetrics means, correct
across DDP processes): ``loss`` (each step) and ``train_loss`` (the sum of torchvision's loss
terms), and per validation

* ``val_dice``: per image, the Dice of the union of the predicted objects (score and mask
  probability at least ``score`` / ``mask_threshold``) with the union of the true ones (an
  image empty in both scores 1), then the mean; ``val_dice_sd`` its spread, for the
  overfitting verdict;
* ``val_ap``: the DSB-2018 mean AP of each image (:func:`seglab.evaluation.instance_metrics.
  dsb_mean_ap`), then the mean;
* ``val_loss`` (``val_loss=True``): torchvision's losses exist in training mode only, so the
  network runs once more in that mode, without gradients, with its BatchNorm layers kept in
  eval mode so the validation images do not move their running statistics (GroupNorm and
  frozen BatchNorm have none). It costs about one forward pass per image more.

A loss that is NaN or infinite stops training before the optimizer step, naming the step and
torchvision's loss terms.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric, SumMetric

from seglab.train.module import (
    NonFiniteLoss,
    OptimizationPlan,
    configure_optimization,
    log_dice_spread,
)

Batch = tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]


class MaskRCNNModule(pl.LightningModule):
    """Trains a torchvision Mask R-CNN ``model`` (:func:`seglab.models.create_model`'s
    ``maskrcnn``) with the optimizer and schedule of ``optim``; batches are
    :func:`~seglab.train.instance_data.instance_collate`'s ``(images, targets)``.

    ``score`` / ``mask_threshold``: what makes a detection an object in validation (the card's
    defaults). ``val_loss``: also log the validation loss (module docstring).
    """

    def __init__(
        self,
        model: nn.Module,
        optim: OptimizationPlan,
        *,
        score: float = 0.5,
        mask_threshold: float = 0.5,
        val_loss: bool = True,
    ):
        super().__init__()
        self.model = model
        self.optim = optim
        self.score = score
        self.mask_threshold = mask_threshold
        self.with_val_loss = val_loss
        self.train_loss = MeanMetric(nan_strategy="ignore")
        self.val_loss = MeanMetric(nan_strategy="ignore")
        self.val_dice = MeanMetric(nan_strategy="ignore")
        self.val_ap = MeanMetric(nan_strategy="ignore")
        self.val_dice_sq = MeanMetric(nan_strategy="ignore")  # for val_dice_sd
        self.val_images = SumMetric()  # val images scored, over all processes

    def forward(self, images: list[torch.Tensor], targets: list[dict] | None = None) -> Any:
        """torchvision's call: the loss dict in training mode (with ``targets``), the
        detections (``boxes``, ``labels``, ``scores``, ``masks``) in eval mode."""
        return self.model(images, targets)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        """The summed loss terms of one batch; :class:`NonFiniteLoss` before a NaN/inf loss
        reaches the weights."""
        images, targets = batch
        terms = self.model(images, targets)
        loss = sum(terms.values())
        if not bool(torch.isfinite(loss)):
            named = ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
            raise NonFiniteLoss(
                f"the training loss is {float(loss.detach())} at step {self.global_step} (epoch "
                f"{self.current_epoch}, batch {batch_idx}): {named or 'no terms'}. The weights "
                "were not updated with it; the last good epoch is in checkpoints/last.ckpt and "
                "the best in model.safetensors. Try a lower --lr, --precision 32, gradient "
                "clipping, or check the data (seglab data check)."
            )
        n = len(images)
        self.train_loss.update(loss.detach(), weight=n)
        self.log("loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=False, batch_size=n)
        self.log("train_loss", self.train_loss, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """Score one batch's detections against its objects (and its loss, see the module
        docstring)."""
        images, targets = batch
        n = len(images)
        outputs = self.model(images)  # Lightning validates in eval mode: detections
        dice, ap = [], []
        for output, target in zip(outputs, targets, strict=True):
            truth = _label_image(target["masks"] > 0)
            kept = output["scores"] >= self.score
            pred = _label_image(
                output["masks"][kept, 0] >= self.mask_threshold, output["scores"][kept]
            )
            dice.append(_union_dice(truth > 0, pred > 0))
            ap.append(_mean_ap(truth, pred))
        dice_t = torch.tensor(dice, dtype=torch.float32, device=self.device)
        self.val_dice.update(dice_t)
        self.val_dice_sq.update(dice_t * dice_t)
        self.val_images.update(float(n))
        self.val_ap.update(torch.tensor(ap, dtype=torch.float32, device=self.device))
        self.log("val_dice", self.val_dice, on_epoch=True, prog_bar=True, batch_size=n)
        self.log("val_ap", self.val_ap, on_epoch=True, prog_bar=True, batch_size=n)
        if self.with_val_loss:
            with torch.no_grad(), _loss_mode(self.model):
                loss = sum(self.model(images, targets).values())
            self.val_loss.update(loss.detach(), weight=n)
            self.log("val_loss", self.val_loss, on_epoch=True, prog_bar=True, batch_size=n)

    def on_validation_epoch_end(self) -> None:
        """Log ``val_dice_sd``: the spread of the per-image val Dice (the noise the
        overfitting verdict weighs a drop against)."""
        log_dice_spread(self)

    def configure_optimizers(self):
        """The optimizer of :attr:`optim` and its schedule, as for semantic runs
        (:func:`~seglab.train.module.configure_optimization`)."""
        return configure_optimization(self, self.optim)


@contextmanager
def _loss_mode(model: nn.Module) -> Iterator[None]:
    """``model`` in training mode (torchvision's losses), its BatchNorm layers in eval mode
    (running statistics untouched), for the duration; eval mode after."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    try:
        yield
    finally:
        model.eval()


def _label_image(masks: torch.Tensor, scores: torch.Tensor | None = None) -> np.ndarray:
    """The ``H x W`` label image of ``N x H x W`` boolean masks: with ``scores`` the higher
    score keeps a pixel two objects claim (:func:`~seglab.core.labels.paint_labels`)."""
    from seglab.core.labels import paint_labels

    height, width = masks.shape[-2:]
    found = masks.cpu().numpy()
    given = scores.detach().float().cpu().numpy() if scores is not None else None
    return paint_labels(list(found), np.ones(len(found)), height, width, scores=given).labels


def _union_dice(truth: np.ndarray, pred: np.ndarray) -> float:
    """Dice of two boolean masks; 1 when both are empty (nothing to find, nothing found)."""
    total = int(truth.sum()) + int(pred.sum())
    return 1.0 if total == 0 else 2.0 * int((truth & pred).sum()) / total


def _mean_ap(truth: np.ndarray, pred: np.ndarray) -> float:
    from seglab.evaluation.instance_metrics import dsb_mean_ap, overlaps

    return dsb_mean_ap(overlaps(truth, pred))
