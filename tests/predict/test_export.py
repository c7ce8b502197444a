"""Exporting a run: ONNX and TorchScript files that reproduce PyTorch, describe themselves, and
are never overwritten by accident."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from seglab.cli import main
from seglab.errors import ConfigError, DataError
from seglab.predict import load_model
from seglab.predict.export import export_model, read_export_info, weights_digest
from tests.builders import retrain_in_place
from tests.conftest import copy_run


@pytest.fixture
def run(tiny_run, tmp_path):
    """A copy of the tiny run (exports write into the run folder) and its dataset root."""
    run_dir, root = tiny_run
    return copy_run(run_dir, tmp_path / "run"), root


def _val_crops(root, height=30, width=27):
    """Odd-sized crops of two val images (the discs' centres stay inside)."""
    images = [np.asarray(Image.open(root / "val" / "images" / f"val{i}.png")) for i in (0, 1)]
    return [image[1 : 1 + height, 2 : 2 + width] for image in images]


def _padded(batch, multiple):
    height, width = batch.shape[2:]
    ph, pw = -height % multiple, -width % multiple
    return np.pad(batch, ((0, 0), (0, 0), (0, ph), (0, pw))), (height, width)


def test_onnx_probabilities_match_pytorch_on_odd_sized_val_images(run):
    import onnxruntime as ort

    run_dir, root = run
    result = export_model(run_dir)
    path = result.path
    assert path == run_dir / "model.onnx" and result.written and result.replaced is None
    model = load_model(run_dir, device="cpu", backend="torch")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    crops = _val_crops(root)
    batch = np.stack([model.prepare(crop) for crop in crops])  # 2 x 3 x 30 x 27
    for images in (batch[:1], batch):
        padded, (height, width) = _padded(images, model.multiple)
        assert padded.shape[2:] == (32, 28)
        onnx_logits = session.run(None, {"image": padded})[0][:, :, :height, :width]
        expected = model.to_probabilities(model.logits(images))
        got = model.to_probabilities(onnx_logits)
        assert got.shape == expected.shape == (len(images), 1, 30, 27)
        assert np.abs(got - expected).max() <= 1e-4
    # the discs are found, so the comparison is between meaningful probabilities
    assert (got > 0.5).sum() > 20 and (got < 0.5).sum() > 500

    info = read_export_info(path)
    assert info["classes"] == ["background", "foreground"] and info["multiple"] == 4
    assert info["weights_sha256"] == weights_digest(run_dir / "model.safetensors")
    assert info["in_channels"] == 3 and 0 <= info["max_abs_prob_diff"] <= 1e-4


def test_torchscript_file_loads_with_torch_jit_and_matches(run, tmp_path):
    run_dir, root = run
    out = tmp_path / "deploy" / "seg.pt"
    assert export_model(run_dir, format="torchscript", out=out).path == out
    assert not (run_dir / "model.torchscript.pt").exists()
    model = load_model(run_dir, device="cpu", backend="torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch 2.14: "torch.jit is deprecated"
        scripted = torch.jit.load(str(out))
    images = np.stack([model.prepare(crop) for crop in _val_crops(root)])
    padded, (height, width) = _padded(images, model.multiple)
    with torch.no_grad():
        logits = scripted(torch.from_numpy(padded)).numpy()[:, :, :height, :width]
    assert np.abs(logits - model.logits(images)).max() <= 1e-4
    assert read_export_info(out)["export"] == "torchscript"


def test_an_existing_export_is_kept_unless_overwrite(run):
    run_dir, _ = run
    path = export_model(run_dir).path
    path.write_bytes(b"keep me")
    with pytest.raises(DataError, match=r"model\.onnx: exists already.*--overwrite"):
        export_model(run_dir)
    assert path.read_bytes() == b"keep me"
    assert export_model(run_dir, overwrite=True).path == path
    assert read_export_info(path)["architecture"] == "unet"


def _foreign_onnx(path):
    """A valid ONNX file that seglab did not write."""
    import onnx

    node = onnx.helper.make_node("Relu", ["x"], ["y"])
    value = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph([node], "g", [value("x", 1, [1])], [value("y", 1, [1])])
    onnx.save(onnx.helper.make_model(graph), str(path))
    return path.read_bytes()


def test_export_after_onnx_predictions_keeps_the_up_to_date_file(run):
    run_dir, _ = run
    load_model(run_dir, device="cpu", backend="onnxruntime")  # predict/report cache it
    cached = (run_dir / "model.onnx").read_bytes()
    result = export_model(run_dir)
    assert result.path == run_dir / "model.onnx" and not result.written
    assert (run_dir / "model.onnx").read_bytes() == cached  # not even rewritten
    assert result.info == read_export_info(result.path)  # what a fresh export returns
    assert result.info["weights_sha256"] == weights_digest(run_dir / "model.safetensors")
    assert 0 <= result.info["max_abs_prob_diff"] <= 1e-4
    assert not export_model(run_dir, opset=17).written  # 17 is the default opset


def test_export_replaces_seglab_s_stale_model_onnx_but_not_a_stale_file_elsewhere(run, tmp_path):
    run_dir, _ = run
    load_model(run_dir, device="cpu", backend="onnxruntime")
    deploy = export_model(run_dir, out=tmp_path / "deploy.onnx").path
    digest = retrain_in_place(run_dir)
    result = export_model(run_dir)
    assert result.written and "other weights" in result.replaced
    assert read_export_info(result.path)["weights_sha256"] == digest
    result = export_model(run_dir, opset=18)  # another option: another file
    assert result.written and result.replaced == "was exported with opset 17, not 18"
    assert result.info["opset"] == 18
    # a stale export outside the run folder is the person's: kept unless overwrite
    with pytest.raises(DataError, match=r"deploy\.onnx: exists already and was exported from oth"):
        export_model(run_dir, out=deploy)
    assert export_model(run_dir, out=deploy, overwrite=True).info["weights_sha256"] == digest


def test_a_model_onnx_seglab_did_not_write_is_never_replaced_unasked(run):
    run_dir, _ = run
    mine = _foreign_onnx(run_dir / "model.onnx")
    with pytest.raises(DataError, match=r"model\.onnx: exists already and was not written by s"):
        export_model(run_dir)
    assert (run_dir / "model.onnx").read_bytes() == mine
    assert export_model(run_dir, overwrite=True).written


def test_errors_name_the_missing_file_and_the_valid_formats(run, tmp_path):
    run_dir, _ = run
    with pytest.raises(ConfigError, match="onnx, torchscript"):
        export_model(run_dir, format="tflite")
    (run_dir / "model.safetensors").unlink()
    with pytest.raises(DataError, match=r"model\.safetensors: missing"):
        export_model(run_dir)
    with pytest.raises(DataError, match=r"seg\.onnx: missing"):
        read_export_info(tmp_path / "seg.onnx")


def test_a_foreign_file_has_no_seglab_metadata(tmp_path):
    _foreign_onnx(tmp_path / "other.onnx")
    assert read_export_info(tmp_path / "other.onnx") == {}
    (tmp_path / "broken.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(DataError, match=r"broken\.onnx: cannot read"):
        read_export_info(tmp_path / "broken.onnx")


def test_cli_export_writes_the_file_and_prints_the_check(run, capsys):
    run_dir, _ = run
    assert main(["export", "--model", str(run_dir), "--format", "onnx"]) == 0
    assert (run_dir / "model.onnx").is_file()
    out = capsys.readouterr().out
    assert "model.onnx" in out and "max probability difference" in out
    assert main(["export", "--model", str(run_dir)]) == 0  # the same file: nothing to do
    assert "is up to date" in capsys.readouterr().out
    assert main(["export", "--model", str(run_dir), "--overwrite"]) == 0
    assert main(["export", "--help"]) == 0
    assert "seglab export" in capsys.readouterr().out


class _Drifting(torch.nn.Module):
    """A network whose eager output moves with every call: no export can reproduce it."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x[:, :1] + float(self.calls)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_an_export_that_differs_from_pytorch_is_refused(tmp_path, fmt):
    from seglab.predict.export import ExportError, write_onnx, write_torchscript

    meta = {"architecture": "drifting", "in_channels": 3, "multiple": 1}
    write = write_onnx if fmt == "onnx" else write_torchscript
    path = tmp_path / f"drift.{fmt}"
    with pytest.raises(ExportError, match=r"drift\.\w+: the export's probabilities differ"):
        write(_Drifting().eval(), path, meta=meta)
    assert list(tmp_path.iterdir()) == []  # nothing left behind, not even the temporary file


@pytest.mark.parametrize("opset", [3, 10, 99, "17", True])
def test_an_opset_this_pytorch_does_not_export_as_asked_is_refused(opset, tmp_path):
    from seglab.predict.exporters import MIN_OPSET, check_opset, max_opset

    with pytest.raises(ConfigError, match=f"--opset .*from {MIN_OPSET} to {max_opset()}"):
        export_model(tmp_path / "no-run", opset=opset)  # refused before the run is read
    assert check_opset(MIN_OPSET) == MIN_OPSET and check_opset(max_opset()) == max_opset()


def test_an_export_path_nothing_can_be_written_at_is_refused_first(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"--out .* is a file, not a folder"):
        export_model(tmp_path / "no-run", out=tmp_path / "file" / "m.onnx")
