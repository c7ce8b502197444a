"""Corpus cases for image files, mask folders and run-length masks (groups ``image``, ``masks``,
``rle``).

Each case writes a small dataset (or prediction file) with one faulty file among good ones and
runs the command a person would: ``seglab data check`` for datasets, ``seglab predict`` /
``seglab classical`` for images to segment, ``seglab evaluate --pred`` for run-length CSVs and
COCO results. See ``corpus.py`` for what a case asserts.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from tests.builders import coco_dataset, mask_dataset, write_image
from tests.robustness.corpus import ERROR, FAILED, OK, Case, Env

NOT_OK = ("data check OK",)

# ----------------------------------------------------------------------------- file bytes


def _encode(arr: np.ndarray, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _noise(h: int = 16, w: int = 16, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (h, w, channels) if channels > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _png(arr: np.ndarray, **kwargs) -> bytes:
    return _encode(arr, "PNG", **kwargs)


def _jpeg(arr: np.ndarray, quality: int = 90) -> bytes:
    return _encode(arr, "JPEG", quality=quality)


def _tiff(arr: np.ndarray, **kwargs) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, **kwargs)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int, colour_type: int = 0) -> bytes:
    """A PNG whose header declares ``width x height`` (8-bit) and whose pixels are one tiny
    IDAT: what a decompression bomb or a 0x0 image looks like to a reader."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _tiff_declaring(width: int, height: int) -> bytes:
    """A little-endian grey TIFF whose one IFD declares ``width x height`` and one strip of
    16 bytes."""
    entries = [
        (256, 4, width),  # ImageWidth, LONG
        (257, 4, height),  # ImageLength
        (258, 3, 8),  # BitsPerSample, SHORT
        (259, 3, 1),  # Compression: none
        (262, 3, 1),  # PhotometricInterpretation: min-is-black
        (273, 4, 8),  # StripOffsets: the 16 bytes after the header
        (277, 3, 1),  # SamplesPerPixel
        (278, 4, height),  # RowsPerStrip
        (279, 4, 16),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in entries)
    return b"II*\x00" + struct.pack("<I", 24) + b"\x00" * 16 + ifd + struct.pack("<I", 0)


def _cut(data: bytes) -> bytes:
    """The first half of a file: a download or copy that stopped early."""
    return data[: len(data) // 2]


# ----------------------------------------------------------------------------- datasets


def _square_mask(h: int = 16, w: int = 16, value: int = 255) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4 : h // 2, w // 4 : w // 2] = value
    return mask


def _folders(env: Env, name: str, stems: tuple[str, ...] = ("a", "b", "c")) -> Path:
    """``images/`` + ``masks/`` of 16x16 RGB PNGs with 0/255 square masks."""
    return mask_dataset(env.path(name), {s: _square_mask() for s in stems})


def _put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _replace(root: Path, rel: str, name: str, data: bytes) -> Path:
    """Remove ``root/rel`` and write ``data`` as ``name`` in its folder."""
    old = root / rel
    old.unlink()
    return _put(old.parent / name, data)


def _replace_in(root: Path, name: str, data: bytes) -> Path:
    """``root`` with its image ``b.png`` replaced by ``name`` holding ``data``."""
    _replace(root, "images/b.png", name, data)
    return root


def _check(root: Path, *extra: object) -> list[object]:
    return ["data", "check", root, *extra]


def image_case(
    name: str, file_name: str, data: Callable[[], bytes], code: int, says=(), absent=()
) -> Case:
    """``data check`` on a folder dataset whose image ``b.png`` is replaced by ``file_name``
    holding ``data()`` (with a mask of the matching stem)."""

    def build(env: Env) -> list[object]:
        root = _folders(env, "imgs")
        _replace(root, "images/b.png", file_name, data())
        return _check(root)

    if code == OK:  # nothing to name: every image must have been read, without an error
        says, absent = ("3 listed, 3 readable", *says), ("error", *absent)
    else:
        says = (file_name, *says)
    return Case("image", name, build, code, says=says, absent=absent)


def mask_case(
    name: str, file_name: str, data: Callable[[], bytes], code: int, says=(), absent=()
) -> Case:
    """``data check`` on a folder dataset whose mask ``masks/b.png`` is replaced by
    ``file_name`` holding ``data()``."""

    def build(env: Env) -> list[object]:
        root = _folders(env, "masks")
        _replace(root, "masks/b.png", file_name, data())
        return _check(root)

    if code == OK:  # nothing to name: every mask must have been read, without an error
        says, absent = ("3 listed, 3 readable", "3 / 0", *says), ("error", *absent)
    else:
        says = (file_name, *says)
    return Case("masks", name, build, code, says=says, absent=absent)


# ----------------------------------------------------------------------------- image cases


def _cmyk_jpeg(h: int = 16, w: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_noise(h, w)).convert("CMYK").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _palette_png() -> bytes:
    return _encode(np.asarray(Image.fromarray(_noise()).convert("P")), "PNG")


def _one_bit_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_noise(channels=1) > 127).save(buf, format="PNG")
    return buf.getvalue()


