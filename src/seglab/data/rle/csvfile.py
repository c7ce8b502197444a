"""The seed's CSV of run-length masks: columns ``img_id,rle_mask``."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np

from seglab.data.rle.seed import RLE_SYNTAX, encode_rle
from seglab.errors import DataError

RLE_CSV_HEADER = ("img_id", "rle_mask")
_T = TypeVar("_T")


class RleRow(NamedTuple):
    """One row of a run-length CSV: the image id, its run-length string and its line number
    (1 is the header), for messages that say where a fault is."""

    img_id: str
    rle: str
    line: int


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
        of columns than the header, an empty or duplicate ``img_id``, a malformed RLE; or the
        file is not UTF-8 text or not CSV.
    """
    return {row.img_id: row.rle for row in read_rle_csv_rows(path, header=header)}


def read_rle_csv_rows(
    path: str | Path, *, header: tuple[str, str] = RLE_CSV_HEADER
) -> list[RleRow]:
    """:func:`read_rle_csv` keeping each row's line number (:class:`RleRow`), so a run-length
    string that fails to decode later is named by its line."""
    return read_csv(path, lambda reader: _read_rle_rows(reader, path, header))


def read_csv_header(path: str | Path) -> list[str]:
    """The column names of a CSV file's first line (stripped; ``[]`` for an empty file).

    Raises
    ------
    DataError
        The file is not UTF-8 text or not valid CSV.
    """
    return read_csv(path, lambda reader: [c.strip() for c in next(reader, [])])


def read_csv(path: str | Path, parse: Callable[[csv.reader], _T]) -> _T:
    """Open ``path`` as UTF-8 CSV (a byte-order mark allowed) and return ``parse(reader)``;
    text, CSV and file errors become a :class:`DataError` naming the file and line."""
    # utf-8-sig: spreadsheet programs put a byte-order mark before the first column name.
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, strict=True)  # malformed quoting is an error, not a guess
            try:
                return parse(reader)
            except UnicodeDecodeError:
                raise _not_utf8(Path(path)) from None
            except csv.Error as error:
                raise DataError(
                    f"not a valid CSV file: {error}", path=path, field=f"line {reader.line_num}"
                ) from None
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        raise DataError(f"cannot read it ({error.strerror})", path=path) from None


def _not_utf8(path: Path) -> DataError:
    """The error for a file that is not UTF-8, naming the line and byte of the first fault
    (the decoder reads ahead in blocks, so the reader's line count does not say)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        return DataError(
            f"not UTF-8 text (byte 0x{data[error.start]:02x} at character {column}: "
            f"{error.reason}); save it as UTF-8 CSV",
            path=path,
            field=f"line {line}",
        )
    return DataError("not UTF-8 text; save it as UTF-8 CSV", path=path)


def _read_rle_rows(reader, path: str | Path, header: tuple[str, str]) -> list[RleRow]:
    """Parse the rows of a :func:`csv.reader` for :func:`read_rle_csv_rows`."""
    id_column, rle_column = header
    rows: list[RleRow] = []
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
        if img_id in first_line:
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
        rows.append(RleRow(img_id, rle, reader.line_num))
        first_line[img_id] = reader.line_num
    return rows
