"""The convolutional CRF (Teichmann and Cipolla, BMVC 2019): the issue's known answer (labels
snap to the image edge), fixed points, normalisation, gradients and shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from seglab.models.crf import ConvCRF, crf_refine, image_scale

SIZE, EDGE = 64, 32


def _two_regions(shift: int = 4, seed: int = 0):
    """A dark left half and a bright right half (the true edge at column ``EDGE``), and noisy
    foreground probabilities whose boundary is blurred and ``shift`` columns to the left."""
    rng = np.random.default_rng(seed)
    image = np.full((SIZE, SIZE, 3), 60.0)
    image[:, EDGE:] = 190.0
    image = np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
    truth = np.zeros((SIZE, SIZE), dtype=bool)
    truth[:, EDGE:] = True
    shifted = np.zeros((SIZE, SIZE), dtype=np.float32)
    shifted[:, EDGE - shift :] = 1.0
    probs = gaussian_filter(shifted, 3) * 0.8 + 0.1 + rng.normal(0, 0.2, shifted.shape)
    return image, np.clip(probs, 0.01, 0.99).astype(np.float32), truth


def _boundary(mask: np.ndarray) -> int:
    """The first column where most rows are foreground."""
    return int(np.flatnonzero(mask.mean(0) > 0.5)[0])


def test_boundary_moves_onto_the_image_edge():
    image, probs, truth = _two_regions()
    before = int(((probs > 0.5) != truth).sum())
    refined = crf_refine(probs, image)
    after = int(((refined > 0.5) != truth).sum())
    assert before > 200  # the shifted boundary and the noise
    assert after < before / 10
    assert _boundary(refined > 0.5) == EDGE
    assert _boundary(probs > 0.5) < EDGE


def test_three_classes_snap_to_their_edges():
    image, fg, truth = _two_regions(seed=1)
    probs = np.stack([1 - fg, fg * 0.6, fg * 0.4])  # class 1 wins on the right
    refined = crf_refine(probs, image)
    assert refined.shape == probs.shape
    assert np.allclose(refined.sum(0), 1, atol=1e-5)
    mask = refined.argmax(0)
    assert int(((mask == 1) != truth).sum()) < int(((probs.argmax(0) == 1) != truth).sum()) / 10


def test_uniform_image_and_confident_probabilities_stay():
    image = np.full((SIZE, SIZE, 3), 128, dtype=np.uint8)
    probs = np.full((SIZE, SIZE), 0.05, dtype=np.float32)
    probs[:, EDGE:] = 0.95
    refined = crf_refine(probs, image)
    assert np.array_equal(refined > 0.5, probs > 0.5)


def test_output_sums_to_one_and_binary_shape():
    image, probs, _ = _two_regions()
    crf = ConvCRF(2)
    scores = torch.from_numpy(probs)[None, None]
    out = crf(scores, torch.from_numpy(image_scale(image))[None])
    assert out.shape == (1, 2, SIZE, SIZE)
    assert torch.allclose(out.sum(1), torch.ones(1, SIZE, SIZE), atol=1e-5)
    assert crf_refine(probs, image).shape == probs.shape


def test_logits_and_odd_sizes():
    crf = ConvCRF(3, blur=2)
    logits = torch.randn(2, 3, 37, 45)
    out = crf(logits, torch.rand(2, 1, 37, 45) * 255, logits=True)
    assert out.shape == (2, 3, 37, 45)
    assert torch.isfinite(out).all()


def test_gradients_reach_the_learnable_weights():
    image, probs, _ = _two_regions()
    crf = ConvCRF(2, iterations=2)
    logits = torch.logit(torch.from_numpy(probs))[None, None].requires_grad_(True)
    out = crf(logits, torch.from_numpy(image_scale(image))[None], logits=True)
    loss = -torch.log(out[:, 1, :, EDGE:] + 1e-6).mean()
    loss.backward()
    for param in (crf.appearance_weight, crf.smoothness_weight, crf.compatibility):
        assert param.grad is not None and torch.isfinite(param.grad).all()
    assert float(crf.appearance_weight.grad.abs()) > 0
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_refuses_bad_options_and_shapes():
    with pytest.raises(ValueError, match="filter_size"):
        ConvCRF(2, filter_size=4)
    with pytest.raises(ValueError, match="differ in size"):
        crf_refine(np.zeros((8, 8), np.float32), np.zeros((9, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="classes"):
        ConvCRF(2)(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))


def test_image_scale():
    assert image_scale(np.full((2, 2), 65535, np.uint16)).max() == pytest.approx(255)
    assert image_scale(np.ones((2, 2, 3), np.float32)).max() == pytest.approx(255)
    assert image_scale(np.zeros((2, 3, 4), np.uint8)).shape == (4, 2, 3)
