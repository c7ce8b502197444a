"""Adversarial training of any segmenter (Luc, Couprie, Chintala and Verbeek 2016, "Semantic
Segmentation using Adversarial Networks", NIPS Workshop on Adversarial Training).

A discriminator learns to tell the ground-truth label map of an image from the segmenter's
predicted one; the segmenter is trained with its own loss plus ``lambda`` times a term that
rewards fooling the discriminator, which pushes its label maps towards the high-order
statistics (shapes, contiguity) of real ones.

* :class:`Discriminator`: the paper's "basic" variant -- the image and a class probability map
  concatenated on channels, strided conv + LeakyReLU layers, a patch map of logits averaged to
  one logit per image.
* :func:`discriminator_loss`: ``BCE(D(x, onehot(y)), 1) + BCE(D(x, p), 0)``.
* :func:`generator_loss`: ``BCE(D(x, p), 1)``, the paper's non-saturating form (Eq. 3 with
  ``-log D`` instead of ``log(1 - D)``), to which the module applies ``lambda``.
* :func:`probability_map` / :func:`truth_map`: what the discriminator sees. Ignored pixels (255)
  have no truth: the truth map takes the predicted probabilities there (detached), so both maps
  agree on them and the discriminator cannot use them to tell the two apart.

:class:`seglab.train.module.SegmentationModule` runs the two steps per batch (manual
optimisation) when ``TrainConfig.adversarial`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seglab.core.constants import IGNORE_INDEX


@dataclass(frozen=True)
class AdversarialPlan:
    """An adversarial run's discriminator and settings (``TrainConfig.adversarial``,
    ``adversarial_start``, ``adversarial_lr``): ``weight`` is Luc et al.'s ``lambda``, ``start``
    the first epoch (from 1) with the adversarial term, ``lr`` the discriminator's Adam lr
    (``None``: the segmenter's)."""

    discriminator: nn.Module
    weight: float
    start: int = 1
    lr: float | None = None


class Discriminator(nn.Module):
    """Luc et al.'s "basic" discriminator on ``(image, label map)`` pairs.

    ``in_channels`` is the image's channels plus the label map's (the segmenter's output
    channels). ``layers`` stride-2 3x3 convolutions (widths ``width * 2**i``, capped at 8x)
    with LeakyReLU(0.2), then a 1x1 convolution to a patch map of logits, averaged per image:
    fully convolutional, so any image size works, and small next to the segmenter.
    """

    def __init__(self, in_channels: int, *, width: int = 32, layers: int = 3):
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for i in range(layers):
            out = width * min(2**i, 8)
            blocks += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            channels = out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Conv2d(channels, 1, 1)

    def forward(self, images: torch.Tensor, label_map: torch.Tensor) -> torch.Tensor:
        """One logit per image (``N``): high for "this label map is the ground truth"."""
        x = torch.cat([images, label_map.to(images.dtype)], dim=1)
        return self.head(self.features(x)).mean(dim=(1, 2, 3))


def probability_map(logits: torch.Tensor) -> torch.Tensor:
    """The segmenter's class probabilities: sigmoid of one channel (binary), else softmax."""
    logits = logits.float()
    return torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, 1)


def truth_map(masks: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """The one-hot ground truth of ``masks`` (``N x H x W``) shaped as ``probs`` (``N x C x H x
    W``; one channel: the foreground), with the (detached) predicted probabilities at ignored
    pixels -- see the module docstring."""
    ignored = masks == IGNORE_INDEX
    labels = masks.masked_fill(ignored, 0).long()
    if probs.shape[1] == 1:
        onehot = (labels == 1).unsqueeze(1).to(probs.dtype)
    else:
        onehot = F.one_hot(labels.clamp(max=probs.shape[1] - 1), probs.shape[1])
        onehot = onehot.permute(0, 3, 1, 2).to(probs.dtype)
    return torch.where(ignored.unsqueeze(1), probs.detach(), onehot)


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``BCE(D(x, onehot(y)), 1) + BCE(D(x, p), 0)`` from the discriminator's logits on the
    truth (``real``) and on the prediction (``fake``, computed from detached probabilities)."""
    real, fake = real.float(), fake.float()
    return F.binary_cross_entropy_with_logits(
        real, torch.ones_like(real)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))


def generator_loss(fake: torch.Tensor) -> torch.Tensor:
    """``BCE(D(x, p), 1)``: the segmenter's adversarial term before ``lambda`` (Luc et al.'s
    non-saturating form, whose gradient does not vanish while the discriminator wins)."""
    fake = fake.float()
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
