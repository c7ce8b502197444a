"""Tests of seglab.data.rle: known answers, round trips against pycocotools, error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as coco_mask

from seglab.data.rle import (
    coco_to_seed_rle,
    coco_uncompressed_rle,
    decode_coco_rle,
    decode_rle,
    encode_coco_rle,
    encode_rle,
    read_csv_header,
    read_rle_csv,
    read_rle_csv_rows,
    seed_rle_to_coco,
    write_rle_csv,
)
from seglab.errors import DataError

EXAMPLE = np.array([[0, 1, 1], [0, 0, 1]], dtype=np.uint8)


def naive_seed_rle(mask: np.ndarray) -> str:
    """Slow, obviously correct reference: walk the row-major pixels."""
    runs, start = [], None
    for i, value in enumerate([*mask.ravel().tolist(), 0]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            runs += [start + 1, i - start]
            start = None
    return " ".join(map(str, runs))


def naive_coco_counts(mask: np.ndarray) -> list[int]:
    """Slow reference for uncompressed COCO counts: walk the column-major pixels."""
    counts, current, length = [], 0, 0
    for value in mask.ravel(order="F").tolist():
        if value != current:
            counts.append(length)
            current, length = value, 0
        length += 1
    return [*counts, length]


def pycocotools_counts(mask: np.ndarray) -> bytes:
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"]


# ----------------------------------------------------------------------------- known answers


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (EXAMPLE, "2 2 6 1"),
        (np.zeros((2, 3), np.uint8), ""),
        (np.ones((2, 3), np.uint8), "1 6"),
        (np.array([[0, 0, 0], [0, 0, 1]]), "6 1"),
        (np.array([[1, 0, 0], [0, 0, 0]]), "1 1"),
        (np.array([[1, 0, 1, 1, 0]]), "1 1 3 2"),
        (np.array([[0], [1], [1], [0], [1]]), "2 2 5 1"),
        (np.array([[1]]), "1 1"),
        (np.array([[0]]), ""),
        (np.array([[0, 1], [1, 0]]), "2 2"),  # runs continue across rows
    ],
)
def test_encode_rle_known_answers(mask, expected):
    assert encode_rle(mask) == expected
    assert naive_seed_rle(np.asarray(mask)) == expected
    np.testing.assert_array_equal(decode_rle(expected, mask.shape), mask != 0)


def test_encode_rle_treats_any_nonzero_as_foreground():
    for mask in (EXAMPLE.astype(bool), EXAMPLE * 255, EXAMPLE.astype(np.int64) * -3):
        assert encode_rle(mask) == "2 2 6 1"
        assert encode_coco_rle(mask) == {"size": [2, 3], "counts": "2111"}
        assert coco_uncompressed_rle(mask)["counts"] == [2, 1, 1, 2]


def test_encode_rle_handles_non_contiguous_views():
    mask = np.asfortranarray(np.tile(EXAMPLE, (2, 2)))[::2, ::2]
    assert encode_rle(mask) == naive_seed_rle(mask)


def test_coco_known_answers():
    assert encode_coco_rle(EXAMPLE) == {"size": [2, 3], "counts": "2111"}
    assert coco_uncompressed_rle(EXAMPLE) == {"size": [2, 3], "counts": [2, 1, 1, 2]}
    # Foreground in the top-left corner: the first run of zeros has length 0.
    assert coco_uncompressed_rle(np.array([[1, 1], [0, 1]]))["counts"] == [0, 1, 1, 2]
    assert coco_uncompressed_rle(np.zeros((2, 3)).astype(int))["counts"] == [6]
    assert coco_uncompressed_rle(np.ones((2, 3), bool))["counts"] == [0, 6]
    for counts in ("2111", b"2111", [2, 1, 1, 2]):
        decoded = decode_coco_rle({"size": [2, 3], "counts": counts}, height=2, width=3)
        assert decoded.dtype == np.uint8
        np.testing.assert_array_equal(decoded, EXAMPLE)


def test_conversions_between_formats():
    assert seed_rle_to_coco("2 2 6 1", (2, 3)) == {"size": [2, 3], "counts": "2111"}
    assert coco_to_seed_rle({"size": [2, 3], "counts": "2111"}) == "2 2 6 1"
    assert coco_to_seed_rle({"size": [2, 3], "counts": [2, 1, 1, 2]}) == "2 2 6 1"


def test_decode_rle_accepts_extra_whitespace_and_touching_runs():
    expected = np.array([[1, 1, 1], [0, 0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(decode_rle("  1 2\t3\n1 ", (2, 3)), expected)
    np.testing.assert_array_equal(decode_rle(" \t\n", (2, 3)), np.zeros((2, 3), np.uint8))


@pytest.mark.parametrize("mask", [np.zeros((2, 2, 1)), np.zeros(4), np.zeros((1, 2, 2))])
def test_encoders_refuse_non_2d(mask):
    for encode in (encode_rle, encode_coco_rle, coco_uncompressed_rle):
        with pytest.raises(ValueError, match=r"2-D .* got shape \(") as info:
            encode(mask.astype(np.uint8))
        assert str(mask.shape) in str(info.value)


def test_encoders_refuse_float_masks():
    with pytest.raises(ValueError, match=r"float64.*threshold"):
        encode_rle(EXAMPLE.astype(float))


# ----------------------------------------------------------------------------- property tests

N_MASKS = 10_000
N_CHUNKS = 10
N_LARGE = 400  # at least 256 on both sides
MAX_SIDE = 512


def edge_case_masks() -> list[tuple[str, np.ndarray]]:
    cases = []
    for h, w in [(1, 1), (1, 7), (1, 512), (7, 1), (512, 1), (3, 5), (512, 512), (256, 300)]:
        zeros = np.zeros((h, w), np.uint8)
        cases += [("all-zero", zeros), ("all-one", zeros + 1)]
        for i in {0, h * w // 2, h * w - 1}:
            single = zeros.copy()
            single.flat[i] = 1
            cases.append((f"single pixel {i}", single))
        checker = (np.add.outer(np.arange(h), np.arange(w)) % 2).astype(np.uint8)
        cases += [("checkerboard", checker), ("inverse checkerboard", 1 - checker)]
    return cases


def random_mask(rng: np.random.Generator, h: int, w: int) -> tuple[str, np.ndarray]:
    kind = rng.choice(["noise", "rectangles", "stripes", "blobs", "sparse"])
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    if kind == "noise":
        mask = rng.random((h, w)) < rng.random()
    elif kind == "sparse":
        mask = rng.random((h, w)) < rng.choice([0.001, 0.01, 0.99, 0.999])
    elif kind == "rectangles":
        mask = np.zeros((h, w), bool)
        for _ in range(rng.integers(1, 6)):
            r0, r1 = np.sort(rng.integers(0, h + 1, 2))
            c0, c1 = np.sort(rng.integers(0, w + 1, 2))
            mask[r0:r1, c0:c1] ^= True
    elif kind == "stripes":
        period = int(rng.integers(1, 20))
        a, b = rng.integers(0, 3, 2)
        mask = ((a * rows + b * cols) // period) % 2 == 1
    else:  # blobs: union of discs
        mask = np.zeros((h, w), bool)
        for _ in range(rng.integers(1, 5)):
            r, c = rng.integers(0, h), rng.integers(0, w)
            radius = rng.uniform(0.5, max(h, w) / 3 + 1)
            mask |= (rows - r) ** 2 + (cols - c) ** 2 <= radius**2
    return str(kind), mask.astype(np.uint8)


def masks_of_chunk(chunk: int):
    """Chunk 0 starts with the edge cases; every chunk is reproducible from its own seed."""
    rng = np.random.default_rng([20240517, chunk])
    per_chunk = N_MASKS // N_CHUNKS
    cases = edge_case_masks() if chunk == 0 else []
    n_large = N_LARGE // N_CHUNKS
    for i in range(per_chunk - len(cases)):
        if i < n_large:
            h, w = rng.integers(256, MAX_SIDE + 1, 2)
        else:  # log-uniform sides keep most masks small, so 10,000 of them stay fast
            h, w = np.exp(rng.uniform(0, math.log(MAX_SIDE + 1), 2)).astype(int).clip(1, MAX_SIDE)
        cases.append(random_mask(rng, int(h), int(w)))
    return cases


def same_mask(decoded: np.ndarray, mask: np.ndarray) -> bool:
    # np.array_equal, not np.testing's assert: it is called 30,000 times and is 5x faster.
    return decoded.dtype == np.uint8 and np.array_equal(decoded, mask)


def check_round_trips(mask: np.ndarray) -> None:
    h, w = mask.shape
    assert same_mask(decode_rle(encode_rle(mask), (h, w)), mask), "seed RLE round trip"

    compressed = encode_coco_rle(mask)
    reference = pycocotools_counts(mask)
    assert compressed == {"size": [h, w], "counts": reference.decode()}
    assert same_mask(decode_coco_rle(compressed, height=h, width=w), mask), "compressed COCO"

    uncompressed = coco_uncompressed_rle(mask)
    assert uncompressed["size"] == [h, w]
    assert coco_mask.frPyObjects(uncompressed, h, w)["counts"] == reference
    assert same_mask(decode_coco_rle(uncompressed), mask), "uncompressed COCO round trip"


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(N_CHUNKS))
def test_random_masks_round_trip_and_match_pycocotools(chunk):
    masks = masks_of_chunk(chunk)
    # The generator must deliver what the test claims to cover (10,000 masks, several hundred
    # large ones, thin ones, every content kind); checked here so masks are made only once.
    assert len(masks) == N_MASKS // N_CHUNKS
    assert sum(min(m.shape) >= 256 for _, m in masks) >= N_LARGE // N_CHUNKS
    assert sum(1 in m.shape for _, m in masks) > 10
    assert {"noise", "sparse", "rectangles", "stripes", "blobs"} <= {kind for kind, _ in masks}
    if chunk == 0:
        assert {(1, 1), (1, 512), (512, 1), (512, 512)} <= {m.shape for _, m in masks}
        assert {"all-zero", "all-one", "checkerboard"} <= {kind for kind, _ in masks}
    for i, (kind, mask) in enumerate(masks):
        try:
            check_round_trips(mask)
        except AssertionError as error:
            raise AssertionError(f"chunk {chunk} mask {i} ({kind}, {mask.shape})") from error


small_masks = st.integers(1, 6).flatmap(
    lambda h: st.integers(1, 6).flatmap(
        lambda w: st.lists(st.booleans(), min_size=h * w, max_size=h * w).map(
            lambda bits: np.array(bits, np.uint8).reshape(h, w)
        )
    )
)
fuzz = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@fuzz
@given(small_masks)
def test_small_masks_match_naive_encoders(mask):
    assert encode_rle(mask) == naive_seed_rle(mask)
    assert coco_uncompressed_rle(mask)["counts"] == naive_coco_counts(mask)
    check_round_trips(mask)


@fuzz
@given(st.text(alphabet="0123456789 \t-+.xn", max_size=20), st.integers(1, 4), st.integers(1, 4))
def test_decode_rle_of_any_text_returns_a_mask_or_raises_data_error(text, h, w):
    try:
        mask = decode_rle(text, (h, w))
    except DataError:
        return
    assert mask.shape == (h, w)
    assert mask.sum() == sum(int(n) for n in text.split()[1::2])  # runs are disjoint
    np.testing.assert_array_equal(decode_rle(encode_rle(mask), (h, w)), mask)


@fuzz
@given(small_masks, st.data())
def test_decode_coco_rle_of_corrupted_strings_returns_a_mask_or_raises_data_error(mask, data):
    # Corrupt a valid string in one place, so that many results still parse and some still add
    # up to h*w: fully random strings almost never get past the pixel-count check.
    counts = encode_coco_rle(mask)["counts"]
    i = data.draw(st.integers(0, len(counts)), label="position")
    char = data.draw(st.sampled_from([chr(c) for c in range(40, 120)]), label="character")
    edit = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="edit")
    skip = 0 if edit == "insert" else 1
    corrupted = counts[:i] + ("" if edit == "delete" else char) + counts[i + skip :]
    segmentation = {"size": list(mask.shape), "counts": corrupted}
    try:
        decoded = decode_coco_rle(segmentation)
    except DataError:
        return
    assert decoded.shape == mask.shape
    assert set(np.unique(decoded).tolist()) <= {0, 1}
    # pycocotools leaves pixels uninitialised for short strings; accepted ones must be stable.
    assert same_mask(decode_coco_rle(segmentation), decoded)
    assert same_mask(decode_coco_rle(coco_uncompressed_rle(decoded)), decoded)


# ----------------------------------------------------------------------------- decode errors


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ("1 2 4", r"3 numbers is odd"),
        ("1 3 2 2", r"run 2 \(start 2\) begins before run 1 .* ends at pixel 3"),
        ("4 1 2 1", r"run 2 \(start 2\) begins before run 1"),
        ("1 2 2 1", r"run 2 \(start 2\) begins before run 1 .* ends at pixel 2"),  # one shared
        ("5 3", r"ends at pixel 7 but a 2x3 image has 6 pixels"),
        ("0 2", r"run 1 has start 0"),
        ("1 2 4 0", r"run 2 has length 0"),
        ("1 2 x 3", r"'x' \(number 3\) is not a non-negative integer"),
        ("-1 2", r"'-1' \(number 1\) is not a non-negative integer"),
        ("1.0 2", r"'1.0' \(number 1\)"),
        ("nan", r"empty mask is written as an empty string"),
        ("1 99999999999999999999", r"more than 18 digits"),
    ],
)
def test_decode_rle_errors_name_the_problem_and_location(rle, message):
    with pytest.raises(DataError, match=message) as info:
        decode_rle(rle, (2, 3), path="train.csv", field="line 7")
    assert str(info.value).startswith("train.csv: line 7: bad run-length mask: ")
    assert info.value.path == "train.csv"
    assert info.value.field == "line 7"


def test_decode_rle_refuses_bad_shape_and_type():
    with pytest.raises(ValueError, match="shape must be"):
        decode_rle("1 1", (2, 3, 1))
    with pytest.raises(DataError, match="got float"):
        decode_rle(float("nan"), (2, 3))


@pytest.mark.parametrize(
    ("segmentation", "kwargs", "message"),
    [
        ({"size": [2, 3], "counts": [1, 2]}, {}, r"add up to 3 pixels but size 2x3 has 6"),
        ({"size": [2, 3], "counts": [1, 2, 9]}, {}, r"add up to 12 pixels"),
        ({"size": [2, 3], "counts": [-1, 7]}, {}, r"must be >= 0, found -1"),
        ({"size": [2, 3], "counts": [1.5, 4.5]}, {}, r"integers, found 1.5"),
        ({"size": [2, 3], "counts": ["2", 4]}, {}, r"integers, found '2'"),
        ({"size": [2, 3], "counts": [[2, 4]]}, {}, r"flat list of integers, found \[2, 4\]"),
        ({"size": [2, 3], "counts": [2**70, 1]}, {}, r"count 1180591620717411303424 is larger"),
        ({"size": [2, 3], "counts": []}, {}, r"add up to 0 pixels"),
        ({"size": [2, 3], "counts": [1, [2, 3]]}, {}, r"flat list of integers, found \[2, 3\]"),
        ({"size": [2, 3], "counts": "2111"}, {"height": 3, "width": 2}, r"\[2, 3\].*height 3"),
        ({"size": [2, 3], "counts": "2111"}, {"width": 4}, r"is \[2, 3\] .* width 4"),
        ({"counts": "2111"}, {}, r"missing key\(s\) \['size'\], found \['counts'\]"),
        ({"size": [2, 3]}, {}, r"missing key\(s\) \['counts'\]"),
        ({"size": [2, 0], "counts": ""}, {}, r"two positive integers, got \[2, 0\]"),
        ({"size": ["2", "3"], "counts": "2111"}, {}, r"two positive integers"),
        ({"size": [6], "counts": "6"}, {}, r"two positive integers"),
        ({"size": [2, 3], "counts": "zz"}, {}, r"character 'z' is not one of"),
        ({"size": [2, 3], "counts": "2111p"}, {}, r"character 'p'"),
        ({"size": [2, 3], "counts": "21a"}, {}, r"truncated"),
        ({"size": [2, 3], "counts": "21é"}, {}, r"non-ASCII"),
        # pycocotools itself decodes these three without complaint (into uninitialised memory).
        ({"size": [2, 3], "counts": ""}, {}, r"add up to 0 pixels .* 2x3 has 6"),
        ({"size": [2, 3], "counts": "5"}, {}, r"add up to 5 pixels"),
        ({"size": [2, 3], "counts": "1"}, {}, r"add up to 1 pixels"),
        ({"size": [2, 3], "counts": 6}, {}, r"counts must be a compressed string or a list"),
        ([[0.0, 0.0, 1.0, 0.0, 1.0, 1.0]], {}, r"polygon segmentation"),
    ],
)
def test_decode_coco_rle_errors(segmentation, kwargs, message):
    with pytest.raises(DataError, match=message) as info:
        decode_coco_rle(segmentation, path="ann.json", field="annotations[3]", **kwargs)
    assert str(info.value).startswith("ann.json: annotations[3]: bad COCO RLE: ")


def test_decode_coco_rle_accepts_numpy_scalars_and_arrays():
    segmentation = {"size": np.array([2, 3]).tolist(), "counts": np.array([2, 1, 1, 2])}
    np.testing.assert_array_equal(decode_coco_rle(segmentation), EXAMPLE)
    segmentation = {"size": [np.int64(2), np.int32(3)], "counts": "2111"}
    np.testing.assert_array_equal(decode_coco_rle(segmentation, height=2, width=3), EXAMPLE)


# ----------------------------------------------------------------------------- CSV


def test_csv_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    masks = {
        "img 01.jpg": rng.random((7, 5)) < 0.4,
        "a,b.png": EXAMPLE,
        'say "hi".png': np.zeros((4, 4), np.uint8),
        "café.png": np.ones((3, 2), np.uint8),
    }
    path = tmp_path / "masks.csv"
    rows = [*masks.items(), ("given-as-string", "3 4")]
    assert write_rle_csv(path, rows) == 5
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[:2] == [
        "img_id,rle_mask",
        "img 01.jpg," + encode_rle(masks["img 01.jpg"]),
    ]
    assert '\n"a,b.png",2 2 6 1\n' in text
    assert '\n"say ""hi"".png",\n' in text
    read = read_rle_csv(path)
    assert list(read) == [*masks, "given-as-string"]
    assert read["given-as-string"] == "3 4"
    for img_id, mask in masks.items():
        np.testing.assert_array_equal(decode_rle(read[img_id], mask.shape), mask)


def test_read_rle_csv_tolerates_bom_blank_lines_and_extra_columns(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("\ufeffheight, img_id ,rle_mask\n2,a,1 1\n\n2,b, 2 2 6 1 \n", encoding="utf-8")
    assert read_rle_csv(path) == {"a": "1 1", "b": "2 2 6 1"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "id,rle\na,1 1\n",
            r"line 1: missing column\(s\) \['img_id', 'rle_mask'\]: .*\['id', 'rle",
        ),
        ("img_id,mask\na,1 1\n", r"line 1: missing column\(s\) \['rle_mask'\]"),
        ("img_id,rle_mask\na,1 1\nb,\na,2 1\n", r"line 4: duplicate img_id 'a', first on line 2"),
        ("img_id,rle_mask\na,1 1\nb,1 x\n", r"line 3: rle_mask '1 x' is not"),
        ("img_id,rle_mask\na,1 1 3\n", r"line 2: rle_mask '1 1 3' is not"),
        ("img_id,rle_mask\na,nan\n", r"line 2: .*an empty mask is an empty field"),
        ("img_id,rle_mask\na,1 1,oops\n", r"line 2: 3 columns, but the header has 2"),
        ("img_id,rle_mask\na\n", r"line 2: 1 columns"),
        ("img_id,rle_mask\n,1 1\n", r"line 2: empty img_id"),
        ("", r"the file is empty"),
        ('img_id,rle_mask\na,"1 1\n', r"line 2: not a valid CSV file: unexpected end of data"),
        ('img_id,rle_mask\na,"1 1"x\n', r"line 2: not a valid CSV file"),
    ],
)
def test_read_rle_csv_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "train_masks.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        read_rle_csv(path)
    assert str(info.value).startswith(str(path))
    assert info.value.path == str(path)


def test_read_rle_csv_refuses_non_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("img_id,rle_mask\ncafé.png,1 1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.csv: line 2: not UTF-8 text .*save it as UTF-8"):
        read_rle_csv(path)


def test_read_rle_csv_rows_keep_line_numbers(tmp_path):
    # a run-length string is decoded once the image size is known: the line names it then
    path = tmp_path / "m.csv"
    path.write_text("img_id,rle_mask\na,1 1\n\nb,300 2\n", encoding="utf-8")
    rows = read_rle_csv_rows(path)
    assert [(r.img_id, r.rle, r.line) for r in rows] == [("a", "1 1", 2), ("b", "300 2", 4)]
    with pytest.raises(DataError, match=r"m.csv: line 4: bad run-length mask: the last run"):
        decode_rle(rows[1].rle, (16, 16), path=path, field=f"line {rows[1].line}")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("img_id,rle_mask\na,1 1\n".encode("utf-16"), r"line 1: not UTF-8 text \(byte 0xff"),
        (bytes(range(256)), r"line 2: not UTF-8 text \(byte 0x80 at character 118"),
        (  # past the decoder's first block: the reader's own line count would be wrong
            b"img_id,rle_mask\n" + b"".join(b"a%d,1 1\n" % i for i in range(4000)) + b"b\xff,\n",
            r"line 4002: not UTF-8 text \(byte 0xff at character 2",
        ),
    ],
)
def test_non_utf8_csv_names_the_line_of_the_first_bad_byte(tmp_path, data, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    for read in (read_rle_csv, read_rle_csv_rows):
        with pytest.raises(DataError, match=message):
            read(path)


def test_read_csv_header(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("\ufeff img_id , class,rle_mask\na,b,1 1\n", encoding="utf-8")
    assert read_csv_header(path) == ["img_id", "class", "rle_mask"]
    path.write_text("", encoding="utf-8")
    assert read_csv_header(path) == []
    path.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(DataError, match=r"h\.csv: line 1: not UTF-8"):
        read_csv_header(path)
    with pytest.raises(DataError, match=r"missing\.csv: cannot read it"):
        read_csv_header(tmp_path / "missing.csv")


def _compressed(counts: list[int]) -> str:
    """pycocotools' counts string (rleToString), for counts it refuses to encode itself."""
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def test_compressed_helper_matches_pycocotools():
    mask = np.random.default_rng(0).random((5, 7)) < 0.5
    expected = encode_coco_rle(mask)["counts"]
    assert _compressed(coco_uncompressed_rle(mask)["counts"]) == expected


