"""Reading and writing images and masks: every format quirk is handled here, once.

Rules for images (:func:`read_image`)
-------------------------------------
* The array is always ``H x W x C`` (``C`` = 1 for grayscale, 3 for colour, more for
  multi-channel TIFF), and always a writable array of its own.
* dtype: 8-bit images stay ``uint8`` (1-bit images become 0/255 ``uint8``). Everything else
  (16-bit, 32-bit integer, float) becomes ``float32``: unsigned 16-bit is divided by 65535 so it
  lies in [0, 1]; float data is kept as it is (NaN and Inf included: ``meta.has_nonfinite`` says
  so); other integer types are cast unchanged. ``meta.dtype`` and ``meta.bit_depth`` keep what the
  file held. 16-bit colour PNGs are decoded with OpenCV, because Pillow keeps only their high byte.
* Channels: palette images become RGB; RGBA and LA lose their alpha channel unless
  ``keep_alpha=True`` (segmentation models look at colour, and most alpha channels in photos are
  an artefact of the export). In a TIFF, the channels its ExtraSamples tag marks as alpha are the
  alpha; any other channels (2-channel, 5-channel...) are all kept.
* EXIF orientation (the TIFF Orientation tag for TIFFs) is applied exactly once, so the array is
  what a viewer shows and what annotation tools draw on; ``meta.exif_transposed`` says whether the
  file asked for it and ``meta.stored_size`` keeps the size as stored.
* Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 megapixels) is kept,
  for TIFFs too: a larger image is refused with a message; pass ``allow_large=True``
  (``--allow-large-images``) for images you trust. The global limit is never left changed.
* TIFF files are read with tifffile (16-bit RGB, float, multi-channel, ``C x H x W`` planar
  pages and ImageJ ``CYX`` channel stacks); any other multi-page TIFF gives its first page.
* Every failure (missing, unreadable, truncated, too large) is a :class:`~seglab.errors.DataError`
  that names the file.

Rules for masks (:func:`read_mask`)
-----------------------------------
Masks are read without any colour conversion, and with the same orientation as the image:
grayscale and palette masks give ``H x W`` integer arrays of the stored values (palette indices,
not colours: ``meta.palette`` has the colours; 1-bit masks give 0/255, as Pillow, OpenCV and
scikit-image read them); RGB masks give ``H x W x 3`` ``uint8``; RGBA masks drop alpha; float
masks must hold integers. Deciding what the values mean (0/255, 0/1, colours, class indices) is
the dataset's job (:mod:`seglab.data.folders`). :func:`write_mask` writes lossless PNG only.
"""

from __future__ import annotations

import re
import struct
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from seglab.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
TIFF_EXTENSIONS = (".tif", ".tiff")
_EXIF_ORIENTATION = 0x0112
_TIFF_ORIENTATION = 274
# orientation -> (flip rows, flip columns), applied after swapping the axes for 5..8
_ORIENTATION_FLIPS = {
    2: (False, True),
    3: (True, True),
    4: (True, False),
    5: (False, False),
    6: (False, True),
    7: (True, True),
    8: (True, False),
}
# stored sample type of the Pillow modes that are not 8-bit
_MODE_DTYPES = {"1": "bool", "I": "int32", "F": "float32"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# 16-bit PNG colour types that Pillow reduces to 8 bits: colour type -> mode name
_PNG16_MODES = {2: "RGB;16", 4: "LA;16", 6: "RGBA;16"}
# exceptions Pillow and its plugins raise for files they cannot decode
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)


@dataclass(frozen=True)
class ImageMeta:
    """What :func:`read_image` / :func:`read_mask` learned about a file.

    Attributes
    ----------
    path: the file read.
    format: container format as Pillow/tifffile names it ("JPEG", "PNG", "TIFF", ...).
    mode: Pillow mode of the stored image ("L", "RGB", "P", "I;16", ...; "RGB;16", "RGBA;16",
        "LA;16" for 16-bit colour PNGs), or for TIFFs the photometric interpretation
        ("MINISBLACK", "RGB", "PALETTE", ...).
    dtype: numpy dtype name of the stored samples, before any conversion.
    bit_depth: bits per stored sample (1, 8, 16, 32...).
    height, width: of the returned array (after EXIF orientation).
    channels: of the returned array (1 for masks read as H x W).
    stored_size: (width, height) as stored in the file, before EXIF orientation.
    exif_transposed: the file's orientation tag asked for a flip or rotation, which was applied.
    has_nonfinite: the image holds NaN or Inf.
    palette: for palette masks, an (N, 3) uint8 array of colours, else None.
    """

    path: str
    format: str
    mode: str
    dtype: str
    bit_depth: int
    height: int
    width: int
    channels: int
    stored_size: tuple[int, int]
    exif_transposed: bool = False
    has_nonfinite: bool = False
    palette: np.ndarray | None = field(default=None, compare=False, repr=False)


