"""seglab: image segmentation from labelled images to the best model and its predictions."""

from __future__ import annotations

__version__ = "0.1.0"

from seglab.errors import ConfigError, DataError, SeglabError

__all__ = ["ConfigError", "DataError", "SeglabError", "__version__"]
