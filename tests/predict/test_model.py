"""LoadedModel's options: batched prediction equals one-by-one, tiling and TTA switches, argument
errors, and a multiclass model's probabilities."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seglab.errors import ConfigError, DataError
from seglab.predict import load_model
from seglab.predict.model import RESIZE_MODES

OPTIONS = [
    {},
    {"tta": True},
    {"tile": 16, "overlap": 0.5},
    {"tile": 16, "overlap": 0.25, "tta": True},
]


@pytest.fixture(scope="module")
def model(tiny_run):
    return load_model(tiny_run[0])


@pytest.fixture(scope="module")
def mixed_images(tiny_run) -> list[np.ndarray]:
    """32x32 val images, a grey 2-D one (same prepared shape), two 40x24, one 45x27 (not a
    multiple of the stride), interleaved."""
    root = tiny_run[1]
    vals = [np.asarray(Image.open(root / "val" / "images" / f"val{i}.png")) for i in range(6)]
    rng = np.random.default_rng(1)
    tall = [np.pad(v[:, 4:28], ((4, 4), (0, 0), (0, 0)), constant_values=40) for v in vals[:2]]
    odd = rng.normal(40, 8, (45, 27, 3)).clip(0, 255).astype(np.uint8)
    odd[10:20, 5:15] = 120
    grey = vals[2].mean(axis=2).astype(np.uint8)
    return [vals[0], tall[0], vals[1], odd, grey, vals[2], tall[1], vals[3], vals[4], vals[5]]


def spy(model):
    """Record the batch sizes and shapes that reach the network."""
    calls: list[tuple[int, ...]] = []
    runner = model.runner

    def run(batch):
        calls.append(batch.shape)
        return runner(batch)

    model.runner = run
    return calls, runner


def reference(model, image):
    """The network alone, one image at a time (what predict_proba did before the options)."""
    import cv2

    probs = model.to_probabilities(model.logits(model.prepare(image)[None]))[0]
    height, width = image.shape[:2]
    probs = np.stack([cv2.resize(p, (width, height)) for p in probs])
    return probs[0] if len(probs) == 1 else probs


@pytest.mark.parametrize("options", OPTIONS, ids=["plain", "tta", "tile", "tile+tta"])
@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_a_batch_gives_what_one_by_one_gives_with_mixed_sizes(
    model, mixed_images, options, batch_size
):
    batched = model.predict_proba_batch(mixed_images, batch_size=batch_size, **options)
    assert len(batched) == len(mixed_images)
    for image, probs in zip(mixed_images, batched, strict=True):
        assert probs.shape == image.shape[:2] and probs.dtype == np.float32
        np.testing.assert_allclose(probs, model.predict_proba(image, **options), atol=1e-5)
        if not options:
            np.testing.assert_allclose(probs, reference(model, image), atol=1e-5)
    masks = model.predict_batch(mixed_images, batch_size=batch_size, **options)
    for probs, mask in zip(batched, masks, strict=True):
        np.testing.assert_array_equal(mask, (probs > model.threshold).astype(np.int64))


def test_images_of_one_prepared_shape_share_the_network_calls(model, mixed_images):
    calls, runner = spy(model)
    try:
        model.predict_proba_batch(mixed_images, batch_size=4)
        # seven 32x32 (the grey one too), two 40x24, one 45x27 padded to 48x28
        assert calls == [(4, 3, 32, 32), (3, 3, 32, 32), (2, 3, 40, 24), (1, 3, 48, 28)]
        calls.clear()
        model.predict_proba_batch(mixed_images[:3], batch_size=4, tta=True)
        assert calls == [(8, 3, 32, 32), (4, 3, 40, 24)]  # four flips of each image at once
        calls.clear()
        model.predict_proba(mixed_images[0], tile=16, overlap=0.5, batch_size=4)
        assert calls == [(4, 3, 16, 16)] * 2 + [(1, 3, 16, 16)]  # 3 x 3 windows
    finally:
        model.runner = runner
    assert model.predict_proba_batch([]) == []


def test_tiling_and_threshold_switches(model, mixed_images):
    image = mixed_images[0]
    plain = model.predict_proba(image)
    np.testing.assert_array_equal(model.predict_proba(image, tile=64), plain)  # one window
    np.testing.assert_array_equal(
        model.predict_proba(image, tile=5), model.predict_proba(image, tile=8)
    )  # rounded up to the stride
    assert model.predict(image, threshold=0.0).all()
    assert not model.predict(image, threshold=1.0, tta=True, tile=16).any()
    np.testing.assert_array_equal(
        model.predict(image, tile=16, tta=True),
        (model.predict_proba(image, tile=16, tta=True) > model.threshold).astype(np.int64),
    )


def test_bad_tiling_options_are_config_errors(model, mixed_images):
    image = mixed_images[0]
    with pytest.raises(ConfigError, match="stride 4"):
        model.predict_proba(image, tile=2)
    with pytest.raises(ConfigError, match="overlap"):
        model.predict(image, tile=16, overlap=1.0)
    with pytest.raises(ConfigError, match="overlap"):
        model.predict_proba_batch([image], tile=16, overlap=-0.5)
    with pytest.raises(ConfigError, match="batch_size"):
        model.predict_proba_batch([image], batch_size=0)


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory):
    """A 3-class run (background + 2 disc classes) trained for a few seconds."""
    from tests.builders import write_discs
    from tests.conftest import train_tiny

    root = write_discs(
        tmp_path_factory.mktemp("multi") / "discs", splits={"train": 8, "val": 2}, classes=2
    )
    return load_model(train_tiny(root, epochs=3)), root


@pytest.mark.slow
def test_multiclass_probabilities_sum_to_one_with_every_option(multiclass):
    model, root = multiclass
    assert len(model.classes) == 3 and not model.binary
    images = [np.asarray(Image.open(root / "val" / "images" / f"val{i}.png")) for i in range(2)]
    images.append(np.full((45, 27, 3), 40, np.uint8))
    for options in OPTIONS:
        batched = model.predict_proba_batch(images, batch_size=2, **options)
        for image, probs in zip(images, batched, strict=True):
            assert probs.shape == (3, *image.shape[:2])
            np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
            np.testing.assert_allclose(probs, model.predict_proba(image, **options), atol=1e-5)
            mask = model.predict(image, threshold=0.99, **options)  # threshold: binary only
            np.testing.assert_array_equal(mask, probs.argmax(axis=0))
            assert set(np.unique(mask)) <= {0, 1, 2}


@pytest.fixture(scope="module")
def resized_run(tmp_path_factory):
    """A run trained on 32x32 discs resized to 16 px (its scale factor is 1/2)."""
    from tests.builders import write_discs
    from tests.conftest import train_tiny

    root = write_discs(tmp_path_factory.mktemp("resized") / "discs", splits={"train": 24, "val": 6})
    return train_tiny(root, epochs=20, image_size=16), root


def _discs_image(size: int, radius: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` square image of discs of ``radius`` px drawn like write_discs draws them."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.zeros((size, size), bool)
    for cy in range(int(2 * radius), size - int(radius), int(4 * radius)):
        for cx in range(int(2 * radius), size - int(radius), int(4 * radius)):
            truth |= (yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius
    image = rng.normal(40, 8, (size, size, 3))
    image[truth] = 120 + rng.normal(0, 8, (int(truth.sum()), 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


@pytest.mark.slow
def test_resize_modes_bring_images_to_the_network_as_asked(resized_run, tiny_run):
    run_dir, _ = resized_run
    assert json.loads((run_dir / "model.json").read_text())["input"]["train_long_side"] == 32
    image = np.zeros((48, 64, 3), np.uint8)
    shapes = {mode: load_model(run_dir, resize=mode).prepare(image).shape for mode in RESIZE_MODES}
    assert shapes == {"fit": (3, 12, 16), "scale": (3, 24, 32), "none": (3, 48, 64)}
    for mode in RESIZE_MODES:  # masks always come back at the image's size
        assert load_model(run_dir, resize=mode).predict(image).shape == (48, 64)
    native, _ = tiny_run  # trained without a resize: every mode is the same
    probs = [load_model(native, resize=mode).predict_proba(image) for mode in RESIZE_MODES]
    assert all(np.array_equal(probs[0], p) for p in probs[1:])


@pytest.mark.slow
def test_scale_keeps_a_big_image_at_the_training_scale(resized_run):
    run_dir, _ = resized_run
    image, truth = _discs_image(128, radius=6)  # 4x the training images, same pixel size
    dice = {}
    for mode in ("fit", "scale"):
        mask = load_model(run_dir, resize=mode).predict(image, tile=32).astype(bool)
        dice[mode] = 2 * (mask & truth).sum() / (mask.sum() + truth.sum())
    assert dice["scale"] > 0.75 and dice["scale"] > dice["fit"], dice


@pytest.mark.slow
def test_resize_errors_name_the_mode_or_the_missing_field(resized_run, tmp_path):
    from tests.conftest import copy_run

    run_dir, _ = resized_run
    with pytest.raises(ConfigError, match="fit, scale, none"):
        load_model(run_dir, resize="stretch")
    old = copy_run(run_dir, tmp_path / "old")
    info = json.loads((old / "model.json").read_text())
    del info["input"]["train_long_side"]
    (old / "model.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match=r"input\.train_long_side"):
        load_model(old, resize="scale")
    assert load_model(old).resize == "fit"


LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy_runs" / "binary"


def _legacy_copy(tmp_path, **changes) -> Path:
    run = tmp_path / "run"
    shutil.copytree(LEGACY, run)
    card = {**json.loads((run / "model.json").read_text()), **changes}
    (run / "model.json").write_text(json.dumps(card))
    return run


def test_a_device_the_machine_lacks_is_refused_before_the_run_is_read(tmp_path, monkeypatch):
    from seglab.core import devices

    monkeypatch.setattr(devices, "cuda_count", lambda: 0)
    with pytest.raises(ConfigError, match="--device cuda:3: PyTorch sees no CUDA GPU"):
        load_model(tmp_path / "no-run-here", device="cuda:3")
    assert load_model(_legacy_copy(tmp_path), device="cpu").device.type == "cpu"


def test_every_card_error_of_the_loader_names_model_json_and_the_field(tmp_path):
    run = _legacy_copy(tmp_path, architecture="nope")
    with pytest.raises(DataError, match="unknown model 'nope'") as error:
        load_model(run)
    assert error.value.path == str(run / "model.json") and error.value.field == "architecture"


def test_a_preprocessing_step_seglab_cannot_rebuild_is_the_card_s_error(tmp_path):
    run = _legacy_copy(tmp_path, preprocess=[{"name": "clahe", "params": {"clip": 2}}])
    with pytest.raises(DataError, match="unknown parameter 'clip'") as error:
        load_model(run)
    assert error.value.path == str(run / "model.json") and error.value.field == "preprocess"


def test_weights_that_do_not_fit_the_card_name_both_files(tmp_path):
    run = _legacy_copy(tmp_path, options={"base_width": 8, "depth": 2})
    with pytest.raises(DataError, match=r"model\.json and model\.safetensors are not") as error:
        load_model(run)
    assert error.value.path == str(run / "model.safetensors")


@pytest.mark.parametrize("threshold", [1.5, -0.5, float("nan")])
def test_a_threshold_outside_0_1_is_refused_by_the_api_too(tmp_path, threshold):
    model = load_model(_legacy_copy(tmp_path))
    with pytest.raises(ConfigError, match="outside \\[0, 1\\]"):
        model.predict(np.zeros((8, 8, 3), np.uint8), threshold=threshold)