def is_image_file(path: str | Path) -> bool:
    """True when ``path`` has an extension seglab reads as an image."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _too_large(path: Path, detail: str, limit: int) -> DataError:
    return DataError(
        f"{detail}, more than the decompression-bomb safety limit of {limit:,} pixels "
        "(PIL.Image.MAX_IMAGE_PIXELS). If you trust this file, pass allow_large=True "
        "(CLI: --allow-large-images), or tile the image into smaller files.",
        path=path,
    )


@contextmanager
def _pillow_limits(path: Path, allow_large: bool):
    """Turn Pillow's decompression-bomb warning/error into a :class:`DataError` (or lift it)."""
    limit = Image.MAX_IMAGE_PIXELS
    if allow_large:
        Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit; seglab refuses from 1x, as for TIFFs
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        detail = f"image of {int(found[1]):,} pixels" if found else f"image too large ({exc})"
        raise _too_large(path, detail, limit) from None
    finally:
        if allow_large:
            Image.MAX_IMAGE_PIXELS = limit


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF/TIFF orientation (1..8) to an ``H x W [x C]`` array, as a viewer does."""
    if orientation not in _ORIENTATION_FLIPS:
        return arr
    if orientation >= 5:
        arr = arr.swapaxes(0, 1)
    flip_rows, flip_cols = _ORIENTATION_FLIPS[orientation]
    if flip_rows:
        arr = arr[::-1]
    if flip_cols:
        arr = arr[:, ::-1]
    return arr


def _png_trailing_exif(path: Path) -> bytes | None:
    """The eXIf chunk of a PNG, read by skipping from chunk header to chunk header."""
    with open(path, "rb") as f:
        if f.read(8) != _PNG_SIGNATURE:
            return None
        while len(head := f.read(8)) == 8:
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                return f.read(length)
            if kind == b"IEND":
                break
            f.seek(length + 4, 1)
    return None


def _orientation(img: Image.Image, path: Path, *, decoded: bool) -> int:
    """The EXIF orientation (1..8) of an open image; 1 when absent, invalid or unreadable."""
    try:
        if img.format == "PNG" and not decoded:
            # Pillow's PNG getexif decodes every pixel to find an eXIf chunk placed after them;
            # put that chunk where a decoded image would have it, and read the header only.
            if "exif" not in img.info and (trailing := _png_trailing_exif(path)) is not None:
                img.info["exif"] = b"Exif\x00\x00" + trailing
            exif = Image.Image.getexif(img)
        else:
            exif = img.getexif()
        value = int(exif.get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not make the image unreadable
        return 1
    return value if value in _ORIENTATION_FLIPS else 1


def _open_pillow(path: Path, allow_large: bool, *, decode: bool) -> tuple[Image.Image, str, int]:
    """Open (and with ``decode``, fully decode) an image with Pillow, naming the file in failures.

    Returns the image, its format and its EXIF orientation; the file is closed on return.
    """
    if not path.is_file():
        raise DataError("file not found", path=path)
    with _pillow_limits(path, allow_large):
        try:
            with Image.open(path) as img:
                fmt = img.format or path.suffix.lstrip(".").upper()
                if decode:
                    img.load()
                orientation = _orientation(img, path, decoded=decode)
        except UnidentifiedImageError:
            raise DataError(
                "not an image Pillow can read (unknown format or corrupt header); "
                "re-export or remove the file",
                path=path,
            ) from None
        except _DECODE_ERRORS as exc:
            raise DataError(
                f"unreadable or truncated image ({type(exc).__name__}: {exc}); "
                "re-export or remove the file",
                path=path,
            ) from None
    return img, fmt, orientation


def _png16_colour_type(path: Path) -> int | None:
    """The colour type of a 16-bit colour PNG (2 RGB, 4 grey + alpha, 6 RGBA), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError:
        return None  # Pillow reports it
    is_png = len(head) == 26 and head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR"
    return head[25] if is_png and head[24] == 16 and head[25] in _PNG16_MODES else None


