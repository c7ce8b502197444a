"""Corpus cases for a trained run and the options of the commands (groups ``model card``,
``checkpoint``, ``options``).

``model card``: a copy of the tiny trained run with ``model.json`` or ``model.safetensors``
edited, damaged or deleted, loaded by ``seglab predict`` (and by export, evaluate and report,
which load a run the same way); the message names ``model.json`` (or ``model.safetensors``) and
the field. ``checkpoint``: ``seglab train --resume`` of a copy whose ``checkpoints/last.ckpt`` is
damaged, untrusted or another network's, or whose dataset has moved. ``options``: impossible
options of train, predict, evaluate and export, each refused naming the option. See
``corpus.py`` for what a case asserts.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.builders import write_discs, write_image
from tests.robustness.corpus import ERROR, OK, Case, Env

LONG = "n" * 300  # a file name longer than the 255 bytes file systems take

# ----------------------------------------------------------------------------- helpers


def _images(env: Env) -> Path:
    """One 32 px image to predict (a file is an input as good as a folder)."""
    return write_image(env.path("in") / "a.png")


def _predict(env: Env, run: Path, *options: str, out: Path | None = None) -> list[str]:
    out = env.path("out") if out is None else out
    return ["predict", "--model", run, "--input", _images(env), "--out", out, "-q", *options]


def _data(env: Env) -> Path:
    return write_discs(env.path("discs"), splits={"train": 4, "val": 2})


def _train(env: Env, *options: str) -> list[str]:
    """A tiny training command line with ``options`` (it fails before training in these cases)."""
    return ["train", "--data", _data(env), "--out", env.path("runs"), "-m", "base_width=4",
            "-m", "depth=1", "--epochs", "1", "--batch-size", "2", "-q", *options]  # fmt: skip


def _edited_card(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Env], Path]:
    """A copy of the run whose model.json is ``edit`` of the original (the dict changed in
    place, or the value ``edit`` returns when it is not ``None``)."""

    def make(env: Env) -> Path:
        run = env.run()
        card = json.loads((run / "model.json").read_text())
        changed = edit(card)
        (run / "model.json").write_text(json.dumps(card if changed is None else changed))
        return run

    return make


def _card_text(text: str) -> Callable[[Env], Path]:
    def make(env: Env) -> Path:
        run = env.run()
        (run / "model.json").write_text(text)
        return run

    return make


def _weights(change: Callable[[bytes, Path], bytes | None]) -> Callable[[Env], Path]:
    """A copy of the run whose model.safetensors is ``change(bytes, path)`` (``None``: the
    function wrote or removed the file itself)."""

    def make(env: Env) -> Path:
        run = env.run()
        path = run / "model.safetensors"
        data = change(path.read_bytes(), path)
        if data is not None:
            path.write_bytes(data)
        return run

    return make


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    def delete(card: dict[str, Any]) -> None:
        del card[key]

    return delete


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda card: card.update({key: value})


def _set_in(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda card: card[section].update({key: value})


def card_case(name: str, make: Callable[[Env], Path], *says: str, command: str = "predict") -> Case:
    """``seglab COMMAND`` of the run ``make`` writes: refused, naming what ``says`` lists."""

    def build(env: Env) -> list[str]:
        run = make(env)
        if command == "predict":
            return _predict(env, run)
        if command == "export":
            return ["export", "--model", run]
        if command == "evaluate":
            return ["evaluate", "--model", run, "--data", _data(env), "-q"]
        return ["report", run]

    return Case("model card", name, build, ERROR, says=says)


# ----------------------------------------------------------------------------- model card


def _other_weights(data: bytes, path: Path) -> None:
    from safetensors.torch import save_file
    from torch import zeros

    save_file({"encoder.weight": zeros(2, 2)}, str(path))


def _no_card(env: Env) -> Path:
    run = env.run()
    (run / "model.json").unlink()
    return run


HUGE = {"base_width": 100_000, "width_cap": 100_000, "depth": 2}

MODEL_CARD = [
    card_case("architecture missing", _edited_card(_delete("architecture")),
              "model.json: architecture: missing"),
    card_case("classes missing", _edited_card(_delete("classes")), "model.json: classes: missing"),
    card_case("in_channels missing", _edited_card(_delete("in_channels")),
              "model.json: in_channels: missing"),
    card_case("format missing", _edited_card(_delete("format")), "model.json: format: missing"),
    card_case("format of another version", _edited_card(_set("format", "seglab.model/9")),
              "model.json: format:", "another seglab version"),
    card_case("architecture unknown", _edited_card(_set("architecture", "nope")),
              "model.json: architecture: unknown model 'nope'", "retrain"),
    card_case("architecture unknown, seglab export", _edited_card(_set("architecture", "nope")),
              "model.json: architecture: unknown model", command="export"),
    card_case("architecture unknown, seglab evaluate",
              _edited_card(_set("architecture", "nope")),
              "model.json: architecture: unknown model", command="evaluate"),
    card_case("architecture unknown, seglab report", _edited_card(_set("architecture", "nope")),
              "model.json: architecture: unknown model", command="report"),
    card_case("architecture a number", _edited_card(_set("architecture", 3)),
              "model.json: architecture: expected a model name"),
    card_case("task unknown", _edited_card(_set("task", "panoptic")),
              "model.json: task: expected one of semantic, instance"),
    card_case("instance card of a semantic network", _edited_card(_set("task", "instance")),
              "model.json: out_channels: 1 does not fit the 2 classes: an instance network"),
    card_case("options a list", _edited_card(_set("options", [])),
              "model.json: options: expected a JSON object"),
    card_case("option of the wrong type", _edited_card(_set_in("options", "base_width", "x")),
              "model.json: options.base_width: expected a whole number"),
    card_case("option unknown to the architecture", _edited_card(_set_in("options", "foo", 1)),
              "model.json: options.foo: unet has no option 'foo'"),
    card_case("option out of range", _edited_card(_set_in("options", "depth", 0)),
              "model.json: options.depth:", "depth must be a positive integer"),
    card_case("option an unknown name", _edited_card(_set_in("options", "activation", "nope")),
              "model.json: options.activation:", "unknown activation 'nope'"),
    card_case("option a number for a name", _edited_card(_set_in("options", "norm", 3)),
              "model.json: options.norm: expected a name"),
    card_case("options describe a huge network", _edited_card(_set("options", HUGE)),
              "model.json: options:", "parameters"),
    card_case("options of another width than the weights",
              _edited_card(_set_in("options", "base_width", 16)),
              "model.safetensors:", "do not fit the network model.json describes",
              "inc.conv1.conv.weight"),
    card_case("num_classes differs from classes", _edited_card(_set("num_classes", 3)),
              "model.json: num_classes: 3 differs from the 2 classes"),
    card_case("num_classes a string", _edited_card(_set("num_classes", "2")),
              "model.json: num_classes: expected a whole number"),
    card_case("out_channels wrong", _edited_card(_set("out_channels", 3)),
              "model.json: out_channels: 3 does not fit the 2 classes"),
    card_case("in_channels wrong for the weights", _edited_card(_set("in_channels", 1)),
              "model.safetensors:", "do not fit", "8x3x3x3 in the file but 8x1x3x3"),
    card_case("in_channels a string", _edited_card(_set("in_channels", "3")),
              "model.json: in_channels: expected a whole number"),
    card_case("in_channels zero", _edited_card(_set("in_channels", 0)),
              "model.json: in_channels: expected a whole number >= 1"),
    card_case("classes a string", _edited_card(_set("classes", "background,disc")),
              "model.json: classes: expected a list of class names"),
    card_case("classes empty", _edited_card(_set("classes", [])),
              "model.json: classes: expected a list of class names"),
    card_case("three classes for a binary network",
              _edited_card(lambda c: c.update(classes=["bg", "a", "b"], num_classes=3)),
              "model.json: out_channels: 1 does not fit the 3 classes"),
    card_case("threshold above 1", _edited_card(_set("threshold", 1.5)),
              "model.json: threshold: expected a number from 0 to 1, got 1.5"),
    card_case("threshold below 0", _edited_card(_set("threshold", -0.1)),
              "model.json: threshold: expected a number from 0 to 1"),
    card_case("threshold a string", _edited_card(_set("threshold", "0.5")),
              "model.json: threshold: expected a number"),
    card_case("input not an object", _edited_card(_set("input", 32)),
              "model.json: input: expected a JSON object"),
    card_case("input.multiple not the stride", _edited_card(_set_in("input", "multiple", 3)),
              "model.json: input.multiple: 3 is not a multiple of the stride (4)"),
    card_case("input.multiple zero", _edited_card(_set_in("input", "multiple", 0)),
              "model.json: input.multiple: expected a whole number >= 1"),
    card_case("input.image_size too small", _edited_card(_set_in("input", "image_size", 1)),
              "model.json: input.image_size: expected a whole number of pixels >= 8"),
    card_case("preprocess unknown step", _edited_card(_set("preprocess", ["nope"])),
              "model.json: preprocess:", "unknown transform"),
    card_case("preprocess a string", _edited_card(_set("preprocess", "clahe")),
              "model.json: preprocess: expected a list of steps"),
    card_case("not JSON", _card_text("{not json"), "model.json:", "not JSON", "retrain"),
    card_case("empty file", _card_text(""), "model.json:", "the file is empty"),
    card_case("binary bytes", _card_text("\x00\x01\x02"), "model.json:", "not JSON"),
    card_case("a JSON array", _card_text("[]"), "model.json:",
              "expected a JSON object, got a list"),
    card_case("JSON null", _card_text("null"), "model.json:", "expected a JSON object, got null"),
    card_case("model.json missing", _no_card, "model.json: missing"),
    card_case("weights missing", _weights(lambda data, path: path.unlink()),
              "model.safetensors: missing"),
    card_case("weights empty", _weights(lambda data, path: b""),
              "model.safetensors: cannot read the weights", "damaged"),
    card_case("weights truncated", _weights(lambda data, path: data[: len(data) // 2]),
              "model.safetensors: cannot read the weights", "damaged"),
    card_case("weights random bytes", _weights(lambda data, path: os.urandom(4096)),
              "model.safetensors: cannot read the weights"),
    card_case("weights of another network", _weights(_other_weights),
              "model.safetensors:", "do not fit the network model.json describes",
              "put back the pair"),
]  # fmt: skip

# ----------------------------------------------------------------------------- checkpoint


class Evil:
    """Pickles as a call of ``os.system``: what a tampered checkpoint could hold."""

    def __reduce__(self):
        return (os.system, ("echo seglab-was-tricked",))


class Gadget:
    """A plain class instance: not a tensor, so ``weights_only=True`` refuses it too."""


def _checkpoint(change: Callable[[Path], None]) -> Callable[[Env], Path]:
    def make(env: Env) -> Path:
        run = env.run()
        change(run / "checkpoints" / "last.ckpt")
        return run

    return make


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _torch_save(obj: Callable[[], Any]) -> Callable[[Path], None]:
    def save(path: Path) -> None:
        import torch

        torch.save(obj(), path)

    return save


def _scramble_pickle(path: Path) -> None:
    """Keep the zip archive, replace the pickle inside it with bytes that are no pickle."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    with zipfile.ZipFile(path, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            out.writestr(item, b"\x80\x04garbage" if item.filename.endswith("data.pkl") else data)


