"""``--logger csv|tensorboard|mlflow``: the epoch metrics and the config reach TensorBoard and
MLflow through Lightning's loggers, ``metrics.csv`` stays as it is, and a missing package is a
clean error before training."""

from __future__ import annotations

import csv
import struct
import sys
from pathlib import Path

import pytest
import yaml

from seglab.api import train
from seglab.cli import main
from seglab.config import TrainConfig
from seglab.errors import ConfigError
from seglab.train.callbacks import COLUMNS
from seglab.train.loggers import EXPERIMENT, build_logger, hyperparameters
from tests.builders import TINY_UNET, tiny_train_settings

EPOCHS = 2


def fast(root: Path, out: Path, **options):
    """A quiet run of a 4-wide U-Net on the 32 px discs (EPOCHS epochs)."""
    return train(print_fn=None, **tiny_train_settings(root, out, epochs=EPOCHS, **options))


def metrics_csv(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def read_events(folder: Path) -> list:
    """The TensorBoard events of every event file in ``folder`` (the TFRecord framing: length,
    its CRC, the serialized ``Event``, its CRC)."""
    from tensorboardX.proto.event_pb2 import Event

    events = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            events.append(Event.FromString(data[pos + 12 : pos + 12 + length]))
            pos += 12 + length + 4
    return events


def scalars(events: list, tag: str) -> list[float]:
    return [v.simple_value for e in events for v in e.summary.value if v.tag == tag]


@pytest.fixture
def no_tracking_server(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_hyperparameters_are_the_config_flattened_to_dotted_names():
    config = TrainConfig(
        data={"path": "d"}, model=TINY_UNET, augment=["flip", "rotate"], loss_options={"eps": 1.0}
    )
    params = hyperparameters(config)
    assert params["model.name"] == "unet" and params["model.options.depth"] == 2
    assert params["data.path"] == "d" and params["data.val_fraction"] == 0.2
    assert params["augment"] == "flip,rotate" and params["loss_options.eps"] == 1.0
    assert params["epochs"] == "none" and params["logger"] == "csv"
    assert all(isinstance(v, str | int | float | bool) for v in params.values())


def test_csv_is_the_default_and_adds_no_lightning_logger(tmp_path):
    assert TrainConfig().logger == "csv"
    assert build_logger(TrainConfig(), tmp_path) is False
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_default_run_writes_metrics_csv_and_no_tensorboard_or_mlflow_folder(discs, tmp_path):
    run = fast(discs, tmp_path / "runs").run_dir
    assert list(metrics_csv(run)[0]) == list(COLUMNS)
    assert not (run / "tensorboard").exists() and not (run / "mlruns").exists()


@pytest.mark.slow
def test_tensorboard_gets_each_epoch_and_the_config_and_metrics_csv_is_unchanged(discs, tmp_path):
    run = fast(discs, tmp_path / "runs", logger="tensorboard").run_dir
    table = metrics_csv(run)
    assert list(table[0]) == list(COLUMNS) and len(table) == EPOCHS
    events = read_events(run / "tensorboard")
    dice = scalars(events, "val_dice")
    assert dice == pytest.approx([float(r["val_dice"]) for r in table], abs=1e-5)
    assert len(scalars(events, "train_loss")) == EPOCHS and "hp_metric" not in {
        v.tag for e in events for v in e.summary.value
    }
    # the HPARAMS tab: the config's values, the epoch metrics as columns
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    plugin = {
        v.tag: HParamsPluginData.FromString(v.metadata.plugin_data.content)
        for e in events
        for v in e.summary.value
        if v.tag.startswith("_hparams_/")
    }
    start = plugin["_hparams_/session_start_info"].session_start_info
    assert start.hparams["model.options.base_width"].number_value == 4
    assert start.hparams["logger"].string_value == "tensorboard"
    columns = plugin["_hparams_/experiment"].experiment.metric_infos
    assert "val_dice" in {m.name.tag for m in columns}
    stored = yaml.safe_load((run / "tensorboard" / "hparams.yaml").read_text())
    assert stored["model.options.depth"] == 2 and stored["epochs"] == EPOCHS


@pytest.mark.slow
def test_mlflow_gets_each_epoch_and_the_config_in_the_run_folder(
    discs, tmp_path, no_tracking_server
):
    from mlflow.tracking import MlflowClient

    run = fast(discs, tmp_path / "runs", logger="mlflow").run_dir
    table = metrics_csv(run)
    assert list(table[0]) == list(COLUMNS)
    client = MlflowClient(f"sqlite:///{(run / 'mlruns' / 'mlflow.db').as_posix()}")
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment.artifact_location.startswith((run / "mlruns").resolve().as_uri())
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_name == run.name == "train" and found.info.status == "FINISHED"
    history = client.get_metric_history(found.info.run_id, "val_dice")
    assert [m.value for m in history] == pytest.approx(
        [float(r["val_dice"]) for r in table], abs=1e-5
    )
    params = found.data.params
    assert params["model.options.base_width"] == "4" and params["epochs"] == str(EPOCHS)
    assert params["logger"] == "mlflow" and params["optimizer"] == "adam"
    assert not (tmp_path / "mlruns").exists() and not Path("mlruns").exists()


def test_mlflow_uses_the_tracking_server_of_mlflow_tracking_uri(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    server = f"sqlite:///{(tmp_path / 'server.db').as_posix()}"  # stands in for a server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    run_dir = tmp_path / "runs" / "nuclei-3"
    run_dir.mkdir(parents=True)
    logger = build_logger(TrainConfig(logger="mlflow", epochs=7), run_dir)
    logger.log_metrics({"val_dice": 0.5}, step=0)
    logger.finalize("success")
    assert not (run_dir / "mlruns").exists()
    client = MlflowClient(server)
    (found,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert found.info.run_name == "nuclei-3" and found.data.params["epochs"] == "7"
    assert found.data.metrics == {"val_dice": 0.5}


@pytest.mark.parametrize(
    ("logger", "modules", "what"),
    [
        ("tensorboard", ["tensorboardX", "tensorboard"], "tensorboardX"),
        ("mlflow", ["mlflow"], "mlflow"),
        ("mlflow", ["sqlalchemy"], "SQLAlchemy"),
    ],
)
def test_a_missing_package_stops_the_run_before_training_with_the_pip_command(
    logger, modules, what, discs, tmp_path, monkeypatch, no_tracking_server
):
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails
    with pytest.raises(ConfigError, match=what) as caught:
        fast(discs, tmp_path / "runs", logger=logger)
    assert f"pip install 'seglab[{logger}]'" in str(caught.value)
    assert not (tmp_path / "runs" / "train").exists()  # nothing started: no run folder left


@pytest.mark.slow
def test_the_cli_takes_logger_tensorboard(discs, tmp_path):
    out = tmp_path / "runs"
    words = ["--data", str(discs), "--out", str(out), "--model", "unet", "-m", "base_width=4",
             "-m", "depth=2", "--epochs", "1", "--batch-size", "4", "--augment", "none",
             "--workers", "0", "--quiet", "--logger", "tensorboard"]  # fmt: skip
    assert main(["train", *words]) == 0
    assert len(scalars(read_events(out / "train" / "tensorboard"), "val_dice")) == 1


def test_the_cli_refuses_an_unknown_logger_naming_the_choices(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["train", "--data", str(tmp_path), "--logger", "wandb"]) == 2
    err = capsys.readouterr().err
    assert "logger" in err and "'csv', 'tensorboard' or 'mlflow'" in err
    assert not (tmp_path / "runs").exists()
