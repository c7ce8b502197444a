"""Converting labelled datasets between mask folders, COCO JSON, label images, DSB-2018 folders
and run-length CSV.

Every reader (:class:`~seglab.data.coco.CocoSource`, :class:`~seglab.data.folders.FolderSource`,
:class:`~seglab.data.dsb.DsbSource`) gives class-index masks and objects
(:meth:`~seglab.data.base.SegmentationSource.instance_labels`), so every conversion starts from
those. One module per output format:

* **masks**: :func:`~seglab.data.convert.to_masks.source_to_masks`, ``images/`` +
``masks/<name>.png``
  (0/255 grayscale for binary datasets, palette PNGs of class indices otherwise) and
  ``classes.json``.
* **coco**: :func:`~seglab.data.convert.to_coco.source_to_coco`, one annotation per object, polygons
  or compressed RLE where polygons fall short, so nothing is lost.
* **labels**: :func:`~seglab.data.convert.to_labels.source_to_labels`, ``images/`` +
  ``masks/<name>.png`` 16-bit label images (one id per object, as Cellpose and StarDist keep
  them) and ``classes.json``.
* **dsb**: :func:`~seglab.data.convert.to_dsb.source_to_dsb`, ``ID/images/ID.png`` +
  ``ID/masks/ID_<k>.png``, one binary mask per object (the DSB-2018 layout).
* **rle-csv**: :func:`~seglab.data.convert.to_csv.source_to_rle_csv`, the seed's ``img_id,rle_mask``
  (binary) or ``img_id,class,rle_mask`` (multiclass): one CSV per labelled split in the output
  folder, or the ``.csv`` file named when there is one labelled split.

:func:`convert_dataset` converts every split of a dataset folder to one of them.

>>> summary = convert_dataset(DataConfig(path="data"), "data_coco", to="coco")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seglab.config import DataConfig
from seglab.core.checks import check_choice
from seglab.core.files import prepare_out
from seglab.data.base import SegmentationSource, warn_problems
from seglab.data.convert.common import clear_paths, refuse_inside
from seglab.data.convert.polygons import SEGMENTATIONS
from seglab.data.convert.to_coco import source_to_coco
from seglab.data.convert.to_csv import source_to_rle_csv_summary
from seglab.data.convert.to_dsb import source_to_dsb
from seglab.data.convert.to_labels import source_to_labels
from seglab.data.convert.to_masks import source_to_masks
from seglab.errors import ConfigError, SeglabError

if TYPE_CHECKING:
    from seglab.data.layout import SplitSpec

FORMATS = ("masks", "coco", "labels", "dsb", "rle-csv")
"""The output formats (``--to``), in the order the CLI lists them."""
FOLDER_WRITERS = {"masks": source_to_masks, "labels": source_to_labels, "dsb": source_to_dsb}
"""The formats written as a folder per split, images included (unlabelled splits too)."""


def convert_dataset(
    config: DataConfig,
    out: str | Path,
    *,
    to: str,
    segmentation: str = "polygon",
    overwrite: bool = False,
) -> dict:
    """Convert every split of the dataset of ``config`` to ``to``; return a summary per split.

    ``to="masks"`` writes ``out/<split>/images``, ``out/<split>/masks`` and
    ``out/<split>/classes.json`` (unlabelled splits: images only); ``"labels"`` the same with
    16-bit label images as masks; ``"dsb"`` writes ``out/<split>/<ID>/images`` and
    ``out/<split>/<ID>/masks`` (one mask per object); ``"coco"`` writes
    ``out/<split>/images/`` and ``out/<split>/annotations.json``; ``"rle-csv"`` writes
    ``out/<split>.csv``, or ``out`` itself when it names a ``.csv`` file and the dataset has
    one labelled split. Unlabelled splits are skipped for ``coco`` and ``rle-csv``. Every
    split is opened (and checked) before anything is written.

    Returns
    -------
    dict
        ``{split: {"format", "path", "images", "objects", "files", "skipped", "problems"}}``
        (``"note"`` too when ``labels`` or ``dsb`` merged several classes into one).

    Raises
    ------
    ConfigError
        ``to`` or ``segmentation`` is not one of the choices, or ``out`` names a ``.csv`` file
        for a dataset with several labelled splits (or none).
    SeglabError
        ``out`` is not empty (an existing CSV file) and ``overwrite`` is false, or it lies
        inside the dataset.
    DataError
        No dataset is found, or a split cannot be opened.
    """
    from seglab.data.dataset import open_split
    from seglab.data.layout import discover

    check_choice("to (output format)", to, FORMATS)
    check_choice("segmentation", segmentation, SEGMENTATIONS)
    specs = discover(
        config.path, annotations=config.annotations, images=config.images, masks=config.masks
    )
    out = Path(out)
    inputs = [p for p in (config.path, config.images, config.masks) if p is not None]
    for spec in specs.values():
        inputs += [p for p in (spec.root, spec.images, spec.masks, spec.annotations) if p]
    inputs = [p.parent if p.is_file() else p for p in map(Path, inputs)]
    one_csv = _is_one_csv(out, to, specs)
    targets = {name: out if one_csv else _target(out, name, to) for name in specs}
    refuse_inside(out, inputs, targets.values())
    sources = {name: open_split(spec, config) for name, spec in specs.items()}
    if one_csv:
        _prepare_file(out, overwrite)
    else:
        prepare_out(out, overwrite, what="converted dataset")
    result: dict[str, dict] = {}
    for name, source in sources.items():
        warn_problems(source.problems, what=f"split {name}")
        summary = _convert_split(source, targets[name], to, segmentation)
        summary["problems"] = len(source.problems)
        result[name] = summary
    return result


def _target(out: Path, name: str, to: str) -> Path:
    """Where split ``name`` goes in the output folder ``out``."""
    return out / f"{name}.csv" if to == "rle-csv" else out / name


def _is_one_csv(out: Path, to: str, specs: dict[str, SplitSpec]) -> bool:
    """Whether ``out`` is the one CSV file to write (``to="rle-csv"``, a ``.csv`` name that is
    not a folder, one labelled split) rather than a folder; a ``.csv`` name with several
    labelled splits, or none, is refused."""
    if to != "rle-csv" or out.suffix.lower() != ".csv" or out.is_dir():
        return False
    labelled = [name for name, spec in specs.items() if spec.kind != "images"]
    if len(labelled) == 1:
        return True
    if not labelled:
        raise ConfigError(
            f"{out}: the dataset has no labelled split ({', '.join(specs)}: images only), so "
            "there is no RLE CSV to write"
        )
    raise ConfigError(
        f"{out}: --out must be a folder for --to rle-csv here: the dataset has "
        f"{len(labelled)} labelled splits ({', '.join(labelled)}) and each gets its own CSV "
        f"({', '.join(f'{name}.csv' for name in labelled)}); give a folder such as "
        f"--out {out.with_suffix('')}"
    )


def _prepare_file(path: Path, overwrite: bool) -> None:
    """Create ``path``'s folder; refuse an existing ``path`` unless ``overwrite``."""
    if path.exists() and not overwrite:
        raise SeglabError(
            f"{path}: exists already; pass overwrite=True (--overwrite) to replace it, or "
            "choose another --out"
        )
    path.parent.mkdir(parents=True, exist_ok=True)