def _png16_grey() -> bytes:
    return _png(np.arange(256, dtype=np.uint16).reshape(16, 16) * 257)


def _png16_rgb() -> bytes:
    """A 16-bit RGB PNG, written by hand (Pillow cannot)."""
    arr = (np.arange(16 * 16 * 3).reshape(16, 16, 3) * 85).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in arr.reshape(16, -1))
    header = struct.pack(">IIBBBBB", 16, 16, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def _float_tiff_nan() -> bytes:
    arr = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    arr[3, 3] = np.nan
    return _tiff(arr)


def _multipage_tiff() -> bytes:
    pages = np.stack([_noise(seed=i) for i in range(3)])
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        for page in pages:
            tif.write(page, photometric="rgb")
    return buf.getvalue()


def _broken_dir(env: Env) -> list[object]:
    root = _folders(env, "dir")
    (root / "images" / "d.png").mkdir()
    return _check(root)


def _symlink_loop(env: Env) -> list[object]:
    root = _folders(env, "loop")
    (root / "images" / "b.png").unlink()
    os.symlink("b.png", root / "images" / "b.png")
    return _check(root)


def _dangling_symlink(env: Env) -> list[object]:
    root = _folders(env, "dangling")
    (root / "images" / "b.png").unlink()
    os.symlink("/nonexistent/b.png", root / "images" / "b.png")
    return _check(root)


def _tiny_images(env: Env) -> list[object]:
    root = env.path("tiny")
    mask_dataset(root, {"a": _square_mask(), "b": np.full((1, 1), 255, np.uint8)})
    return _check(root)


def _oriented(displayed: Image.Image, orientation: int) -> Image.Image:
    """The image to store so that a viewer applying EXIF ``orientation`` shows ``displayed``."""
    undo = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }
    return displayed.transpose(undo[orientation]) if orientation in undo else displayed


def _exif_dataset(
    env: Env, orientation: int, *, tag_masks: bool = False, suffix: str = ".png"
) -> Path:
    """train/ and val/ of 24 x 16 images holding one bright off-centre rectangle, stored with
    EXIF ``orientation``; the masks mark the rectangle as a viewer shows it (``tag_masks``:
    the masks are stored rotated with the same tag too)."""
    root = env.path(f"exif{orientation}")
    for split, count in (("train", 2), ("val", 2)):
        for i in range(count):
            shown = np.full((16, 24), 30, np.uint8)
            mask = np.zeros((16, 24), np.uint8)
            y, x = 2 + i, 3 + 2 * i
            shown[y : y + 5, x : x + 9] = 220
            mask[y : y + 5, x : x + 9] = 255
            exif = Image.Exif()
            exif[0x0112] = orientation
            image = _oriented(Image.fromarray(np.stack([shown] * 3, -1)), orientation)
            (root / split / "images").mkdir(parents=True, exist_ok=True)
            (root / split / "masks").mkdir(parents=True, exist_ok=True)
            image.save(root / split / "images" / f"{split}{i}{suffix}", exif=exif)
            if tag_masks:
                _oriented(Image.fromarray(mask), orientation).save(
                    root / split / "masks" / f"{split}{i}.png", exif=exif
                )
            else:
                Image.fromarray(mask).save(root / split / "masks" / f"{split}{i}.png")
    return root


def exif_case(orientation: int, *, tag_masks: bool = False, suffix: str = ".png") -> Case:
    """Otsu on images stored with an EXIF orientation scores Dice 1 (above 0.99 for JPEG's
    blurred edges): the image as a viewer shows it is aligned with its mask. A flip or a
    rotation left out or applied twice moves the rectangle off its mask (Dice near 0)."""
    where = "image and mask both tagged" if tag_masks else "mask drawn as shown"
    dice = "dice │ 0.99" if suffix == ".jpg" else "dice │ 1.0000 │ 1.0000"

    def build(env: Env) -> list[object]:
        root = _exif_dataset(env, orientation, tag_masks=tag_masks, suffix=suffix)
        return ["classical", "otsu", "--data", root, "--out", env.path("out")]

    kind = suffix.lstrip(".").upper()
    return Case(
        "image", f"EXIF orientation {orientation} ({kind}), {where}", build, OK, says=(dice,)
    )


def _bomb_predict(env: Env) -> list[object]:
    folder = env.path("inputs")
    for name in ("a.png", "c.png"):
        write_image(folder / name)
    _put(folder / "b.png", _png_declaring(20_000, 20_000))
    return ["predict", "--model", env.run(), "--input", folder, "--out", env.path("pred")]


