"""Masks: :func:`read_mask` keeps the stored values, :func:`write_mask` writes lossless PNG.

The rules are in :mod:`seglab.io`'s docstring; what the values mean is the dataset's job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from seglab.errors import DataError
from seglab.io.meta import ImageMeta
from seglab.io.orientation import orient
from seglab.io.pillow import open_pillow, sample_dtype
from seglab.io.png import PNG16_MODES, png16_colour_type, read_png16
from seglab.io.sniff import is_tiff
from seglab.io.tiff import read_tiff


def _pillow_mask_array(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """The stored values of a decoded Pillow mask, and its palette for palette images."""
    mode = img.mode
    palette = None
    if mode in ("P", "PA"):
        palette = np.asarray(img.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
        if mode == "PA":
            img = img.getchannel(0)
    elif mode in ("LA", "La"):
        img = img.getchannel(0)
    elif mode == "1":
        img = img.convert("L")  # 0/255
    elif not (mode in ("L", "RGB", "I", "F") or mode.startswith("I;16")):
        img = img.convert("RGB")  # RGBA (alpha dropped), RGBX, CMYK, YCbCr...
    return np.asarray(img), palette


def _mask_values(raw: np.ndarray, path: Path) -> np.ndarray:
    """Stored mask samples -> ``H x W`` integers or ``H x W x 3`` uint8 colours."""
    if raw.dtype == np.bool_:
        raw = raw.astype(np.uint8) * np.uint8(255)  # like a 1-bit PNG
    if raw.dtype.kind == "f":
        if not np.isfinite(raw).all() or not np.array_equal(raw, np.round(raw)):
            raise DataError(
                "mask holds non-integer float values; save masks as 8- or 16-bit PNG "
                "with one integer class index (or 0/255) per pixel",
                path=path,
            )
        lo, hi = (raw.min(), raw.max()) if raw.size else (0, 0)
        if lo >= 0 and hi <= 65535:
            raw = raw.astype(np.uint8 if hi <= 255 else np.uint16)
        else:
            raw = raw.astype(np.int64)
    if raw.dtype.kind not in "iu":
        raise DataError(f"mask samples of type {raw.dtype} are not integers", path=path)
    raw = raw.astype(raw.dtype.newbyteorder("="), copy=False)
    if raw.ndim == 3:
        if raw.shape[-1] > 4:
            raise DataError(
                f"mask has {raw.shape[-1]} channels; expected 1 (values), 3 (RGB colours) "
                "or 4 (RGBA)",
                path=path,
            )
        if raw.shape[-1] < 3:
            raw = raw[..., 0]  # grey (+ alpha)
        else:
            raw = raw[..., :3]
            if (raw[..., :1] == raw[..., 1:]).all():
                raw = raw[..., 0]  # grey stored as RGB
            elif raw.dtype != np.uint8:
                raw = _colours_to_uint8(raw, path)
    return raw


def _colours_to_uint8(raw: np.ndarray, path: Path) -> np.ndarray:
    """Colours stored with more than 8 bits: exact 8-bit colours, or a DataError."""
    if raw.min() >= 0 and raw.max() <= 255:
        return raw.astype(np.uint8)
    if raw.dtype == np.uint16 and not (raw % 257).any():
        return (raw // 257).astype(np.uint8)  # 8-bit colours scaled to 16 bits
    raise DataError(
        f"colour mask holds {raw.dtype} colours that are not 8-bit colours; save colour masks "
        "as 8-bit RGB PNG, or class indices as a grayscale/palette PNG",
        path=path,
    )


def read_mask(path: str | Path, *, allow_large: bool = False) -> tuple[np.ndarray, ImageMeta]:
    """Read a mask file without changing its values.

    Returns ``H x W`` integer values for grayscale, 16-bit and palette masks (palette indices,
    with the colours in ``meta.palette``) and ``H x W x 3`` ``uint8`` for colour masks
    (RGBA drops alpha; an RGB mask whose three channels are equal is returned as ``H x W``).
    The EXIF orientation is applied as in :func:`read_image`, so masks stay aligned with images.

    Raises
    ------
    DataError
        The file is missing, unreadable or too large, or is a float image holding non-integers.

    Examples
    --------
    >>> mask, meta = read_mask("masks/cat.png")  # doctest: +SKIP
    >>> mask.shape, mask.dtype, meta.palette is None  # doctest: +SKIP
    ((512, 512), dtype('uint8'), True)
    """
    path = Path(path)
    if is_tiff(path):  # by content: a TIFF named .png is still a TIFF
        tif = read_tiff(path, allow_large)
        raw, palette, orientation = tif.array, tif.palette, tif.orientation
        fmt, mode, bit_depth = "TIFF", tif.photometric, tif.bit_depth
        stored_size = (tif.width, tif.height)
        if tif.alpha_channels:
            raw = np.delete(raw, tif.alpha_channels, axis=-1)
    else:
        colour16 = png16_colour_type(path)
        img, fmt, orientation = open_pillow(path, allow_large, decode=colour16 is None)
        stored_size = img.size
        if colour16 is None:
            mode, stored_dtype = img.mode, sample_dtype(img, fmt)
            bit_depth = stored_dtype.itemsize * 8
            raw, palette = _pillow_mask_array(img)
            if stored_dtype == np.uint16:
                raw = raw.astype(np.uint16)  # native byte order ("I;16B", "I" PNGs)
        else:
            mode, bit_depth, palette = PNG16_MODES[colour16], 16, None
            raw = read_png16(path, colour16, img.size)
        bit_depth = 1 if mode == "1" else bit_depth
    stored_dtype = raw.dtype
    raw = _mask_values(raw, path)
    raw = orient(raw, orientation)
    raw = np.array(raw, order="C", copy=not (raw.flags.writeable and raw.flags.c_contiguous))
    meta = ImageMeta(
        path=str(path),
        format=fmt,
        mode=mode,
        dtype=np.dtype(stored_dtype).name,
        bit_depth=bit_depth,
        height=raw.shape[0],
        width=raw.shape[1],
        channels=1 if raw.ndim == 2 else raw.shape[2],
        stored_size=(int(stored_size[0]), int(stored_size[1])),
        exif_transposed=orientation != 1,
        palette=palette,
    )
    return raw, meta


def _palette_array(palette, num_values: int, path: Path) -> np.ndarray:
    """Validate a palette and pad it to cover every value in the mask."""
    pal = np.asarray(palette)
    if (
        pal.ndim != 2
        or pal.shape[1] != 3
        or not 1 <= len(pal) <= 256
        or pal.dtype.kind not in "iu"
        or pal.min() < 0
        or pal.max() > 255
    ):
        raise DataError(
            f"palette must be 1 to 256 (r, g, b) colours with integer values 0..255, got an "
            f"array of shape {pal.shape} and type {pal.dtype}",
            path=path,
        )
    # Pillow writes 1/2/4-bit PNGs for short palettes, which would cut larger indices
    pad = max(0, num_values - len(pal))
    return np.concatenate([pal.astype(np.uint8), np.zeros((pad, 3), np.uint8)])


def write_mask(
    path: str | Path,
    mask: np.ndarray,
    *,
    palette: np.ndarray | list[tuple[int, int, int]] | None = None,
) -> Path:
    """Write an ``H x W`` integer mask as a lossless PNG and return the path.

    Values up to 255 are written as 8-bit (a palette PNG when ``palette`` is given, so viewers
    show colours while the stored values stay class indices); larger values as 16-bit PNG.
    ``bool`` masks are written as 0/1. ``H x W x 3`` ``uint8`` colour masks are written as RGB PNG.
    :func:`read_mask` gives back exactly the values written.

    Raises
    ------
    DataError
        The extension is not ``.png`` (JPEG would change the values), the values do not fit
        (negative, above 65535, or above 255 with a palette), or the shape, type or palette is
        not one of the above.

    Examples
    --------
    >>> write_mask("out/cat.png", mask, palette=[(0, 0, 0), (255, 0, 0)])  # doctest: +SKIP
    PosixPath('out/cat.png')
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise DataError(
            "masks are written as PNG only (JPEG is lossy and changes class values); "
            "use a .png file name",
            path=path,
        )
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.dtype == np.bool_:
        mask = mask.astype(np.uint8)
    if mask.ndim == 3 and mask.shape[-1] == 3:
        img = _colour_mask_image(mask, palette, path)
    elif mask.ndim == 2:
        img = _index_mask_image(mask, palette, path)
    else:
        raise DataError(
            f"cannot write a mask of shape {mask.shape} (expected H x W integers or H x W x 3 "
            "uint8 colours)",
            path=path,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")
    return path


def _colour_mask_image(
    mask: np.ndarray, palette: np.ndarray | list[tuple[int, int, int]] | None, path: Path
) -> Image.Image:
    """An ``H x W x 3`` colour mask as an RGB image; it must be uint8 and take no palette."""
    if mask.dtype != np.uint8:
        raise DataError(
            f"colour masks must be uint8, got {mask.dtype}; write class indices as H x W",
            path=path,
        )
    if palette is not None:
        raise DataError("a palette applies to H x W index masks, not to colours", path=path)
    return Image.fromarray(np.ascontiguousarray(mask))


def _index_mask_image(
    mask: np.ndarray, palette: np.ndarray | list[tuple[int, int, int]] | None, path: Path
) -> Image.Image:
    """An ``H x W`` integer mask as an 8-bit (palette) or 16-bit image, values unchanged."""
    if mask.dtype.kind not in "iu":
        raise DataError(
            f"mask dtype {mask.dtype} is not an integer type; convert it with "
            "mask.astype(np.uint8) (np.uint16 for values above 255)",
            path=path,
        )
    lo, hi = (int(mask.min()), int(mask.max())) if mask.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise DataError(
            f"mask values {lo}..{hi} do not fit a PNG (0..65535); map negative values "
            "(such as an ignore index of -1) to 255 first",
            path=path,
        )
    if palette is not None and hi > 255:
        raise DataError(
            f"a palette PNG holds values 0..255, but the mask has values up to {hi}; "
            "write it without a palette (16-bit PNG)",
            path=path,
        )
    if hi > 255:
        return Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint16))
    img = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8))
    if palette is not None:
        # putpalette turns the "L" image into a "P" image holding the same indices
        img.putpalette(_palette_array(palette, hi + 1, path).reshape(-1).tolist())
    return img


