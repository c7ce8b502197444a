"""Active-contour (Chen et al. 2019) and Mumford-Shah (Kim & Ye 2019) losses: known answers."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from seglab.errors import ConfigError
from seglab.losses import create_loss
from seglab.losses.contour import active_contour, mumford_shah
from tests.builders import tiny_train_settings, write_discs

SIZE = 32


def _disc(radius: float = 8.0) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    return (yy - 16) ** 2 + (xx - 16) ** 2 <= radius**2


def _logits(mask: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    """Near-hard binary logits N x 1 x H x W of a H x W boolean mask."""
    return (mask.float() * 2 - 1)[None, None] * scale


def _region(logits, target, **kw):
    """The region term alone: total minus the length term."""
    return active_contour(logits, target, **kw) - active_contour(
        logits, target, lambda_region=0.0, **kw
    )


# ----------------------------------------------------------------------------- active contour


def test_active_contour_region_term_is_zero_for_a_perfect_prediction():
    disc = _disc()
    target = disc.long()[None]
    assert float(_region(_logits(disc), target)) == pytest.approx(0.0, abs=1e-6)
    # a prediction shifted by 4 pixels pays for the pixels it gets wrong
    wrong = float(_region(_logits(torch.roll(disc, 4, dims=1)), target))
    assert wrong > 0.03


def test_active_contour_length_grows_with_a_jagged_boundary_of_equal_area():
    disc = _disc()
    area = int(disc.sum())
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    checker = ((yy + xx) % 2 == 0).flatten().nonzero()[:area, 0]
    jagged = torch.zeros(SIZE * SIZE, dtype=torch.bool)
    jagged[checker] = True
    jagged = jagged.view(SIZE, SIZE)
    assert int(jagged.sum()) == area
    target = disc.long()[None]
    smooth_len = float(active_contour(_logits(disc), target, lambda_region=0.0))
    jagged_len = float(active_contour(_logits(jagged), target, lambda_region=0.0))
    assert jagged_len > 5 * smooth_len
    # the disc's length is about its perimeter per pixel (2 pi r / H W, within finite-difference
    # error: forward differences measure a staircase between 1 and sqrt(2) times the circle)
    assert 2 * math.pi * 8 / SIZE**2 < smooth_len < 1.5 * 2 * math.pi * 8 / SIZE**2


def test_active_contour_gradients_are_finite_even_where_u_is_flat():
    for logits in (torch.zeros(2, 1, 16, 16), torch.randn(2, 1, 16, 16), torch.randn(2, 3, 16, 16)):
        logits.requires_grad_(True)
        c = logits.shape[1]
        target = torch.randint(0, max(c, 2), (2, 16, 16))
        active_contour(logits, target).backward()
        assert torch.isfinite(logits.grad).all()


def test_active_contour_ignored_pixels_change_nothing():
    g = torch.Generator().manual_seed(0)
    for c in (1, 3):
        logits = torch.randn(2, c, 16, 16, generator=g)
        target = torch.randint(0, max(c, 2), (2, 16, 16), generator=g)
        target[:, 4:9, 3:12] = 255
        base = active_contour(logits, target)
        changed = logits.clone()
        changed[:, :, 4:9, 3:12] = torch.randn(2, c, 5, 9, generator=g) * 50
        changed[0, :, 5, 5] = float("nan")
        changed.requires_grad_(True)
        value = active_contour(changed, target)
        assert float(value.detach()) == pytest.approx(float(base), abs=1e-6)
        value.backward()
        assert torch.isfinite(changed.grad).all()
        assert changed.grad[:, :, 4:9, 3:12].abs().sum() == 0


def test_active_contour_multiclass_averages_the_foreground_classes():
    disc, small = _disc(8), _disc(4)
    target = torch.where(small, 2, torch.where(disc, 1, 0))[None]
    logits = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float() * 40 - 20
    assert float(_region(logits, target)) == pytest.approx(0.0, abs=1e-6)
    # the mean of class 1's and class 2's binary losses
    one = active_contour(_logits(disc & ~small), (disc & ~small).long()[None])
    two = active_contour(_logits(small), small.long()[None])
    assert float(active_contour(logits, target)) == pytest.approx(float(one + two) / 2, rel=1e-4)


def test_active_contour_options_are_checked():
    with pytest.raises(ConfigError, match="lambda_region"):
        create_loss("active_contour", num_classes=1, lambda_region=-1)
    with pytest.raises(ConfigError, match="eps"):
        create_loss("active_contour", num_classes=1, eps=0)
    loss = create_loss("active_contour", num_classes=1, lambda_region=2.0)
    assert not loss.needs_image


# ----------------------------------------------------------------------------- Mumford-Shah


def _two_regions():
    """A 16 x 16 image: left half 0, right half 1, plus a little noise."""
    g = torch.Generator().manual_seed(0)
    image = torch.zeros(1, 1, 16, 16)
    image[..., 8:] = 1.0
    right = image[0, 0] > 0.5
    return image + 0.05 * torch.randn(1, 1, 16, 16, generator=g), right


def test_mumford_shah_prefers_the_prediction_that_matches_the_regions():
    image, right = _two_regions()
    matched = mumford_shah(_logits(right, 10.0), image=image)
    shifted = mumford_shah(_logits(torch.roll(right, 3, dims=1), 10.0), image=image)
    assert float(matched) < float(shifted)
    # and for softmax outputs of two classes, the same ordering
    two = torch.stack([~right, right]).float()[None] * 20 - 10
    assert float(mumford_shah(two, image=image)) < float(
        mumford_shah(torch.roll(two, 3, dims=3), image=image)
    )


def test_mumford_shah_region_means_by_hand():
    image = torch.tensor([[[[1.0, 3.0]]]])  # 1 x 1 x 1 x 2: no vertical neighbours, TV = 0
    # y = 0.5 everywhere: c_1 = c_2 = 2; sum_n sum (x - 2)^2 0.5 = 2, over 2 pixels: 1
    assert float(mumford_shah(torch.zeros(1, 1, 1, 2), image=image)) == pytest.approx(1.0)
    # y_1 = [0.75, 0.25]: c_1 = (0.75 + 0.75) / 1 = 1.5, c_2 = (0.25 + 2.25) / 1 = 2.5;
    # 0.75 * 0.25 + 0.25 * 2.25 + 0.25 * 2.25 + 0.75 * 0.25 = 1.5, over 2 pixels: 0.75
    logits = torch.tensor([[[[math.log(3), -math.log(3)]]]])
    assert float(mumford_shah(logits, image=image)) == pytest.approx(0.75, rel=1e-5)
    # two channels of the same image: the per-channel means are the same, the mean is too
    both = torch.cat([image, image], dim=1)
    assert float(mumford_shah(logits, image=both)) == pytest.approx(0.75, rel=1e-5)


def test_mumford_shah_total_variation_counts_the_boundary():
    image, right = _two_regions()
    flat = torch.zeros_like(image)  # no fitting term: only the TV is left
    value = float(mumford_shah(_logits(right, 30.0), image=flat, beta=1.0))
    # one vertical edge of 15 counted pixels, in both channels y and 1 - y, over 15 x 15 pairs
    assert value == pytest.approx(2 * 15 / 225, rel=1e-4)


def test_mumford_shah_ignored_pixels_and_gradients():
    g = torch.Generator().manual_seed(1)
    image = torch.randn(2, 3, 16, 16, generator=g)
    logits = torch.randn(2, 1, 16, 16, generator=g)
    target = torch.zeros(2, 16, 16, dtype=torch.long)
    target[:, :5, :7] = 255
    base = mumford_shah(logits, target, image=image)
    changed_logits, changed_image = logits.clone(), image.clone()
    changed_logits[:, :, :5, :7] = 100.0
    changed_image[:, :, :5, :7] = float("nan")
    changed_logits.requires_grad_(True)
    value = mumford_shah(changed_logits, target, image=changed_image)
    assert float(value.detach()) == pytest.approx(float(base), rel=1e-5)
    value.backward()
    assert torch.isfinite(changed_logits.grad).all()
    # unsupervised: no target at all
    assert torch.isfinite(mumford_shah(logits, image=image))


def test_registered_mumford_shah_needs_the_image_and_adds_a_weighted_term():
    image, right = _two_regions()
    target = right.long()[None]
    loss = create_loss("mumford_shah", num_classes=1, mumford_shah_weight=0.5)
    assert loss.needs_image
    with pytest.raises(ConfigError, match="needs the input image"):
        loss(_logits(right), target)
    total = loss(_logits(right, 3.0), target, image=image)
    assert set(loss.last_terms) == {"ce", "mumford_shah"}
    ms = mumford_shah(_logits(right, 3.0), target, image=image)
    assert float(loss.last_terms["mumford_shah"]) == pytest.approx(0.5 * float(ms), rel=1e-5)
    assert float(total) == pytest.approx(float(sum(loss.last_terms.values())), rel=1e-6)
    multi = create_loss("mumford_shah", num_classes=3, class_weights=[0.2, 1, 1])
    assert torch.isfinite(multi(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)),
                                image=torch.randn(2, 3, 8, 8)))  # fmt: skip
    with pytest.raises(ConfigError, match="mumford_shah_weight"):
        create_loss("mumford_shah", num_classes=1, mumford_shah_weight=-1)
    with pytest.raises(ConfigError, match="no option 'image'"):
        create_loss("mumford_shah", num_classes=1, image=1)


# ----------------------------------------------------------------------------- training


def _train_loss(run) -> float:
    with open(run / "metrics.csv", newline="") as f:
        return float(next(csv.DictReader(f))["train_loss"])


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["active_contour", "mumford_shah"])
@pytest.mark.parametrize("classes", [1, 2])
def test_contour_losses_train_a_tiny_unet(tmp_path, loss, classes):
    from seglab.api import train

    root = write_discs(tmp_path / "d", classes=classes, splits={"train": 4, "val": 2})
    settings = tiny_train_settings(root, tmp_path / "runs", epochs=1, loss=loss)
    result = train(print_fn=None, **settings)
    assert math.isfinite(_train_loss(result.run_dir))
