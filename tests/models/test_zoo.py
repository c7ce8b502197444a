"""smp and torchvision models: local encoder weights, no downloads, depths, sizes, activations."""

from __future__ import annotations

import time

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from seglab.errors import ConfigError
from seglab.models import create_model, input_multiple


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """An smp resnet18 encoder state dict saved as safetensors, and the state itself."""
    torch.manual_seed(3)
    state = create_model("smp.linknet").encoder.state_dict()
    path = tmp_path_factory.mktemp("weights") / "resnet18.safetensors"
    save_file(state, str(path))
    return path, state


def test_local_encoder_file_loads_into_a_fresh_model(resnet18_file):
    path, state = resnet18_file
    model = create_model("smp.unet", encoder_weights=str(path))
    loaded = model.encoder.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_pth_file_of_a_whole_model_loads_its_encoder_part(tmp_path, resnet18_file):
    _, state = resnet18_file
    path = tmp_path / "model.pth"
    torch.save({f"encoder.{k}": v for k, v in state.items()} | {"decoder.x": torch.ones(1)}, path)
    model = create_model("smp.deeplabv3plus", encoder_weights=path)
    assert torch.equal(model.encoder.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


def test_rgb_encoder_file_fits_a_one_channel_model(resnet18_file):
    path, state = resnet18_file
    model = create_model("smp.unet", in_channels=1, encoder_weights=path)
    torch.testing.assert_close(
        model.encoder.conv1.weight, state["conv1.weight"].sum(dim=1, keepdim=True)
    )
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_file_of_another_encoder_lists_the_mismatch(resnet18_file):
    path, _ = resnet18_file
    with pytest.raises(ConfigError, match=r"do not fit encoder 'resnet34': \d+ missing keys"):
        create_model("smp.unet", encoder="resnet34", encoder_weights=path)


@pytest.mark.parametrize(
    ("name", "option"),
    [
        ("smp.unet", "encoder_weights"),
        ("smp.segformer", "encoder_weights"),
        ("torchvision.deeplabv3_resnet50", "weights_backbone"),
    ],
)
def test_download_requests_fail_at_once_offline(name, option, tmp_path, monkeypatch):
    # offline and with empty caches, whatever this machine's network and caches hold
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="impossible here"):
        create_model(name, **{option: "imagenet"})
    assert time.perf_counter() - start < 2.0


def test_torchvision_backbone_loads_a_local_imagenet_classifier_file(tmp_path):
    from torchvision.models import mobilenet_v3_large

    torch.manual_seed(0)
    classifier = mobilenet_v3_large(weights=None).state_dict()
    path = tmp_path / "mobilenet_v3_large.pth"
    torch.save(classifier, path)
    model = create_model("torchvision.lraspp_mobilenet_v3_large", weights_backbone=path)
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, classifier[f"features.{key}"]), key


def test_torchvision_model_with_other_input_channels():
    model = create_model("torchvision.deeplabv3_mobilenet_v3_large", in_channels=4, num_classes=2)
    assert model(torch.randn(2, 4, 40, 56)).shape == (2, 2, 40, 56)


@pytest.mark.parametrize("name", ["smp.unet", "smp.unetplusplus", "smp.fpn", "smp.pspnet"])
@pytest.mark.parametrize("depth", [3, 4])
def test_shallower_encoders_still_give_full_size_logits(name, depth):
    model = create_model(name, encoder_depth=depth).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1, 64, 64)


def test_input_multiple_tells_how_to_pad():
    assert input_multiple(create_model("unet", base_width=4)) == 1
    assert input_multiple(create_model("smp.unet")) == 1  # smp's Unet resizes skips itself
    fpn = create_model("smp.fpn")
    assert input_multiple(fpn) == 32
    assert input_multiple(create_model("smp.fpn", encoder_depth=4)) == 16
    with pytest.raises(RuntimeError, match="divisible by 32"):
        fpn(torch.randn(1, 3, 48, 48))


def test_activation_reaches_timm_encoders_only():
    model = create_model("smp.unet", encoder="tu-resnet18", activation="silu")
    assert any(isinstance(m, nn.SiLU) for m in model.encoder.modules())
    assert not any(isinstance(m, nn.ReLU) for m in model.encoder.modules())
    with pytest.raises(ConfigError, match="needs a timm encoder such as 'tu-resnet18'"):
        create_model("smp.unet", activation="silu")
    with pytest.raises(ConfigError, match="unknown activation 'swish'"):
        create_model("smp.unet", encoder="tu-resnet18", activation="swish")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"encoder": "resnet19"}, "unknown encoder 'resnet19'; valid names: resnet18, "),
        ({"encoder": "tu-nonexistent_net"}, "not in timm.list_models"),
        ({"encoder_depth": 6}, "encoder_depth must be 3, 4 or 5"),
        ({"decoder_channels": (8, 8)}, "smp.unet with encoder 'resnet18'"),
        ({"classes": 3}, "does not take the option.*'classes'.*decoder_attention_type"),
    ],
)
def test_bad_smp_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        create_model("smp.unet", **options)


def test_smp_class_options_pass_through():
    model = create_model("smp.unet", decoder_attention_type="scse", decoder_channels=(16,) * 5)
    assert model.segmentation_head[0].in_channels == 16


def test_timm_classifier_file_loads_into_a_tu_encoder(tmp_path):
    import timm

    torch.manual_seed(0)
    classifier = timm.create_model("resnet18").state_dict()
    path = tmp_path / "model.safetensors"
    save_file(classifier, str(path))
    model = create_model("smp.fpn", encoder="tu-resnet18", encoder_weights=path)
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, classifier[key.removeprefix("model.")]), key
