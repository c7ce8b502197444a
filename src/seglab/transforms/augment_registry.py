"""The augmentations by name (:data:`AUGMENTATIONS`), the presets (:data:`PRESETS`) and the
albumentations transforms each name builds; :mod:`seglab.transforms.augment` resolves specs
such as ``"default,elastic"`` against them and applies the result.

albumentations is imported when a transform is first built, never on import.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError

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
        image only) or ``"mix"`` (combines samples: done by the dataset, see
        :func:`~seglab.transforms.mixing.mosaic` and :func:`~seglab.transforms.mixing.copy_paste`).
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
        "fill_mask": IGNORE_INDEX,
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


def compose(transforms: list[Any]) -> Any:
    """One albumentations ``Compose`` of ``transforms`` (masks moved with nearest neighbour),
    or ``None`` when there are none."""
    if not transforms:
        return None
    import cv2

    A = _albumentations()
    return A.Compose(transforms, p=1.0, mask_interpolation=cv2.INTER_NEAREST)


def lookup(name: str) -> AugmentationSpec:
    """The spec of augmentation ``name``; :class:`ConfigError` naming the valid names and
    presets (and the closest one) when there is none."""
    spec = AUGMENTATIONS.get(name)
    if spec is None:
        close = difflib.get_close_matches(str(name), [*AUGMENTATIONS, *PRESETS], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown augmentation {name!r}{hint}; valid names: {', '.join(AUGMENTATIONS)}; "
            f"presets: {', '.join(PRESETS)}"
        )
    return spec
