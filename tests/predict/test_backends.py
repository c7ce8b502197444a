"""Prediction backends: every backend gives PyTorch's probabilities; ONNX Runtime exports the
run once, reuses a current export and replaces a stale one (never a file seglab did not write);
auto never fails."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import seglab.predict.exporters
from seglab.errors import ConfigError
from seglab.predict import load_model
from seglab.predict.backends import BACKENDS
from seglab.predict.export import ExportError, read_export_info, weights_digest
from tests.conftest import copy_run


@pytest.fixture(scope="module")
def shared_run(tiny_run, tmp_path_factory):
    """One copy of the tiny run for the tests that only read it (the first export is kept)."""
    run_dir, root = tiny_run
    return copy_run(run_dir, tmp_path_factory.mktemp("backends") / "run"), root


@pytest.fixture
def run(tiny_run, tmp_path):
    run_dir, root = tiny_run
    return copy_run(run_dir, tmp_path / "run"), root


def _image(root, name="val0"):
    return np.asarray(Image.open(root / "val" / "images" / f"{name}.png"))[:30, :27]


@pytest.mark.parametrize("backend", ["channels_last", "onnxruntime", "auto"])
def test_every_backend_gives_pytorch_probabilities(shared_run, backend):
    run_dir, root = shared_run
    image = _image(root)
    reference = load_model(run_dir, device="cpu", backend="torch")
    expected = reference.predict_proba(image)
    model = load_model(run_dir, device="cpu", backend=backend)
    assert model.backend == ("onnxruntime" if backend == "auto" else backend)  # auto on a CPU
    got = model.predict_proba(image)
    assert got.shape == expected.shape == (30, 27)
    assert np.abs(got - expected).max() <= 1e-4
    assert (got > 0.5).sum() > 20  # the disc is there: not a comparison of two blanks
    options = {"tta": True, "tile": 16}  # flipped and tiled batches go through the runner too
    tiled = model.predict_proba(image, **options)
    assert np.abs(tiled - reference.predict_proba(image, **options)).max() <= 1e-4


def test_an_unknown_backend_is_refused_with_the_choices(shared_run):
    with pytest.raises(ConfigError, match="tensorrt.*" + ", ".join(BACKENDS)):
        load_model(shared_run[0], backend="tensorrt")


def test_onnxruntime_exports_once_and_reuses_a_current_export(run, monkeypatch):
    run_dir, _ = run
    load_model(run_dir, device="cpu", backend="onnxruntime")
    info = read_export_info(run_dir / "model.onnx")
    assert info["weights_sha256"] == weights_digest(run_dir / "model.safetensors")

    def refuse(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(seglab.predict.exporters, "write_onnx", refuse)
    assert load_model(run_dir, device="cpu", backend="onnxruntime").backend == "onnxruntime"


def test_a_stale_export_is_replaced_with_a_warning(run):
    from safetensors.torch import load_file, save_file

    run_dir, root = run
    image = _image(root)
    before = load_model(run_dir, device="cpu", backend="onnxruntime").predict_proba(image)
    weights = run_dir / "model.safetensors"
    state = load_file(weights)
    head = next(k for k in state if k.startswith("head.") and k.endswith("bias"))
    state[head] = state[head] + 2.0  # retrained: every logit moves up by 2
    save_file(state, weights)
    with pytest.warns(RuntimeWarning, match=r"model\.onnx was exported from other weights"):
        model = load_model(run_dir, device="cpu", backend="onnxruntime")
    expected = load_model(run_dir, device="cpu", backend="torch").predict_proba(image)
    after = model.predict_proba(image)
    assert np.abs(after - expected).max() <= 1e-4
    assert (after >= before - 1e-4).all() and (after - before).max() > 0.05  # the new weights


def test_a_model_onnx_seglab_did_not_write_is_left_and_the_export_goes_to_the_cache(
    run, tmp_path, monkeypatch
):
    run_dir, root = run
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (run_dir / "model.onnx").write_bytes(b"not an onnx file")
    with pytest.warns(RuntimeWarning, match=r"model\.onnx is unreadable.*left as it is"):
        model = load_model(run_dir, device="cpu", backend="onnxruntime")
    assert (run_dir / "model.onnx").read_bytes() == b"not an onnx file"
    cached = list((tmp_path / "cache" / "seglab" / "onnx").glob("*/model.onnx"))
    assert len(cached) == 1 and read_export_info(cached[0])["architecture"] == "unet"
    assert model.predict(_image(root)).sum() > 20


def test_a_read_only_run_folder_exports_into_the_cache(run, tmp_path, monkeypatch):
    run_dir, root = run
    write_onnx = seglab.predict.exporters.write_onnx

    def read_only_run(net, path, **kwargs):
        if path.parent == run_dir:
            raise PermissionError(13, "Permission denied", str(path))
        return write_onnx(net, path, **kwargs)

    monkeypatch.setattr(seglab.predict.exporters, "write_onnx", read_only_run)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = load_model(run_dir, device="cpu", backend="onnxruntime")
    assert not (run_dir / "model.onnx").exists()
    cached = list((tmp_path / "cache" / "seglab" / "onnx").glob("*/model.onnx"))
    assert len(cached) == 1
    assert model.predict(_image(root)).sum() > 20


def test_auto_falls_back_to_torch_when_the_export_fails(run, monkeypatch):
    run_dir, root = run

    def fail(*args, **kwargs):
        raise ExportError("no exporter for this network")

    monkeypatch.setattr(seglab.predict.exporters, "write_onnx", fail)
    with pytest.warns(RuntimeWarning, match="no exporter for this network.*PyTorch"):
        model = load_model(run_dir, device="cpu", backend="auto")
    assert model.backend == "torch" and model.predict(_image(root)).sum() > 20
    with pytest.raises(ExportError, match="no exporter"):
        load_model(run_dir, device="cpu", backend="onnxruntime")
