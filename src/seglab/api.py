"""seglab's Python API: what the CLI calls, usable from a script or a notebook.

>>> import seglab.api as sl
>>> sl.write_sample("sample")  # doctest: +SKIP
>>> report = sl.check_dataset("sample")  # doctest: +SKIP
>>> report.ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from seglab.config import DataConfig
from seglab.data.checks import CheckReport
from seglab.data.dataset import open_dataset
from seglab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from seglab.classical.compare import CompareResult
    from seglab.evaluation.run import EvaluationResult
    from seglab.predict.export import ExportResult
    from seglab.predict.run import PredictResult

__all__ = [
    "AUTO",
    "DEFAULT_METHODS",
    "check_dataset",
    "classical",
    "compare",
    "convert_dataset",
    "evaluate",
    "export",
    "export_info",
    "load_model",
    "open_dataset",
    "predict",
    "preview_dataset",
    "report",
    "train",
    "tune",
    "tune_space",
    "write_sample",
]


class _Auto(enum.Enum):
    """The type of :data:`AUTO` (an enum, so type checkers know it is a single value)."""

    AUTO = "AUTO"

    def __repr__(self) -> str:
        return "AUTO"


AUTO = _Auto.AUTO
"""Default ``out`` of :func:`evaluate`, the same as ``seglab evaluate``'s: ``RUN/evaluation``
for a run folder (seglab's own folder there, replaced), else ``evaluation``."""

DEFAULT_METHODS = "otsu,histogram,kmeans,watershed,chan_vese,slic"
"""The classical methods :func:`compare` runs by default (``seglab compare``'s)."""


def _config(path: str | Path | DataConfig | None, options: dict[str, Any]) -> DataConfig:
    """A :class:`DataConfig` of ``path`` and ``options``; a bad value (``--labels nonsense``)
    is a :class:`~seglab.errors.ConfigError` naming the field, not pydantic's traceback."""
    from pydantic import ValidationError

    from seglab.config import describe_validation

    try:
        if isinstance(path, DataConfig):
            if not options:
                return path
            return DataConfig.model_validate({**path.model_dump(), **options})
        return DataConfig(path=path, **options)
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc)) from None


def check_dataset(
    path: str | Path | DataConfig | None = None,
    *,
    json_out: str | Path | None = None,
    objects: bool = True,
    crop_size: int | None = None,
    **options: Any,
) -> CheckReport:
    """Validate a dataset and summarise it (see :mod:`seglab.data.checks`).

    ``options`` are :class:`~seglab.config.DataConfig` fields (``annotations``, ``images``,
    ``masks``, ``num_classes``, ``crowd``, ``labels``...). ``json_out``: also write the full
    report there as JSON (``seglab data check --json``). ``objects``: count touching objects
    in labelled splits and, with ``crop_size`` (pixels), the objects every crop of that side
    must cut (``--no-objects``, ``--crop-size``).
    """
    from seglab.data.checks import check_dataset as _check

    report = _check(_config(path, options), objects=objects, crop_size=crop_size)
    if json_out is not None:
        json_out = Path(json_out)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return report


def preview_dataset(
    path: str | Path | DataConfig | None = None,
    out: str | Path = "preview",
    *,
    split: str | None = None,
    num: int = 16,
    seed: int = 0,
    overwrite: bool = False,
    **options: Any,
) -> list[Path]:
    """Write overlay PNGs (image, coloured mask, contours) for ``num`` images and a grid PNG.

    ``split`` defaults to the first labelled split (``train`` when there is one). Returns the
    paths written, the grid last.
    """
    from seglab.data.dataset import open_split
    from seglab.data.layout import discover
    from seglab.data.preview import write_previews

    config = _config(path, options)
    specs = discover(
        config.path, annotations=config.annotations, images=config.images, masks=config.masks
    )
    labelled = [n for n, spec in specs.items() if spec.kind != "images"]
    name = split or (labelled or list(specs))[0]
    if name not in specs:
        raise DataError(f"no {name!r} split (found: {', '.join(specs)})", path=config.path)
    source = open_split(specs[name], config)
    return write_previews(source, out, num=num, seed=seed, overwrite=overwrite)


