"""Datasets: COCO, mask folders (class masks or label images), DSB-2018 folders and image
folders; torch-free readers plus a torch Dataset.

Heavy modules (pycocotools, torch) are imported only when used.
"""

from __future__ import annotations

from seglab.core.constants import IGNORE_INDEX
from seglab.data.base import Instance, Item, Problem, SegmentationSource
from seglab.data.dataset import (
    SegmentationDataset,
    image_to_tensor,
    open_dataset,
    open_split,
    split_indices,
    subset,
)
from seglab.data.layout import SplitSpec, discover

__all__ = [
    "IGNORE_INDEX",
    "Instance",
    "Item",
    "Problem",
    "SegmentationDataset",
    "SegmentationSource",
    "SplitSpec",
    "discover",
    "image_to_tensor",
    "open_dataset",
    "open_split",
    "split_indices",
    "subset",
]
