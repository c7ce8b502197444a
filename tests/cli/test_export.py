"""``seglab export`` after ``seglab predict``: ONNX Runtime's ``RUN/model.onnx`` is the export's
own file, found up to date, replaced when stale, and a person's file is never replaced unasked."""

from __future__ import annotations

from seglab.cli import main
from seglab.predict.export import read_export_info, weights_digest
from tests.builders import retrain_in_place
from tests.conftest import copy_run


def test_export_after_predict_with_onnx_runtime(tiny_run, tmp_path, capsys):
    run_dir, root = tiny_run
    run_dir = copy_run(run_dir, tmp_path / "run")
    predict = ["predict", "--model", str(run_dir), "--input", str(root / "val" / "images"),
               "--backend", "onnxruntime"]  # fmt: skip
    assert main([*predict, "--out", str(tmp_path / "pred")]) == 0
    cached = (run_dir / "model.onnx").read_bytes()
    capsys.readouterr()

    assert main(["export", "--model", str(run_dir), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    digest = weights_digest(run_dir / "model.safetensors")
    assert f"model.onnx is up to date (weights sha256 {digest[:12]}" in out
    assert "nothing to do" in out and "max probability difference" in out
    assert (run_dir / "model.onnx").read_bytes() == cached

    digest = retrain_in_place(run_dir)
    assert main(["export", "--model", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "replaced" in out and "other weights" in out and "wrote" in out
    assert read_export_info(run_dir / "model.onnx")["weights_sha256"] == digest
    assert main([*predict, "--out", str(tmp_path / "pred2")]) == 0  # reuses the new export


def test_export_refuses_a_model_onnx_seglab_did_not_write(tiny_run, tmp_path, capsys):
    run_dir, _ = tiny_run
    run_dir = copy_run(run_dir, tmp_path / "run")
    (run_dir / "model.onnx").write_bytes(b"my own model")
    assert main(["export", "--model", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "exists already" in err and "--overwrite" in err
    assert (run_dir / "model.onnx").read_bytes() == b"my own model"
    assert main(["export", "--model", str(run_dir), "--overwrite"]) == 0
    assert read_export_info(run_dir / "model.onnx")["architecture"] == "unet"
