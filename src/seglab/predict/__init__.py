"""Predicting with a trained run: load it, predict probabilities and masks, write the outputs.

* :mod:`seglab.predict.model` -- :class:`LoadedModel` (``load_model``): the run's network with
  its preprocessing, resize and padding; ``predict(image)`` and ``predict_proba(image)``, test-
  time augmentation and sliding-window tiling.
* :mod:`seglab.predict.backends` -- what runs the network: PyTorch (eager or channels_last) or
  ONNX Runtime on an exported model.
* :mod:`seglab.predict.formats` -- prediction files other tools read: the seed's run-length CSV
  and COCO results JSON (writers and readers).
* :mod:`seglab.predict.run` -- :func:`predict_images`: a folder of images to masks, overlays,
  crops, probabilities, RLE CSV and COCO JSON.
"""

from __future__ import annotations

from seglab.predict.model import MODEL_FILES, LoadedModel, load_model
from seglab.predict.run import predict_images

__all__ = ["MODEL_FILES", "LoadedModel", "load_model", "predict_images"]