def _predict_with(name: str, data: Callable[[], bytes]) -> Callable[[Env], list[object]]:
    """``seglab predict`` on a folder of two good 32 px images and ``name`` holding ``data()``."""

    def build(env: Env) -> list[object]:
        folder = env.path("inputs")
        for good in ("a.png", "c.png"):
            write_image(folder / good)
        _put(folder / name, data())
        return ["predict", "--model", env.run(), "--input", folder, "--out", env.path("pred")]

    return build


def _classical_with(name: str, data: Callable[[], bytes]) -> Callable[[Env], list[object]]:
    """``seglab classical otsu`` on a folder of two good images and ``name`` holding ``data()``."""

    def build(env: Env) -> list[object]:
        folder = env.path("inputs")
        for good in ("a.png", "c.png"):
            write_image(folder / good)
        _put(folder / name, data())
        return ["classical", "otsu", "--input", folder, "--out", env.path("out")]

    return build


def _predict_many(env: Env) -> list[object]:
    """Grey, 16-bit grey, RGBA and CMYK inputs to a model trained on RGB images."""
    folder = env.path("inputs")
    _put(folder / "grey.png", _png(_noise(32, 32, 1)))
    _put(folder / "deep.png", _png(np.arange(1024, dtype=np.uint16).reshape(32, 32) * 64))
    _put(folder / "alpha.png", _png(_noise(32, 32, 4)))
    _put(folder / "cmyk.jpg", _cmyk_jpeg(32, 32))
    return ["predict", "--model", env.run(), "--input", folder, "--out", env.path("pred")]


IMAGE_CASES = [
    image_case(
        "truncated PNG", "b.png", lambda: _cut(_png(_noise())), FAILED, ("truncated",), NOT_OK
    ),
    image_case(
        "truncated JPEG", "b.jpg", lambda: _cut(_jpeg(_noise())), FAILED, ("truncated",), NOT_OK
    ),
    image_case(
        "truncated TIFF",
        "b.tif",
        lambda: _cut(_tiff(_noise(), photometric="rgb")),
        FAILED,
        ("truncated",),
        NOT_OK,
    ),
    image_case("zero bytes", "b.png", lambda: b"", FAILED, ("empty",), NOT_OK),
    image_case(
        "text file named .png",
        "b.png",
        lambda: b"Hello, this is a text file.\n" * 10,
        FAILED,
        ("text",),
        NOT_OK,
    ),
    image_case("PNG data named .jpg", "b.jpg", lambda: _png(_noise()), OK),
    image_case("PNG data named .tif", "b.tif", lambda: _png(_noise()), OK),
    image_case(
        "float TIFF data named .png",
        "b.png",
        lambda: _tiff(
            np.random.default_rng(0).random((16, 16, 3), dtype=np.float32), photometric="rgb"
        ),
        OK,
    ),
    image_case("16-bit grey PNG", "b.png", _png16_grey, OK),
    image_case("16-bit RGB PNG", "b.png", _png16_rgb, OK),
    Case(
        "image",
        "float32 TIFF with NaN",
        lambda env: _check(_replace_in(_folders(env, "nan"), "b.tif", _float_tiff_nan())),
        OK,
        says=("b.tif", "NaN"),
    ),
    image_case("multi-page TIFF", "b.tif", _multipage_tiff, OK, ("b.tif", "page 1 of 3")),
    image_case("CMYK JPEG", "b.jpg", _cmyk_jpeg, OK),
    image_case("palette PNG", "b.png", _palette_png, OK),
    image_case("PNG with alpha", "b.png", lambda: _png(_noise(channels=4)), OK),
    image_case("1-bit PNG", "b.png", _one_bit_png, OK),
    image_case(
        "grey + alpha PNG",
        "b.png",
        lambda: _encode(_noise(channels=2), "PNG"),
        OK,
    ),
    image_case(
        "decompression bomb PNG",
        "b.png",
        lambda: _png_declaring(20_000, 20_000),
        FAILED,
        ("400,000,000 pixels", "--allow-large-images"),
        NOT_OK,
    ),
    image_case(
        "decompression bomb TIFF",
        "b.tif",
        lambda: _tiff_declaring(20_000, 20_000),
        FAILED,
        ("400,000,000 pixels", "--allow-large-images"),
        NOT_OK,
    ),
    image_case("0x0 PNG", "b.png", lambda: _png_declaring(0, 0), FAILED, ("0 x 0",), NOT_OK),
    Case("image", "1x1 image and mask", _tiny_images, OK, says=("2 listed, 2 readable", "1x1 (1)")),
    Case("image", "directory named d.png", _broken_dir, OK, says=("3 listed, 3 readable",)),
    Case(
        "image",
        "symlink loop b.png",
        _symlink_loop,
        FAILED,
        says=("b.png", "symbolic link loop"),
        absent=NOT_OK,
    ),
    Case(
        "image",
        "dangling symlink b.png",
        _dangling_symlink,
        FAILED,
        says=("b.png", "broken symbolic link", "/nonexistent/b.png"),
        absent=NOT_OK,
    ),
    *[exif_case(o) for o in range(1, 9)],
    exif_case(6, suffix=".jpg"),
    exif_case(8, suffix=".jpg"),
    exif_case(6, tag_masks=True),
    Case(
        "image",
        "predict: truncated image among good ones",
        _predict_with("b.png", lambda: _cut(_png(_noise(32, 32)))),
        FAILED,
        says=("b.png", "truncated", "skipped"),
    ),
    Case(
        "image",
        "predict: text file named .jpg among good ones",
        _predict_with("b.jpg", lambda: b"not an image\n"),
        FAILED,
        says=("b.jpg", "skipped"),
    ),
    Case(
        "image",
        "predict: decompression bomb among good ones",
        _bomb_predict,
        FAILED,
        says=("b.png", "SEGLAB_ALLOW_LARGE_IMAGES=1", "skipped"),
    ),
    Case(
        "image",
        "predict: grey, 16-bit, RGBA and CMYK inputs to an RGB model",
        _predict_many,
        OK,
        says=("4 images predicted",),
    ),
    Case(
        "image",
        "predict: 1x1 image",
        _predict_with("b.png", lambda: _png(_noise(1, 1))),
        OK,
        says=("3 images predicted",),
    ),
    Case(
        "image",
        "classical: truncated image among good ones",
        _classical_with("b.png", lambda: _cut(_png(_noise(32, 32)))),
        FAILED,
        says=("b.png", "truncated", "skipped"),
    ),
    Case(
        "image",
        "classical: zero-byte image among good ones",
        _classical_with("b.png", lambda: b""),
        FAILED,
        says=("b.png", "empty", "skipped"),
    ),
]


