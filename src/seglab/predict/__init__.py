"""Predicting with a trained run: load it, predict probabilities and masks, write the outputs.

* :mod:`seglab.predict.model` -- :class:`LoadedModel` (``load_model``): the run's network with
  its preprocessing, resize and padding; ``predict(image)`` and ``predict_proba(image)``, test-
  time augmentation and sliding-window tiling.
* :mod:`seglab.predict.ensemble` -- :class:`EnsembleModel` (``load_ensemble``): several runs, or
  the folds of a folds run (``seglab train --folds``), their probabilities averaged.
* :mod:`seglab.predict.backends` -- what runs the network: PyTorch (eager or channels_last) or
  ONNX Runtime on an exported model.
* :mod:`seglab.predict.formats` -- prediction files other tools read: the seed's run-length CSV
  and COCO results JSON (writers and readers).
* :mod:`seglab.predict.run` -- :func:`predict_images`: a folder of images to masks, overlays,
  crops, probabilities, RLE CSV and COCO JSON.
"""

from __future__ import annotations

from seglab.predict.ensemble import EnsembleModel, load_ensemble
from seglab.predict.ensemble import load_model_or_ensemble as load_model
from seglab.predict.model import MODEL_FILES, LoadedModel
from seglab.predict.run import predict_images

# seglab.predict.load_model takes one run (-> LoadedModel, as seglab.predict.model.load_model),
# a folds run or a list of runs (-> EnsembleModel)
__all__ = [
    "MODEL_FILES",
    "EnsembleModel",
    "LoadedModel",
    "load_ensemble",
    "load_model",
    "predict_images",
]