def _read_png16(path: Path, colour_type: int, size: tuple[int, int]) -> np.ndarray:
    """Decode a 16-bit colour PNG at full depth as ``H x W x C`` uint16 (RGB, LA or RGBA)."""
    import cv2  # only these files need it

    try:
        arr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        arr = None
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[:2] != size[::-1]:
        raise DataError(
            "unreadable or truncated 16-bit PNG; re-export or remove the file", path=path
        )
    # OpenCV gives BGR(A), and grey + alpha as BGRA with B = G = R
    order = {2: [2, 1, 0], 4: [0, 3], 6: [2, 1, 0, 3]}[colour_type]
    return np.ascontiguousarray(arr[..., order])


@dataclass(frozen=True)
class _Tiff:
    """A TIFF's first image as stored (before orientation and any conversion)."""

    width: int
    height: int
    orientation: int
    photometric: str = ""
    array: np.ndarray | None = None  # H x W or H x W x C; palette TIFFs hold indices
    bit_depth: int = 8
    alpha_channels: tuple[int, ...] = ()
    palette: np.ndarray | None = None  # (N, 3) uint8 colours of a palette TIFF


def _check_tiff_size(path: Path, width: int, height: int, allow_large: bool) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    if not allow_large and limit is not None and width * height > limit:
        raise _too_large(path, f"image of {width} x {height} = {width * height:,} pixels", limit)