def write_label_image(path: str | Path, labels: np.ndarray) -> Path:
    """Write an ``H x W`` label image (0 background, each object its own id) as a 16-bit
    grayscale PNG and return the path.

    Always 16 bits, even when every id is below 256: that is the Cellpose/StarDist convention,
    and what tells a label image from a class mask when a dataset is read back
    (:mod:`seglab.data.folders`). :func:`read_mask` gives back exactly the ids written.

    Raises
    ------
    DataError
        The extension is not ``.png``, the array is not ``H x W`` integers, or an id is
        negative or above 65535 (the most a 16-bit PNG holds).

    Examples
    --------
    >>> write_label_image("masks/cells.png", labels)  # doctest: +SKIP
    PosixPath('masks/cells.png')
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise DataError("label images are written as PNG only; use a .png file name", path=path)
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in "iub":
        raise DataError(
            f"a label image is H x W integers, not {labels.dtype} {labels.shape}", path=path
        )
    lo, hi = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise DataError(
            f"label ids {lo}..{hi} do not fit a 16-bit PNG (0..65535): at most 65535 objects "
            "per image",
            path=path,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint16)).save(path, format="PNG")
    return path


def write_class_mask(path: str | Path, mask: np.ndarray, *, binary: bool) -> Path:
    """Write a predicted ``H x W`` mask the way every seglab output folder holds them: 0/255
    (any non-zero value is the object) when ``binary``, else the class indices as they are."""
    return write_mask(path, (np.asarray(mask) != 0).astype(np.uint8) * 255 if binary else mask)
