"""The seed's CSV of run-length masks: columns ``img_id,rle_mask``."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from seglab.data.rle.seed import RLE_SYNTAX, encode_rle
from seglab.errors import DataError

RLE_CSV_HEADER = ("img_id", "rle_mask")


def write_rle_csv(
    path: str | Path,
    rows: Iterable[tuple[str, np.ndarray | str]],
    *,
    header: tuple[str, str] = RLE_CSV_HEADER,
) -> int:
    """Write ``(img_id, mask or rle string)`` rows to a CSV file; return the number of rows.

    Arrays are encoded with :func:`encode_rle`; strings are written as given. Ids containing
    commas or quotes are quoted by the :mod:`csv` module.

    >>> import tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "masks.csv")
    >>> write_rle_csv(out, [("a.png", np.eye(2, dtype=np.uint8)), ("b.png", "")])
    2
    """
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for img_id, value in rows:
            rle = value if isinstance(value, str) else encode_rle(value)
            writer.writerow((img_id, rle))
            count += 1
    return count


def read_rle_csv(path: str | Path, *, header: tuple[str, str] = RLE_CSV_HEADER) -> dict[str, str]:
    """Read an ``img_id,rle_mask`` CSV file into ``{img_id: rle string}``.

    Other columns are allowed and ignored. Each RLE is checked to be an even number of
    non-negative integers; decode it with :func:`decode_rle` once the image shape is known.

    Raises
    ------
    DataError
        Naming the file and ``line N``: missing header columns, a row with a different number
        of columns than the header, an empty or duplicate ``img_id``, a malformed RLE.
    """
    # utf-8-sig: spreadsheet programs put a byte-order mark before the first column name.
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, strict=True)  # malformed quoting is an error, not a guess
        try:
            return _read_rle_rows(reader, path, header)
        except UnicodeDecodeError as error:
            raise DataError(
                f"not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8 CSV",
                path=path,
            ) from None
        except csv.Error as error:
            raise DataError(
                f"not a valid CSV file: {error}", path=path, field=f"line {reader.line_num}"
            ) from None


def _read_rle_rows(reader, path: str | Path, header: tuple[str, str]) -> dict[str, str]:
    """Parse the rows of a :func:`csv.reader` for :func:`read_rle_csv`."""
    id_column, rle_column = header
    masks: dict[str, str] = {}
    first_line: dict[str, int] = {}
    columns = next(reader, None)
    if columns is None:
        raise DataError(
            f"the file is empty; expected a header line '{id_column},{rle_column}'", path=path
        )
    columns = [c.strip() for c in columns]
    missing = [c for c in header if c not in columns]
    if missing:
        raise DataError(
            f"missing column(s) {missing}: the header has {columns}, and "
            f"{list(header)} are required; add a header line '{id_column},{rle_column}'",
            path=path,
            field="line 1",
        )
    id_index, rle_index = columns.index(id_column), columns.index(rle_column)
    for row in reader:
        where = f"line {reader.line_num}"
        if not row:  # blank line
            continue
        if len(row) != len(columns):
            raise DataError(
                f"{len(row)} columns, but the header has {len(columns)} ({columns}); "
                "quote ids that contain commas",
                path=path,
                field=where,
            )
        img_id, rle = row[id_index].strip(), row[rle_index].strip()
        if not img_id:
            raise DataError(
                f"empty {id_column}; every row needs an image id", path=path, field=where
            )
        if img_id in masks:
            raise DataError(
                f"duplicate {id_column} {img_id!r}, first on line {first_line[img_id]}; "
                "merge the two masks into one row (one row per image)",
                path=path,
                field=where,
            )
        if not RLE_SYNTAX.fullmatch(rle) or len(rle.split()) % 2:
            hint = "; an empty mask is an empty field" if rle.lower() == "nan" else ""
            raise DataError(
                f"{rle_column} {rle[:40]!r} is not space-separated 'start length' pairs of "
                f"non-negative integers{hint}",
                path=path,
                field=where,
            )
        masks[img_id] = rle
        first_line[img_id] = reader.line_num
    return masks