def _read_tiff(path: Path, allow_large: bool, *, decode: bool = True) -> _Tiff:
    """Read the first image of a TIFF with tifffile (only its header when ``decode`` is False)."""
    import tifffile

    if not path.is_file():
        raise DataError("file not found", path=path)
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.pages:
                raise DataError("TIFF file holds no image", path=path)
            page = tif.pages[0]
            width, height = int(page.imagewidth), int(page.imagelength)
            value = page.tags.valueof(_TIFF_ORIENTATION, 1)
            orientation = value if isinstance(value, int) and value in _ORIENTATION_FLIPS else 1
            if not decode:
                return _Tiff(width, height, orientation)
            _check_tiff_size(path, width, height, allow_large)
            if tif.is_imagej and len(tif.pages) > 1 and tif.series[0].axes == "CYX":
                # ImageJ / Fiji store a C x H x W stack as one page per channel
                arr = np.moveaxis(tif.series[0].asarray(), 0, -1)
            else:
                arr = page.asarray()
                if page.samplesperpixel > 1 and page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
                    arr = np.moveaxis(arr, 0, -1)  # C x H x W planes
            extras = tuple(int(e) for e in page.extrasamples)
            base = page.samplesperpixel - len(extras)
            alpha = tuple(base + i for i, e in enumerate(extras) if e in (1, 2))  # assoc./unassoc.
            photometric = getattr(page.photometric, "name", str(page.photometric))
            palette = None
            if photometric == "PALETTE" and page.colormap is not None:
                cmap = np.asarray(page.colormap).T  # (N, 3), 16-bit; some writers store 8-bit
                palette = (cmap // 257 if cmap.max() > 255 else cmap).astype(np.uint8)
            bit_depth = int(page.bitspersample)
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # tifffile and its codecs raise many types for a broken file
        raise DataError(
            f"unreadable or truncated TIFF ({type(exc).__name__}: {exc}); "
            "re-export or remove the file",
            path=path,
        ) from None
    if arr.ndim not in (2, 3) or arr.shape[:2] != (height, width):
        raise DataError(
            f"cannot read an array of shape {arr.shape} as one {width} x {height} image "
            "(expected H x W, H x W x C or C x H x W); save volumes as one file per slice",
            path=path,
        )
    alpha = alpha if arr.ndim == 3 and all(i < arr.shape[-1] for i in alpha) else ()
    return _Tiff(width, height, orientation, photometric, arr, bit_depth, alpha, palette)


def _normalise_dtype(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:
        return arr.astype(np.float32) / np.float32(65535)
    return arr.astype(np.float32)


def _stored_dtype(img: Image.Image, fmt: str) -> np.dtype:
    if img.mode.startswith("I;16") or (img.mode == "I" and fmt == "PNG"):
        return np.dtype(np.uint16)  # PNG has no 32-bit samples: older Pillow opens 16-bit as "I"
    return np.dtype(_MODE_DTYPES.get(img.mode, "uint8"))


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

    See the module docstring for the channel, dtype and orientation rules.

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
    if path.suffix.lower() in TIFF_EXTENSIONS:
        tif = _read_tiff(path, allow_large)
        arr, stored_dtype = tif.array, tif.array.dtype
        if tif.palette is not None:
            arr = tif.palette[arr]  # parity with Pillow: palette images become RGB
        elif tif.alpha_channels and not keep_alpha:
            arr = np.delete(arr, tif.alpha_channels, axis=-1)
        fmt, mode, bit_depth, orientation = "TIFF", tif.photometric, tif.bit_depth, tif.orientation
        stored_size = (tif.width, tif.height)
    else:
        colour16 = _png16_colour_type(path)
        img, fmt, orientation = _open_pillow(path, allow_large, decode=colour16 is None)
        stored_size = img.size
        if colour16 is None:
            mode, stored_dtype = img.mode, _stored_dtype(img, fmt)
            arr = _pillow_image_array(img, keep_alpha, path)
        else:
            mode, stored_dtype = _PNG16_MODES[colour16], np.dtype(np.uint16)
            arr = _read_png16(path, colour16, img.size)
            if colour16 != 2 and not keep_alpha:
                arr = arr[..., :-1]
        bit_depth = 1 if mode == "1" else stored_dtype.itemsize * 8
        if stored_dtype == np.uint16:
            arr = arr.astype(np.uint16, copy=False)  # native byte order ("I;16B", "I" PNGs)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = _normalise_dtype(_orient(arr, orientation))
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
    if path.suffix.lower() in TIFF_EXTENSIONS:
        tif = _read_tiff(path, allow_large=True, decode=False)
        w, h, orientation = tif.width, tif.height, tif.orientation
    else:
        img, _, orientation = _open_pillow(path, allow_large=True, decode=False)
        w, h = img.size
    if exif and orientation >= 5:
        w, h = h, w
    return int(w), int(h)


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
    if path.suffix.lower() in TIFF_EXTENSIONS:
        tif = _read_tiff(path, allow_large)
        raw, palette, orientation = tif.array, tif.palette, tif.orientation
        fmt, mode, bit_depth = "TIFF", tif.photometric, tif.bit_depth
        stored_size = (tif.width, tif.height)
        if tif.alpha_channels:
            raw = np.delete(raw, tif.alpha_channels, axis=-1)
    else:
        colour16 = _png16_colour_type(path)
        img, fmt, orientation = _open_pillow(path, allow_large, decode=colour16 is None)
        stored_size = img.size
        if colour16 is None:
            mode, stored_dtype = img.mode, _stored_dtype(img, fmt)
            bit_depth = stored_dtype.itemsize * 8
            raw, palette = _pillow_mask_array(img)
            if stored_dtype == np.uint16:
                raw = raw.astype(np.uint16)  # native byte order ("I;16B", "I" PNGs)
        else:
            mode, bit_depth, palette = _PNG16_MODES[colour16], 16, None
            raw = _read_png16(path, colour16, img.size)
        bit_depth = 1 if mode == "1" else bit_depth
    stored_dtype = raw.dtype
    raw = _mask_values(raw, path)
    raw = _orient(raw, orientation)
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
        if mask.dtype != np.uint8:
            raise DataError(
                f"colour masks must be uint8, got {mask.dtype}; write class indices as H x W",
                path=path,
            )
        if palette is not None:
            raise DataError("a palette applies to H x W index masks, not to colours", path=path)
        img = Image.fromarray(np.ascontiguousarray(mask))
    elif mask.ndim == 2:
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
        if hi <= 255:
            img = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8))
            if palette is not None:
                # putpalette turns the "L" image into a "P" image holding the same indices
                img.putpalette(_palette_array(palette, hi + 1, path).reshape(-1).tolist())
        else:
            img = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint16))
    else:
        raise DataError(
            f"cannot write a mask of shape {mask.shape} (expected H x W integers or H x W x 3 "
            "uint8 colours)",
            path=path,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")
    return path
