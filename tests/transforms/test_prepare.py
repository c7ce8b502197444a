"""One image preparation for training and prediction: the tensor the network sees for an image
at prediction time is the one it saw at validation time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from seglab.config import ModelConfig, TrainConfig
from seglab.transforms import build_pipeline
from seglab.transforms.prepare import prepare_image
from tests.builders import write_discs


def test_channels_preprocessing_then_resize_with_the_mask():
    image = np.zeros((40, 20), np.uint8)
    image[:, 10:] = 200
    mask = np.zeros((40, 20), np.int64)
    mask[:, 10:] = 1
    calls = []

    def preprocess(img, msk):
        calls.append(img.shape)
        return img[..., :1], msk  # a step that gives gray: matched back to the model's 3

    out, out_mask = prepare_image(image, mask, channels=3, preprocess=preprocess, long_side=20)
    assert calls == [(40, 20, 3)]  # channels matched before the preprocessing
    assert out.shape == (20, 10, 3) and out_mask.shape == (20, 10)
    assert set(np.unique(out_mask).tolist()) == {0, 1}  # nearest neighbour


def test_long_side_may_depend_on_the_preprocessed_size():
    image = np.zeros((30, 60, 3), np.uint8)
    sizes = []

    def half(size):
        sizes.append(size)
        return max(size) // 2

    out, mask = prepare_image(image, channels=1, long_side=half)
    assert sizes == [(30, 60)] and out.shape == (15, 30, 1) and mask is None
    assert prepare_image(image, channels=3)[0] is image  # nothing to do: unchanged


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory):
    """A run folder written the way training writes it (card from a TrainConfig with
    preprocessing and a resize; random weights), and its dataset with odd-sized and gray
    images added."""
    from safetensors.torch import save_model

    from seglab.models.build import build_model, model_card, size_multiple

    root = write_discs(tmp_path_factory.mktemp("prepare") / "discs", splits={"val": 2})
    rng = np.random.default_rng(0)
    for name, shape in (("wide", (30, 45, 3)), ("gray", (27, 33))):
        Image.fromarray(rng.integers(0, 256, shape).astype(np.uint8)).save(
            root / "val" / "images" / f"{name}.png"
        )
        Image.fromarray(np.zeros(shape[:2], np.uint8)).save(root / "val" / "masks" / f"{name}.png")
    config = TrainConfig(
        data={"path": root},
        model=ModelConfig(name="unet", options={"base_width": 4, "depth": 2}),
        image_size=22,
        preprocess="clahe;gaussian:sigma=1",
    )
    pipeline = build_pipeline(config.preprocess)
    net = build_model(config.model, in_channels=3, num_classes=2)
    card = model_card(
        config,
        in_channels=3,
        classes=["background", "foreground"],
        multiple=size_multiple(net),
        preprocess=pipeline.to_config(),
        train_long_side=32,
    )
    run = root.parent / "run"
    run.mkdir()
    save_model(net, str(run / "model.safetensors"))
    card.write(run / "model.json")
    return run, config, pipeline


def test_prediction_sees_the_tensor_validation_saw(run_and_data):
    from seglab.data.dataset import open_dataset
    from seglab.predict import load_model
    from seglab.train.data import SampleSpec, SegmentationSamples
    from seglab.train.sizing import pad_collate

    run, config, pipeline = run_and_data
    model = load_model(run, device="cpu", backend="torch")
    source = open_dataset(config.data, split="val")
    spec = SampleSpec(channels=3, image_size=config.image_size, crop_size=config.crop_size)
    validation = SegmentationSamples(source, spec, preprocess=pipeline)  # train=False
    seen = []
    runner = model.runner
    model.runner = lambda batch: seen.append(batch.copy()) or runner(batch)
    assert len(source) == 4
    for index in range(len(source)):
        image, _ = source.load(index)
        trained = validation[index]
        np.testing.assert_array_equal(model.prepare(image), trained[0].numpy())
        seen.clear()
        model.predict(image)
        batch, _ = pad_collate(model.multiple)([trained])  # what the network got in training
        assert len(seen) == 1 and max(seen[0].shape[2:]) == 24  # 22 padded to the stride 4
        assert torch.equal(torch.from_numpy(seen[0]), batch)
