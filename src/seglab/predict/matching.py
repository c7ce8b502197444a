"""Pairing dataset images with prediction files whose names differ a little (``val0``,
``val0.png``, ``masks/val0.png`` and seglab's ``a__b_c.png`` for ``a/b c.jpg``)."""

from __future__ import annotations

from pathlib import PurePosixPath


class KeyMatch:
    """How dataset keys found their prediction: ``matched`` (dataset key -> prediction key),
    ``missing`` (dataset keys without one), ``ambiguous`` (dataset key -> candidates) and
    ``unused`` (prediction keys no dataset image took)."""

    def __init__(self) -> None:
        self.matched: dict[str, str] = {}
        self.missing: list[str] = []
        self.ambiguous: dict[str, list[str]] = {}
        self.unused: list[str] = []


def _forms(key: str) -> list[str]:
    """A key as matched, strictest first: itself, without an image extension, its file stem,
    and seglab's file name for it (``safe_name``, which mask writers use)."""
    from seglab.core.files import safe_name
    from seglab.io import is_image_file

    key = key.replace("\\", "/")
    plain = key[: -len(PurePosixPath(key).suffix)] if is_image_file(key) else key
    return [key, plain, PurePosixPath(plain).name, safe_name(key)]


def match_keys(dataset_keys: list[str], prediction_keys: list[str]) -> KeyMatch:
    """Pair each dataset key with a prediction key: the same key, else the same key without
    extension, else the same file stem, else the same seglab mask name; a tie at the first
    level that matches is ambiguous (reported, not guessed)."""
    indexes: list[dict[str, list[str]]] = [{} for _ in range(4)]
    for pred in prediction_keys:
        for level, form in enumerate(_forms(pred)):
            bucket = indexes[level].setdefault(form, [])
            if pred not in bucket:
                bucket.append(pred)
    result, taken = KeyMatch(), set()
    for key in dataset_keys:
        for level, form in enumerate(_forms(key)):
            found = indexes[level].get(form, [])
            if len(found) == 1:
                result.matched[key] = found[0]
                taken.add(found[0])
                break
            if len(found) > 1:
                result.ambiguous[key] = found
                break
        else:
            result.missing.append(key)
    claims: dict[str, list[str]] = {}
    for key, pred in result.matched.items():
        claims.setdefault(pred, []).append(key)
    for pred, keys in claims.items():
        if len(keys) > 1:  # one prediction, several images ("a/x.png", "b/x.png" for "x")
            for key in keys:
                result.ambiguous[key] = [pred]
                del result.matched[key]
    result.unused = [p for p in prediction_keys if p not in taken]
    return result
