"""Where a run's epoch metrics go besides ``metrics.csv``: ``--logger csv|tensorboard|mlflow``.

``csv`` (the default) adds no Lightning logger: :class:`~seglab.train.callbacks.RunWriter`
writes ``metrics.csv`` whichever logger is chosen. The others receive what the module logs
(``train_loss``, ``val_loss``, ``val_dice``, ``val_soft_dice``, ``val_iou`` per epoch) and
the resolved config as hyperparameters, flattened to dotted names (``model.options.depth``):

* ``tensorboard``: event files in ``RUN/tensorboard/`` (``tensorboard --logdir runs``).
  Lightning writes them with ``tensorboard`` when installed, else ``tensorboardX``.
* ``mlflow``: experiment ``seglab``, a run named after the run folder, on the tracking server
  of ``MLFLOW_TRACKING_URI`` when set, else in a SQLite store in the run folder
  (``mlflow ui --backend-store-uri sqlite:///RUN/mlruns/mlflow.db``; the UI is in the full
  ``mlflow`` package). SQLite because MLflow has deprecated its ``./mlruns`` file store and
  refuses it unless told otherwise. ``MLFLOW_TRACKING_URI=sqlite:///$PWD/runs/mlflow.db``
  gathers every run in one store instead.

The packages are optional (``pip install 'seglab[tensorboard]'``, ``'seglab[mlflow]'``) and
imported only here, when a run asks for them.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from seglab.config import TrainConfig
from seglab.errors import ConfigError

if TYPE_CHECKING:
    from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger

EXPERIMENT = "seglab"
"""The MLflow experiment seglab's runs are logged to."""

Param = str | int | float | bool


def build_logger(config: TrainConfig, run_dir: Path) -> Logger | Literal[False]:
    """The Lightning logger of ``config.logger`` for a run in ``run_dir`` (``False`` for
    ``csv``: ``metrics.csv`` is written either way), with the config logged as
    hyperparameters.

    Raises
    ------
    ConfigError
        The logger's package is not installed; the message has the ``pip install`` line.
    """
    return LOGGERS[config.logger](config, Path(run_dir))


def hyperparameters(config: TrainConfig) -> dict[str, Param]:
    """``config`` as flat ``{dotted.name: value}``: ``None`` as ``"none"``, lists as text.

    >>> hyperparameters(TrainConfig(model={"options": {"depth": 2}}))["model.options.depth"]
    2
    """
    return dict(_flatten(config.model_dump(mode="json")))


def _flatten(data: Mapping[str, Any], prefix: str = ""):
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        elif value is None:
            yield f"{prefix}{key}", "none"
        elif isinstance(value, list):
            yield f"{prefix}{key}", ",".join(str(v) for v in value)
        else:
            yield f"{prefix}{key}", value


def _require(logger: str, modules: tuple[str, ...], *, needs: str) -> None:
    """Import the first of ``modules`` that is installed; none: a :class:`ConfigError` saying
    what to install (before the run starts training)."""
    for module in modules:
        try:
            importlib.import_module(module)
            return
        except ImportError:
            continue
    raise ConfigError(
        f"--logger {logger} needs {needs}, which is not installed: "
        f"pip install 'seglab[{logger}]' (or --logger csv)"
    )


def _no_logger(config: TrainConfig, run_dir: Path) -> Literal[False]:
    return False


def tensorboard_logger(config: TrainConfig, run_dir: Path) -> TensorBoardLogger:
    """A TensorBoard logger writing to ``run_dir/tensorboard/``, the config in its HPARAMS."""
    _require("tensorboard", ("tensorboardX", "tensorboard"), needs="tensorboardX (or tensorboard)")
    from lightning.pytorch.loggers import TensorBoardLogger

    # version="": the events go in tensorboard/ itself, not tensorboard/version_0/
    logger = TensorBoardLogger(run_dir, name="tensorboard", version="", default_hp_metric=False)
    _log_tensorboard_hparams(logger, hyperparameters(config))
    return logger


def _log_tensorboard_hparams(logger: TensorBoardLogger, params: dict[str, Param]) -> None:
    """Write ``params`` to the HPARAMS tab with the epoch metrics as its columns.

    Lightning's ``log_hyperparams`` writes them only with a metric value to log at once (its
    placeholder ``hp_metric``); the columns need only the names, the values come from the
    epochs' scalars of the same names."""
    from lightning.pytorch.utilities import rank_zero_only

    from seglab.train.callbacks import COLUMNS

    if rank_zero_only.rank != 0:  # the other DDP processes have no writer
        return
    logger.log_hyperparams(params)  # kept for the hparams.yaml Lightning writes beside the events
    writer = logger.experiment
    if type(writer).__module__.startswith("tensorboardX"):
        from tensorboardX.summary import hparams
    else:
        from torch.utils.tensorboard.summary import hparams
    metrics = dict.fromkeys(COLUMNS[2:-1], 0.0)  # train_loss ... val_iou; names only
    for summary in hparams(params, metrics):
        writer._get_file_writer().add_summary(summary)  # as Lightning's log_hyperparams does


def mlflow_logger(config: TrainConfig, run_dir: Path) -> MLFlowLogger:
    """An MLflow logger: experiment :data:`EXPERIMENT`, run ``run_dir.name``, on
    ``MLFLOW_TRACKING_URI`` or in ``run_dir/mlruns/mlflow.db``; the config as params."""
    _require("mlflow", ("mlflow",), needs="mlflow (or mlflow-skinny)")
    uri = os.environ.get("MLFLOW_TRACKING_URI")  # MLflow's own setting, for a team's server
    artifacts = None
    if not uri:
        _require("mlflow", ("sqlalchemy",), needs="SQLAlchemy for MLflow's local store")
        _require("mlflow", ("alembic",), needs="Alembic for MLflow's local store")
        store = run_dir.resolve() / "mlruns"
        store.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{(store / 'mlflow.db').as_posix()}"
        artifacts = (store / "artifacts").as_uri()
    from lightning.pytorch.loggers import MLFlowLogger

    _create_experiment(uri, artifacts)
    logger = MLFlowLogger(experiment_name=EXPERIMENT, run_name=run_dir.name, tracking_uri=uri)
    logger.log_hyperparams(hyperparameters(config))
    return logger


def _create_experiment(uri: str, artifacts: str | None) -> None:
    """Create :data:`EXPERIMENT` on ``uri`` if missing, its artifacts in ``artifacts`` (the
    server's default when ``None``); quietly, where Lightning would warn that it creates it."""
    from lightning.pytorch.utilities import rank_zero_only
    from mlflow.tracking import MlflowClient

    if rank_zero_only.rank != 0:
        return
    # a new SQLite store announces its table creation at INFO level; the run has its own output
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    client = MlflowClient(uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        client.create_experiment(EXPERIMENT, artifact_location=artifacts)


LOGGERS: dict[str, Callable[[TrainConfig, Path], Any]] = {
    "csv": _no_logger,
    "tensorboard": tensorboard_logger,
    "mlflow": mlflow_logger,
}
"""``--logger`` name -> ``(config, run_dir) -> Lightning logger or False``."""
