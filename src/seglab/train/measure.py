"""What the recipe is resolved from: statistics of the training images, the machine, and a
timed probe of the model on it (:mod:`seglab.train.recipe` decides from them)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from seglab.config import MASKRCNN_MODELS, ModelConfig, TrainConfig
from seglab.core.constants import IGNORE_INDEX
from seglab.core.devices import cpu_cores
from seglab.data.base import SegmentationSource


@dataclass(frozen=True)
class DataStats:
    """What the recipe needs to know about the training images (from a sample of them)."""

    num_images: int
    num_val: int
    channels: int
    num_classes: int
    long_side: int  # median longer side, px
    short_side: int  # median shorter side, px
    object_p50: float  # object area percentiles, px (0 when there are no objects)
    object_p95: float
    foreground: float  # share of labelled pixels that are foreground
    long_side_p90: int = 0  # 90th percentile of the longer sides, px (0: as long_side)
    pixels_mean: float = 0.0  # mean pixels per image (0: long_side * short_side)

    @property
    def largest_side(self) -> int:
        """The longer side of the large images (90th percentile): mixed-size sets have a
        few images much larger than the median."""
        return max(self.long_side, self.long_side_p90)

    @property
    def mean_pixels(self) -> float:
        """Mean pixels per image: what a validation at the images' own size costs."""
        return self.pixels_mean or float(self.long_side * self.short_side)


@dataclass(frozen=True)
class DeviceInfo:
    """The machine: accelerator kind, CPU cores, memory, and the GPU when there is one."""

    accelerator: str  # "cpu" or "gpu"
    cores: int
    gpu_name: str | None = None
    gpu_memory_gb: float = 0.0
    bf16: bool = False


def device_info() -> DeviceInfo:
    """Probe the machine (CUDA GPUs via torch; cores from the process's CPU affinity)."""
    import torch

    cores = cpu_cores()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return DeviceInfo(
            "gpu",
            cores,
            props.name,
            props.total_memory / 2**30,
            bool(torch.cuda.is_bf16_supported()),
        )
    return DeviceInfo("cpu", cores)


def data_stats(
    source: SegmentationSource, *, num_val: int = 0, max_images: int = 32, seed: int = 0
) -> DataStats:
    """Sizes, channels, object areas and foreground share from up to ``max_images`` images.

    Unreadable images are left out (the data loader warns about them later).
    """
    import cv2

    from seglab.errors import DataError

    n = len(source)
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(n, size=min(n, max_images), replace=False).tolist()) if n else []
    longs, shorts, areas, channels = [], [], [], []
    fg = total = 0
    for i in picks:
        try:
            image, mask = source.load(i)
        except DataError:
            continue
        h, w = mask.shape
        longs.append(max(h, w))
        shorts.append(min(h, w))
        channels.append(1 if image.ndim == 2 else image.shape[2])
        valid = mask != IGNORE_INDEX
        objects = valid & (mask != 0)
        fg += int(objects.sum())
        total += int(valid.sum())
        for cls in np.unique(mask[objects]):
            count, _, stats, _ = cv2.connectedComponentsWithStats(
                (mask == cls).astype(np.uint8), connectivity=8
            )
            areas.extend(stats[1:count, cv2.CC_STAT_AREA].tolist())
    gray = bool(channels) and all(c == 1 for c in channels)
    return DataStats(
        num_images=n,
        num_val=num_val,
        channels=1 if gray else 3,
        num_classes=source.num_classes,
        long_side=int(np.median(longs)) if longs else 256,
        short_side=int(np.median(shorts)) if shorts else 256,
        long_side_p90=int(np.percentile(longs, 90)) if longs else 256,
        pixels_mean=float(np.mean(np.multiply(longs, shorts))) if longs else 256.0 * 256,
        object_p50=float(np.percentile(areas, 50)) if areas else 0.0,
        object_p95=float(np.percentile(areas, 95)) if areas else 0.0,
        foreground=fg / total if total else 0.0,
    )


def _probe_objects(batch: int, side: int, device) -> list[dict]:
    """Synthetic targets for a detection model's timed steps: 16 squares per image."""
    import torch

    step = max(4, side // 4)
    boxes = torch.tensor(
        [
            [x, y, x + step // 2, y + step // 2]
            for y in range(0, side - step // 2, step)
            for x in range(0, side - step // 2, step)
        ][:16],
        dtype=torch.float32,
        device=device,
    )
    masks = torch.zeros(len(boxes), side, side, dtype=torch.uint8, device=device)
    for k, (x0, y0, x1, y1) in enumerate(boxes.long().tolist()):
        masks[k, y0:y1, x0:x1] = 1
    labels = torch.ones(len(boxes), dtype=torch.int64, device=device)
    return [{"boxes": boxes, "labels": labels, "masks": masks} for _ in range(batch)]


def timed_probe(
    config: TrainConfig,
    *,
    in_channels: int,
    num_classes: int,
    full_size: int = 256,
    steps: int = 3,
):
    """Seconds per training step (batch ``batch_size`` of ``crop_size`` crops) and per validation
    image (``full_size`` px, the images' size after resizing) of ``config``'s model on this
    machine, from a few synthetic steps (data loading not included)."""
    import torch

    from seglab.core.arrays import round_up
    from seglab.models import create_model
    from seglab.models.build import build_model, size_multiple

    model_cfg = config.model or ModelConfig()
    rcnn = model_cfg.name in MASKRCNN_MODELS
    if rcnn:
        model = create_model(
            model_cfg.name, in_channels=in_channels, num_classes=num_classes, **model_cfg.options
        )
    else:  # with its wrappers: three scales cost more than one (no pretrained file read)
        model = build_model(
            model_cfg.model_copy(update={"encoder_weights": None}),
            in_channels=in_channels,
            num_classes=num_classes,
        )
    # padded as the engine pads them: smp and SegNet refuse other sizes
    multiple = 1 if rcnn else size_multiple(model)
    full = round_up(config.image_size or full_size, multiple)
    side = round_up(config.crop_size or full, multiple)
    batch = config.batch_size or 1
    gpu = torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda")
    device = torch.device("cuda" if gpu else "cpu")
    dtype = torch.bfloat16 if config.precision == "bf16-mixed" else torch.float16
    autocast = torch.autocast("cuda", dtype=dtype, enabled=gpu and config.precision != "32")
    model = model.to(device)
    images = torch.rand(batch, in_channels, side, side, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)

    def clock() -> float:
        if gpu:
            torch.cuda.synchronize()
        return time.perf_counter()

    targets = _probe_objects(batch, side, device) if rcnn else None

    def loss():
        if rcnn:  # torchvision's detection models take image lists and targets, give losses
            return sum(model(list(images), targets).values())
        return model(images).float().mean()

    times = []
    model.train()
    for _ in range(steps):
        start = clock()
        optimizer.zero_grad()
        with autocast:
            value = loss()
        value.float().backward()
        optimizer.step()
        times.append(clock() - start)
    model.eval()
    if rcnn:
        # random weights keep every proposal up to the cap (1000 masks an image); a network
        # that has learned keeps about the objects there are: time that, not the worst case
        model.roi_heads.detections_per_img = min(model.roi_heads.detections_per_img, 100)
    val_times = []
    with torch.no_grad(), autocast:
        for _ in range(2):  # the first call allocates: the second is what validation costs
            start = clock()
            image = torch.rand(1, in_channels, full, full, device=device)
            model(list(image) if rcnn else image)
            val_times.append(clock() - start)
    val_s = val_times[-1]
    return min(times[1:] or times), val_s
