"""Training-time augmentation: albumentations transforms by name, plus mosaic and copy-paste.

An augmentation is chosen by name from :data:`AUGMENTATIONS`, or by preset from :data:`PRESETS`,
and :func:`build_augment` turns a spec such as ``"default,elastic,mosaic"`` (or a list, or
``"rotate:p=0.2"`` to change one probability) into an :class:`Augmentation`:

* :meth:`Augmentation.apply` runs the albumentations part (flips, rotations, shift/zoom,
  brightness/contrast, ...) on one image and its mask. It is deterministic: the same ``seed``
  gives the same output whatever was called before, so training can be reproduced and resumed.
* :func:`mosaic` and :func:`copy_paste` mix several samples; they need other samples, so the
  dataset calls them itself, with probability :attr:`Augmentation.mosaic_p` and
  :attr:`Augmentation.copy_paste_p`.

Images are ``H x W x C`` arrays (``C`` in 1..4; ``H x W`` is accepted too), uint8 or float32 in
any range; masks are ``H x W`` class indices, 0 background, 1..254 classes, 255 ignore. Outputs
keep the image's dtype, channel count and size, and the mask is int64. Masks are always moved
with nearest-neighbour interpolation, and pixels that come from outside the image (rotation and
shift borders) are 0 in the image and 255 (ignore) in the mask, so a mask never gains a value
other than 255.

Pixel transforms (brightness/contrast, gamma, noise, blur) in albumentations assume uint8 images
or float images in [0, 1] (they clip to that range, and gamma gives NaN below 0). A float image is
therefore scaled to [0, 1] by its own minimum and maximum for those transforms and scaled back
after, so "brighter by 10 %" means 10 % of the image's own range, and values are clipped to that
range. Geometric transforms work on float values directly. Other dtypes (uint16, float64...) go
through float32 and are cast back (rounded and clipped for integers). All the pixel transforms
here act on each channel alike, so gray (C=1) and 4-channel images need no special case; the
fourth channel is treated as data, not as alpha.

>>> aug = build_augment("default,elastic,mosaic")
>>> aug.names
('flip', 'rotate', 'shift_scale', 'brightness_contrast', 'elastic', 'mosaic')
>>> image = np.zeros((32, 32, 3), np.uint8)
>>> mask = np.zeros((32, 32), np.int64)
>>> out_image, out_mask = aug.apply(image, mask, seed=7)
>>> out_image.shape, out_mask.dtype
((32, 32, 3), dtype('int64'))
>>> build_augment(aug.to_config()) == aug
True
"""

from __future__ import annotations

import difflib
import functools
import os
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from seglab.errors import ConfigError

IGNORE = 255
"""Mask value of pixels the losses ignore (padding, borders)."""

Kind = Literal["spatial", "pixel", "mix"]


@dataclass(frozen=True)
class AugmentationSpec:
    """What one augmentation name means.

    Parameters
    ----------
    description:
        One line for people (help texts, docs).
    p:
        Default probability of applying it to a sample.
    kind:
        ``"spatial"`` (moves pixels: applied to image and mask), ``"pixel"`` (changes values:
        image only) or ``"mix"`` (combines samples: done by the dataset, see :func:`mosaic` and
        :func:`copy_paste`).
    factory:
        ``factory(p)`` returns the albumentations transforms, each applied with probability
        ``p``; ``None`` for the ``"mix"`` kind.
    """

    description: str
    p: float
    kind: Kind
    factory: Callable[[float], list[Any]] | None = None


