"""Fuzzing the readers of user files: whatever the bytes, a reader returns a valid result or
raises :class:`~seglab.errors.SeglabError` -- never IndexError, ValueError, UnicodeDecodeError,
struct.error, StopIteration or a crash.

Covered: the seed's run-length strings (:func:`~seglab.data.rle.decode_rle`) and CSV files
(:func:`~seglab.data.rle.read_rle_csv`), COCO RLE with compressed and uncompressed counts and any
``size`` (:func:`~seglab.data.rle.decode_coco_rle`), and the image and mask readers
(:func:`~seglab.io.read_image`, :func:`~seglab.io.read_mask`, :func:`~seglab.io.read_image_size`)
on arbitrary bytes and on valid PNG, JPEG and TIFF files with bytes flipped, cut off, inserted or
appended, under any of the three extensions.

Each test runs ``SEGLAB_FUZZ_EXAMPLES`` examples (default 150: the file takes about 5 seconds). For
a release check run it longer, e.g.::

    SEGLAB_FUZZ_EXAMPLES=5000 .venv/bin/pytest -q tests/robustness/test_fuzz_files.py

Hypothesis keeps no example database here (``database=None``), so a failure prints the input
that made it, to turn into a unit test.
"""

from __future__ import annotations

import contextlib
import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from seglab.data.rle import decode_coco_rle, decode_rle, encode_coco_rle, read_rle_csv
from seglab.errors import SeglabError
from seglab.io import read_image, read_image_size, read_mask
from tests.robustness.fuzzing import FUZZ

PIXEL_LIMIT = 2_000_000
"""The decompression-bomb limit while fuzzing: a flipped byte in a header can declare any size
below Pillow's 89 megapixels, and decoding that many on a small test machine is slow."""


@pytest.fixture(scope="module", autouse=True)
def _small_pixel_limit():
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = PIXEL_LIMIT
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


@pytest.fixture(scope="module")
def folder():
    """One folder for the module: each example overwrites its own file (hypothesis runs the
    examples of a test one after the other, so function-scoped tmp_path cannot be used)."""
    with tempfile.TemporaryDirectory(prefix="seglab-fuzz-") as name:
        yield Path(name)


# ----------------------------------------------------------------------------- run-length


@FUZZ
@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet="0123456789 \t\n-+.,eE\xa0x", max_size=40),
        st.lists(st.integers(-3, 40), max_size=10).map(lambda ns: " ".join(map(str, ns))),
        # numbers between any whitespace str.split() knows, ASCII or not (a spreadsheet's
        # non-breaking space, an em space, the file separator \x1c)
        st.tuples(
            st.lists(st.integers(0, 40), min_size=2, max_size=8),
            st.sampled_from([" ", "\t", "\n", "\xa0", "\u2003", "\x1c", "\u3000"]),
        ).map(lambda t: t[1].join(map(str, t[0]))),
        st.none(),
        st.floats(allow_nan=True),
        st.integers(),
    ),
    st.integers(0, 6),
    st.integers(0, 6),
)
def test_seed_rle_decodes_or_raises_seglab_error(rle, h, w):
    try:
        mask = decode_rle(rle, (h, w))
    except SeglabError:
        return
    assert mask.shape == (h, w) and mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) <= {0, 1}


def _csv_field():
    return st.one_of(
        st.text(max_size=12),
        st.lists(st.integers(-2, 300), max_size=6).map(lambda ns: " ".join(map(str, ns))),
        st.sampled_from(["", "nan", '"', '""', "a,b", "1 2", "\ufeff", "\x00"]),
    )


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        st.lists(st.lists(_csv_field(), min_size=0, max_size=4), max_size=6).map(
            lambda rows: "\n".join(",".join(row) for row in [["img_id", "rle_mask"], *rows])
        ),
        st.lists(st.lists(_csv_field(), max_size=4), max_size=6).map(
            lambda rows: "\r\n".join(",".join(row) for row in rows)
        ),
    ),
    st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]),
)
def test_rle_csv_reads_or_raises_seglab_error(folder, content, encoding):
    path = folder / "masks.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding, "replace"))
    try:
        masks = read_rle_csv(path)
    except SeglabError:
        return
    for img_id, rle in masks.items():
        assert isinstance(img_id, str) and img_id
        with contextlib.suppress(SeglabError):
            decode_rle(rle, (16, 16))