# ----------------------------------------------------------------------------- mask cases


def _rgb_mask(colours: list[tuple[int, int, int]]) -> np.ndarray:
    """A 16x16 RGB mask: black, with one 4-pixel-high band of each colour."""
    mask = np.zeros((16, 16, 3), np.uint8)
    for i, colour in enumerate(colours):
        mask[4 * i : 4 * i + 4, 4:12] = colour
    return mask


def _colour_dataset(env: Env, odd: list[tuple[int, int, int]]) -> Path:
    """Red-on-black colour masks; ``b``'s mask holds the ``odd`` colours instead."""
    red = [(255, 0, 0)]
    return mask_dataset(
        env.path("colours"), {"a": _rgb_mask(red), "b": _rgb_mask(odd), "c": _rgb_mask(red)}
    )


def _values_dataset(env: Env, name: str, b_values: np.ndarray, others: int = 1) -> Path:
    """Masks of 0/``others``; ``b``'s mask is ``b_values`` (any integer dtype, as stored)."""
    root = mask_dataset(
        env.path(name), {"a": _square_mask(value=others), "c": _square_mask(value=others)}
    )
    write_image(root / "images" / "b.png", 16, 16)
    Image.fromarray(b_values).save(root / "masks" / "b.png")
    return root


def _with_values(values: list[int], dtype=np.uint8) -> np.ndarray:
    mask = np.zeros((16, 16), dtype)
    for i, v in enumerate(values):
        mask[4 * i : 4 * i + 4, 2:14] = v
    return mask


def _deep_binary(env: Env) -> Path:
    """Every mask is 16-bit, 0 and 65535 (full scale), as some microscopy tools write them."""
    root = _folders(env, "deep")
    for stem in "abc":
        Image.fromarray(_square_mask().astype(np.uint16) * 257).save(root / "masks" / f"{stem}.png")
    return root


def _jpeg_mask(env: Env) -> list[object]:
    root = _folders(env, "jpeg")
    _replace(root, "masks/b.png", "b.jpg", _jpeg(np.stack([_square_mask()] * 3, -1), quality=75))
    return _check(root)


def _photo_masks(env: Env) -> list[object]:
    """Every mask is a grey photo (all 256 values): the images copied into the mask folder."""
    root = env.path("photos")
    mask_dataset(root, {s: _noise(32, 32, 1, seed=i) for i, s in enumerate("abc")})
    return _check(root)


def _stray_values(env: Env) -> list[object]:
    """0/255 masks, and a few pixels of odd values (an eraser that blended) in each of 3 masks."""
    root = _folders(env, "stray")
    for i, stem in enumerate("abc"):
        mask = _square_mask()
        mask[12, 10 : 10 + 4] = [30 + 10 * i, 31 + 10 * i, 32 + 10 * i, 33 + 10 * i]
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
    return _check(root)


def _mixed_binary(env: Env) -> list[object]:
    """Binary masks saved two ways: ``b`` as 0/1, ``a`` and ``c`` as 0/255."""
    root = _folders(env, "mixed")
    Image.fromarray(_square_mask(value=1)).save(root / "masks" / "b.png")
    return _check(root)


