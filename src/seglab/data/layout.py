"""Finding what a dataset path holds: COCO, mask folders or DSB folders, and which splits.

:func:`discover` accepts what people have on disk:

* a split folder holding a COCO JSON of any name (in the folder or in ``annotations/``) and its
  images (``images/`` or beside the JSON, as Roboflow exports);
* a split folder holding an image folder and a mask folder with common names
  (``images/masks``, ``image/label``, ``imgs/masks``, ``img/gt`` ...): class masks or label
  images (16-bit instance masks, as Cellpose and StarDist keep them), which
  :class:`~seglab.data.folders.FolderSource` tells apart;
* a split folder in the DSB-2018 layout: one folder per image holding ``images/`` (one image)
  and ``masks/`` (one mask per object), see :mod:`seglab.data.dsb`; such folders without any
  ``masks/`` are an unlabelled split;
* a folder of split folders: ``train``, ``val`` (or ``valid``, ``validation``), ``test``
  (or ``real_test``); a test split may be images only;
* a COCO JSON file itself;
* explicit ``annotations=`` + ``images=``, or ``images=`` + ``masks=``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seglab.data.coco import find_annotation_file, find_images_dir
from seglab.data.dsb import dsb_layout
from seglab.data.pairing import IMAGE_DIR_NAMES, find_folder_pair
from seglab.errors import DataError
from seglab.io import is_image_file

SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "real_test": "test",
    "testing": "test",
}


@dataclass(frozen=True)
class SplitSpec:
    """Where one split lives and in which format (``coco``, ``masks``, ``dsb`` or ``images``;
    for ``dsb``, ``images`` is the folder of image folders)."""

    name: str
    kind: str
    root: Path
    images: Path
    annotations: Path | None = None
    masks: Path | None = None


def _split_spec(name: str, folder: Path) -> SplitSpec | None:
    ann = find_annotation_file(folder)
    if ann is not None:
        return SplitSpec(name, "coco", folder, find_images_dir(ann, folder), annotations=ann)
    pair = find_folder_pair(folder)
    if pair is not None:
        return SplitSpec(name, "masks", folder, pair[0], masks=pair[1])
    dsb = dsb_layout(folder)
    if dsb is not None:  # "dsb", or "images": image folders without masks (a DSB test split)
        return SplitSpec(name, dsb, folder, folder)
    for img_name in IMAGE_DIR_NAMES:
        if (folder / img_name).is_dir():
            return SplitSpec(name, "images", folder, folder / img_name)
    if any(is_image_file(p) for p in folder.iterdir() if p.is_file()):
        return SplitSpec(name, "images", folder, folder)
    return None


def discover(
    path: str | Path | None = None,
    *,
    annotations: str | Path | None = None,
    images: str | Path | None = None,
    masks: str | Path | None = None,
) -> dict[str, SplitSpec]:
    """Return the splits found at ``path`` (or given explicitly), keyed by split name.

    Raises
    ------
    DataError
        Nothing usable was found; the message lists the layouts seglab understands.
    """
    if annotations is not None:
        ann = Path(annotations)
        img = Path(images) if images else find_images_dir(ann, ann.parent)
        root = Path(path) if path else img.parent
        return {"train": SplitSpec("train", "coco", root, img, annotations=ann)}
    if masks is not None:
        if images is None:
            raise DataError("--masks needs --images too")
        img = Path(images)
        return {"train": SplitSpec("train", "masks", img.parent, img, masks=Path(masks))}
    if path is None:
        raise DataError("give a dataset path, or --annotations/--images or --images/--masks")
    path = Path(path)
    if not path.exists():
        raise DataError("dataset path not found", path=path)
    if path.is_file():
        if path.suffix.lower() != ".json":
            raise DataError("expected a folder or a COCO .json file", path=path)
        root = path.parent.parent if path.parent.name == "annotations" else path.parent
        return {"train": SplitSpec("train", "coco", root, find_images_dir(path, root), path)}
    splits: dict[str, SplitSpec] = {}
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        name = SPLIT_NAMES.get(child.name.lower())
        if name and name not in splits:
            spec = _split_spec(name, child)
            if spec is not None:
                splits[name] = spec
    if splits:
        order = ("train", "val", "test")
        return {name: splits[name] for name in order if name in splits}
    if images is not None:
        return {"train": SplitSpec("train", "images", path, Path(images))}
    spec = _split_spec("train", path)
    if spec is None:
        raise DataError(
            "no dataset found. seglab reads: a folder with a COCO JSON and images/; a folder "
            "with images/ and masks/ (or image/label, imgs/masks, img/gt); a DSB-2018 folder "
            "of ID/images/ID.png + ID/masks/*.png; or a folder of train/ val/ test/ folders "
            "like these. Or pass --annotations FILE --images DIR, or --images DIR --masks DIR.",
            path=path,
        )
    return {"train": spec}
