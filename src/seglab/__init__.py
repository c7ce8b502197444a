"""seglab: image segmentation from labelled images to the best model and its predictions.

The Python API lives in :mod:`seglab.api`; its most used functions are here too, imported on
first use so that ``import seglab`` stays fast:

>>> import seglab
>>> model = seglab.load_model("runs/train")  # doctest: +SKIP
>>> mask = model.predict(image)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from seglab._version import __version__
from seglab.errors import ConfigError, DataError, SeglabError

_API = ("evaluate", "load_model", "train")  # seglab.predict is the package

__all__ = ["ConfigError", "DataError", "SeglabError", "__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        import seglab.api

        return getattr(seglab.api, name)
    raise AttributeError(f"module 'seglab' has no attribute {name!r}")
