"""What a report page is built from, beside the page in ``RUN/report/``: the evaluation and
the test predictions (made again only when out of date; see :mod:`seglab.report.html`), and the
dataset the val gallery takes its truth from."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from seglab.config import DataConfig

ASSETS = "report"  # RUN/report/: evaluation, test predictions, thumbnails


@dataclass(frozen=True)
class Made:
    """The evaluation and test predictions the page shows (made now or reused); ``eval_note``
    says why there is no evaluation, ``test_input`` what the predictions were made from."""

    evaluation: Path | None
    eval_note: str
    predictions: Path | None
    test_input: str | None


def refresh_assets(
    assets: Assets, *, data, test, split: str, refresh: bool, crf: int | None = None
) -> Made:
    """Evaluate the run and predict ``test`` again unless what is in ``RUN/report`` is current
    (``crf``: masks refined by a dense CRF of that many mean-field iterations)."""
    evaluation, eval_note = current_evaluation(
        assets, data=data, split=split, refresh=refresh, crf=crf
    )
    predictions = _predictions(assets, test=test, crf=crf)
    test_input = assets.state.get("test", {}).get("input") if predictions else None
    return Made(evaluation, eval_note, predictions, test_input)


# -- the run folder ------------------------------------------------------------------------------


def data_config(config: dict[str, Any], data: str | Path | None, run: Path) -> DataConfig:
    """The dataset of the run's ``config.yaml`` (its val fraction, seed, classes...), moved to
    ``data`` when given; :class:`DataError` when the section does not fit this version."""
    from pydantic import ValidationError

    from seglab.config import DataConfig, describe_validation

    try:
        base = DataConfig.model_validate(config.get("data") or {})
    except ValidationError as exc:
        raise DataError(
            f"the data section does not fit this seglab version ({describe_validation(exc)}); "
            "pass --data PATH",
            path=run / "config.yaml",
            field="data",
        ) from None
    if data is None:
        return base
    return base.model_copy(
        update={"path": Path(data), "annotations": None, "images": None, "masks": None}
    )


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _newer(folder: Path, run: Path) -> bool:
    """``folder`` was made (its ``summary.json`` written) after the run's model files."""
    summary = folder / "summary.json"
    if not summary.is_file():
        return False
    model = max((run / name).stat().st_mtime for name in ("model.json", "model.safetensors"))
    return summary.stat().st_mtime >= model


@dataclass(frozen=True)
class Assets:
    """``RUN/report/``: the evaluation and test predictions kept between reports, and
    ``state.json``, what they were made from (``state`` changes as they are made again)."""

    run: Path
    folder: Path
    state: dict[str, Any]

    @classmethod
    def open(cls, run: Path, folder: Path | None = None) -> Assets:
        """``RUN/report/`` (made when missing) with its ``state.json`` (empty when unreadable);
        ``folder``: another place for them (a study keeps its best run's in ``STUDY/report``)."""
        folder = run / ASSETS if folder is None else folder
        folder.mkdir(parents=True, exist_ok=True)
        return cls(run, folder, _read_state(folder / "state.json"))

    def forget(self, what: str) -> None:
        """Clear folder ``what`` and its entry in ``state.json`` before making it again, so a
        failure half way never leaves outputs that look current."""
        self.state.pop(what, None)
        self._save()
        shutil.rmtree(self.folder / what, ignore_errors=True)

    def remember(self, what: str, made_from: Any) -> None:
        """Record what folder ``what`` was made from, once it is complete."""
        self.state[what] = made_from
        self._save()

    def _save(self) -> None:
        (self.folder / "state.json").write_text(json.dumps(self.state, indent=2))


def current_evaluation(
    assets: Assets, *, data, split: str, refresh: bool, crf: int | None = None
) -> tuple[Path | None, str]:
    """The evaluation folder ``evaluation/`` of ``assets`` (made again unless it is newer than
    the run's weights and was made from the same ``data``, ``split`` and ``crf``) and a note
    for the page when the split could not be evaluated. ``crf``: the masks refined by a dense
    CRF of that many mean-field iterations.

    Raises
    ------
    DataError, ConfigError
        The run's model is unusable, or the dataset asked for (``data``) cannot be evaluated.
    """
    folder = assets.folder / "evaluation"
    wanted = {"data": None if data is None else str(Path(data).resolve()), "split": split}
    if crf is not None:  # only with a CRF: reports made before it existed stay current
        wanted["crf"] = crf
    if not refresh and assets.state.get("evaluation") == wanted and _newer(folder, assets.run):
        return folder, ""
    from seglab.evaluation.run import evaluate

    assets.forget("evaluation")
    try:
        evaluate(
            model=assets.run,
            data=data,
            split=split,
            out=folder,
            overwrite=True,
            crf=crf is not None,
            crf_iterations=crf or 5,
        )
    except (DataError, ConfigError) as exc:
        if data is not None or _names_run_file(exc, assets.run):
            raise  # the model (or the dataset asked for) is unusable: say so, not in the page
        return None, (
            f"The {split} split could not be evaluated ({exc}). "
            "Pass --data PATH to evaluate on the dataset where it is now."
        )
    assets.remember("evaluation", wanted)
    return folder, ""


def _names_run_file(exc: Exception, run: Path) -> bool:
    """The error is about a file of the run folder (its model), not about the dataset."""
    path = getattr(exc, "path", None)
    return path is not None and Path(path).resolve().parent == run.resolve()


def _predictions(assets: Assets, *, test, crf: int | None = None) -> Path | None:
    """The test predictions folder (made, or reused without ``test`` when made with the same
    ``crf``), or ``None``."""
    folder = assets.folder / "test"
    if test is None:
        made = assets.state.get("test")
        current = made and made.get("crf") == crf and _newer(folder, assets.run)
        return folder if current else None
    from seglab.predict import predict_images

    assets.forget("test")
    predict_images(
        assets.run, test, folder, overwrite=True, crf=crf is not None, crf_iterations=crf or 5
    )
    assets.remember("test", {"input": str(test), **({"crf": crf} if crf is not None else {})})
    return folder


def truth_lookup(config, split: str, *, objects: bool = False):
    """``(key, image_path) -> (image, mask) | None`` over the dataset's splits, ``split`` first;
    opened on first use. With ``objects``, the image and its true objects
    (:class:`~seglab.core.labels.InstanceLabels`) instead of the mask."""
    from seglab.data.dataset import open_dataset

    by_path: dict[str, tuple] = {}  # resolved image path -> (source, item index)
    by_key: dict[str, tuple] = {}
    opened = False

    def find(key: str, image_path: str):
        nonlocal opened
        if not opened:
            opened = True
            for name in reversed(dict.fromkeys((split, "train", "val", "test"))):
                try:
                    source = open_dataset(config, split=name)
                except (DataError, OSError):
                    continue
                if not source.labelled:
                    continue
                for i, item in enumerate(source.items):  # ``split`` comes last and wins
                    by_path[str(Path(item.image_path).resolve())] = by_key[item.key] = (source, i)
        found = by_path.get(str(Path(image_path).resolve())) if image_path else None
        found = found or by_key.get(key)
        if not found:
            return None
        source, index = found
        if objects:
            return source.load_image(index), source.instance_labels(index)
        return source.load(index)

    return find
