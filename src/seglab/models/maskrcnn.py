"""torchvision's Mask R-CNN, built for people's data and never downloading.

* Weights: ``weights=None`` and ``weights_backbone=None`` always (a pretrained file is loaded
  by the caller, from a local or cached file, as for the semantic models).
* Crowded images: ``box_detections_per_img`` defaults to 1000 (torchvision's 100 silently drops
  objects from nuclei images, which hold hundreds), and the RPN keeps proposals to match.
* Anchors sized from the data (:func:`anchor_sizes`): one size per FPN level, spread from the
  small objects to the large ones, instead of COCO's 32-512 px.
* Small batches: ``norm="frozen"`` (torchvision's FrozenBatchNorm2d, its default) or
  ``norm="group"`` (GroupNorm, trainable from scratch with batches of 1-2).
* Backbones: ``resnet50`` with ``variant="v2"`` is torchvision's ``maskrcnn_resnet50_fpn_v2``;
  any torchvision ResNet name (``resnet18``: the size for a CPU) builds the v1 design on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from seglab.errors import ConfigError

VARIANTS = ("v1", "v2")
NORMS = ("frozen", "group")
RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
FPN_LEVELS = 5
"""Feature maps the ResNet-FPN backbone gives the RPN (P2-P6), one anchor size each."""


def anchor_sizes(object_sides: Sequence[float], *, levels: int = FPN_LEVELS) -> tuple[int, ...]:
    """One anchor size per FPN level, from the sides (sqrt of the area, px at the network's
    input size) of the data's objects: geometric from their 5th percentile to twice their 95th,
    each level double the last at most, rounded up to whole pixels (at least 4).

    >>> anchor_sizes([10, 12, 14, 16, 30])
    (11, 16, 24, 36, 55)
    """
    if not len(object_sides):
        return (32, 64, 128, 256, 512)  # torchvision's COCO defaults
    low = max(4.0, float(_percentile(object_sides, 5)))
    high = max(low * 2, 2 * float(_percentile(object_sides, 95)))
    ratio = min(2.0, (high / low) ** (1 / (levels - 1)))
    return tuple(math.ceil(low * ratio**k) for k in range(levels))


def _percentile(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, float), q))


def build_maskrcnn(
    num_classes: int,
    *,
    backbone: str = "resnet50",
    variant: str = "v1",
    norm: str = "frozen",
    sizes: Sequence[int] | None = None,
    min_size: int = 800,
    max_size: int = 1333,
    detections_per_image: int = 1000,
    trainable_layers: int = 5,
) -> nn.Module:
    """A Mask R-CNN with ``num_classes`` classes (background included) and random weights.

    ``sizes``: anchor sizes, one per FPN level (:func:`anchor_sizes`); ``min_size`` /
    ``max_size``: torchvision's resize of the shorter / longer side.

    Raises
    ------
    ConfigError
        An unknown ``backbone``, ``variant`` or ``norm``, v2 on another backbone than
        resnet50, fewer than 2 classes, or anchor sizes not one per level.
    """
    from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn_v2
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.ops.misc import FrozenBatchNorm2d

    for value, allowed, what in ((backbone, RESNETS, "backbone"), (variant, VARIANTS, "variant"),
                                 (norm, NORMS, "norm")):  # fmt: skip
        if value not in allowed:
            raise ConfigError(f"Mask R-CNN {what} {value!r}: choose one of {', '.join(allowed)}")
    if variant == "v2" and backbone != "resnet50":
        raise ConfigError("Mask R-CNN v2 exists for resnet50 only; use variant v1 for others")
    if num_classes < 2:
        raise ConfigError(f"Mask R-CNN needs the background and a class, got {num_classes}")
    sizes = tuple(sizes) if sizes is not None else anchor_sizes([])
    if len(sizes) != FPN_LEVELS:
        raise ConfigError(f"anchor sizes: one per FPN level ({FPN_LEVELS}), got {sizes}")
    anchors = AnchorGenerator(tuple((int(s),) for s in sizes), ((0.5, 1.0, 2.0),) * FPN_LEVELS)
    common = {
        "min_size": min_size,
        "max_size": max_size,
        "rpn_anchor_generator": anchors,
        "box_detections_per_img": detections_per_image,
        # proposals kept for the box head: at least the detections that may come out of it
        "rpn_pre_nms_top_n_test": max(1000, detections_per_image),
        "rpn_post_nms_top_n_test": max(1000, detections_per_image),
    }
    if variant == "v2":
        return maskrcnn_resnet50_fpn_v2(
            weights=None, weights_backbone=None, num_classes=num_classes, **common
        )
    layer = FrozenBatchNorm2d if norm == "frozen" else _group_norm
    body = resnet_fpn_backbone(
        backbone_name=backbone, weights=None, norm_layer=layer, trainable_layers=trainable_layers
    )
    return MaskRCNN(body, num_classes=num_classes, **common)


def _group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm of 32 groups (fewer for narrow layers): batch-size free."""
    return nn.GroupNorm(math.gcd(32, channels), channels)
