"""The one way an image is brought to a network, at training and at prediction time.

:func:`prepare_image`: channels matched to the model -> the run's preprocessing -> channels
matched again (a step may give gray or drop alpha) -> resized so the longer side is the run's
size. Training (:class:`seglab.train.data.SegmentationSamples`) and prediction
(:meth:`seglab.predict.LoadedModel.prepare`) both call it, so a change here reaches both and
predictions never drift from what the model was trained on. What follows differs on purpose:
training adds crops and augmentation, both convert with
:func:`seglab.core.arrays.image_to_float` and pad to the network's stride.

>>> import numpy as np
>>> image, mask = prepare_image(np.zeros((40, 20), np.uint8), None, channels=3, long_side=20)
>>> image.shape, mask
((20, 10, 3), None)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from seglab.core.arrays import match_channels, resize_long_side

Preprocess = Callable[[np.ndarray, np.ndarray | None], tuple[np.ndarray, np.ndarray | None]]
LongSide = int | None | Callable[[tuple[int, int]], int | None]


def prepare_image(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    channels: int,
    preprocess: Preprocess | None = None,
    long_side: LongSide = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(image, mask)`` as the network sees them, before crops, float conversion and padding.

    Parameters
    ----------
    image, mask:
        ``H x W`` or ``H x W x C`` image as read, and its ``H x W`` mask (``None`` at
        prediction time).
    channels:
        The model's input channels (:func:`~seglab.core.arrays.match_channels`).
    preprocess:
        The run's preprocessing, ``(image, mask) -> (image, mask)`` (a
        :class:`~seglab.transforms.Pipeline`); ``None``: none.
    long_side:
        The longer side after resizing, px (``None``: kept), or a function of the preprocessed
        image's ``(H, W)`` that gives it (prediction's ``resize="scale"``).
    """
    image = match_channels(image, channels)
    if preprocess is not None:
        image, mask = preprocess(image, mask)
        image = match_channels(image, channels)
    size = long_side((image.shape[0], image.shape[1])) if callable(long_side) else long_side
    return resize_long_side(image, mask, size)