def _sizes():
    valid = st.tuples(st.integers(1, 8), st.integers(1, 8)).map(list)
    return st.one_of(
        valid,
        valid,
        st.lists(st.one_of(st.integers(-3, 10), st.text(max_size=2), st.none()), max_size=3),
        st.tuples(st.integers(1, 2**40), st.integers(1, 2**40)).map(list),
        st.none(),
        st.integers(),
    )


def _counts():
    return st.one_of(
        st.text(max_size=30),
        st.text(alphabet=[chr(c) for c in range(48, 112)], max_size=12),
        st.binary(max_size=12),
        st.lists(st.integers(-2, 70), max_size=8),
        st.lists(st.integers(-(2**70), 2**70), max_size=4),
        st.lists(st.one_of(st.integers(0, 10), st.floats(), st.text(max_size=2), st.none())),
        st.none(),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )


@FUZZ
@given(_sizes(), _counts(), st.booleans())
def test_coco_rle_decodes_or_raises_seglab_error(size, counts, give_size):
    segmentation = {"size": size, "counts": counts}
    kwargs = {}
    small = (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(n, int) for n in size)
        and abs(size[0] * size[1]) <= 4096
    )
    if give_size and small:  # a size an image gives is decoded whatever it is: keep it small
        kwargs = {"height": size[0], "width": size[1]}
    try:
        mask = decode_coco_rle(segmentation, **kwargs)
    except SeglabError:
        return
    assert mask.shape == tuple(size) and set(np.unique(mask).tolist()) <= {0, 1}


@FUZZ
@given(st.integers(1, 6), st.integers(1, 6), st.data())
def test_mutated_compressed_counts_decode_or_raise_seglab_error(h, w, data):
    mask = data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w), label="mask")
    counts = encode_coco_rle(np.array(mask, np.uint8).reshape(h, w))["counts"]
    cut = data.draw(st.integers(0, len(counts)), label="cut")
    junk = data.draw(st.text(max_size=4), label="junk")
    mutated = counts[:cut] + junk + counts[cut + data.draw(st.integers(0, 2), label="drop") :]
    try:
        decoded = decode_coco_rle({"size": [h, w], "counts": mutated})
    except SeglabError:
        return
    assert decoded.shape == (h, w) and set(np.unique(decoded).tolist()) <= {0, 1}


# ----------------------------------------------------------------------------- images and masks


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png16_rgb(arr: np.ndarray) -> bytes:
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + row.tobytes() for row in arr.astype(">u2").reshape(h, -1))
    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(raw)),
            _png_chunk(b"IEND", b""),
        ]
    )


def _pillow(arr: np.ndarray, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _tiff(arr: np.ndarray, **kwargs) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, **kwargs)
    return buf.getvalue()


def _multipage() -> bytes:
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        for i in range(3):
            tif.write(np.full((6, 8), i * 40, np.uint8))
    return buf.getvalue()