@pytest.mark.parametrize(
    "segmentation",
    [
        # a uint64 sum wraps around to h*w: 2**64 - 1 + 2 == 1
        {"size": [1, 1], "counts": np.array([2**64 - 1, 2], dtype=np.uint64)},
        {"size": [1, 2**32 + 5], "counts": [2**32, 5]},
        {"size": [2, 2**32], "counts": _compressed([2**33])},
    ],
)
def test_counts_pycocotools_would_cut_to_32_bits_are_refused(segmentation):
    # pycocotools stores counts as uint32: it would decode another mask, or uninitialised memory
    from seglab.data.rle import coco_rle_object

    with pytest.raises(DataError, match=r"is larger than COCO RLE holds \(4294967295\)"):
        coco_rle_object(segmentation)


def test_an_rle_bomb_is_refused_unless_the_image_gives_the_size(monkeypatch):
    monkeypatch.delenv("SEGLAB_ALLOW_LARGE_IMAGES", raising=False)
    bomb = {
        "size": [100_000, 100_000],
        "counts": [3_333_333_334, 0, 3_333_333_333, 0, 3_333_333_333],
    }
    with pytest.raises(DataError, match=r"crowd\.json: ann 3: .*10,000,000,000 pixels, more than"):
        decode_coco_rle(bomb, path="crowd.json", field="ann 3")
    monkeypatch.setattr("PIL.Image.MAX_IMAGE_PIXELS", 4)
    with pytest.raises(DataError, match="SEGLAB_ALLOW_LARGE_IMAGES=1"):
        decode_coco_rle({"size": [2, 3], "counts": "2111"})
    np.testing.assert_array_equal(
        decode_coco_rle({"size": [2, 3], "counts": "2111"}, height=2, width=3), EXAMPLE
    )
    monkeypatch.setenv("SEGLAB_ALLOW_LARGE_IMAGES", "1")
    np.testing.assert_array_equal(decode_coco_rle({"size": [2, 3], "counts": "2111"}), EXAMPLE)


@pytest.mark.parametrize("space", ["\xa0", "\u2003", "\x1c", "\t"])
def test_any_whitespace_separates_numbers(tmp_path, space):
    # a spreadsheet's non-breaking space: str.split() splits on it, so the parser must too
    np.testing.assert_array_equal(decode_rle(f"2{space}2 6{space}1", (2, 3)), EXAMPLE)
    path = tmp_path / "m.csv"
    path.write_text(f"img_id,rle_mask\na,2{space}2 6 1\n", encoding="utf-8")
    np.testing.assert_array_equal(decode_rle(read_rle_csv(path)["a"], (2, 3)), EXAMPLE)


def test_a_none_count_is_named():
    # found by tests/robustness/test_fuzz_files.py: None was taken for "no bad count found"
    with pytest.raises(DataError, match="flat list of integers, found None"):
        decode_coco_rle({"size": [1, 1], "counts": [None, 0]})
