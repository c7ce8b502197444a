"""Run folders written before the architecture step (issue 10) still load and predict the
same masks, byte for byte (``tests/fixtures/legacy_runs``, made by its ``make_legacy_runs.py``
with the code of commit 7cd7f43)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import copy_run

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy_runs"
INPUTS = LEGACY / "inputs"


@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_a_run_folder_from_before_predicts_byte_identical_masks(name, tmp_path):
    from seglab.predict import predict_images

    run = copy_run(LEGACY / name, tmp_path / name)
    out = tmp_path / "out"
    predict_images(run, INPUTS, out, backend="torch")
    expected = sorted((LEGACY / f"expected_{name}" / "masks").glob("*.png"))
    assert len(expected) == len(list(INPUTS.glob("*.png"))) == 11
    for file in expected:
        assert (out / "masks" / file.name).read_bytes() == file.read_bytes(), file.name


@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_a_run_folder_from_before_loads_in_a_notebook(name, tmp_path):
    import seglab

    model = seglab.load_model(copy_run(LEGACY / name, tmp_path / name), backend="torch")
    image = np.array(Image.open(INPUTS / "odd_71x53.png"))
    mask = model.predict(image)
    truth = np.array(Image.open(LEGACY / f"expected_{name}" / "masks" / "odd_71x53.png"))
    stored = (truth != 0).astype(np.int64) if name == "binary" else truth.astype(np.int64)
    assert mask.shape == (71, 53)
    np.testing.assert_array_equal(mask, stored)