def _albumentations() -> Any:
    """Import albumentations (slow, so only when a transform is first built), without its
    network version check."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations

    return albumentations


def _border() -> dict[str, Any]:
    """Keyword arguments of geometric transforms: constant borders, 0 in the image, ignore in
    the mask, nearest neighbour for the mask."""
    import cv2

    return {
        "border_mode": cv2.BORDER_CONSTANT,
        "fill": 0,
        "fill_mask": IGNORE,
        "mask_interpolation": cv2.INTER_NEAREST,
    }


def _flip(p: float) -> list[Any]:
    A = _albumentations()
    return [A.HorizontalFlip(p=p), A.VerticalFlip(p=p)]


@functools.cache
def _rotate90_class() -> type:
    A = _albumentations()

    class Rotate90KeepShape(A.RandomRotate90):  # type: ignore[misc, name-defined]
        """RandomRotate90 that keeps H x W: on a non-square image it turns by 0 or 180 degrees."""

        def get_params_dependent_on_data(
            self, params: dict[str, Any], data: dict[str, Any]
        ) -> dict[str, Any]:
            height, width = params["shape"][:2]
            if height != width and params["factor"] % 2:
                return {"factor": (params["factor"] + 1) % 4}
            return {}

    return Rotate90KeepShape


def _rotate90(p: float) -> list[Any]:
    return [_rotate90_class()(p=p)]


def _rotate(p: float) -> list[Any]:
    A = _albumentations()
    return [A.Rotate(limit=(-20, 20), **_border(), p=p)]


def _shift_scale(p: float) -> list[Any]:
    A = _albumentations()
    return [A.Affine(translate_percent=(-0.06, 0.06), scale=(0.9, 1.1), **_border(), p=p)]


def _bright_contrast(p: float) -> list[Any]:
    A = _albumentations()
    return [A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.15, p=p)]


def _gamma(p: float) -> list[Any]:
    A = _albumentations()
    return [A.RandomGamma(gamma_limit=(80, 120), p=p)]


def _elastic(p: float) -> list[Any]:
    A = _albumentations()
    return [A.ElasticTransform(alpha=200.0, sigma=8.0, **_border(), p=p)]


def _noise(p: float) -> list[Any]:
    A = _albumentations()
    return [A.GaussNoise(std_range=(0.01, 0.05), p=p)]


def _blur(p: float) -> list[Any]:
    A = _albumentations()
    return [A.GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.3, 1.2), p=p)]


_ = AugmentationSpec  # short alias for the registry below
AUGMENTATIONS: dict[str, AugmentationSpec] = {
    "flip": _("horizontal and vertical flips, each with probability p", 0.5, "spatial", _flip),
    "rotate90": _("turn by k x 90 degrees (0 or 180 if not square)", 0.5, "spatial", _rotate90),
    "rotate": _("rotate by up to 20 degrees either way", 0.5, "spatial", _rotate),
    "shift_scale": _("shift by up to 6 % and zoom by 0.9-1.1", 0.5, "spatial", _shift_scale),
    "brightness_contrast": _("brightness, contrast by up to 15 %", 0.5, "pixel", _bright_contrast),
    "gamma": _("gamma 0.8-1.2", 0.3, "pixel", _gamma),
    "elastic": _("elastic deformation (a few pixels)", 0.3, "spatial", _elastic),
    "noise": _("Gaussian noise, 1-5 % of the range", 0.3, "pixel", _noise),
    "blur": _("Gaussian blur, kernel 3-5", 0.2, "pixel", _blur),
    "mosaic": _("4 samples in the quadrants of one image (see mosaic)", 0.3, "mix"),
    "copy_paste": _("objects of another sample pasted in (see copy_paste)", 0.3, "mix"),
}
"""Individual augmentations by name."""
del _

PRESETS: dict[str, list[str]] = {
    "none": [],
    "light": ["flip", "shift_scale"],
    "default": ["flip", "rotate", "shift_scale", "brightness_contrast"],
    "heavy": [
        "flip",
        "rotate",
        "shift_scale",
        "brightness_contrast",
        "elastic",
        "noise",
        "blur",
        "gamma",
        "mosaic",
        "copy_paste",
    ],
}
"""Named lists of augmentations; a spec may mix presets and names."""


@dataclass(frozen=True)
class Augmentation:
    """A resolved set of augmentations with their probabilities.

    Parameters
    ----------
    names:
        Names from :data:`AUGMENTATIONS`, without repeats, in the order they were given.
    probabilities:
        One probability per name; empty means each name's default.

    Notes
    -----
    The albumentations pipelines are built on the first :meth:`apply` and kept (one per
    thread); they are not pickled, so an ``Augmentation`` is cheap to send to data-loader
    workers.
    """

    names: tuple[str, ...] = ()
    probabilities: tuple[float, ...] = ()
    _pipelines: dict[int, tuple[Any, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        names = tuple(self.names)
        probabilities = tuple(float(p) for p in self.probabilities)
        for name in names:
            _spec(name)
        if len(set(names)) != len(names):
            raise ConfigError(f"augmentations repeat a name: {', '.join(names)}")
        if not probabilities:
            probabilities = tuple(AUGMENTATIONS[name].p for name in names)
        if len(probabilities) != len(names):
            raise ConfigError(
                f"{len(names)} augmentation names but {len(probabilities)} probabilities"
            )
        for name, p in zip(names, probabilities, strict=True):
            _check_probability(name, p)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "probabilities", probabilities)

    def __getstate__(self) -> dict[str, Any]:
        return {"names": self.names, "probabilities": self.probabilities}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "names", state["names"])
        object.__setattr__(self, "probabilities", state["probabilities"])
        object.__setattr__(self, "_pipelines", {})

    def __bool__(self) -> bool:
        """False when nothing can happen (no names, or every probability 0)."""
        return any(p > 0 for p in self.probabilities)

    def probability(self, name: str) -> float:
        """The probability of ``name``, 0 when it is not part of this augmentation."""
        return dict(zip(self.names, self.probabilities, strict=True)).get(name, 0.0)

    @property
    def mosaic_p(self) -> float:
        """Probability that the dataset builds a :func:`mosaic` around a sample."""
        return self.probability("mosaic")

    @property
    def copy_paste_p(self) -> float:
        """Probability that the dataset applies :func:`copy_paste` to a sample."""
        return self.probability("copy_paste")

    def to_config(self) -> list[str]:
        """JSON-able form: ``build_augment(aug.to_config()) == aug``.

        Returns
        -------
        list of str
            The names, as ``"name:p=0.2"`` where the probability is not the default.
        """
        return [
            name if p == AUGMENTATIONS[name].p else f"{name}:p={p!r}"
            for name, p in zip(self.names, self.probabilities, strict=True)
        ]

    def apply(
        self, image: np.ndarray, mask: np.ndarray, *, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply the albumentations part (all names but mosaic and copy_paste) to one sample.

        Parameters
        ----------
        image:
            ``H x W x C`` (or ``H x W``) image, C in 1..4, uint8 or float32 (any range).
        mask:
            ``H x W`` class indices in 0..255 (255 = ignore).
        seed:
            Any int; the same seed gives the same output, whatever was applied before.

        Returns
        -------
        image, mask
            The image with its dtype, shape and channel count, and the mask as int64, both
            contiguous. Pixels from outside the input are 0 in the image and 255 in the mask.
        """
        image = np.asarray(image)
        mask = np.asarray(mask)
        _check_sample(image, mask)
        spatial, pixel = self._build()
        if spatial is None and pixel is None:
            return image, mask.astype(np.int64, copy=False)

        work = image[..., None] if image.ndim == 2 else image
        if work.dtype not in (np.uint8, np.float32):
            work = work.astype(np.float32)
        work_mask = mask.astype(np.uint8)
        # One stream shared by all transforms, fresh for each call: Compose.set_random_seed
        # would give every transform the same seed, so e.g. both flips would always agree.
        seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        generator, py_random = np.random.default_rng(seed), random.Random(seed)

        if spatial is not None:
            spatial.set_random_state(generator, py_random)
            out = spatial(image=work, mask=work_mask)
            work, work_mask = out["image"], out["mask"]
        if pixel is not None:
            pixel.set_random_state(generator, py_random)
            if work.dtype == np.uint8:
                work = pixel(image=work)["image"]
            else:
                low, high = float(work.min()), float(work.max())
                span = high - low if high > low else 1.0
                scaled = ((work - low) / span).astype(np.float32)
                work = pixel(image=scaled)["image"] * np.float32(span) + np.float32(low)

        work = work.reshape(image.shape)
        if work.dtype != image.dtype:
            if np.issubdtype(image.dtype, np.integer):
                info = np.iinfo(image.dtype)
                work = np.clip(np.rint(work), info.min, info.max)
            work = work.astype(image.dtype)
        return np.ascontiguousarray(work), np.ascontiguousarray(work_mask, dtype=np.int64)

    def _build(self) -> tuple[Any, Any]:
        """The (spatial, pixel) albumentations Compose of this thread, built on first use."""
        key = threading.get_ident()
        built = self._pipelines.get(key)
        if built is None:
            spatial: list[Any] = []
            pixel: list[Any] = []
            for name, p in zip(self.names, self.probabilities, strict=True):
                spec = AUGMENTATIONS[name]
                if spec.factory is not None and p > 0:
                    (spatial if spec.kind == "spatial" else pixel).extend(spec.factory(p))
            built = (_compose(spatial), _compose(pixel))
            self._pipelines[key] = built
        return built


