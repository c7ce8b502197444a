"""Reading images: :func:`read_image` (``H x W x C`` arrays) and :func:`read_image_size`.

The channel, dtype and orientation rules are in :mod:`seglab.io`'s docstring.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from seglab.core.arrays import image_to_float
from seglab.errors import DataError
from seglab.io.meta import ImageMeta
from seglab.io.orientation import orient
from seglab.io.pillow import open_pillow, sample_dtype
from seglab.io.png import PNG16_MODES, png16_colour_type, read_png16
from seglab.io.sniff import is_tiff
from seglab.io.tiff import read_tiff


def _normalise_dtype(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:
        arr = arr.astype(np.uint16)  # native byte order (TIFFs may be big-endian)
    return image_to_float(arr)  # 16-bit scaled to [0, 1], the rest as read


def _pillow_image_array(img: Image.Image, keep_alpha: bool, path: Path) -> np.ndarray:
    """Convert a decoded Pillow image to the channels :func:`read_image` promises."""
    mode = img.mode
    has_alpha = mode in ("RGBA", "RGBa", "PA", "LA", "La") or (
        mode == "P" and "transparency" in img.info
    )
    if mode in ("L", "RGB", "I", "F") or mode.startswith("I;16"):
        target = None
    elif mode == "1":
        target = "L"
    elif mode in ("LA", "La"):
        target = "LA" if keep_alpha else "L"
    elif has_alpha:
        target = "RGBA"  # palette transparency must go through RGBA; alpha dropped below
    else:
        target = "RGB"  # P, CMYK, YCbCr, LAB, HSV, RGBX
    if target is not None:
        try:
            img = img.convert(target)
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot convert a {mode} image ({exc})", path=path) from None
    arr = np.asarray(img)
    if target == "RGBA" and not keep_alpha:
        arr = arr[..., :3]
    return arr


def read_image(
    path: str | Path, *, keep_alpha: bool = False, allow_large: bool = False
) -> tuple[np.ndarray, ImageMeta]:
    """Read an image file as an ``H x W x C`` array and its :class:`ImageMeta`.

    See :mod:`seglab.io` for the channel, dtype and orientation rules.

    Parameters
    ----------
    path: JPEG, PNG, BMP, TIFF, WebP or GIF file.
    keep_alpha: keep the alpha channel of RGBA/LA images.
    allow_large: lift Pillow's decompression-bomb limit for trusted, very large images.

    Raises
    ------
    DataError
        The file is missing, unreadable, truncated, too large, or has an unsupported shape.

    Examples
    --------
    >>> image, meta = read_image("photo.jpg")  # doctest: +SKIP
    >>> image.shape, image.dtype, meta.exif_transposed  # doctest: +SKIP
    ((512, 512, 3), dtype('uint8'), False)
    """
    path = Path(path)
    if is_tiff(path):  # by content: a TIFF named .png is still a TIFF
        tif = read_tiff(path, allow_large)
        arr, stored_dtype = tif.array, tif.array.dtype
        if tif.palette is not None:
            arr = tif.palette[arr]  # parity with Pillow: palette images become RGB
        elif tif.alpha_channels and not keep_alpha:
            arr = np.delete(arr, tif.alpha_channels, axis=-1)
        fmt, mode, bit_depth, orientation = "TIFF", tif.photometric, tif.bit_depth, tif.orientation
        stored_size = (tif.width, tif.height)
    else:
        colour16 = png16_colour_type(path)
        img, fmt, orientation = open_pillow(path, allow_large, decode=colour16 is None)
        stored_size = img.size
        if colour16 is None:
            mode, stored_dtype = img.mode, sample_dtype(img, fmt)
            arr = _pillow_image_array(img, keep_alpha, path)
        else:
            mode, stored_dtype = PNG16_MODES[colour16], np.dtype(np.uint16)
            arr = read_png16(path, colour16, img.size)
            if colour16 != 2 and not keep_alpha:
                arr = arr[..., :-1]
        bit_depth = 1 if mode == "1" else stored_dtype.itemsize * 8
        if stored_dtype == np.uint16:
            arr = arr.astype(np.uint16, copy=False)  # native byte order ("I;16B", "I" PNGs)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = _normalise_dtype(orient(arr, orientation))
    arr = np.array(arr, order="C", copy=not (arr.flags.writeable and arr.flags.c_contiguous))
    nonfinite = bool(arr.dtype.kind == "f" and not np.isfinite(arr).all())
    meta = ImageMeta(
        path=str(path),
        format=fmt,
        mode=mode,
        dtype=np.dtype(stored_dtype).name,
        bit_depth=bit_depth,
        height=arr.shape[0],
        width=arr.shape[1],
        channels=arr.shape[2],
        stored_size=(int(stored_size[0]), int(stored_size[1])),
        exif_transposed=orientation != 1,
        has_nonfinite=nonfinite,
    )
    return arr, meta


def read_image_size(path: str | Path, *, exif: bool = True) -> tuple[int, int]:
    """Return ``(width, height)`` from the file header without decoding the pixels.

    With ``exif=True`` the EXIF (or TIFF) orientation is taken into account (a 90-degree rotation
    swaps width and height), as :func:`read_image` does. No pixels are decoded, so the
    decompression-bomb limit does not apply.

    Raises
    ------
    DataError
        The file is missing or its header is unreadable.
    """
    path = Path(path)
    if is_tiff(path):  # by content: a TIFF named .png is still a TIFF
        tif = read_tiff(path, allow_large=True, decode=False)
        w, h, orientation = tif.width, tif.height, tif.orientation
    else:
        img, _, orientation = open_pillow(path, allow_large=True, decode=False)
        w, h = img.size
    if exif and orientation >= 5:
        w, h = h, w
    return int(w), int(h)
