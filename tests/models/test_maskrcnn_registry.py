"""Mask R-CNN in seglab's registry: built by name for any number of channels, at the size seglab
prepared (torchvision's resize off), rebuilt from a model card (meta-device probe included),
padded to a stride of 32."""

from __future__ import annotations

import pytest
import torch

from seglab.errors import ConfigError, DataError
from seglab.models import create_model, model_options
from seglab.models.build import build_network, size_multiple
from seglab.models.card import InputSpec, InstanceSpec, ModelCard

SMALL = {"backbone": "resnet18", "sizes": [8, 16, 32, 64, 128]}
FEW = {**SMALL, "detections_per_image": 10}  # an untrained head finds hundreds: slow masks


def _card(**changes) -> ModelCard:
    fields = {
        "architecture": "maskrcnn",
        "options": dict(SMALL),
        "in_channels": 1,
        "classes": ("background", "cell"),
        "task": "instance",
        "instance": InstanceSpec(method="maskrcnn"),
        "input": InputSpec(multiple=32),
    }
    return ModelCard(**{**fields, **changes})


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_any_channels_and_the_image_size_kept(channels):
    torch.manual_seed(0)
    net = create_model("maskrcnn", in_channels=channels, num_classes=2, **FEW).eval()
    assert net.backbone.body.conv1.in_channels == channels
    assert len(net.transform.image_mean) == channels
    with torch.no_grad():
        out = net([torch.rand(channels, 50, 70)])[0]
    # no resize inside: masks come back at the size the image went in, not at 800 px
    assert out["masks"].shape[1:] == (1, 50, 70)
    assert size_multiple(net) == 32


def test_group_norm_by_default_and_resize_when_both_sides_are_given():
    net = create_model("maskrcnn", num_classes=2, **FEW, min_size=64, max_size=64).eval()
    assert any(isinstance(m, torch.nn.GroupNorm) for m in net.backbone.modules())
    with torch.no_grad():
        out = net([torch.rand(3, 32, 48)])[0]
    assert out["masks"].shape[1:] == (1, 32, 48)  # resized to 64 inside, mapped back
    assert net.transform.min_size == (64,)


def test_options_are_the_builders_and_bad_values_are_config_errors():
    assert model_options("maskrcnn") == [
        "backbone", "norm", "sizes", "min_size", "max_size", "detections_per_image",
        "trainable_layers", "rois_per_image",
    ]  # fmt: skip
    assert "backbone" not in model_options("maskrcnn_v2")
    with pytest.raises(ConfigError, match="min_size and max_size go together"):
        create_model("maskrcnn", num_classes=2, backbone="resnet18", min_size=64)
    with pytest.raises(ConfigError, match="anchor sizes: whole numbers"):
        create_model("maskrcnn", num_classes=2, backbone="resnet18", sizes=[8, "a", 3, 4, 5])
    with pytest.raises(ConfigError, match="in_channels"):
        create_model("maskrcnn", in_channels=0, num_classes=2, backbone="resnet18")


def test_frozen_first_layers_stay_frozen_with_other_channels():
    net = create_model("maskrcnn", in_channels=1, num_classes=2, trainable_layers=2, **SMALL)
    assert not net.backbone.body.conv1.weight.requires_grad
    assert net.backbone.body.layer4[0].conv1.weight.requires_grad


def test_a_card_rebuilds_the_same_network():
    card = _card()
    torch.manual_seed(0)
    net = build_network(card)
    trained = create_model("maskrcnn", in_channels=1, num_classes=2, **SMALL)
    assert net.state_dict().keys() == trained.state_dict().keys()
    shapes = [tuple(v.shape) for v in trained.state_dict().values()]
    assert [tuple(v.shape) for v in net.state_dict().values()] == shapes
    net.load_state_dict(trained.state_dict())


def test_a_card_with_bad_anchor_sizes_names_the_option(tmp_path):
    with pytest.raises(DataError, match="anchor sizes") as caught:
        build_network(_card(options={**SMALL, "sizes": [8, 16]}), source=tmp_path / "model.json")
    assert "options.sizes" in str(caught.value)
    with pytest.raises(DataError, match=r"input\.multiple"):
        build_network(_card(input=InputSpec(multiple=16)))


@pytest.mark.parametrize(
    ("architecture", "task", "method", "field"),
    [("maskrcnn", "semantic", None, "task"), ("maskrcnn", "instance", "border", "instance.method"),
     ("unet", "instance", "maskrcnn", "instance.method")],
)  # fmt: skip
def test_a_card_pairs_mask_rcnn_with_its_method_only(architecture, task, method, field):
    from seglab.models.build import build_network
    from seglab.models.card import InstanceSpec, ModelCard

    card = ModelCard(
        architecture, 3, ("background", "cell"), task=task,
        instance=InstanceSpec(method=method) if method else None,
        options={"backbone": "resnet18"} if architecture == "maskrcnn" else {"base_width": 4},
    )  # fmt: skip
    with pytest.raises(DataError) as caught:
        build_network(card, source="model.json")
    assert caught.value.field == field