def _compose(transforms: list[Any]) -> Any:
    if not transforms:
        return None
    import cv2

    A = _albumentations()
    return A.Compose(transforms, p=1.0, mask_interpolation=cv2.INTER_NEAREST)


def build_augment(spec: str | Sequence[str] | Augmentation | None) -> Augmentation:
    """Resolve an augmentation spec.

    Parameters
    ----------
    spec:
        A preset name (:data:`PRESETS`), an augmentation name (:data:`AUGMENTATIONS`), a
        comma-separated mix of both (``"default,elastic,mosaic"``) or a list of them; a name may
        carry its probability, ``"rotate:p=0.2"``. ``None``, ``""`` and ``"none"`` mean no
        augmentation. Names are case-insensitive and ``-`` counts as ``_``.

    Returns
    -------
    Augmentation
        The names in order of first appearance, without repeats; a later explicit probability
        replaces an earlier one.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the valid names and presets), a probability on a
        preset, or a probability that is not a number in [0, 1].
    """
    if isinstance(spec, Augmentation):
        return spec
    if spec is None:
        return Augmentation()
    items: Iterable[str] = [spec] if isinstance(spec, str) else spec
    chosen: dict[str, float] = {}
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"augmentations are names, not {item!r}")
        for token in item.split(","):
            name, p = _parse_token(token)
            if not name:
                continue
            if name in PRESETS:
                if p is not None:
                    raise ConfigError(
                        f"augmentation {token.strip()!r}: a probability can only be given to one "
                        f"augmentation, not to the preset {name!r}"
                    )
                for member in PRESETS[name]:
                    chosen.setdefault(member, AUGMENTATIONS[member].p)
                continue
            _spec(name)
            if p is not None:
                chosen[name] = p
            else:
                chosen.setdefault(name, AUGMENTATIONS[name].p)
    return Augmentation(tuple(chosen), tuple(chosen.values()))