def _convert_split(source: SegmentationSource, target: Path, to: str, segmentation: str) -> dict:
    """Convert one split into ``target``: its folder, or its CSV file for ``rle-csv``."""
    base = {"format": to, "images": 0, "objects": 0, "files": 0, "skipped": []}
    if to not in FOLDER_WRITERS and not source.labelled:
        return {**base, "path": None, "note": "unlabelled split: not converted"}
    clear_paths(target)
    if to in FOLDER_WRITERS:
        done = FOLDER_WRITERS[to](source, target, overwrite=True)
        keys = ("path", "images", "objects", "files", "skipped", "note")
        return {**base, **{k: done[k] for k in keys if k in done}}
    if to == "coco":
        coco = source_to_coco(
            source,
            target / "annotations.json",
            images_dir=target / "images",
            segmentation=segmentation,
        )
        n = len(coco["images"])
        return {
            **base,
            "path": str(target),
            "images": n,
            "objects": len(coco["annotations"]),
            "files": n + 1,
            "skipped": coco["info"]["skipped"],
        }
    done = source_to_rle_csv_summary(source, target)
    return {
        **base,
        "path": done["path"],
        "images": done["images"],
        "objects": done["objects"],
        "rows": done["rows"],
        "files": 1,
        "skipped": done["skipped"],
    }


__all__ = ["FORMATS", "convert_dataset"]