def write_sample(out: str | Path = "sample", **options: Any) -> dict[str, Any]:
    """Write the embedded sample dataset (see :func:`seglab.data.sample.write_sample`:
    ``n_train``, ``n_val``, ``n_test``, ``size``, ``seed``, ``overwrite``)."""
    from seglab.data.sample import write_sample as _write

    return _write(out, **options)


def convert_dataset(
    path: str | Path | DataConfig | None = None,
    out: str | Path = "converted",
    *,
    to: str = "masks",
    segmentation: str = "polygon",
    overwrite: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Convert between COCO, mask folders, label-image folders and DSB-2018 folders, or any of
    them to the seed's RLE CSV (``to``: masks, coco, labels, dsb, rle-csv); see
    :mod:`seglab.data.convert`."""
    from seglab.data.convert import convert_dataset as _convert

    return _convert(
        _config(path, options), out, to=to, segmentation=segmentation, overwrite=overwrite
    )


def _pipeline(spec: str | list | None):
    from seglab.transforms import build_pipeline

    return build_pipeline(spec) if spec else None


def _is_labelled_dataset(path: str | Path) -> bool:
    from seglab.data.layout import discover

    if not Path(path).is_dir():
        return False
    try:
        return any(spec.kind != "images" for spec in discover(path).values())
    except DataError:
        return False


def classical(
    method: str,
    *,
    out: str | Path = "classical",
    input: str | Path | None = None,
    data: str | Path | DataConfig | None = None,
    params: dict[str, Any] | None = None,
    tune: bool = False,
    tune_images: int = 12,
    preprocess: str | list | None = None,
    postprocess: str | list | None = None,
    overwrite: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Segment images with a classical method (see :mod:`seglab.classical`).

    ``input``: a folder, file or glob of images to segment; a labelled dataset there is used as
    ``data``. ``data``: a labelled dataset: the method is fitted on its train split (polarity,
    k-means colours; the grid search with ``tune``) and, without ``input``, run and scored on its
    val split. ``preprocess``/``postprocess``: transform pipelines by name
    (``"clahe;gaussian:sigma=1"``, see :mod:`seglab.transforms`) run on every image / mask.
    Writes ``out/masks/*.png``, ``scores.csv`` (when scored) and ``summary.json``.
    """
    from seglab.classical import get_method
    from seglab.classical.run import run_classical
    from seglab.data.inputs import image_source

    chosen = get_method(method)
    images = None
    if input is not None and data is None and not options and _is_labelled_dataset(input):
        data = input
    elif input is not None:
        images = image_source(input)
    config = _config(data, options) if data is not None else None
    return run_classical(
        chosen,
        out,
        data=config,
        images=images,
        params=params,
        tune=tune,
        tune_images=tune_images,
        preprocess=_pipeline(preprocess),
        postprocess=_pipeline(postprocess),
        overwrite=overwrite,
    )


def compare(
    data: str | Path | DataConfig,
    *,
    methods: list[str] | str = DEFAULT_METHODS,
    out: str | Path = "compare",
    tune: bool = False,
    tune_images: int = 12,
    examples: int = 4,
    preprocess: str | list | None = None,
    postprocess: str | list | None = None,
    overwrite: bool = False,
    **options: Any,
) -> CompareResult:
    """Fit, run and score several classical methods on ``data``'s val split: one table
    (``compare.csv``, ``compare.md``) and ``examples.png``; returns a
    :class:`~seglab.classical.compare.CompareResult` (one ``MethodScore`` per method, best Dice
    first, and the files written); see :mod:`seglab.classical.compare`.
    """
    from seglab.classical import get_method
    from seglab.classical.compare import compare_methods

    names = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else methods
    chosen = [get_method(n) for n in names if n]
    return compare_methods(
        chosen,
        _config(data, options),
        out,
        tune=tune,
        tune_images=tune_images,
        examples=examples,
        preprocess=_pipeline(preprocess),
        postprocess=_pipeline(postprocess),
        overwrite=overwrite,
    )


def train(
    config: Any = None,
    *,
    print_fn: Any = print,
    progress: bool = False,
    callbacks: list | None = None,
    **options: Any,
):
    """Train a segmentation network; returns a :class:`seglab.train.run.TrainResult`, or a
    :class:`seglab.train.folds.FoldsResult` for a cross-validation.

    ``config``: a :class:`~seglab.config.TrainConfig`, a dict, a YAML file (a run's
    ``config.yaml``) or ``None``; ``options`` are TrainConfig fields on top (``data="path"``
    and ``model="smp.unet"`` are shorthands). Fields left ``None`` are chosen by the recipe
    for this machine and data (:mod:`seglab.train.recipe`). The run folder holds
    ``config.yaml``, ``metrics.csv``, ``checkpoints/last.ckpt``, ``model.safetensors`` +
    ``model.json``, ``plots/`` and ``summary.json``; see :mod:`seglab.train.run`.

    Cross-validation: with ``data={"folds": K}`` (``seglab train --folds K``) and no
    ``data.fold``, K runs are trained, fold *i* validating on the *i*-th of K seeded parts of
    the train split and training on the rest, into ``out/NAME/fold-i`` (``NAME`` defaults to
    ``folds``), with ``folds.json`` and ``folds.csv`` beside them; the
    :class:`~seglab.train.folds.FoldsResult` holds each fold's ``TrainResult`` (``results``),
    their best scores (``scores``) and ``mean`` ± ``std`` (sample std). The folds run predicts
    as the ensemble of its folds (:func:`load_model`). See :mod:`seglab.train.folds`.

    >>> result = train(data="sample", time_limit="5m")  # doctest: +SKIP
    >>> result.best_score, result.verdict["kind"]  # doctest: +SKIP
    (0.53, 'still improving')
    >>> cv = train(data={"path": "sample", "folds": 5}, time_limit="10m")  # doctest: +SKIP
    >>> cv.mean, cv.std  # doctest: +SKIP
    (0.81, 0.04)

    Raises
    ------
    ConfigError
        Options that cannot work; ``resume`` of a folds run (resume one fold run instead).
    """
    from seglab.config import train_config
    from seglab.train.folds import is_folds_run, train_folds
    from seglab.train.run import train as _train

    config = train_config(config, **options)
    if config.resume is not None and is_folds_run(config.resume):
        raise ConfigError(
            f"{config.resume} is a folds run: a cross-validation is not resumed as a whole; "
            f"resume an unfinished fold (--resume {Path(config.resume) / 'fold-N'}), or train "
            f"the folds again (--config {Path(config.resume) / 'config.yaml'})"
        )
    if config.data.folds is not None and config.data.fold is None:
        return train_folds(
            config,
            config.data.folds,
            print_fn=print_fn,
            progress=progress,
            callbacks=callbacks,
        )
    return _train(config, print_fn=print_fn, progress=progress, callbacks=callbacks)


def load_model(
    run: str | Path | list[str | Path],
    *,
    device: str | None = None,
    backend: str = "auto",
    resize: str = "fit",
):
    """A trained run's network, ready to predict (:class:`seglab.predict.LoadedModel`):
    ``.predict(image) -> mask`` and ``.predict_proba(image)`` (``tta=``, ``tile=``), in a
    notebook too. ``backend``: ``auto``, ``torch``, ``channels_last`` or ``onnxruntime``;
    ``resize``: ``fit``, ``scale`` or ``none`` (:class:`~seglab.predict.LoadedModel`).

    An instance run (``seglab train --task instance``) gives its instance model instead
    (:func:`seglab.predict.instances.load_instance_model`): ``.predict_instances(image)`` ->
    :class:`~seglab.core.labels.InstanceLabels` (``.labels``, ``.classes``, ``.scores``).

    Several runs (a list) or a folds run (``seglab train --folds``) give their ensemble
    (:class:`seglab.predict.EnsembleModel`): the same methods, on the mean of the members'
    probabilities, each member loaded with ``device``, ``backend`` and ``resize``; a binary
    ensemble thresholds at the mean of the members' thresholds. Instance runs are not
    ensembled (:class:`~seglab.errors.ConfigError`).

    >>> model = load_model(["runs/train", "runs/train-2"])  # doctest: +SKIP
    >>> model = load_model("runs/folds", backend="onnxruntime")  # doctest: +SKIP
    """
    from seglab.predict import load_model as _load
    from seglab.predict.ensemble import is_ensemble, unwrap
    from seglab.predict.instances import is_instance_run, load_instance_model

    run = unwrap(run)
    if not is_ensemble(run) and is_instance_run(run):
        return load_instance_model(run, device=device, backend=backend, resize=resize)
    return _load(run, device=device, backend=backend, resize=resize)


def predict(
    model: str | Path | list[str | Path],
    *,
    input: str | Path,
    out: str | Path = "predictions",
    **options: Any,
) -> PredictResult:
    """Predict every image of ``input`` (folder, file or glob) with a trained run into ``out``:
    masks, overlays, crops and ``summary.json``; returns a
    :class:`~seglab.predict.run.PredictResult`. ``options`` are those of
    :func:`seglab.predict.predict_images` (``threshold``, ``tta``, ``tile``, ``overlap``,
    ``batch_size``, ``crf``, ``crf_iterations``, ``backend``, ``save_probs``, ``rle_csv``,
    ``coco_json``, ``overwrite``...). ``crf=True`` refines each image's probabilities with a
    dense CRF over the image (:mod:`seglab.models.crf`; semantic runs only).

    ``model`` may be several runs (a list) or a folds run: their ensemble predicts, the mean
    of their probabilities (:func:`load_model`); ``summary.json`` lists the ``members``.

    >>> predict(["runs/train", "runs/train-2"], input="photos/")  # doctest: +SKIP
    """
    from seglab.predict import predict_images

    return predict_images(model, input, out, **options)


def _evaluation_out(
    model: str | Path | None, out: str | Path | Literal[_Auto.AUTO] | None, overwrite: bool
) -> tuple[str | Path | None, bool]:
    """Where :func:`evaluate` writes and whether it may replace what is there: :data:`AUTO` is
    ``RUN/evaluation`` when ``model`` is a run folder (the run's own folder, which seglab
    replaces) and ``evaluation`` otherwise; ``None`` writes nothing; a path is itself."""
    if out is not AUTO:
        return out, overwrite
    if model is not None and Path(model).is_dir():
        return Path(model) / "evaluation", True
    return Path("evaluation"), overwrite


def evaluate(
    model: str | Path | list[str | Path] | None = None,
    data: str | Path | DataConfig | None = None,
    *,
    pred: str | Path | None = None,
    split: str = "val",
    out: str | Path | Literal[_Auto.AUTO] | None = AUTO,
    overwrite: bool = False,
    **options: Any,
) -> EvaluationResult:
    """Score a trained run (``model``) or predictions (``pred``: a mask folder, run-length CSV
    or COCO results JSON) on ``split`` of ``data`` (default: the run's dataset, split as in
    training); returns a :class:`seglab.evaluation.run.EvaluationResult` (``rows``, ``summary``).

    ``out``: where ``scores.csv``, ``summary.json`` and (with a model) ``masks/`` go. The
    default, :data:`AUTO`, is ``seglab evaluate``'s: ``RUN/evaluation`` for a run folder
    (replaced when it exists: it is the run's own) and ``evaluation`` otherwise; ``out=None``
    writes nothing and only returns the scores. A non-empty ``out`` needs ``overwrite``.

    ``options``: ``empty_score`` (1.0, 0.0 or nan: the score of an image empty in both truth and
    prediction), ``worst``, ``threshold``, ``tta``, ``tile``, ``overlap``, ``batch_size``,
    ``crf``, ``crf_iterations`` (a dense CRF over each image, semantic runs only), ``backend``,
    ``device``, ``resize``, ``progress``; see :func:`seglab.evaluation.run.evaluate`.

    An instance run, a folder of 16-bit label images or a COCO results JSON with one entry per
    object is scored object by object: ``dsb_map``, ``ap50``, ``ap75``, ``aji``, ``dice`` and
    the object counts per image, COCO mask and box AP over the split (``summary["coco"]``);
    see :mod:`seglab.evaluation.instance_run`.

    Several runs (a list) or a folds run are scored as their ensemble (:func:`load_model`),
    on their dataset without the folds: ``val`` is the val split on disk (a folds run's
    dataset without one is refused for ``val``: every image trained some fold; use
    ``split="test"`` or another ``data``). :data:`AUTO` is ``FOLDS_RUN/evaluation`` for a
    folds run and ``evaluation`` for a list.

    >>> result = evaluate("runs/train")  # doctest: +SKIP
    >>> result.summary["metrics"]["dice"]["mean"]  # doctest: +SKIP
    0.91
    >>> scores = evaluate(pred="masks/", data="sample", out=None).rows  # doctest: +SKIP
    """
    from seglab.evaluation.run import evaluate as _evaluate
    from seglab.predict.ensemble import unwrap

    if model is not None:
        model = unwrap(model)
    if isinstance(model, list | tuple) and out is AUTO:
        out = Path("evaluation")  # no one run's folder to write into
    out, overwrite = _evaluation_out(model, out, overwrite)
    return _evaluate(model, data, pred=pred, split=split, out=out, overwrite=overwrite, **options)


def report(
    run: str | Path,
    *,
    data: str | Path | None = None,
    test: str | Path | None = None,
    out: str | Path | None = None,
    **options: Any,
) -> Path:
    """Write the HTML report of a training run (``RUN/report.html`` by default) and return its
    path: config, data, curves, verdict, metrics, a val gallery worst Dice first and, with
    ``test``, a test gallery. ``options``: ``split``, ``single_file``, ``thumb``, ``refresh``,
    ``crf`` and ``crf_iterations`` (masks refined by a dense CRF); see
    :func:`seglab.report.html.build_report`.

    A study folder (``seglab tune``'s, holding ``study.json``) gets the research report
    instead, ``STUDY/report.html``: see :func:`seglab.report.study.build_study_report`. There
    ``data`` and ``split`` choose what the best model's error analysis is evaluated on;
    ``test`` is refused (a test gallery belongs to a run: report the best trial's run).

    >>> report("runs/train", test="sample/test/images")  # doctest: +SKIP
    PosixPath('runs/train/report.html')
    >>> report("studies/cig")  # doctest: +SKIP
    PosixPath('studies/cig/report.html')
    """
    from seglab.report.study_data import is_study

    if is_study(run):
        from seglab.report.study import build_study_report

        options.pop("crf_iterations", None)
        for option, given in (("--test", test), ("--crf", options.pop("crf", None) or None)):
            if given is not None:
                raise ConfigError(
                    f"{option}: {run} is a study; run `seglab report` on the best trial's "
                    f"folder (STUDY/trials/trial-NNN) with {option}"
                )
        return build_study_report(run, data=data, out=out, **options)
    from seglab.report.html import build_report

    return build_report(run, data=data, test=test, out=out, **options)


def export(
    model: str | Path,
    *,
    format: str = "onnx",
    out: str | Path | None = None,
    opset: int | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export a trained run's network to ``format`` (``"onnx"`` or ``"torchscript"``),
    verified against PyTorch, into ``RUN/model.onnx`` by default; an export already there from
    the same weights and options is kept (``written`` is then ``False``). See
    :func:`seglab.predict.export.export_model`.

    >>> export("runs/train").path  # doctest: +SKIP
    PosixPath('runs/train/model.onnx')
    """
    from seglab.predict.export import export_model

    return export_model(model, format=format, out=out, opset=opset, overwrite=overwrite)


def export_info(path: str | Path) -> dict[str, Any]:
    """What seglab embedded in an exported file (format, architecture, classes, input multiple,
    the weights' SHA-256, the verified difference from PyTorch); ``{}`` for a file seglab did
    not write; see :func:`seglab.predict.exporters.read_export_info`."""
    from seglab.predict.exporters import read_export_info

    return read_export_info(path)


def tune(
    data: str | Path | None = None,
    *,
    config: str | Path | dict[str, Any] | None = None,
    time_limit: str | float | None = None,
    trials: int | None = None,
    trial_time: str | float | None = None,
    space: str | Path | None = None,
    storage: str | None = None,
    study: str = "study",
    out: str | Path = "studies",
    folds: int | None = None,
    pruner: str = "median",
    sampler: str = "tpe",
    seed: int = 0,
    refit: float = 0.0,
    overwrite: bool = False,
    print_fn: Any = print,
    **fixed: Any,
):
    """Run a study: short seglab training runs over a search space, on Optuna; returns a
    :class:`seglab.tune.study.StudyResult` (``study_dir``, ``summary``: ``study.json``, ``best``,
    ``files``, ``confidence``).

    ``data``: the dataset (or ``config``: a YAML file or dict of TrainConfig fields every trial
    shares; ``fixed`` are more such fields, as for :func:`train`). ``time_limit``: the whole
    study (``"30m"``); ``trials``: its number of trials; ``trial_time``: each trial's budget
    (default: the time limit shared by the trials, an eighth of it without ``trials``).
    ``space``: a YAML file narrowing or widening the default space
    (:mod:`seglab.tune.space`). ``storage``: a database URL to share the study between
    workers (default: ``out/study/journal.log``). ``folds``: score each trial by K-fold
    cross-validation. ``pruner``: ``median``, ``hyperband`` or ``none``; ``sampler``: ``tpe``
    or ``random``. ``refit``: the share of ``time_limit`` kept to train the best trial's
    settings once more at the end (``STUDY/best/``). Running it again resumes the study;
    ``overwrite`` starts it anew.

    >>> result = tune("sample", time_limit="10m")  # doctest: +SKIP
    >>> result.best["params"]  # doctest: +SKIP
    {'optimizer': 'adamw', 'lr': 0.0031, ...}
    """
    from pydantic import ValidationError

    from seglab.config import deep_merge, describe_validation
    from seglab.tune.options import TuneConfig
    from seglab.tune.study import run_study

    base: Any = config
    top = dict(fixed)
    if data is not None:
        top["data"] = {"path": str(data)}
    if isinstance(base, str | Path) and top:
        from seglab.config import train_config

        base = train_config(base).model_dump(mode="json", exclude_unset=True)
    if top:
        base = deep_merge(dict(base or {}), top)
    try:
        options = TuneConfig(
            base=base,
            time_limit=time_limit,
            trials=trials,
            trial_time=trial_time,
            space=space,
            storage=storage,
            study=study,
            out=out,
            folds=folds,
            pruner=pruner,
            sampler=sampler,
            seed=seed,
            refit=refit,
            overwrite=overwrite,
        )
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc, flag_for=_tune_flag)) from None
    return run_study(options, print_fn=print_fn)


def _tune_flag(field: str) -> str | None:
    """The ``seglab tune`` flag of a TuneConfig field (``trial_time`` -> ``--trial-time``)."""
    return None if "." in field or field == "base" else "--" + field.replace("_", "-")


def tune_space(space: str | Path | None = None, *, multiclass: bool = False) -> str:
    """The search space ``seglab tune`` would use (the default, or ``space``'s file on top of
    it) as the YAML a ``--space`` file holds, with the parameters it leaves out as comments
    (``seglab tune --show-space``)."""
    from seglab.tune.space import load_space, space_yaml

    return space_yaml(load_space(space, multiclass=multiclass))