def _empty_mask_folder(env: Env) -> list[object]:
    root = _folders(env, "empty")
    for mask in (root / "masks").iterdir():
        mask.unlink()
    return _check(root, "--images", root / "images", "--masks", root / "masks")


def _empty_mask_folder_found(env: Env) -> list[object]:
    """The same, found by its name: not taken for a folder of unlabelled images."""
    root = _folders(env, "empty")
    for mask in (root / "masks").iterdir():
        mask.unlink()
    return _check(root)


def _move(root: Path, rel: str, new_rel: str) -> list[object]:
    (root / new_rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).rename(root / new_rel)
    return _check(root)


def _files_case(name: str, change: Callable[[Path], list[object]], code: int, says=(), absent=()):
    """``data check`` on a folder dataset after ``change(root)`` (which returns the argv)."""

    def build(env: Env) -> list[object]:
        return change(_folders(env, "files"))

    return Case("masks", name, build, code, says=says, absent=absent)


def _exif_stored_mask(env: Env) -> list[object]:
    """The image is 24 x 16 as stored, tagged rotate-90 (16 x 24 as shown); the mask was drawn
    on the stored pixels by a tool that ignores EXIF."""
    root = _folders(env, "exifmask")
    exif = Image.Exif()
    exif[0x0112] = 6
    (root / "images" / "b.png").unlink()
    Image.fromarray(_noise(16, 24)).save(root / "images" / "b.jpg", exif=exif)
    Image.fromarray(_square_mask(16, 24)).save(root / "masks" / "b.png")
    return _check(root)


