"""Headless Chromium for the report tests: a screenshot of a page, checked to be a real page."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest


def chromium() -> str:
    """The Chromium command; skips the test without it (fails when CI says it must be there)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("SEGLAB_REQUIRE_CHROMIUM"):  # set by .ci/run, which installs it
            pytest.fail("SEGLAB_REQUIRE_CHROMIUM is set but chromium is not on PATH")
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium; CI has it)")
    return found


def screenshot(page: Path, folder: Path, *, height: int, width: int = 1280) -> np.ndarray:
    """The page as headless Chromium draws it (``height x width x 3``), with the flags that keep
    it off this machine's closed network; asserts the shot was taken and is a page with text,
    images and the house style's dark header bar."""
    from PIL import Image

    shot = folder / "shot.png"
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={folder / 'profile'}", f"--screenshot={shot}",
        f"--window-size={width},{height}", page.resolve().as_uri(),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (height, width, 3)
    assert pixels.std() > 20  # not blank
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # text, curves and pictures
    assert (pixels[:60].mean(axis=(0, 1)) < 80).all()  # the dark header bar came out
    return pixels
