"""Mask R-CNN as seglab builds it: random weights, crowded images, anchors from the data; it
trains a few steps on tiny images on a CPU without NaN and predicts."""

from __future__ import annotations

import itertools

import pytest
import torch

from seglab.errors import ConfigError
from seglab.models.maskrcnn import anchor_sizes, build_maskrcnn


def _sample(seed: int, size: int = 64) -> tuple[torch.Tensor, dict]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(3, size, size, generator=g) * 0.2
    boxes, masks = [], []
    for k in range(2):
        y, x = 8 + 28 * k, 10 + 24 * k
        mask = torch.zeros(size, size, dtype=torch.uint8)
        mask[y : y + 16, x : x + 16] = 1
        image[:, y : y + 16, x : x + 16] += 0.7
        masks.append(mask)
        boxes.append([x, y, x + 16, y + 16])
    target = {
        "boxes": torch.tensor(boxes, dtype=torch.float32),
        "labels": torch.ones(2, dtype=torch.int64),
        "masks": torch.stack(masks),
    }
    return image, target


def test_anchor_sizes_follow_the_objects():
    assert anchor_sizes([10, 12, 14, 16, 30]) == (11, 16, 24, 36, 55)  # p5 10.4 to 2 x p95 54.4
    small = anchor_sizes([4, 5, 6, 6, 7])
    assert small[0] == 5 and all(b <= 2 * a for a, b in itertools.pairwise(small))
    assert anchor_sizes([]) == (32, 64, 128, 256, 512)


@pytest.mark.parametrize("norm", ["frozen", "group"])
def test_a_small_mask_rcnn_trains_on_a_cpu_and_predicts(norm):
    torch.manual_seed(0)
    net = build_maskrcnn(2, backbone="resnet18", norm=norm, sizes=(8, 16, 32, 64, 128),
                         min_size=64, max_size=64)  # fmt: skip
    assert net.roi_heads.detections_per_img == 1000
    images, targets = zip(*(_sample(s) for s in range(2)), strict=True)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.005, momentum=0.9)
    net.train()
    for _ in range(3):
        losses = net(list(images), list(targets))
        total = sum(losses.values())
        assert torch.isfinite(total) and {"loss_mask", "loss_classifier"} <= set(losses)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        out = net([images[0]])[0]
    assert set(out) == {"boxes", "labels", "scores", "masks"}
    assert out["masks"].shape[1:] == (1, 64, 64)


def test_bad_choices_are_config_errors():
    with pytest.raises(ConfigError, match="backbone 'vgg'"):
        build_maskrcnn(2, backbone="vgg")
    with pytest.raises(ConfigError, match="v2 exists for resnet50 only"):
        build_maskrcnn(2, backbone="resnet18", variant="v2")
    with pytest.raises(ConfigError, match="one per FPN level"):
        build_maskrcnn(2, sizes=(8, 16))
