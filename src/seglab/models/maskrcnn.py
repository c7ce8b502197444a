"""torchvision's Mask R-CNN, built for people's data and never downloading.

* Weights: ``weights=None`` and ``weights_backbone=None`` always (a pretrained file is loaded
  by the caller, from a local or cached file, as for the semantic models).
* Crowded images: ``box_detections_per_img`` defaults to 1000 (torchvision's 100 silently drops
  objects from nuclei images, which hold hundreds), and the RPN keeps proposals to match.
* Anchors sized from the data (:func:`anchor_sizes`): one size per FPN level, spread from the
  small objects to the large ones, instead of COCO's 32-512 px.
* Small batches: ``norm="frozen"`` (torchvision's FrozenBatchNorm2d, its default) or
  ``norm="group"`` (GroupNorm, trainable from scratch with batches of 1-2).
* seglab's registry (:func:`maskrcnn_network`, :func:`maskrcnn_v2_network`): any number of
  input channels, and torchvision's own resize off unless ``min_size``/``max_size`` are given,
  so the network sees images at the scale seglab prepared them.
* Backbones: ``resnet50`` with ``variant="v2"`` is torchvision's ``maskrcnn_resnet50_fpn_v2``;
  any torchvision ResNet name (``resnet18``: the size for a CPU) builds the v1 design on it.
"""

from __future__ import annotations

import functools
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
    rois_per_image: int = 512,
) -> nn.Module:
    """A Mask R-CNN with ``num_classes`` classes (background included) and random weights.

    ``sizes``: anchor sizes, one per FPN level (:func:`anchor_sizes`); ``min_size`` /
    ``max_size``: torchvision's resize of the shorter / longer side; ``rois_per_image``: the
    proposals sampled per training image for the box head (torchvision's 512, sized for COCO's
    800 px images, is most of a CPU step on small crops).

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
        "box_batch_size_per_image": rois_per_image,
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


IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
"""torchvision's input normalisation (ImageNet's RGB statistics, images in [0, 1])."""


def maskrcnn_network(
    *,
    in_channels: int = 3,
    num_classes: int = 2,
    backbone: str = "resnet50",
    norm: str = "group",
    sizes: Sequence[int] | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    detections_per_image: int = 1000,
    trainable_layers: int = 5,
    rois_per_image: int = 512,
) -> nn.Module:
    """The registry's ``maskrcnn``: :func:`build_maskrcnn` (design v1) for ``in_channels``.

    ``norm`` defaults to ``group``: seglab trains from random weights with small batches, where
    frozen BatchNorm (fixed at its initial statistics) would never normalise anything.
    ``min_size`` / ``max_size``: torchvision's own resize; ``None`` (the default) turns it
    off, so the network sees images at the size seglab prepared them (the run's
    ``image_size``, its crops): training crops and whole images at prediction then share one
    scale, and anchor ``sizes`` are in those pixels.

    Raises
    ------
    ConfigError
        As :func:`build_maskrcnn`, or ``in_channels`` below 1, or anchor sizes that are not
        whole numbers of pixels.
    """
    resize = _check_resize(min_size, max_size)
    net = build_maskrcnn(
        num_classes,
        backbone=backbone,
        variant="v1",
        norm=norm,
        sizes=_check_sizes(sizes),
        min_size=min_size or 800,
        max_size=max_size or 1333,
        detections_per_image=detections_per_image,
        trainable_layers=trainable_layers,
        rois_per_image=rois_per_image,
    )
    return _fit_input(net, in_channels, keep_size=not resize)


def maskrcnn_v2_network(
    *,
    in_channels: int = 3,
    num_classes: int = 2,
    sizes: Sequence[int] | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    detections_per_image: int = 1000,
    rois_per_image: int = 512,
) -> nn.Module:
    """The registry's ``maskrcnn_v2``: torchvision's ``maskrcnn_resnet50_fpn_v2`` design
    (BatchNorm throughout, every layer trainable), options as :func:`maskrcnn_network`."""
    resize = _check_resize(min_size, max_size)
    net = build_maskrcnn(
        num_classes,
        backbone="resnet50",
        variant="v2",
        sizes=_check_sizes(sizes),
        min_size=min_size or 800,
        max_size=max_size or 1333,
        detections_per_image=detections_per_image,
        rois_per_image=rois_per_image,
    )
    return _fit_input(net, in_channels, keep_size=not resize)


def _check_resize(min_size: int | None, max_size: int | None) -> bool:
    """Whether torchvision's resize stays on: both sides given (whole numbers >= 1) or neither."""
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise ConfigError(f"{name}: a whole number of pixels >= 1, or null, got {value!r}")
    if (min_size is None) != (max_size is None):
        raise ConfigError(
            "min_size and max_size go together: give both (torchvision resizes every image) "
            "or neither (the network keeps the size seglab prepared)"
        )
    return min_size is not None


def _check_sizes(sizes: Sequence[int] | None) -> tuple[int, ...] | None:
    """Anchor sizes as read from a card (a JSON list): whole numbers of pixels >= 1."""
    if sizes is None:
        return None
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence):
        raise ConfigError(f"anchor sizes: a list of {FPN_LEVELS} sizes in pixels, got {sizes!r}")
    if not all(isinstance(s, int | float) and not isinstance(s, bool) and s >= 1 for s in sizes):
        raise ConfigError(f"anchor sizes: whole numbers of pixels >= 1, got {list(sizes)}")
    return tuple(math.ceil(s) for s in sizes)


def _fit_input(net: nn.Module, in_channels: int, *, keep_size: bool) -> nn.Module:
    """``net`` taking ``in_channels`` channels (its first convolution and normalisation
    replaced when not 3), and without torchvision's resize when ``keep_size``."""
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ConfigError(f"in_channels: a whole number >= 1, got {in_channels!r}")
    transform = net.transform
    # 3 channels: ImageNet's statistics; others have no such statistics, so every channel gets
    # the mean of the three (gray is the common case: its statistics are about the RGB mean)
    if in_channels == 3:
        mean, std = list(IMAGE_MEAN), list(IMAGE_STD)
    else:
        mean = [sum(IMAGE_MEAN) / 3] * in_channels
        std = [sum(IMAGE_STD) / 3] * in_channels
    kind = _keep_size_transform() if keep_size else type(transform)
    net.transform = kind(
        min_size=transform.min_size,
        max_size=transform.max_size,
        image_mean=mean,
        image_std=std,
        size_divisible=transform.size_divisible,
    )
    if in_channels != 3:
        body = net.backbone.body
        old = body.conv1
        body.conv1 = nn.Conv2d(
            in_channels,
            old.out_channels,
            kernel_size=old.kernel_size,
            stride=old.stride,
            padding=old.padding,
            bias=False,
        )
        # torchvision's ResNet initialisation, as the layer it replaces had
        nn.init.kaiming_normal_(body.conv1.weight, mode="fan_out", nonlinearity="relu")
        body.conv1.weight.requires_grad_(old.weight.requires_grad)  # frozen when it was
    return net


@functools.cache
def _keep_size_transform() -> type:
    """torchvision's ``GeneralizedRCNNTransform`` without its resize (built on first use:
    torchvision is imported only with a Mask R-CNN)."""
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    class KeepSizeTransform(GeneralizedRCNNTransform):
        """Normalises and batches (padded to ``size_divisible``) but keeps each image's size:
        seglab has already brought it to the run's scale."""

        def resize(self, image, target=None):  # type: ignore[override]
            return image, target

    return KeepSizeTransform