def _parse_token(token: str) -> tuple[str, float | None]:
    name, sep, option = token.partition(":")
    name = name.strip().lower().replace("-", "_")
    if not sep:
        return name, None
    key, eq, value = option.partition("=")
    if key.strip().lower() != "p" or not eq:
        raise ConfigError(
            f"augmentation {token.strip()!r}: the only option is the probability, as '{name}:p=0.3'"
        )
    try:
        p = float(value)
    except ValueError:
        raise ConfigError(
            f"augmentation {token.strip()!r}: the probability {value.strip()!r} is not a number"
        ) from None
    _check_probability(name, p)
    return name, p


def _check_probability(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"augmentation {name!r}: the probability must be in [0, 1], not {p}")


def _spec(name: str) -> AugmentationSpec:
    spec = AUGMENTATIONS.get(name)
    if spec is None:
        close = difflib.get_close_matches(str(name), [*AUGMENTATIONS, *PRESETS], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown augmentation {name!r}{hint}; valid names: {', '.join(AUGMENTATIONS)}; "
            f"presets: {', '.join(PRESETS)}"
        )
    return spec


def _check_sample(image: np.ndarray, mask: np.ndarray) -> None:
    if image.ndim not in (2, 3) or (image.ndim == 3 and not 1 <= image.shape[2] <= 4):
        raise ValueError(f"image must be H x W x C with C in 1..4, not {image.shape}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape}")
    if mask.size and (mask.min() < 0 or mask.max() > IGNORE):
        raise ValueError(f"mask values must be in 0..{IGNORE}, not {mask.min()}..{mask.max()}")


