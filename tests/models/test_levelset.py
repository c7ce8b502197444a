"""LevelSetRefine: unrolled Chan-Vese steps move a shifted, noisy contour onto a bright disc."""

from __future__ import annotations

import pytest
import torch

from seglab.errors import ConfigError, DataError
from seglab.models.levelset import LevelSetRefine

SIZE = 48


def _disc_case(seed: int = 0):
    """A bright disc (radius 10) in noise, and a signed-distance logit of the disc shifted by
    (3, 4) pixels plus noise: the network's imperfect guess."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    disc = (yy - 24) ** 2 + (xx - 24) ** 2 <= 10**2
    image = (disc.float() + 0.15 * torch.randn(SIZE, SIZE, generator=g))[None, None]
    phi = 10 - torch.sqrt((yy - 27) ** 2 + (xx - 28) ** 2)
    phi = (phi + 0.5 * torch.randn(SIZE, SIZE, generator=g))[None, None]
    return image, phi, disc


def _iou(logits: torch.Tensor, truth: torch.Tensor) -> float:
    mask = (logits > 0)[0, 0]
    return float((mask & truth).sum() / (mask | truth).sum())


def test_refinement_raises_the_iou_with_the_true_disc():
    image, phi, disc = _disc_case()
    before = _iou(phi, disc)
    refined = LevelSetRefine()(phi, image)
    assert refined.shape == phi.shape
    assert torch.isfinite(refined).all()
    assert _iou(refined, disc) > before + 0.05
    # more steps go further: the evolution keeps moving toward the disc
    longer = LevelSetRefine(iterations=10)(phi, image)
    assert _iou(longer, disc) > _iou(refined, disc)


def test_three_channel_image_and_a_batch():
    image, phi, disc = _disc_case(1)
    batch_image = image.expand(2, 3, SIZE, SIZE).clone()
    out = LevelSetRefine()(phi.expand(2, 1, SIZE, SIZE), batch_image)
    assert out.shape == (2, 1, SIZE, SIZE)
    assert _iou(out[:1], disc) > _iou(phi, disc)


def test_gradients_reach_logits_and_image():
    image, phi, _ = _disc_case()
    phi = phi.clone().requires_grad_(True)
    image = image.clone().requires_grad_(True)
    LevelSetRefine(iterations=3)(phi, image).sigmoid().sum().backward()
    assert torch.isfinite(phi.grad).all() and phi.grad.abs().sum() > 0
    assert torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0


def test_zero_iterations_is_the_identity():
    image, phi, _ = _disc_case()
    assert torch.equal(LevelSetRefine(iterations=0)(phi, image), phi)


def test_bad_options_and_shapes():
    with pytest.raises(ConfigError, match="dt"):
        LevelSetRefine(dt=0)
    with pytest.raises(ConfigError, match="iterations"):
        LevelSetRefine(iterations=-1)
    with pytest.raises(DataError, match="binary"):
        LevelSetRefine()(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(DataError, match="does not match"):
        LevelSetRefine()(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 4, 8))
