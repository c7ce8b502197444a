"""Pairing images with masks by file stem, and the folder names image/mask datasets use.

An image ``cat.jpg`` is matched with the mask whose stem is ``cat`` or ``cat`` plus one of
``_mask``, ``-mask``, ``_masks``, ``_label``, ``_labels``, ``_gt``, ``_seg``, ``_segmentation``
(any image extension, PNG recommended). Files in sub-folders are matched by their relative path.
An image without a mask, or a mask without an image, is left out with a warning; when a mask
nearly matches (a name that differs in upper/lower case, an unknown suffix, another sub-folder)
the warning names it. A broken symbolic link is an error of its own, not a missing file.
"""

from __future__ import annotations

from pathlib import Path

from seglab.data.base import Item, ProblemLog
from seglab.io import is_image_file

MASK_SUFFIXES = (
    "",
    "_mask",
    "-mask",
    "_masks",
    "_label",
    "_labels",
    "_gt",
    "_seg",
    "_segmentation",
)
IMAGE_DIR_NAMES = ("images", "image", "imgs", "img", "input", "inputs", "x")
MASK_DIR_NAMES = (
    "masks",
    "mask",
    "labels",
    "label",
    "gt",
    "groundtruth",
    "ground_truth",
    "annotations",
    "segmentations",
    "targets",
    "y",
)


def find_folder_pair(folder: str | Path) -> tuple[Path, Path] | None:
    """Find an (images, masks) folder pair inside ``folder`` by the common names, else None."""
    folder = Path(folder)
    for img_name in IMAGE_DIR_NAMES:
        img_dir = folder / img_name
        if not img_dir.is_dir():
            continue
        for mask_name in MASK_DIR_NAMES:
            mask_dir = folder / mask_name
            if not mask_dir.is_dir():
                continue
            files = [p for p in mask_dir.rglob("*") if not p.is_dir()]
            # an empty mask folder is a pair with its masks missing (reading it says so), not
            # an unlabelled image folder; one of other files (YOLO .txt labels) is not masks
            if not files or any(is_image_file(p) for p in files):
                return img_dir, mask_dir
    return None


def image_files(folder: Path) -> list[Path]:
    """The files with an image extension under ``folder``, sorted; broken symbolic links are
    kept (reading them says what is wrong), folders named like images are not."""
    return sorted(
        p
        for p in folder.rglob("*")
        if is_image_file(p) and (p.is_file() or p.is_symlink()) and not p.is_dir()
    )


def _stems(folder: Path) -> dict[str, list[Path]]:
    """The image files under ``folder`` by their path relative to it, without extension."""
    stems: dict[str, list[Path]] = {}
    for p in image_files(folder):
        stems.setdefault(p.relative_to(folder).with_suffix("").as_posix(), []).append(p)
    return stems


def pair_files(images_dir: Path, masks_dir: Path, log: ProblemLog) -> list[Item]:
    """Match images with masks by stem; unmatched and ambiguous files are logged."""
    masks, images = _stems(masks_dir), _stems(images_dir)
    items, used, unmatched = [], set(), []
    for stem, paths in sorted(images.items()):
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            log.error(paths[0], None, f"several images share the stem {stem!r} ({names})")
            continue
        found = [(s, masks[stem + s]) for s in MASK_SUFFIXES if stem + s in masks]
        if not found:
            unmatched.append((stem, paths[0]))
            continue
        suffix, candidates = found[0]
        if len(candidates) > 1:
            names = ", ".join(p.name for p in candidates)
            log.error(candidates[0], None, f"several masks share the stem {stem!r} ({names})")
            continue
        used.add(stem + suffix)
        items.append(Item(key=stem, image_path=paths[0], mask_path=candidates[0]))
    orphans = {stem: masks[stem][0] for stem in sorted(set(masks) - used)}
    for stem, path in unmatched:
        hint = _near_miss(stem, orphans, masks_dir)
        log.warning(path, None, f"no mask found in {masks_dir} (image left out){hint}")
    for path in orphans.values():
        log.warning(path, None, "mask has no matching image (left out)")
    return items


def _near_miss(stem: str, orphans: dict[str, Path], masks_dir: Path) -> str:
    """A hint naming the unmatched mask that was probably meant for image ``stem``: one whose
    name differs only in upper/lower case, has an unknown suffix, or is in another sub-folder."""
    name = stem.rsplit("/", 1)[-1]
    names = {stem + s for s in MASK_SUFFIXES}
    for other, path in orphans.items():
        shown = path.relative_to(masks_dir).as_posix()
        if other.lower() in {n.lower() for n in names}:
            return f"; {shown} differs from it only in upper/lower case: rename one of them"
        if other.rsplit("/", 1)[-1] in {n.rsplit("/", 1)[-1] for n in names}:
            return (
                f"; {shown} has its name but is in another folder (masks are matched by their "
                "path inside the mask folder): move it"
            )
    for other, path in orphans.items():
        if len(other) > len(stem) and other.startswith(stem) and not other[len(stem)].isalnum():
            known = ", ".join(s for s in MASK_SUFFIXES if s)
            return (
                f"; {path.relative_to(masks_dir).as_posix()} starts with its name, but the "
                f"suffix {other[len(stem) :]!r} is not one seglab knows ({known}): rename it "
                f"{name}_mask{path.suffix}"
            )
    return ""