def _check_same_kind(images: Sequence[np.ndarray], what: str) -> None:
    first = images[0]
    for image in images[1:]:
        if (
            image.dtype != first.dtype
            or image.shape[2:] != first.shape[2:]
            or (image.ndim != first.ndim)
        ):
            raise ValueError(
                f"{what}: images differ in dtype or channels: {first.dtype} {first.shape} and "
                f"{image.dtype} {image.shape}"
            )


def mosaic(
    samples: Sequence[tuple[np.ndarray, np.ndarray]],
    size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Compose 2 to 4 samples into the four quadrants of one image.

    The canvas is split at a random centre within its middle half (25-75 % of each side). The
    quadrants are given to the samples in random order (with fewer than 4 samples, samples are
    used again). Each quadrant holds a random crop of its sample; a sample smaller than its
    quadrant is placed against the centre and the rest is padded (image 0, mask 255).

    Parameters
    ----------
    samples:
        ``(image, mask)`` pairs; the images share dtype and channel count, sizes may differ.
    size:
        ``(height, width)`` of the result.
    rng:
        Source of all random choices.

    Returns
    -------
    image, mask
        ``height x width`` image with the samples' dtype and channels, and an int64 mask.

    Raises
    ------
    ValueError
        For fewer than 2 or more than 4 samples, images of different dtype or channels, a mask
        not matching its image, or a size that is not two positive ints.
    """
    if not 2 <= len(samples) <= 4:
        raise ValueError(f"mosaic needs 2 to 4 samples, not {len(samples)}")
    height, width = (int(v) for v in size)
    if height < 1 or width < 1:
        raise ValueError(f"mosaic size must be positive, not {size}")
    images = [np.asarray(image) for image, _ in samples]
    masks = [np.asarray(mask) for _, mask in samples]
    for image, mask in zip(images, masks, strict=True):
        _check_sample(image, mask)
    _check_same_kind(images, "mosaic")

    first = images[0]
    canvas = np.zeros((height, width, *first.shape[2:]), first.dtype)
    canvas_mask = np.full((height, width), IGNORE, np.int64)
    cy = int(rng.uniform(0.25, 0.75) * height)
    cx = int(rng.uniform(0.25, 0.75) * width)
    order = rng.permutation(4)
    quadrants = [
        (slice(0, cy), slice(0, cx), True, True),  # top left: toward the centre is the end
        (slice(0, cy), slice(cx, width), True, False),
        (slice(cy, height), slice(0, cx), False, True),
        (slice(cy, height), slice(cx, width), False, False),
    ]
    for quadrant, index in zip(quadrants, order, strict=True):
        rows, cols, rows_to_end, cols_to_end = quadrant
        image, mask = images[index % len(images)], masks[index % len(masks)]
        qh, qw = rows.stop - rows.start, cols.stop - cols.start
        src_rows, dst_rows = _place(image.shape[0], qh, rows_to_end, rng)
        src_cols, dst_cols = _place(image.shape[1], qw, cols_to_end, rng)
        target = (slice(rows.start + dst_rows.start, rows.start + dst_rows.stop),
                  slice(cols.start + dst_cols.start, cols.start + dst_cols.stop))  # fmt: skip
        canvas[target] = image[src_rows, src_cols]
        canvas_mask[target] = mask[src_rows, src_cols]
    return canvas, canvas_mask


def _place(length: int, room: int, to_end: bool, rng: np.random.Generator) -> tuple[slice, slice]:
    """Source and destination slices along one axis: a random crop of ``length`` to ``room``,
    or, when it is shorter, all of it placed at the end (``to_end``) or start of the room."""
    if length >= room:
        start = int(rng.integers(0, length - room + 1))
        return slice(start, start + room), slice(0, room)
    offset = room - length if to_end else 0
    return slice(0, length), slice(offset, offset + length)


def copy_paste(
    image: np.ndarray,
    mask: np.ndarray,
    donor_image: np.ndarray,
    donor_mask: np.ndarray,
    rng: np.random.Generator,
    *,
    max_objects: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste objects of a donor sample into a sample.

    The donor's objects are the 8-connected components of each foreground class (1..254).
    Between 1 and ``max_objects`` of them, chosen at random, are each flipped left-right with
    probability 1/2 and pasted at a random position: their pixels replace the image's, and their
    class the mask's. Ignore (255) and background pixels are never pasted. An object larger than
    the target is cropped to a random window of the target's size.

    Parameters
    ----------
    image, mask:
        The target sample (``H x W x C`` or ``H x W`` image, ``H x W`` mask).
    donor_image, donor_mask:
        The donor sample; same image dtype and channels as the target, any size.
    rng:
        Source of all random choices.
    max_objects:
        Most objects pasted.

    Returns
    -------
    image, mask
        New arrays (the inputs are not changed), the mask as int64; with no donor object, the
        input image and mask unchanged.

    Raises
    ------
    ValueError
        For images of different dtype or channels, or a mask not matching its image.
    """
    image, mask = np.asarray(image), np.asarray(mask)
    donor_image, donor_mask = np.asarray(donor_image), np.asarray(donor_mask)
    _check_sample(image, mask)
    _check_sample(donor_image, donor_mask)
    _check_same_kind([image, donor_image], "copy_paste")
    if max_objects < 1:
        return image, mask.astype(np.int64, copy=False)

    import cv2

    # (class, label image, label, (top, left, height, width)) of each donor object
    objects: list[tuple[int, np.ndarray, int, tuple[int, int, int, int]]] = []
    for value in np.unique(donor_mask):
        if not 1 <= value < IGNORE:
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            (donor_mask == value).astype(np.uint8), connectivity=8
        )
        for label in range(1, count):
            x, y, w, h = (int(v) for v in stats[label, :4])
            objects.append((int(value), labels, label, (y, x, h, w)))
    if not objects:
        return image, mask.astype(np.int64, copy=False)

    out_image = image.copy()
    out_mask = mask.astype(np.int64, copy=True)
    height, width = mask.shape
    count = int(rng.integers(1, min(max_objects, len(objects)) + 1))
    for index in rng.choice(len(objects), size=count, replace=False):
        value, labels, label, (y, x, h, w) = objects[int(index)]
        # An object larger than the target: a random window of the target's size.
        if h > height:
            y += int(rng.integers(0, h - height + 1))
            h = height
        if w > width:
            x += int(rng.integers(0, w - width + 1))
            w = width
        shape = labels[y : y + h, x : x + w] == label
        pixels = donor_image[y : y + h, x : x + w]
        if rng.random() < 0.5:
            shape, pixels = shape[:, ::-1], pixels[:, ::-1]
        if not shape.any():
            continue
        ty = int(rng.integers(0, height - h + 1))
        tx = int(rng.integers(0, width - w + 1))
        out_image[ty : ty + h, tx : tx + w][shape] = pixels[shape]
        out_mask[ty : ty + h, tx : tx + w][shape] = value
    return out_image, out_mask
