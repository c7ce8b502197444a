"""Pairing dataset keys with prediction keys."""

from __future__ import annotations

from seglab.predict.matching import match_keys


def test_keys_match_forgivingly_and_ambiguity_is_reported():
    match = match_keys(["val0.png", "val1.png", "a/b c.jpg"], ["masks/val0.png", "a__b_c"])
    assert match.matched == {"val0.png": "masks/val0.png", "a/b c.jpg": "a__b_c"}
    assert match.missing == ["val1.png"] and match.unused == []
    for pred in ("val0", "val0.png", "masks/val0.png", "val0.jpg"):
        assert match_keys(["val0.png"], [pred]).matched == {"val0.png": pred}
    exact = match_keys(["val0.png"], ["val0.png", "val0"])  # the exact key wins
    assert exact.matched == {"val0.png": "val0.png"} and exact.unused == ["val0"]
    tie = match_keys(["val0"], ["a/val0.png", "b/val0.png"])
    assert tie.ambiguous == {"val0": ["a/val0.png", "b/val0.png"]} and not tie.matched
    shared = match_keys(["a/x.png", "b/x.png"], ["x"])  # one prediction, two images
    assert set(shared.ambiguous) == {"a/x.png", "b/x.png"} and not shared.matched
