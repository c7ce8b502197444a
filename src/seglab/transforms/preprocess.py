"""Image preprocessing: denoising, contrast, normalisation; ``(image, mask) -> (image, mask)``.

Every function here changes the image only; the mask (or ``None``) is returned as it came. The
input and dtype rules are in :mod:`seglab.transforms`: ``uint8`` stays ``uint8``, anything else
gives ``float32``, :func:`normalize` always gives ``float32``, RGBA keeps its alpha untouched,
NaN/Inf are replaced by their channel's median with a warning.

Intensity options (``sigma_color``, ``h``) are in grey levels of an 8-bit image, so one config
works for both dtypes: for float images, taken to lie in [0, 1] as :func:`seglab.io.read_image`
gives 16-bit data, they are divided by 255.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
from scipy import ndimage
from skimage import exposure, restoration

from seglab.core.checks import check_choice
from seglab.errors import ConfigError, DataError
from seglab.transforms._checks import (
    check_bool,
    check_number,
    check_pair,
    from_unit,
    join_image,
    map_channels,
    split_image,
    to_unit,
)

Array = np.ndarray
Mask = np.ndarray | None

NORMALIZE_MODES = ("minmax", "zscore", "imagenet", "fixed")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _cv(fn, body: Array) -> Array:
    """Call an OpenCV filter; OpenCV drops a trailing channel axis of 1, put it back."""
    return np.asarray(fn(np.ascontiguousarray(body))).reshape(body.shape)


# --- denoising ------------------------------------------------------------------------------


def gaussian(image: Array, mask: Mask = None, *, sigma: float = 1.0) -> tuple[Array, Mask]:
    """Gaussian smoothing (``cv2.GaussianBlur``, reflected border); ``sigma`` in pixels, 0 = none.

    >>> img = np.zeros((5, 5), np.uint8); img[2, 2] = 255
    >>> int(gaussian(img, sigma=1.0)[0][2, 2]) < 255
    True
    """
    check_number("sigma", sigma, minimum=0)
    body, layout = split_image(image, mask)
    if sigma > 0:
        body = _cv(lambda x: cv2.GaussianBlur(x, (0, 0), float(sigma)), body)
    return join_image(body, layout), mask


def median(image: Array, mask: Mask = None, *, size: int = 3) -> tuple[Array, Mask]:
    """Median filter over a ``size x size`` window (odd; replicated border), per channel."""
    check_number("size", size, minimum=1, integer=True)
    if size % 2 == 0:
        raise ConfigError(f"size must be odd (3, 5, 7...), got {size}")
    body, layout = split_image(image, mask)
    if size > 1:
        if body.dtype == np.uint8 or size <= 5:  # what cv2.medianBlur supports
            body = map_channels(lambda x: cv2.medianBlur(x, int(size)), body)
        else:
            body = ndimage.median_filter(body, size=(size, size, 1), mode="nearest")
    return join_image(body, layout), mask


def bilateral(
    image: Array,
    mask: Mask = None,
    *,
    d: int = 9,
    sigma_color: float = 75.0,
    sigma_space: float = 75.0,
) -> tuple[Array, Mask]:
    """Edge-preserving bilateral filter (``cv2.bilateralFilter``).

    ``d`` is the neighbourhood diameter in pixels; ``sigma_color`` how different (8-bit grey
    levels) two values may be and still be averaged; ``sigma_space`` the spatial sigma in pixels.
    RGB is filtered jointly, other channel counts per channel.
    """
    check_number("d", d, minimum=1, integer=True)
    check_number("sigma_color", sigma_color, above=0)
    check_number("sigma_space", sigma_space, above=0)
    body, layout = split_image(image, mask)
    scale = 1.0 if body.dtype == np.uint8 else 1.0 / 255.0
    args = (int(d), float(sigma_color) * scale, float(sigma_space))
    if body.shape[2] in (1, 3):
        body = _cv(lambda x: cv2.bilateralFilter(x, *args), body)
    else:
        body = map_channels(lambda x: cv2.bilateralFilter(x, *args), body)
    return join_image(body, layout), mask


def nl_means(
    image: Array,
    mask: Mask = None,
    *,
    h: float = 10.0,
    patch_size: int = 7,
    search_size: int = 21,
) -> tuple[Array, Mask]:
    """Non-local means denoising: strength ``h`` (8-bit grey levels), patch and search windows.

    ``uint8`` uses OpenCV (``fastNlMeansDenoisingColored`` on RGB, which works in CIELAB with
    ``h`` for both lightness and colour; ``fastNlMeansDenoising`` per channel otherwise); float
    uses ``skimage.restoration.denoise_nl_means`` with ``h / 255`` and a search distance of
    ``search_size // 2``.
    """
    check_number("h", h, above=0)
    check_number("patch_size", patch_size, minimum=1, integer=True)
    check_number("search_size", search_size, minimum=1, integer=True)
    body, layout = split_image(image, mask)
    p, s = int(patch_size), int(search_size)
    shape = body.shape
    if body.dtype == np.uint8 and body.shape[2] == 3:
        bgr = np.ascontiguousarray(body[:, :, ::-1])
        body = cv2.fastNlMeansDenoisingColored(bgr, None, float(h), float(h), p, s)[:, :, ::-1]
    elif body.dtype == np.uint8:
        body = map_channels(lambda x: cv2.fastNlMeansDenoising(x, None, float(h), p, s), body)
    else:
        body = restoration.denoise_nl_means(
            body,
            patch_size=p,
            patch_distance=max(s // 2, 1),
            h=float(h) / 255.0,
            channel_axis=-1,
            preserve_range=True,
        )
        body = body.astype(np.float32).reshape(shape)  # skimage squeezes a 1 x 1 image
    return join_image(np.ascontiguousarray(body), layout), mask


# --- contrast -------------------------------------------------------------------------------


def stretch(
    image: Array,
    mask: Mask = None,
    *,
    low: float = 1.0,
    high: float = 99.0,
    per_channel: bool = False,
) -> tuple[Array, Mask]:
    """Linear contrast stretch: the ``low`` / ``high`` percentiles go to 0 / full range, clipped.

    Full range is 255 for ``uint8`` and 1.0 for float. The percentiles are taken over all colour
    channels together (colours keep their balance) unless ``per_channel``. A constant image or
    channel (``high`` percentile == ``low``) is returned unchanged.
    """
    check_number("low", low, minimum=0, maximum=100)
    check_number("high", high, minimum=0, maximum=100)
    check_bool("per_channel", per_channel)
    if high <= low:
        raise ConfigError(f"high ({high}) must be above low ({low}); e.g. low=1, high=99")
    body, layout = split_image(image, mask)
    planes = [body[:, :, c : c + 1] for c in range(body.shape[2])] if per_channel else [body]
    out = []
    for plane in planes:
        lo, hi = np.percentile(plane, [low, high])
        if hi <= lo:
            out.append(plane)
            continue
        scaled = exposure.rescale_intensity(
            plane.astype(np.float32), in_range=(lo, hi), out_range=(0.0, 1.0)
        )
        out.append(from_unit(scaled, body.dtype))
    return join_image(np.concatenate(out, axis=2), layout), mask


def equalize(image: Array, mask: Mask = None, *, per_channel: bool = False) -> tuple[Array, Mask]:
    """Histogram equalisation (``cv2.equalizeHist`` for ``uint8``, skimage's for float).

    RGB images are equalised on their luminance (the Y of YCrCb), so hues do not shift; pass
    ``per_channel=True`` to equalise R, G and B independently. Gray and other channel counts are
    equalised per channel. Float images are first rescaled to [0, 1] by their min and max and
    come back in [0, 1]. A constant image is returned unchanged.
    """
    check_bool("per_channel", per_channel)

    def gray(x: Array) -> Array:
        if x.dtype == np.uint8:
            return cv2.equalizeHist(x)
        return exposure.equalize_hist(x, nbins=256).astype(np.float32)

    return _contrast(image, mask, gray, per_channel)


def clahe(
    image: Array,
    mask: Mask = None,
    *,
    clip_limit: float = 2.0,
    tile_grid: int | tuple[int, int] = 8,
    per_channel: bool = False,
) -> tuple[Array, Mask]:
    """Contrast-limited adaptive histogram equalisation (OpenCV's ``clip_limit`` and tile grid).

    ``tile_grid`` is the number of tiles (rows, cols), an int for both. Colour is handled as in
    :func:`equalize`. ``uint8`` uses ``cv2.createCLAHE``; float uses
    ``skimage.exposure.equalize_adapthist`` with the same tiles and the same clip limit
    (``clip_limit / 256`` in skimage's units), on the image rescaled to [0, 1].
    """
    check_number("clip_limit", clip_limit, above=0)
    rows, cols = check_pair("tile_grid", tile_grid)
    check_bool("per_channel", per_channel)
    engine = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(cols, rows))

    def gray(x: Array) -> Array:
        if x.dtype == np.uint8:
            return engine.apply(x)
        kernel = (max(math.ceil(x.shape[0] / rows), 1), max(math.ceil(x.shape[1] / cols), 1))
        out = exposure.equalize_adapthist(x, kernel_size=kernel, clip_limit=clip_limit / 256)
        return out.astype(np.float32)

    return _contrast(image, mask, gray, per_channel)


def _contrast(
    image: Array, mask: Mask, gray: Callable[[Array], Array], by_channel: bool
) -> tuple[Array, Mask]:
    """Apply a gray-level ``gray`` to the luminance of RGB, else to each channel."""
    body, layout = split_image(image, mask)
    if float(body.max()) == float(body.min()):
        return join_image(body, layout), mask
    if body.dtype != np.uint8:
        lo, hi = float(body.min()), float(body.max())
        body = (body - lo) / np.float32(hi - lo)

    def safe(x: Array) -> Array:  # a constant channel has no histogram to equalise
        return x if float(x.max()) == float(x.min()) else gray(x)

    if body.shape[2] == 3 and not by_channel:
        ycc = cv2.cvtColor(np.ascontiguousarray(body), cv2.COLOR_RGB2YCrCb)
        ycc[:, :, 0] = safe(np.ascontiguousarray(ycc[:, :, 0]))
        body = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
        if body.dtype != np.uint8:
            body = np.clip(body, 0.0, 1.0)
    else:
        body = map_channels(safe, body)
    return join_image(body, layout), mask


def gamma(image: Array, mask: Mask = None, *, gamma: float = 1.0) -> tuple[Array, Mask]:
    """Gamma correction ``out = in ** gamma`` on the [0, 1] scale (skimage's ``adjust_gamma``).

    ``gamma < 1`` brightens dark images, ``> 1`` darkens. ``uint8`` goes through a lookup table;
    float values must be >= 0 (values above 1 are allowed and follow the same power law).

    >>> gamma(np.array([[0.25]], np.float32), gamma=0.5)[0]
    array([[0.5]], dtype=float32)
    """
    check_number("gamma", gamma, above=0)
    body, layout = split_image(image, mask)
    if body.dtype != np.uint8 and float(body.min()) < 0:
        raise DataError(
            f"gamma needs pixel values >= 0, the image has {float(body.min()):.4g}; "
            "put 'stretch' or 'normalize' with mode 'minmax' before it"
        )
    body = exposure.adjust_gamma(body, float(gamma))
    if body.dtype != np.uint8:
        body = body.astype(np.float32)
    return join_image(body, layout), mask


# --- normalisation --------------------------------------------------------------------------


def normalize(
    image: Array,
    mask: Mask = None,
    *,
    mode: str = "minmax",
    mean: float | list[float] | None = None,
    std: float | list[float] | None = None,
) -> tuple[Array, Mask]:
    """Scale intensities for a network; the result is always ``float32``.

    Modes:

    * ``"minmax"``: ``(x - min) / (max - min)`` over the whole image (colours keep their balance),
      giving [0, 1]; a constant image gives zeros.
    * ``"zscore"``: per channel ``(x - mean) / std`` of this image; a constant channel gives
      zeros.
    * ``"imagenet"``: ``(x - IMAGENET_MEAN) / IMAGENET_STD`` on the [0, 1] scale (``uint8`` / 255,
      float as it is), for ImageNet-pretrained encoders; needs 3 (RGB) channels.
    * ``"fixed"``: the same with the given ``mean`` and ``std`` (a number, or one per channel),
      e.g. statistics of the training set stored with a model.

    An RGBA alpha channel is kept, on the [0, 1] scale, and not normalised.
    """
    check_choice("mode", mode, NORMALIZE_MODES)
    if mode == "fixed":
        if mean is None or std is None:
            raise ConfigError("mode 'fixed' needs mean and std (a number or one per channel)")
        mean_v, std_v = _stats("mean", mean), _stats("std", std)
        if (std_v <= 0).any():
            raise ConfigError(f"std must be > 0, got {std!r}")
    elif mean is not None or std is not None:
        raise ConfigError(f"mean and std are only used with mode 'fixed', not {mode!r}")
    body, layout = split_image(image, mask)
    x = to_unit(body)
    if mode == "minmax":
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / np.float32(hi - lo) if hi > lo else np.zeros_like(x)
    elif mode == "zscore":
        mu = x.mean(axis=(0, 1), keepdims=True)
        sd = x.std(axis=(0, 1), keepdims=True)
        x = (x - mu) / np.where(sd > 0, sd, 1.0).astype(np.float32)
    else:
        if mode == "imagenet":
            mean_v, std_v = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
        channels = x.shape[2]
        if mean_v.size not in (1, channels) or std_v.size not in (1, channels):
            fix = (
                "convert the image to RGB or use mode 'zscore'"
                if mode == "imagenet"
                else ("give one mean and std per channel, or a single number")
            )
            raise DataError(
                f"normalize mode {mode!r} has {max(mean_v.size, std_v.size)} channel statistics "
                f"but the image has {channels} channel(s) (alpha excluded); {fix}"
            )
        x = (x - mean_v.astype(np.float32)) / std_v.astype(np.float32)
    return join_image(x.astype(np.float32), layout), mask


def _stats(name: str, value: float | list[float]) -> Array:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ConfigError(f"{name} must be a number or a list of numbers, got {value!r}")
    for item in items:
        check_number(name, item)
    return np.asarray(items, np.float64)