def _valid_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    mask = (rng.random((12, 10)) < 0.3).astype(np.uint8) * 255
    exif = Image.Exif()
    exif[0x0112] = 6
    palette = Image.fromarray(mask // 255, mode="L").convert("P")
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette_png = io.BytesIO()
    palette.save(palette_png, format="PNG")
    return {
        "png rgb": _pillow(rgb, "PNG"),
        "png mask": _pillow(mask, "PNG"),
        "png palette": palette_png.getvalue(),
        "png 16-bit grey": _pillow((mask.astype(np.uint16) * 257), "PNG"),
        "png 16-bit rgb": _png16_rgb(rgb.astype(np.uint16) * 257),
        "png exif": _pillow(rgb, "PNG", exif=exif),
        "jpeg": _pillow(rgb, "JPEG", quality=90),
        "jpeg exif": _pillow(rgb, "JPEG", quality=90, exif=exif),
        "tiff rgb": _tiff(rgb, photometric="rgb"),
        "tiff float": _tiff(rng.random((12, 10), dtype=np.float32)),
        "tiff zlib": _tiff(mask, compression="zlib"),
        "tiff multipage": _multipage(),
    }


VALID = _valid_files()


@st.composite
def mutated_files(draw) -> bytes:
    """A valid file with 1 to 4 edits: bytes flipped, cut off, inserted, overwritten, appended."""
    data = bytearray(VALID[draw(st.sampled_from(sorted(VALID)), label="file")])
    for _ in range(draw(st.integers(1, 4), label="edits")):
        edit = draw(st.sampled_from(["flip", "cut", "insert", "overwrite", "append"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)), label="at")
        if edit == "flip" and data:
            data[at] ^= draw(st.integers(1, 255), label="xor")
        elif edit == "cut":
            del data[at:]
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8), label="inserted")
        elif edit == "overwrite":
            junk = draw(st.binary(min_size=1, max_size=16), label="junk")
            data[at : at + len(junk)] = junk
        else:
            data += draw(st.binary(min_size=1, max_size=64), label="appended")
    return bytes(data)


def _read_all(path: Path) -> None:
    """Every reader on ``path``: a valid result or a SeglabError."""
    try:
        image, meta = read_image(path)
    except SeglabError:
        pass
    else:
        assert image.ndim == 3 and image.shape[:2] == (meta.height, meta.width)
        assert image.dtype in (np.uint8, np.float32) and image.flags.writeable
    try:
        mask, meta = read_mask(path)
    except SeglabError:
        pass
    else:
        assert mask.ndim == 2 or (mask.ndim == 3 and mask.shape[2] == 3)
        assert mask.dtype.kind in "iu" and mask.shape[:2] == (meta.height, meta.width)
    try:
        w, h = read_image_size(path)
    except SeglabError:
        pass
    else:
        assert isinstance(w, int) and isinstance(h, int) and w >= 0 and h >= 0


EXTENSIONS = st.sampled_from([".png", ".jpg", ".tif", ".tiff", ".bmp", ".webp", ".gif"])


@pytest.mark.filterwarnings("ignore")  # a mutated file may make Pillow or tifffile warn
@FUZZ
@given(mutated_files(), EXTENSIONS)
def test_mutated_image_files_read_or_raise_seglab_error(folder, data, suffix):
    path = folder / f"mutated{suffix}"
    path.write_bytes(data)
    _read_all(path)


@pytest.mark.filterwarnings("ignore")
@FUZZ
@given(st.binary(max_size=300), EXTENSIONS)
def test_arbitrary_bytes_read_or_raise_seglab_error(folder, data, suffix):
    path = folder / f"junk{suffix}"
    path.write_bytes(data)
    _read_all(path)


@pytest.mark.filterwarnings("ignore")
@FUZZ
@given(st.sampled_from(sorted(VALID)), st.binary(max_size=64), EXTENSIONS)
def test_valid_files_with_a_prefix_read_or_raise_seglab_error(folder, name, prefix, suffix):
    # a signature that is no longer at the start: the reader must not pick by the extension
    # and then fail in a way it does not report
    path = folder / f"prefixed{suffix}"
    path.write_bytes(prefix + VALID[name])
    _read_all(path)


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_valid_files_are_valid(folder, name):
    # the mutations start from files every reader accepts, so a failure above is the mutation's
    path = folder / f"valid-{name.replace(' ', '_')}.bin"
    path.write_bytes(VALID[name])
    image, _ = read_image(path) if "multipage" not in name else read_image_quietly(path)
    assert image.shape[:2] in ((12, 10), (10, 12), (6, 8))


def read_image_quietly(path: Path):
    """read_image of a multi-page TIFF, whose warning is expected."""
    with pytest.warns(UserWarning, match="page 1 of 3"):
        return read_image(path)