def _resume(
    make: Callable[[Env], Path], *options: str, ckpt: bool = False
) -> Callable[[Env], list[str]]:
    """``seglab train --resume RUN`` (or its ``last.ckpt``) for one more epoch."""

    def build(env: Env) -> list[str]:
        run = make(env)
        target = run / "checkpoints" / "last.ckpt" if ckpt else run
        return ["train", "--resume", target, "--epochs", "13", "-q", *options]

    return build


def _edited_config(edit: Callable[[dict[str, Any]], None]) -> Callable[[Env], Path]:
    def make(env: Env) -> Path:
        run = env.run()
        config = yaml.safe_load((run / "config.yaml").read_text())
        edit(config)
        (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        return run

    return make


def _moved_data(config: dict[str, Any]) -> None:
    config["data"]["path"] = "/nonexistent/seglab/discs"


def _old_relative_run(env: Env) -> Path:
    """A run folder as runs were written before data paths were stored absolute: started in
    ``base`` with ``--data discs --out runs``; resumed here from another folder."""
    base = env.path("project")
    run = base / "runs" / "train"
    shutil.copytree(env.run(), run)
    source = yaml.safe_load((run / "config.yaml").read_text())["data"]["path"]
    shutil.copytree(source, base / "discs")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["path"], config["out"] = "discs", "runs"
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return run


def _old_relative_run_without_data(env: Env) -> Path:
    run = _old_relative_run(env)
    shutil.rmtree(run.parent.parent / "discs")
    return run


def _moved_with_data(env: Env) -> list[str]:
    run = _edited_config(_moved_data)(env)
    return ["train", "--resume", run, "--epochs", "13", "--data", _data(env), "-q"]


def checkpoint_case(
    name: str, build: Callable[[Env], list[str]], code: int, *says: str, slow: bool = False
) -> Case:
    return Case("checkpoint", name, build, code, says=says, slow=slow)


DAMAGED = ("last.ckpt:", "damaged", "model.safetensors", "seglab train --config")

CHECKPOINT = [
    checkpoint_case("truncated", _resume(_checkpoint(_truncate)), ERROR, *DAMAGED),
    checkpoint_case("empty", _resume(_checkpoint(lambda p: p.write_bytes(b""))), ERROR,
                    "last.ckpt:", "empty", "model.safetensors", "seglab train --config"),
    checkpoint_case("random bytes", _resume(_checkpoint(lambda p: p.write_bytes(os.urandom(5000)))),
                    ERROR, *DAMAGED),
    checkpoint_case("a zip whose pickle is garbage", _resume(_checkpoint(_scramble_pickle)),
                    ERROR, *DAMAGED),
    checkpoint_case("untrusted: pickles a call of os.system",
                    _resume(_checkpoint(_torch_save(lambda: {"x": Evil()}))), ERROR,
                    "last.ckpt:", "untrusted", "posix.system", "model.safetensors"),
    checkpoint_case("untrusted: pickles a class instance",
                    _resume(_checkpoint(_torch_save(lambda: {"state_dict": {}, "x": Gadget()}))),
                    ERROR, "last.ckpt:", "untrusted", "Gadget"),
    checkpoint_case("given as the .ckpt file, truncated",
                    _resume(_checkpoint(_truncate), ckpt=True), ERROR, *DAMAGED),
    checkpoint_case("not a Lightning checkpoint",
                    _resume(_checkpoint(_torch_save(lambda: {"weights": [1, 2]}))), ERROR,
                    "last.ckpt:", "not a Lightning checkpoint", "state_dict"),
    checkpoint_case("missing (killed before the first one): the run starts again",
                    _resume(_checkpoint(lambda p: p.unlink())), OK,
                    "restarting", "from the beginning", slow=True),
    checkpoint_case("missing, the .ckpt named", _resume(_checkpoint(lambda p: p.unlink()),
                    ckpt=True), ERROR, "last.ckpt:", "checkpoint not found"),
    checkpoint_case("not a run folder", lambda env: ["train", "--resume", env.path("empty")],
                    ERROR, "nothing to resume", "without --resume"),
    checkpoint_case("config.yaml edited to another width",
                    _resume(_edited_config(lambda c: c["model"]["options"].update(base_width=16))),
                    ERROR, "last.ckpt:", "does not fit the network config.yaml describes",
                    "model.inc.conv1.conv.weight"),
    checkpoint_case("dataset moved", _resume(_edited_config(_moved_data)), ERROR,
                    "config.yaml: data.path:", "--data PATH"),
    checkpoint_case("dataset moved, given with --data", _moved_with_data, OK, "epoch 13/13",
                    slow=True),
    checkpoint_case("run started elsewhere with a relative --data", _resume(_old_relative_run),
                    OK, "epoch 13/13", slow=True),
    checkpoint_case("relative --data of an old run, gone", _resume(_old_relative_run_without_data),
                    ERROR, "config.yaml: data.path:", "not at discs", "--data PATH"),
]  # fmt: skip

# ----------------------------------------------------------------------------- options


def options_case(name: str, build: Callable[[Env], list[str]], *says: str) -> Case:
    return Case("options", name, build, ERROR, says=says)


def _run_predict(*options: str) -> Callable[[Env], list[str]]:
    return lambda env: _predict(env, env.run(), *options)


def _run_evaluate(*options: str) -> Callable[[Env], list[str]]:
    return lambda env: ["evaluate", "--model", env.run(), "--data", _data(env), "-q", *options]


def _a_file(env: Env) -> Path:
    path = env.path("a-file")
    path.write_text("not a folder")
    return path


def _threshold_yaml(env: Env) -> list[str]:
    config = env.path("run.yaml")
    config.write_text(yaml.safe_dump({"data": {"path": str(_data(env))}, "threshold": 1.5}))
    return ["train", "--config", config, "--out", env.path("runs"), "-q"]


def _more_devices_than_cores(env: Env) -> list[str]:
    from seglab.core.devices import cpu_cores

    return _train(env, "--accelerator", "cpu", "--devices", str(cpu_cores() + 1))


def _rle_inside_a_file(env: Env) -> list[str]:
    return _predict(env, env.run(), "--rle-csv", str(_a_file(env) / "masks.csv"))


def _export(*options: str) -> Callable[[Env], list[str]]:
    return lambda env: ["export", "--model", env.run(), *options]


OPTIONS = [
    options_case("predict --threshold above 1", _run_predict("--threshold", "1.5"),
                 "--threshold 1.5 is outside [0, 1]"),
    options_case("predict --threshold below 0", _run_predict("--threshold", "-0.1"),
                 "--threshold -0.1 is outside [0, 1]"),
    options_case("predict --threshold nan", _run_predict("--threshold", "nan"),
                 "--threshold nan is outside [0, 1]"),
    options_case("evaluate --threshold above 1", _run_evaluate("--threshold", "1.5"),
                 "--threshold 1.5 is outside [0, 1]"),
    options_case("train --threshold above 1", lambda env: _train(env, "--threshold", "1.5"),
                 "threshold (--threshold): Input should be less than 1"),
    options_case("train --threshold 0", lambda env: _train(env, "--threshold", "0"),
                 "threshold (--threshold): Input should be greater than 0"),
    options_case("config file threshold above 1", _threshold_yaml,
                 "run.yaml: threshold (--threshold)"),
    options_case("predict --device of a GPU not there", _run_predict("--device", "cuda:99"),
                 "--device cuda:99", "cpu ("),
    options_case("evaluate --device of a GPU not there", _run_evaluate("--device", "cuda:99"),
                 "--device cuda:99", "cpu ("),
    options_case("predict --device unknown", _run_predict("--device", "nope"),
                 "--device 'nope': expected cpu, cuda, cuda:N or mps"),
    options_case("train --accelerator unknown", lambda env: _train(env, "--accelerator", "nope"),
                 "--accelerator 'nope': choose one of auto, cpu, gpu"),
    options_case("train --devices more than the CPU cores", _more_devices_than_cores,
                 "--devices", "core(s)", "or fewer"),
    options_case("train --devices 0", lambda env: _train(env, "--accelerator", "cpu",
                                                         "--devices", "0"),
                 "--devices 0:", "on the CPU --devices is a number of processes"),
    options_case("train --devices ids on the CPU",
                 lambda env: _train(env, "--accelerator", "cpu", "--devices", "0,1"),
                 "--devices 0,1:", "GPU ids need a GPU"),
    options_case("predict --out inside a file",
                 lambda env: _predict(env, env.run(), out=_a_file(env) / "out"),
                 "--out", "is a file, not a folder"),
    options_case("predict --out name too long",
                 lambda env: _predict(env, env.run(), out=env.tmp / LONG),
                 "--out: the name", "300 bytes long", "at most 255"),
    options_case("predict --out is a file",
                 lambda env: _predict(env, env.run(), out=_a_file(env)),
                 "--out", "exists and is not a folder"),
    options_case("predict --rle-csv inside a file", _rle_inside_a_file,
                 "--rle-csv", "is a file, not a folder"),
    options_case("evaluate --out inside a file",
                 lambda env: _run_evaluate("--out", str(_a_file(env) / "eval"))(env),
                 "--out", "is a file, not a folder"),
    options_case("train --out inside a file",
                 lambda env: _train(env, "--out", str(_a_file(env) / "runs")),
                 "--out", "is a file, not a folder"),
    options_case("train --name too long", lambda env: _train(env, "--name", LONG),
                 "--name: the name", "300 bytes long"),
    options_case("export --out name too long",
                 lambda env: _export("--out", str(env.tmp / f"{LONG}.onnx"))(env),
                 "--out: the name", "at most 255"),
    options_case("export --out inside a file",
                 lambda env: _export("--out", str(_a_file(env) / "m.onnx"))(env),
                 "--out", "is a file, not a folder"),
    options_case("report --out inside a file",
                 lambda env: ["report", env.run(), "--out", _a_file(env) / "r.html"],
                 "--out", "is a file, not a folder"),
    options_case("export --opset too old", _export("--opset", "3"),
                 "--opset 3: choose a whole number from 11"),
    options_case("export --opset with torchscript", _export("--format", "torchscript",
                                                            "--opset", "17"),
                 "--opset is an ONNX option"),
    options_case("export --format unknown", _export("--format", "nope"),
                 "unknown export format 'nope'"),
    options_case("evaluate --worst negative", _run_evaluate("--worst", "-1"),
                 "--worst -1: expected a whole number of images"),
    options_case("evaluate --split unknown", _run_evaluate("--split", "nope"),
                 "unknown split 'nope'"),
    options_case("evaluate --empty-score unknown", _run_evaluate("--empty-score", "x"),
                 "empty_score must be 1, 0 or nan"),
    options_case("predict --batch-size 0", _run_predict("--batch-size", "0"),
                 "batch_size=0 must be a whole number of at least 1"),
    options_case("predict --tile 0", _run_predict("--tile", "0"), "tile=0"),
    options_case("predict --overlap 1", _run_predict("--tile", "16", "--overlap", "1"),
                 "overlap=1.0 is outside [0, 0.9]"),
    options_case("predict --backend unknown", _run_predict("--backend", "nope"),
                 "unknown backend 'nope'"),
    options_case("predict --resize unknown", _run_predict("--resize", "nope"),
                 "unknown resize 'nope'"),
    options_case("train --epochs 0", lambda env: _train(env, "--epochs", "0"),
                 "epochs (--epochs): Input should be greater than or equal to 1"),
    options_case("train --epochs negative", lambda env: _train(env, "--epochs", "-3"),
                 "epochs (--epochs)"),
    options_case("train --batch-size 0", lambda env: _train(env, "--batch-size", "0"),
                 "batch_size (--batch-size)"),
    options_case("train --lr negative", lambda env: _train(env, "--lr", "-1"),
                 "lr (--lr): Input should be greater than 0"),
    options_case("train --lr 0", lambda env: _train(env, "--lr", "0"), "lr (--lr)"),
    options_case("train --weight-decay negative", lambda env: _train(env, "--weight-decay", "-1"),
                 "weight_decay (--weight-decay)"),
    options_case("train --time-limit unparseable", lambda env: _train(env, "--time-limit", "soon"),
                 "time_limit (--time-limit): time limit 'soon'"),
    options_case("train --time-limit zero", lambda env: _train(env, "--time-limit", "0s"),
                 "time_limit (--time-limit)", "must be positive"),
    options_case("train --image-size too small", lambda env: _train(env, "--image-size", "4"),
                 "image_size (--image-size): Input should be greater than or equal to 8"),
    options_case("train --crop-size too small", lambda env: _train(env, "--crop-size", "4"),
                 "crop_size (--crop-size)"),
    options_case("train --patience 0", lambda env: _train(env, "--patience", "0"),
                 "patience (--patience)"),
    options_case("train --val-fraction 1", lambda env: _train(env, "--val-fraction", "1"),
                 "data.val_fraction (--val-fraction)"),
    options_case("train --workers negative", lambda env: _train(env, "--workers", "-1"),
                 "workers (--workers)"),
    options_case("train --accumulate 0", lambda env: _train(env, "--accumulate", "0"),
                 "accumulate (--accumulate)"),
    options_case("train --object-crop above 1", lambda env: _train(env, "--object-crop", "2"),
                 "object_crop (--object-crop)"),
    options_case("train --precision unknown", lambda env: _train(env, "--precision", "64"),
                 "precision (--precision)"),
    options_case("train --monitor unknown", lambda env: _train(env, "--monitor", "acc"),
                 "monitor (--monitor)"),
    options_case("train --recipe unknown", lambda env: _train(env, "--recipe", "fast"),
                 "recipe (--recipe)"),
    options_case("train --logger unknown", lambda env: _train(env, "--logger", "wandb"),
                 "logger (--logger)"),
    options_case("train --model unknown", lambda env: _train(env, "--model", "nope"),
                 "unknown model 'nope'"),
    options_case("train --optimizer unknown", lambda env: _train(env, "--optimizer", "nope"),
                 "unknown optimizer 'nope'"),
    options_case("train --loss unknown", lambda env: _train(env, "--loss", "nope"),
                 "unknown loss 'nope'"),
    options_case("train --scheduler unknown", lambda env: _train(env, "--scheduler", "nope"),
                 "unknown scheduler 'nope'"),
    options_case("train --activation unknown", lambda env: _train(env, "--activation", "nope"),
                 "unknown activation 'nope'"),
    options_case("train --init unknown", lambda env: _train(env, "--init", "nope"),
                 "unknown weight initialisation 'nope'"),
    options_case("train --model-option of the wrong type",
                 lambda env: _train(env, "-m", "base_width=wide"), "base_width"),
    options_case("train --optimizer-option unknown",
                 lambda env: _train(env, "--optimizer-option", "foo=1"), "has no option 'foo'"),
]  # fmt: skip


CASES: list[Case] = [*MODEL_CARD, *CHECKPOINT, *OPTIONS]
