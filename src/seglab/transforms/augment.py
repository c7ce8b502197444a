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

import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seglab.errors import ConfigError
from seglab.transforms.augment_registry import (
    AUGMENTATIONS,
    PRESETS,
    AugmentationSpec,
    compose,
    lookup,
)
from seglab.transforms.mixing import _check_sample, copy_paste, mosaic


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
            lookup(name)
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
            ``H x W`` class indices in 0..255 (255 = ignore), or object ids of a label image
            (any non-negative values: kept exactly, the geometry moves them as a whole).
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
        work_mask = mask.astype(_mask_dtype(mask))
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
            built = (compose(spatial), compose(pixel))
            self._pipelines[key] = built
        return built


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
            lookup(name)
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


__all__ = [
    "AUGMENTATIONS",
    "PRESETS",
    "Augmentation",
    "AugmentationSpec",
    "build_augment",
    "copy_paste",
    "mosaic",
]


def _mask_dtype(mask: np.ndarray) -> type:
    """The narrowest type OpenCV moves ``mask``'s values in exactly: uint8 for class masks,
    uint16 or float32 (exact to 2**24) for the object ids of a label image."""
    top = int(mask.max()) if mask.size else 0
    if top <= 255:
        return np.uint8
    return np.uint16 if top < 2**16 else np.float32
