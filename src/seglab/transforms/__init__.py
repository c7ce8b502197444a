"""Preprocessing and mask clean-up, all ``(image, mask) -> (image, mask)``.

Every transform is a function ``name(image, mask=None, *, options...)``; images are ``H x W`` or
``H x W x C`` numpy arrays, masks ``H x W`` class indices (255 = ignore) or ``None`` (prediction
time). :func:`build_pipeline` chains them by name from config, so training and prediction apply
the same steps, and :func:`~seglab.transforms.prepare.prepare_image` is the one preparation
(channels, preprocessing, resize) that both use. Training's augmentation presets
(albumentations) are in :mod:`seglab.transforms.augment`, mosaic and copy-paste in
:mod:`seglab.transforms.mixing`.

Transforms (registered in :data:`TRANSFORMS` under these names)
--------------------------------------------------------------
Denoising (:mod:`~seglab.transforms.preprocess`; the mask is returned unchanged):
    ``gaussian(sigma)``, ``median(size)``, ``bilateral(d, sigma_color, sigma_space)``,
    ``nl_means(h, patch_size, search_size)``.
Contrast: ``stretch(low, high, per_channel)`` (percentiles to the full range),
    ``equalize(per_channel)``, ``clahe(clip_limit, tile_grid, per_channel)``, ``gamma(gamma)``
    (RGB is equalised on its luminance unless ``per_channel``).
Normalisation: ``normalize(mode="minmax" | "zscore" | "imagenet" | "fixed", mean, std)``.
Centring (:mod:`~seglab.transforms.centring`): ``centre(size, mode="crop" | "pad", at, fill)``,
    with :func:`centre_offset` and :func:`uncentre` to map predictions back.
Mask clean-up (:mod:`~seglab.transforms.postprocess`; per class, ignore pixels untouched):
    ``remove_small_objects(min_size)``, ``remove_small_holes(area_threshold)``,
    ``opening(radius)``, ``closing(radius)``; and :func:`clean_mask` for plain bool masks.

Image and dtype rules (denoising, contrast, normalisation)
---------------------------------------------------------
* ``uint8`` in gives ``uint8`` out (denoising and contrast); ``bool`` is read as ``uint8`` 0/255.
* Any other dtype gives ``float32`` out: ``uint16`` is first divided by 65535 (as
  :func:`seglab.io.read_image` does), other dtypes are cast unchanged. Float images are taken to
  lie in [0, 1]: intensity options in 8-bit grey levels (``sigma_color``, ``h``) are divided by
  255 for them. ``stretch``, ``equalize`` and ``clahe`` give float results in [0, 1];
  ``gamma`` needs values >= 0.
* :func:`normalize` always gives ``float32``.
* The layout is kept: ``H x W`` stays ``H x W``, ``H x W x 1`` stays ``H x W x 1``.
* 4 channels are RGBA: the alpha channel is passed through untouched (as ``float32`` in [0, 1]
  when the result is float and the input was ``uint8``). Other channel counts (2, 5, ...) are
  filtered per channel.
* Constant images (and constant channels) never divide by zero: contrast transforms return them
  unchanged, ``normalize`` gives zeros.
* NaN and Inf are replaced by the median of their channel's finite pixels (0 if none), with a
  ``RuntimeWarning``; clean the image or mark those pixels 255 in the mask to avoid it.
* Bad input is a :class:`~seglab.errors.DataError` (wrong shape, mask of another size); bad
  options a :class:`~seglab.errors.ConfigError`, both with the fix in the message.
* ``centre`` and the mask transforms keep the image's dtype as it is.
"""

from __future__ import annotations

from seglab.transforms.centring import Offset, centre, centre_offset, uncentre
from seglab.transforms.pipeline import (
    TRANSFORMS,
    Pipeline,
    TransformSpec,
    build_pipeline,
    parse_step,
)
from seglab.transforms.postprocess import (
    clean_mask,
    closing,
    opening,
    remove_small_holes,
    remove_small_objects,
)
from seglab.transforms.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    NORMALIZE_MODES,
    bilateral,
    clahe,
    equalize,
    gamma,
    gaussian,
    median,
    nl_means,
    normalize,
    stretch,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "NORMALIZE_MODES",
    "TRANSFORMS",
    "Offset",
    "Pipeline",
    "TransformSpec",
    "bilateral",
    "build_pipeline",
    "centre",
    "centre_offset",
    "clahe",
    "clean_mask",
    "closing",
    "equalize",
    "gamma",
    "gaussian",
    "median",
    "nl_means",
    "normalize",
    "opening",
    "parse_step",
    "remove_small_holes",
    "remove_small_objects",
    "stretch",
    "uncentre",
]
