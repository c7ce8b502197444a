"""Hub weights names ("imagenet"...): the libraries' caches, downloads, and failing fast offline.

No test touches the network: the caches are temporary folders laid out as huggingface_hub and
torch.hub lay them out, connections are refused or made to hang, and the one download is served
from 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading
import time
from functools import partial
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from seglab.errors import ConfigError
from seglab.models import create_model, hub
from seglab.models.hub import UrlFile, resolve_weights


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty torch hub and Hugging Face caches in ``tmp_path``, no offline switch, no proxy,
    and no network: a connection attempt fails at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    def refuse(address, *args, **kwargs):
        if address[0] in ("127.0.0.1", "localhost"):
            return real(address, *args, **kwargs)
        raise OSError(f"test: no network to {address}")

    real = socket.create_connection
    monkeypatch.setattr(socket, "create_connection", refuse)
    return tmp_path


def put_in_hf_cache(root, repo_id, filename, state, *, revision=None):
    """Save ``state`` where huggingface_hub caches ``repo_id/filename``: the blob under its
    sha256, a snapshot symlink under the commit, and ``refs/main`` when no revision is pinned."""
    repo = root / "hf" / "hub" / f"models--{repo_id.replace('/', '--')}"
    commit = revision or "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    staged = repo / "staged"
    save_file(state, str(staged))
    blob = repo / "blobs" / hashlib.sha256(staged.read_bytes()).hexdigest()
    staged.rename(blob)
    (snapshot / filename).symlink_to(os.path.relpath(blob, snapshot))
    if revision is None:
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(commit)


def test_smp_imagenet_comes_from_the_hugging_face_cache(caches):
    import segmentation_models_pytorch as smp

    settings = smp.encoders.encoders["resnet18"]["pretrained_settings"]["imagenet"]
    torch.manual_seed(1)
    state = smp.encoders.get_encoder("resnet18").state_dict()
    state["fc.weight"], state["fc.bias"] = torch.ones(1000, 512), torch.ones(1000)
    put_in_hf_cache(
        caches, settings["repo_id"], "model.safetensors", state, revision=settings["revision"]
    )
    model = create_model("smp.unet", encoder_weights="imagenet")
    assert torch.equal(model.encoder.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.encoder.layer4[1].bn2.running_mean, state["layer4.1.bn2.running_mean"])


def test_timm_classifier_in_the_hugging_face_cache_loads_into_a_tu_encoder(caches):
    import timm

    torch.manual_seed(2)
    classifier = timm.create_model("test_efficientnet").state_dict()
    assert {"conv_head.weight", "bn2.weight", "classifier.weight"} <= classifier.keys()
    cfg = timm.models.get_pretrained_cfg("test_efficientnet")
    put_in_hf_cache(caches, cfg.hf_hub_id, "model.safetensors", classifier)
    model = create_model(
        "smp.unet", encoder="tu-test_efficientnet", encoder_depth=3, encoder_weights="imagenet"
    )
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, classifier[key.removeprefix("model.")]), key


def test_torchvision_backbone_comes_from_the_torch_hub_cache(caches):
    from torchvision.models import MobileNet_V3_Large_Weights, mobilenet_v3_large

    torch.manual_seed(3)
    classifier = mobilenet_v3_large(weights=None).state_dict()
    url = MobileNet_V3_Large_Weights.DEFAULT.url
    path = caches / "torch" / "hub" / "checkpoints" / url.rsplit("/", 1)[1]
    path.parent.mkdir(parents=True)
    torch.save(classifier, path)
    model = create_model("torchvision.lraspp_mobilenet_v3_large", weights_backbone="imagenet")
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, classifier[f"features.{key}"]), key


@pytest.mark.parametrize("offline", ["env", "refused", "hanging"])
def test_offline_fails_at_once_naming_the_caches(caches, monkeypatch, offline):
    import segmentation_models_pytorch  # noqa: F401  (imported before the clock starts)

    if offline == "env":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    elif offline == "hanging":  # a connection (or name lookup) that never answers
        release = threading.Event()

        def hang(*args, **kwargs):
            release.wait(60)
            raise OSError("test: released")

        monkeypatch.setattr(socket, "create_connection", hang)
        monkeypatch.setattr(hub, "CONNECT_TIMEOUT", 0.5)
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        create_model("smp.unet", encoder_weights="imagenet")
    assert time.perf_counter() - start < 3.0
    if offline == "hanging":
        release.set()
    message = str(info.value)
    assert message.startswith("encoder_weights='imagenet' for encoder 'resnet18'")
    assert "a download is impossible here" in message
    assert {"env": "HF_HUB_OFFLINE", "refused": "within 5 s", "hanging": "within 0.5 s"}[
        offline
    ] in message
    assert f"Hugging Face cache {caches / 'hf' / 'hub'}" in message
    assert "smp-hub/resnet18.imagenet" in message
    assert "--encoder-weights PATH" in message


def test_offline_torchvision_names_the_torch_hub_folder(caches, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="a download is impossible here") as info:
        create_model("torchvision.lraspp_mobilenet_v3_large", weights_backbone="DEFAULT")
    assert str(caches / "torch" / "hub" / "checkpoints" / "mobilenet_v3_large-") in str(info.value)


@pytest.mark.parametrize(
    ("model", "options", "names"),
    [
        ("smp.unet", {}, "'imagenet', 'ssl', 'swsl'"),
        ("smp.unet", {"encoder": "tu-test_efficientnet"}, "r160_in1k"),
        ("torchvision.lraspp_mobilenet_v3_large", {}, "IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT"),
    ],
)
def test_unknown_names_list_the_valid_ones(caches, model, options, names):
    option = "weights_backbone" if model.startswith("torchvision") else "encoder_weights"
    with pytest.raises(ConfigError, match=f"{option}='nope': no such file") as info:
        create_model(model, **options, **{option: "nope"})
    assert names in str(info.value)


def test_hub_download_when_online_uses_a_short_timeout(caches, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    torch.manual_seed(4)
    state = create_model("smp.linknet").encoder.state_dict()
    calls = []

    def fake_download(repo_id, filename, **options):
        if options.get("local_files_only"):
            raise LocalEntryNotFoundError("not cached")
        calls.append((repo_id, filename, options))
        path = Path(options["cache_dir"]) / "downloaded.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(state, str(path))
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(hub, "_answers", lambda url, *, timeout: True)
    model = create_model("smp.fpn", encoder_weights="ssl")
    assert torch.equal(model.encoder.conv1.weight, state["conv1.weight"])
    [(repo_id, filename, options)] = calls
    assert (repo_id, filename) == ("smp-hub/resnet18.ssl", "model.safetensors")
    assert options["etag_timeout"] == hub.CONNECT_TIMEOUT
    assert Path(options["cache_dir"]) == caches / "hf" / "hub"


def test_url_download_lands_in_the_torch_hub_cache_checked(caches, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    data = b"weights" * 1000
    digest = hashlib.sha256(data).hexdigest()[:8]
    (served / f"net-{digest}.pth").write_bytes(data)
    (served / "net-deadbeef.pth").write_bytes(data)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        path = resolve_weights(
            "imagenet",
            option="o",
            what="w",
            sources=lambda _: [UrlFile(f"{base}/net-{digest}.pth")],
        )
        assert path == caches / "torch" / "hub" / "checkpoints" / f"net-{digest}.pth"
        assert path.read_bytes() == data
        with pytest.raises(ConfigError, match="sha256 does not start with 'deadbeef'"):
            resolve_weights(
                "imagenet",
                option="o",
                what="w",
                sources=lambda _: [UrlFile(f"{base}/net-deadbeef.pth")],
            )
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no partial file
    finally:
        server.shutdown()
        server.server_close()


def test_classification_file_missing_an_encoder_key_names_file_and_key(tmp_path):
    torch.manual_seed(5)
    state = create_model("smp.linknet").encoder.state_dict()
    state |= {
        "fc.weight": torch.zeros(10, 512),
        "conv_head.weight": torch.zeros(8, 512, 1, 1),
        "bn2.weight": torch.zeros(8),
        "bn2.running_mean": torch.zeros(8),
        "classifier.weight": torch.zeros(10, 8),
        "classifier.bias": torch.zeros(10),
    }
    path = tmp_path / "classifier.pth"
    torch.save(state, path)
    model = create_model("smp.unet", encoder_weights=path)
    assert torch.equal(model.encoder.layer3[0].conv1.weight, state["layer3.0.conv1.weight"])
    del state["layer3.0.conv1.weight"]
    torch.save(state, path)
    with pytest.raises(ConfigError) as info:
        create_model("smp.unet", encoder_weights=path)
    assert str(info.value).startswith(f"{path}: the weights do not fit encoder 'resnet18'")
    assert "1 missing keys (layer3.0.conv1.weight)" in str(info.value)
