"""Losses: hand-computed answers, the seed's BCEDiceLoss, ignore_index, weights, registry."""

from __future__ import annotations

import math

import pytest
import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F

from seglab.errors import ConfigError, DataError
from seglab.losses import (
    LOSSES,
    bce,
    bce_dice,
    ce_dice,
    create_loss,
    cross_entropy,
    dice_loss,
    focal,
    jaccard,
    lovasz,
    tversky,
)

# ----------------------------------------------------------------------------- helpers


def _batch(num_classes: int, *, seed: int = 0, n: int = 2, h: int = 6, w: int = 7, ignore=0.2):
    """Random logits and a target with every class present and a share of ignored pixels."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, num_classes, h, w, generator=g)
    classes = max(num_classes, 2)
    target = torch.randint(0, classes, (n, h, w), generator=g)
    target.view(-1)[:classes] = torch.arange(classes)  # every class at least once
    target[torch.rand(n, h, w, generator=g) < ignore] = 255
    target.view(-1)[:classes] = torch.arange(classes)
    return logits, target


# the seed's loss (its notebook's `lib`): f_score / DiceLoss / BCEDiceLoss, re-implemented from
# its definition. With activation=None it takes the probabilities the seed's U-Net returned.
def _seed_f_score(pr, gt, beta=1, eps=1e-7, threshold=None, activation="sigmoid"):
    pr = torch.sigmoid(pr) if activation == "sigmoid" else pr
    if threshold is not None:
        pr = (pr > threshold).float()
    tp = torch.sum(gt * pr)
    fp = torch.sum(pr) - tp
    fn = torch.sum(gt) - tp
    return ((1 + beta**2) * tp + eps) / ((1 + beta**2) * tp + beta**2 * fn + fp + eps)


def _seed_bce_dice(y_pr, y_gt, eps=1e-7, activation="sigmoid"):
    dice = 1 - _seed_f_score(y_pr, y_gt, beta=1.0, eps=eps, activation=activation)
    bce_fn = torch.nn.BCELoss() if activation is None else torch.nn.BCEWithLogitsLoss()
    return dice + bce_fn(y_pr, y_gt)


# ----------------------------------------------------------------------------- known answers


def test_hand_computed_2x2():
    logits = torch.zeros(1, 1, 2, 2)  # p = 0.5 everywhere
    target = torch.tensor([[[1, 0], [0, 0]]])
    # I = 0.5, P = 2, T = 1
    assert bce(logits, target).item() == pytest.approx(math.log(2))
    assert dice_loss(logits, target, eps=0.0).item() == pytest.approx(1 - 1 / 3)
    assert dice_loss(logits, target, eps=1.0).item() == pytest.approx(1 - 2 / 4)
    assert jaccard(logits, target, eps=0.0).item() == pytest.approx(1 - 0.5 / 2.5)
    assert bce_dice(logits, target).item() == pytest.approx(math.log(2) + 0.5)
    # tversky alpha=0.3, beta=0.7: FP = 1.5, FN = 0.5 -> 0.5 / (0.5 + 0.45 + 0.35)
    assert tversky(logits, target, eps=0.0).item() == pytest.approx(1 - 0.5 / 1.3)


def test_perfect_and_all_wrong_logits():
    target = torch.tensor([[[1, 0, 1], [0, 1, 0]]])
    perfect = (target.float() * 2 - 1).unsqueeze(1) * 30
    for fn in (dice_loss, jaccard, tversky):
        assert fn(perfect, target, eps=0.0).item() == pytest.approx(0.0, abs=1e-6)
        assert fn(-perfect, target, eps=0.0).item() == pytest.approx(1.0, abs=1e-6)
    assert bce(perfect, target).item() == pytest.approx(0.0, abs=1e-6)
    assert bce(-perfect, target).item() == pytest.approx(30.0, rel=1e-4)
    assert lovasz(perfect, target).item() == pytest.approx(0.0)
    assert lovasz(-perfect, target).item() > 1
    assert bce_dice(-perfect, target).item() > 30


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bce_dice_reproduces_the_seed(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 1, 8, 9, generator=g) * 3
    target = (torch.rand(3, 8, 9, generator=g) < 0.3).long()
    ours = bce_dice(logits, target, eps=1.0)
    y = target.float().unsqueeze(1)
    # the seed: BCEDiceLoss(eps=1.0, activation=None) on the U-Net's sigmoid output
    seed_loss = _seed_bce_dice(torch.sigmoid(logits), y, eps=1.0, activation=None)
    torch.testing.assert_close(ours, seed_loss, rtol=1e-5, atol=1e-6)
    # the same loss fed logits with activation="sigmoid"
    torch.testing.assert_close(ours, _seed_bce_dice(logits, y, eps=1.0), rtol=1e-6, atol=1e-6)
    dice_term = 1 - _seed_f_score(torch.sigmoid(logits), y, eps=1.0, activation=None)
    torch.testing.assert_close(dice_loss(logits, target), dice_term)
    loss = create_loss("bce_dice", num_classes=1)
    torch.testing.assert_close(loss(logits, target), ours)
    assert set(loss.last_terms) == {"bce", "dice"}
    torch.testing.assert_close(loss.last_terms["dice"], dice_term)


# ----------------------------------------------------------------------------- ignore_index

# every registered loss, with binary (1) and multiclass (3) logits where it takes them
_CASES = [
    (name, c)
    for name, spec in LOSSES.items()
    for c in (1, 3)
    if ("binary" if c == 1 else "multiclass") in spec.modes
]


def _call(loss, logits, target):
    """``loss(logits, target)``, with a fixed input image for a loss that needs one."""
    if not loss.needs_image:
        return loss(logits, target)
    image = torch.randn(
        logits.shape[0], 3, *logits.shape[2:], generator=torch.Generator().manual_seed(0)
    )
    return loss(logits, target, image=image)


@pytest.mark.parametrize(("name", "num_classes"), _CASES)
def test_ignored_pixels_change_neither_value_nor_gradient(name, num_classes):
    loss = create_loss(name, num_classes=num_classes)
    logits, target = _batch(num_classes, seed=3)
    ignored = (target == 255).unsqueeze(1).expand_as(logits)
    assert ignored.any()

    a = logits.clone().requires_grad_(True)
    value_a = _call(loss, a, target)
    value_a.backward()
    changed = logits.clone()
    changed[ignored] = torch.tensor([1e4, -1e4, float("nan"), float("inf")]).repeat(
        ignored.sum().item() // 4 + 1
    )[: ignored.sum().item()]
    b = changed.requires_grad_(True)
    value_b = _call(loss, b, target)
    value_b.backward()

    assert torch.isfinite(value_a)
    torch.testing.assert_close(value_a, value_b)
    assert (a.grad[ignored] == 0).all() and (b.grad[ignored] == 0).all()
    torch.testing.assert_close(a.grad, b.grad)
    assert a.grad.abs().sum() > 0


@pytest.mark.parametrize(("name", "num_classes"), _CASES)
def test_all_ignored_gives_zero_not_nan(name, num_classes):
    logits = torch.randn(2, num_classes, 3, 3, requires_grad=True)
    target = torch.full((2, 3, 3), 255)
    value = _call(create_loss(name, num_classes=num_classes), logits, target)
    value.backward()
    assert value.item() == 0.0
    assert (logits.grad == 0).all()


def test_ignore_index_none_counts_every_pixel():
    logits, target = _batch(1, seed=4, ignore=0.0)
    target[0, 0, 0] = 255  # with ignore_index=None this is foreground (!= 0)
    expected = bce(logits, torch.where(target == 255, 1, target))
    torch.testing.assert_close(bce(logits, target, ignore_index=None), expected)


# ----------------------------------------------------------------------------- weights


def test_pos_weight_raises_the_weight_of_foreground():
    logits = torch.full((1, 1, 4, 4), -2.0, requires_grad=True)  # predicts background
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, 0, 0] = 1  # one small object
    plain = bce(logits, target)
    weighted = bce(logits, target, pos_weight=10.0)
    assert weighted > plain
    (g_plain,) = torch.autograd.grad(plain, logits)
    (g_weighted,) = torch.autograd.grad(weighted, logits)
    assert g_weighted[0, 0, 0, 0] == pytest.approx(10 * g_plain[0, 0, 0, 0].item())
    torch.testing.assert_close(g_weighted[0, 0, 1:], g_plain[0, 0, 1:])  # background unchanged
    assert focal(logits, target, pos_weight=10.0) > focal(logits, target)
    assert create_loss("bce_dice", num_classes=1, pos_weight=10.0)(logits, target) > bce_dice(
        logits, target
    )


def test_class_weights_weigh_the_badly_predicted_class():
    logits = torch.zeros(1, 3, 2, 2)
    logits[:, 0] = 3.0  # everything predicted as background
    target = torch.tensor([[[0, 0], [1, 2]]])
    heavy = [1.0, 10.0, 10.0]
    for fn in (cross_entropy, focal, dice_loss, jaccard, tversky, ce_dice):
        assert fn(logits, target, class_weights=heavy) > fn(logits, target), fn.__name__


def test_multiclass_dice_by_hand_and_background_weight_zero():
    logits = torch.zeros(1, 3, 2, 2)  # p = 1/3 for each class everywhere
    target = torch.tensor([[[0, 0], [1, 2]]])
    # Dice per class (eps=0): background (4/3) / (10/3) = 0.4; classes 1, 2: (2/3) / (7/3)
    per_class = torch.tensor([0.4, 2 / 7, 2 / 7])
    assert dice_loss(logits, target, eps=0.0).item() == pytest.approx(1 - per_class.mean().item())
    without_background = dice_loss(logits, target, eps=0.0, class_weights=[0, 1, 1])
    assert without_background.item() == pytest.approx(1 - 2 / 7)


def test_cross_entropy_matches_torch_with_weights_and_ignore():
    logits, target = _batch(4, seed=5)
    w = [0.5, 1.0, 2.0, 3.0]
    expected = F.cross_entropy(logits, target, weight=torch.tensor(w), ignore_index=255)
    torch.testing.assert_close(cross_entropy(logits, target, class_weights=w), expected)


def test_ce_dice_is_the_sum_of_its_terms():
    logits, target = _batch(3, seed=6)
    loss = create_loss("ce_dice", num_classes=3, class_weights=[0.2, 1, 1], eps=0.5)
    total = loss(logits, target)
    ce = cross_entropy(logits, target, class_weights=[0.2, 1, 1])
    dl = dice_loss(logits, target, class_weights=[0.2, 1, 1], eps=0.5)
    torch.testing.assert_close(total, ce + dl)
    torch.testing.assert_close(loss.last_terms["ce"], ce)
    torch.testing.assert_close(loss.last_terms["dice"], dl)
    torch.testing.assert_close(ce_dice(logits, target, class_weights=[0.2, 1, 1], eps=0.5), total)


# ----------------------------------------------------------------------------- relations


@pytest.mark.parametrize("num_classes", [1, 3])
def test_tversky_generalises_dice_and_jaccard(num_classes):
    logits, target = _batch(num_classes, seed=7)
    t = tversky(logits, target, alpha=0.5, beta=0.5, eps=0.5)
    torch.testing.assert_close(t, dice_loss(logits, target, eps=1.0))
    torch.testing.assert_close(
        tversky(logits, target, alpha=0.5, beta=0.5, eps=0.0), dice_loss(logits, target, eps=0.0)
    )
    torch.testing.assert_close(
        tversky(logits, target, alpha=1, beta=1, eps=1.0), jaccard(logits, target, eps=1.0)
    )
    # beta > alpha punishes missed foreground: an under-segmenting prediction costs more
    under = torch.full_like(logits[:, :1], -3.0)
    binary = torch.where(target == 255, 255, (target != 0).long())
    assert tversky(under, binary, alpha=0.3, beta=0.7) > tversky(under, binary, alpha=0.7, beta=0.3)


def test_focal_reduces_to_cross_entropy_and_down_weights_easy_pixels():
    logits, target = _batch(1, seed=8)
    torch.testing.assert_close(
        focal(logits, target, gamma=0.0, pos_weight=3.0), bce(logits, target, pos_weight=3.0)
    )
    assert focal(logits, target) < bce(logits, target)
    logits, target = _batch(3, seed=8)
    w = [1.0, 2.0, 0.5]
    torch.testing.assert_close(
        focal(logits, target, gamma=0.0, class_weights=w),
        cross_entropy(logits, target, class_weights=w),
    )
    assert focal(logits, target) < cross_entropy(logits, target)


def test_agrees_with_smp_where_definitions_coincide():
    logits, target = _batch(1, seed=9)
    ref = smp.losses.FocalLoss("binary", gamma=2.0, ignore_index=255)(logits, target.unsqueeze(1))
    torch.testing.assert_close(focal(logits, target), ref)
    for ours, theirs in (
        # smp 0.6 smooths Dice in Tversky form: its smooth=0.5 is our eps=1.0
        (dice_loss, smp.losses.DiceLoss("binary", smooth=0.5, ignore_index=255, eps=0)),
        (jaccard, smp.losses.JaccardLoss("binary", smooth=1.0, eps=0)),
    ):
        t = target.clone()
        if ours is jaccard:  # smp's JaccardLoss has no ignore_index: compare without
            t[t == 255] = 0
        torch.testing.assert_close(ours(logits, t, eps=1.0), theirs(logits, t.unsqueeze(1)))
    smp_tversky = smp.losses.TverskyLoss(
        "binary", smooth=1.0, ignore_index=255, alpha=0.3, beta=0.7
    )
    torch.testing.assert_close(tversky(logits, target), smp_tversky(logits, target.unsqueeze(1)))
    for c, mode in ((1, "binary"), (3, "multiclass")):
        logits, target = _batch(c, seed=10)
        for per_image in (False, True):
            ref = smp.losses.LovaszLoss(mode, per_image=per_image, ignore_index=255)
            torch.testing.assert_close(
                lovasz(logits, target, per_image=per_image), ref(logits, target)
            )


def test_half_precision_logits_give_float32_losses():
    logits, target = _batch(3, seed=11)
    value = create_loss("ce_dice", num_classes=3)(logits.bfloat16(), target)
    assert value.dtype == torch.float32


def test_target_with_channel_axis_is_accepted():
    logits, target = _batch(1, seed=12)
    torch.testing.assert_close(bce_dice(logits, target.unsqueeze(1)), bce_dice(logits, target))


# ----------------------------------------------------------------------------- errors


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ConfigError, match=r"did you mean 'dice'.*valid names: bce, cross_entropy"):
        create_loss("dcie", num_classes=1)


def test_bad_option_names_valid_ones():
    with pytest.raises(ConfigError, match=r"no option 'smooth'.*valid options: eps, ignore_index"):
        create_loss("bce_dice", num_classes=1, smooth=1.0)
    with pytest.raises(ConfigError, match=r"no option 'pos_weight'.*tversky"):
        create_loss("dice", num_classes=1, pos_weight=3.0)


@pytest.mark.parametrize(
    ("name", "num_classes", "options", "message"),
    [
        ("bce", 3, {}, "use 'cross_entropy'"),
        ("bce_dice", 2, {}, "use 'ce_dice'"),
        ("ce_dice", 1, {}, "use 'bce_dice'"),
        ("dice", 3, {"class_weights": [1, 1]}, "one weight per class"),
        ("dice", 1, {"class_weights": [1, 1]}, "for binary logits.*pos_weight"),
        ("focal", 3, {"pos_weight": 2.0}, "use class_weights"),
        ("ce_dice", 3, {"pos_weight": 2.0}, "use class_weights"),
        ("bce", 1, {"pos_weight": -1.0}, "pos_weight must be > 0"),
        ("cross_entropy", 2, {"class_weights": [-1, 1]}, ">= 0"),
        ("focal", 1, {"gamma": -1.0}, "gamma must be >= 0"),
        ("tversky", 1, {"alpha": 0, "beta": 0}, "not both 0"),
        ("dice", 1, {"eps": -1}, "eps must be >= 0"),
        ("dice", 0, {}, "num_classes must be an integer >= 1"),
    ],
)
def test_bad_configs_say_how_to_fix(name, num_classes, options, message):
    with pytest.raises(ConfigError, match=message):
        create_loss(name, num_classes=num_classes, **options)


def test_bad_inputs_are_named():
    loss = create_loss("ce_dice", num_classes=3)
    logits, target = _batch(3, seed=13)
    with pytest.raises(ConfigError, match="created for num_classes=3"):
        loss(logits[:, :2], target)
    with pytest.raises(DataError, match=r"mask.long\(\)"):
        loss(logits, target.float())
    with pytest.raises(DataError, match="nearest"):
        loss(logits, target[:, :-1])
    bad = target.clone()
    bad[0, 0, 0] = 7
    with pytest.raises(DataError, match=r"class indices \[7\] outside 0..2"):
        loss(logits, bad)


def test_module_weights_follow_the_module_and_stay_out_of_checkpoints():
    loss = create_loss("cross_entropy", num_classes=2, class_weights=[1, 3])
    assert loss.class_weights.tolist() == [1.0, 3.0]
    assert loss.state_dict() == {}
    loss = loss.to(torch.float64)  # buffers move with the module
    logits, target = _batch(2, seed=14)
    torch.testing.assert_close(
        loss(logits, target), cross_entropy(logits, target, class_weights=[1, 3])
    )
    assert "class_weights=[1.0, 3.0]" in repr(loss)
