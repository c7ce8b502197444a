"""Test-time augmentation: flips undone before averaging, equivariant predictions, good masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seglab.predict import load_model
from seglab.predict.tta import FLIPS, flip, tta_probabilities


@pytest.fixture(scope="module")
def model(tiny_run):
    return load_model(tiny_run[0])


def val_images(root, count=6):
    for i in range(count):
        image = np.asarray(Image.open(root / "val" / "images" / f"val{i}.png"))
        truth = np.asarray(Image.open(root / "val" / "masks" / f"val{i}.png")) > 0
        yield image, truth


def test_flips_flip_the_last_two_axes_and_undo_themselves():
    batch = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(flip(batch, "none"), batch)
    np.testing.assert_array_equal(flip(batch, "horizontal"), batch[..., ::-1])
    np.testing.assert_array_equal(flip(batch, "vertical"), batch[..., ::-1, :])
    np.testing.assert_array_equal(flip(batch, "both"), batch[..., ::-1, ::-1])
    for which in FLIPS:
        np.testing.assert_array_equal(flip(flip(batch, which), which), batch)
    with pytest.raises(ValueError, match="horizontal"):
        flip(batch, "diagonal")


def test_tta_undoes_each_flip_and_averages_in_one_call():
    batch = np.random.default_rng(0).random((3, 2, 4, 6)).astype(np.float32)
    calls = []

    def identity(b):
        calls.append(b.shape)
        return b

    np.testing.assert_allclose(tta_probabilities(identity, batch), batch, atol=1e-6)
    assert calls == [(12, 2, 4, 6)]  # the four flipped copies together

    def ramp(b):  # ignores its input: 0 on the left to 1 on the right
        return np.broadcast_to(np.linspace(0, 1, b.shape[-1], dtype=np.float32), b.shape)

    # un-flipping the horizontal copies reverses the ramp: the mean is flat
    np.testing.assert_allclose(tta_probabilities(ramp, batch), 0.5, atol=1e-6)


def test_tta_predictions_are_flip_equivariant(model, tiny_run):
    image, _ = next(val_images(tiny_run[1]))
    rect = np.ascontiguousarray(image[:, 4:28])  # 32 x 24: still a multiple of the stride
    for img in (image, rect):
        probs = model.predict_proba(img, tta=True)
        assert probs.shape == img.shape[:2]
        lr = model.predict_proba(np.ascontiguousarray(img[:, ::-1]), tta=True)
        ud = model.predict_proba(np.ascontiguousarray(img[::-1]), tta=True)
        np.testing.assert_allclose(lr, probs[:, ::-1], atol=1e-5)
        np.testing.assert_allclose(ud, probs[::-1], atol=1e-5)
    # without TTA the network alone is not equivariant: the check above is not vacuous
    plain = model.predict_proba(image)
    mirrored = model.predict_proba(np.ascontiguousarray(image[:, ::-1]))
    assert np.abs(mirrored - plain[:, ::-1]).max() > 1e-2


def test_tta_masks_are_still_good_and_tta_off_is_the_plain_network(model, tiny_run):
    for image, truth in val_images(tiny_run[1]):
        mask = model.predict(image, tta=True)
        assert mask.shape == truth.shape and mask.dtype == np.int64
        assert 2 * (mask.astype(bool) & truth).sum() / (mask.sum() + truth.sum()) > 0.8
        plain = model.to_probabilities(model.logits(model.prepare(image)[None]))[0, 0]
        np.testing.assert_array_equal(model.predict_proba(image), plain)
        np.testing.assert_array_equal(model.predict_proba(image, tta=False), plain)
        flips = model.prepare(image)[None]
        by_hand = np.mean(
            [flip(model.to_probabilities(model.logits(flip(flips, f).copy())), f) for f in FLIPS],
            axis=0,
        )[0, 0]
        np.testing.assert_allclose(model.predict_proba(image, tta=True), by_hand, atol=1e-5)