def _palette_mask() -> bytes:
    image = Image.fromarray(_square_mask(value=255), mode="L").convert("P")
    image.putpalette([0, 0, 0] + [0, 0, 0] * 254 + [255, 0, 0])  # indices 0 and 255
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _one_bit(mask: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(mask > 0).save(buf, format="PNG")
    return buf.getvalue()


MASK_CASES = [
    _files_case(
        "image without mask",
        lambda r: (r / "masks" / "b.png").unlink() or _check(r),
        OK,
        says=("b.png", "no mask found"),
    ),
    _files_case(
        "mask without image",
        lambda r: (r / "images" / "b.png").unlink() or _check(r),
        OK,
        says=("b.png", "no matching image"),
    ),
    mask_case(
        "mask size differs from its image",
        "b.png",
        lambda: _png(_square_mask(20, 16)),
        FAILED,
        ("16x20", "16x16"),
        NOT_OK,
    ),
    Case(
        "masks",
        "mask stored before its image's EXIF rotation",
        _exif_stored_mask,
        FAILED,
        says=("b.png", "24x16", "16x24"),
        absent=NOT_OK,
    ),
    Case(
        "masks",
        "values 0/1/7 in a declared binary set",
        lambda env: _check(
            _values_dataset(env, "vals", _with_values([0, 1, 7])), "--num-classes", 2
        ),
        FAILED,
        says=("b.png", "[7]"),
        absent=NOT_OK,
    ),
    Case(
        "masks",
        "values 0/1/7 among 0/1 masks, nothing declared",
        lambda env: _check(_values_dataset(env, "vals", _with_values([0, 1, 7]))),
        OK,
        says=("b.png", "value 7", "only"),
    ),
    Case(
        "masks",
        "RGB mask with a colour the others lack, 2 classes declared",
        lambda env: _check(_colour_dataset(env, [(255, 0, 0), (0, 255, 0)]), "--num-classes", 2),
        FAILED,
        says=("b.png", "#00ff00"),
        absent=NOT_OK,
    ),
    Case(
        "masks",
        "RGB masks of red and of green, nothing declared",
        lambda env: _check(_colour_dataset(env, [(0, 255, 0)])),
        OK,
        says=("#00ff00->1", "#ff0000->2"),
    ),
    Case("masks", "JPEG mask", _jpeg_mask, FAILED, says=("b.jpg", "JPEG", "PNG"), absent=NOT_OK),
    Case(
        "masks",
        "grey photos in the mask folder",
        _photo_masks,
        FAILED,
        says=("256 distinct values", "Most values: "),
        absent=NOT_OK,
    ),
    Case(
        "masks",
        "stray values in each of 3 masks, nothing declared",
        _stray_values,
        OK,
        says=("12 values are each in one mask only", "a.png", "30"),
    ),
    Case(
        "masks",
        "binary masks mixing 0/1 and 0/255",
        _mixed_binary,
        OK,
        says=("mix 0/1 (b.png", "0/255 (a.png", "binary: 0->0, 1->1, 255->1"),
    ),
    Case(
        "masks",
        "16-bit mask with values 1000/2000, 2 classes declared",
        lambda env: _check(
            _values_dataset(env, "deep", _with_values([0, 1000, 2000], np.uint16), others=255),
            "--num-classes",
            2,
        ),
        FAILED,
        says=("b.png", "1000", "2000"),
        absent=NOT_OK,
    ),
    Case(
        "masks",
        "16-bit masks of 0/65535",
        lambda env: _check(_deep_binary(env)),
        OK,
        says=("binary: 0->0, 65535->1", "3 listed, 3 readable"),
    ),
    mask_case(
        "text file as mask",
        "b.png",
        lambda: b"0 0 0 255 255\n" * 20,
        FAILED,
        ("text",),
        NOT_OK,
    ),
    mask_case(
        "truncated mask",
        "b.png",
        lambda: _cut(_png(_noise(64, 64, 1))),
        FAILED,
        ("truncated",),
        NOT_OK,
    ),
    mask_case("zero-byte mask", "b.png", lambda: b"", FAILED, ("empty",), NOT_OK),
    mask_case(
        "float TIFF mask with fractions",
        "b.tif",
        lambda: _tiff(_square_mask().astype(np.float32) / 7),
        FAILED,
        ("non-integer",),
        NOT_OK,
    ),
    mask_case(
        "5-channel TIFF mask",
        "b.tif",
        lambda: _tiff(
            np.zeros((16, 16, 5), np.uint8), photometric="minisblack", planarconfig="contig"
        ),
        FAILED,
        ("5 channels",),
        NOT_OK,
    ),
    mask_case(
        "decompression bomb mask",
        "b.png",
        lambda: _png_declaring(20_000, 20_000),
        FAILED,
        ("--allow-large-images",),
        NOT_OK,
    ),
    mask_case(
        "palette mask",
        "b.png",
        _palette_mask,
        OK,
    ),
    mask_case(
        "RGBA mask",
        "b.png",
        lambda: _png(np.dstack([_square_mask()] * 4)),
        OK,
    ),
    mask_case(
        "1-bit mask",
        "b.png",
        lambda: _one_bit(_square_mask()),
        OK,
    ),
    Case(
        "masks",
        "empty mask folder",
        _empty_mask_folder,
        FAILED,
        says=("masks", "no mask"),
        absent=NOT_OK,
    ),
    Case(
        "masks",
        "empty mask folder found by its name",
        _empty_mask_folder_found,
        FAILED,
        says=("masks", "no mask"),
        absent=NOT_OK,
    ),
    _files_case(
        "mask in a sub-folder of the mask folder",
        lambda r: _move(r, "masks/b.png", "masks/old/b.png"),
        OK,
        says=("b.png", "old/b.png"),
    ),
    _files_case(
        "mask name differs by case",
        lambda r: _move(r, "masks/b.png", "masks/B.png"),
        OK,
        says=("b.png", "B.png", "case"),
    ),
    _files_case(
        "mask named with a known suffix (b_mask.png)",
        lambda r: _move(r, "masks/b.png", "masks/b_mask.png"),
        OK,
        says=("3 listed, 3 readable", "annotated / no objects │ 3 / 0"),
    ),
    _files_case(
        "mask named with an unknown suffix (b-gt.png)",
        lambda r: _move(r, "masks/b.png", "masks/b-gt.png"),
        OK,
        says=("b.png", "b-gt.png", "_gt"),
    ),
    _files_case(
        "two masks for one image (b.png, b.tif)",
        lambda r: _put(r / "masks" / "b.tif", _tiff(_square_mask())) and _check(r),
        FAILED,
        says=("b.png", "b.tif", "several masks"),
        absent=NOT_OK,
    ),
    _files_case(
        "directory named b.png in the mask folder",
        lambda r: (r / "masks" / "b.png").unlink() or (r / "masks" / "b.png").mkdir() or _check(r),
        OK,
        says=("b.png", "no mask found"),
    ),
    _files_case(
        "mask folder not found",
        lambda r: _check(r, "--images", r / "images", "--masks", r / "gone"),
        FAILED,
        says=("gone", "not found"),
    ),
]


# ----------------------------------------------------------------------------- RLE cases


def _rle_dataset(env: Env) -> Path:
    """A folder dataset of 16x16 images ``a``, ``b``, ``c`` (0/255 square masks)."""
    return _folders(env, "rledata")


def _csv_case(name: str, text: str, says=(), code: int = ERROR) -> Case:
    """``seglab evaluate --pred preds.csv`` with the CSV ``text`` against a 16x16 dataset."""

    def build(env: Env) -> list[object]:
        root = _rle_dataset(env)
        csv = env.path("preds.csv")
        csv.write_text(text, encoding="utf-8")
        return ["evaluate", "--pred", csv, "--data", root, "--split", "all", "--out", env.path("e")]

    return Case("rle", name, build, code, says=("preds.csv", *says))


def _csv_bytes_case(name: str, data: bytes, says=(), code: int = ERROR) -> Case:
    def build(env: Env) -> list[object]:
        root = _rle_dataset(env)
        csv = _put(env.path("preds.csv"), data)
        return ["evaluate", "--pred", csv, "--data", root, "--split", "all", "--out", env.path("e")]

    return Case("rle", name, build, code, says=("preds.csv", *says))


GOOD = "img_id,rle_mask\na.png,69 4 85 4 101 4 117 4\n"


def _coco_results_case(name: str, segmentation, says=(), code: int = ERROR) -> Case:
    """``seglab evaluate --pred results.json`` whose entry 1 has ``segmentation``."""

    def build(env: Env) -> list[object]:
        root = env.path("coco")
        coco_dataset(root)
        entries = [
            {"image_id": 1, "category_id": 1, "segmentation": {"size": [32, 32], "counts": [1024]}},
            {"image_id": 2, "category_id": 1, "segmentation": segmentation},
        ]
        pred = env.path("results.json")
        pred.write_text(json.dumps(entries))
        return [
            "evaluate",
            "--pred",
            pred,
            "--data",
            root,
            "--split",
            "all",
            "--out",
            env.path("e"),
        ]

    return Case("rle", name, build, code, says=("results.json", "entry 1", *says))


def _crowd_case(name: str, segmentation, says=()) -> Case:
    """``data check`` on a COCO dataset whose crowd annotation 7 has ``segmentation``."""

    def build(env: Env) -> list[object]:
        root = env.path("coco")
        annotations = [
            {
                "id": 7,
                "image_id": 1,
                "category_id": 1,
                "segmentation": segmentation,
                "bbox": [0, 0, 4, 4],
                "area": 16,
                "iscrowd": 1,
            }
        ]
        return _check(coco_dataset(root, annotations=annotations))

    return Case(
        "rle", name, build, FAILED, says=("coco_annotations.json", "id=7", *says), absent=NOT_OK
    )


RLE_CASES = [
    _csv_case("seed CSV: non-numeric run", GOOD + "b.png,12 x 40 2\n", ("line 3", "'12 x 40 2'")),
    _csv_case("seed CSV: negative length", GOOD + "b.png,12 -3\n", ("line 3", "-3")),
    _csv_case("seed CSV: odd number of values", GOOD + "b.png,12 3 40\n", ("line 3", "pairs")),
    _csv_case("seed CSV: start past the last pixel", GOOD + "b.png,300 2\n", ("line 3", "256")),
    _csv_case("seed CSV: start 0", GOOD + "b.png,0 2\n", ("line 3", "start 0")),
    _csv_case("seed CSV: run past the last pixel", GOOD + "b.png,250 20\n", ("line 3", "269")),
    _csv_case("seed CSV: overlapping runs", GOOD + "b.png,10 5 12 3\n", ("line 3", "overlap")),
    _csv_case("seed CSV: runs out of order", GOOD + "b.png,40 2 10 3\n", ("line 3", "sorted")),
    _csv_case(
        "seed CSV: a number of 40 digits",
        GOOD + "b.png,1" + "0" * 39 + " 2\n",
        ("line 3", "digits"),
    ),
    _csv_case("seed CSV: NaN written by pandas", GOOD + "b.png,nan\n", ("line 3", "empty")),
    _csv_case(
        "seed CSV: missing rle_mask column", "img_id,mask\na.png,1 2\n", ("line 1", "rle_mask")
    ),
    _csv_case("seed CSV: empty file", "", ("empty",)),
    _csv_case(
        "seed CSV: header only", "img_id,rle_mask\n", ("no prediction for 3 image(s)",), code=OK
    ),
    _csv_case("seed CSV: too many fields", GOOD + "b.png,1 2,extra\n", ("line 3", "3 columns")),
    _csv_case("seed CSV: duplicate img_id", GOOD + "a.png,1 2\n", ("line 3", "duplicate")),
    _csv_case("seed CSV: bad quoting", GOOD + 'b.png,"1 2\n', ("line", "CSV")),
    _csv_bytes_case(
        "seed CSV: not UTF-8", (GOOD + "b\xe9.png,1 2\n").encode("latin-1"), ("line 3", "UTF-8")
    ),
    _csv_bytes_case("seed CSV: binary junk", bytes(range(256)) * 4, ("UTF-8",)),
    _csv_case(
        "multiclass CSV: unknown class",
        "img_id,class,rle_mask\na.png,cat,1 2\n",
        ("line 2", "cat"),
    ),
    _coco_results_case(
        "COCO results: garbage compressed counts",
        {"size": [32, 32], "counts": "\x7f~}|garbage"},
        ("counts",),
    ),
    _coco_results_case(
        "COCO results: compressed counts too short",
        {"size": [32, 32], "counts": "0`0"},
        ("16 pixels", "1024"),
    ),
    _coco_results_case(
        "COCO results: compressed counts cut in a number",
        {"size": [32, 32], "counts": "0`"},
        ("truncated",),
    ),
    _coco_results_case(
        "COCO results: counts not covering h*w",
        {"size": [32, 32], "counts": [10, 20, 30]},
        ("60", "1024"),
    ),
    _coco_results_case(
        "COCO results: negative counts", {"size": [32, 32], "counts": [1030, -6]}, (">= 0",)
    ),
    _coco_results_case(
        "COCO results: size of another image", {"size": [16, 16], "counts": [256]}, ("[16, 16]",)
    ),
    _coco_results_case(
        "COCO results: size as strings", {"size": ["32", "32"], "counts": [1024]}, ("size",)
    ),
    _coco_results_case(
        "COCO results: counts null", {"size": [32, 32], "counts": None}, ("NoneType",)
    ),
    _coco_results_case(
        "COCO results: non-numeric counts", {"size": [32, 32], "counts": [512, "x", 512]}, ("'x'",)
    ),
    _crowd_case("COCO crowd: garbage compressed counts", {"size": [32, 32], "counts": "zz{{"}),
    _crowd_case(
        "COCO crowd: counts not covering h*w", {"size": [32, 32], "counts": [5, 5]}, ("10",)
    ),
    _crowd_case(
        "COCO crowd: negative counts",
        {"size": [32, 32], "counts": [1030, -6]},
        ("counts", "non-negative"),
    ),
    _crowd_case("COCO crowd: size swapped", {"size": [32, 16], "counts": [512]}, ("[32, 16]",)),
    _crowd_case(
        "COCO crowd: float counts",
        {"size": [32, 32], "counts": [512.0, 512.0]},
        ("counts", "integers"),
    ),
]

# ----------------------------------------------------------------------------- instance masks


def _label_folders(env: Env) -> Path:
    """``images/`` + ``masks/`` of 16-bit label images (ids 300 and 301 in each)."""
    labels = _square_mask(value=1).astype(np.uint16) * 300
    labels[11:15, 2:8] = 301
    root = mask_dataset(env.path("labels"), {s: _square_mask() for s in "abc"})
    for stem in "abc":
        Image.fromarray(labels).save(root / "masks" / f"{stem}.png")
    return root


def _dsb_folders(env: Env) -> Path:
    """DSB-2018 folders ``a``, ``b``, ``c``: ``ID/images/ID.png`` and two 0/255 masks each."""
    root = env.path("dsb")
    for ident in "abc":
        write_image(root / ident / "images" / f"{ident}.png", 16, 16)
        first, second = _square_mask(), np.zeros((16, 16), np.uint8)
        second[11:15, 2:8] = 255  # apart from the square, and not "very small"
        for k, mask in enumerate((first, second), start=1):
            _put(root / ident / "masks" / f"{ident}_{k}.png", _png(mask))
    return root


def _dsb_case(name: str, change: Callable[[Path], object], code: int, says=()) -> Case:
    """``data check`` on DSB folders after ``change(root)``."""

    def build(env: Env) -> list[object]:
        root = _dsb_folders(env)
        change(root)
        return _check(root)

    return Case("instance masks", name, build, code, says=says, absent=NOT_OK if code else ())


def _colour_among_labels(env: Env) -> list[object]:
    root = _label_folders(env)
    _put(root / "masks" / "b.png", _png(_noise()))
    return _check(root)


INSTANCE_CASES = [
    Case(
        "instance masks",
        "colour mask among 16-bit label images",
        _colour_among_labels,
        FAILED,
        says=("masks/b.png", "colour mask among label images"),
        absent=NOT_OK,
    ),
    _dsb_case(
        "DSB: mask file that is not an image",
        lambda r: _put(r / "b" / "masks" / "b_2.png", b"not a png at all"),
        FAILED,
        says=("b/masks/b_2.png",),
    ),
    _dsb_case(
        "DSB: mask of another size than its image",
        lambda r: _put(r / "b" / "masks" / "b_2.png", _png(_square_mask(8, 16))),
        FAILED,
        says=("b/masks/b_2.png", "16x8 but its image b.png is 16x16"),
    ),
    _dsb_case(
        "DSB: empty mask file",
        lambda r: _put(r / "b" / "masks" / "b_2.png", _png(np.zeros((16, 16), np.uint8))),
        OK,
        says=("b/masks/b_2.png", "empty mask"),
    ),
    _dsb_case(
        "DSB: two images in one image folder",
        lambda r: write_image(r / "b" / "images" / "extra.png", 16, 16),
        FAILED,
        says=("b/images", "2 images (b.png, extra.png)"),
    ),
]

CASES: list[Case] = [*IMAGE_CASES, *MASK_CASES, *INSTANCE_CASES, *RLE_CASES]
