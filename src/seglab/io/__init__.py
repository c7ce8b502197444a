"""Reading and writing images and masks: every format quirk is handled here, once.

Rules for images (:func:`read_image`)
-------------------------------------
* The array is always ``H x W x C`` (``C`` = 1 for grayscale, 3 for colour, more for
  multi-channel TIFF), and always a writable array of its own.
* dtype: 8-bit images stay ``uint8`` (1-bit images become 0/255 ``uint8``). Everything else
  (16-bit, 32-bit integer, float) becomes ``float32``: unsigned 16-bit is divided by 65535 so it
  lies in [0, 1]; float data is kept as it is (NaN and Inf included: ``meta.has_nonfinite`` says
  so); other integer types are cast unchanged. ``meta.dtype`` and ``meta.bit_depth`` keep what the
  file held. 16-bit colour PNGs are decoded with OpenCV, because Pillow keeps only their high byte.
* Channels: palette images become RGB; RGBA and LA lose their alpha channel unless
  ``keep_alpha=True`` (segmentation models look at colour, and most alpha channels in photos are
  an artefact of the export). In a TIFF, the channels its ExtraSamples tag marks as alpha are the
  alpha; any other channels (2-channel, 5-channel...) are all kept.
* EXIF orientation (the TIFF Orientation tag for TIFFs) is applied exactly once, so the array is
  what a viewer shows and what annotation tools draw on; ``meta.exif_transposed`` says whether the
  file asked for it and ``meta.stored_size`` keeps the size as stored.
* Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 megapixels) is kept,
  for TIFFs too: a larger image is refused with a message; pass ``allow_large=True``
  (``--allow-large-images``), or set ``SEGLAB_ALLOW_LARGE_IMAGES=1`` (any command), for images
  you trust. The global limit is never left changed.
* The reader is chosen by the file's content, not its extension: a PNG named ``.jpg`` or
  ``.tif`` is read as a PNG, a TIFF named ``.png`` as a TIFF.
* TIFF files are read with tifffile (16-bit RGB, float, multi-channel, ``C x H x W`` planar
  pages and ImageJ ``CYX`` channel stacks); any other multi-page TIFF gives its first page, with
  a warning that names the file and the number of pages.
* Every failure (missing, unreadable, truncated, too large) is a :class:`~seglab.errors.DataError`
  that names the file and says what it holds instead where that tells (an empty file, text or
  HTML, a PDF, a folder, a broken symbolic link); the libraries' own complaints about a broken
  file (tifffile's log, OpenCV's and libpng's messages) are kept off the terminal.

Rules for masks (:func:`read_mask`)
-----------------------------------
Masks are read without any colour conversion, and with the same orientation as the image:
grayscale and palette masks give ``H x W`` integer arrays of the stored values (palette indices,
not colours: ``meta.palette`` has the colours; 1-bit masks give 0/255, as Pillow, OpenCV and
scikit-image read them); RGB masks give ``H x W x 3`` ``uint8``; RGBA masks drop alpha; float
masks must hold integers. Deciding what the values mean (0/255, 0/1, colours, class indices) is
the dataset's job (:mod:`seglab.data.folders`). :func:`write_mask` writes lossless PNG only.

Modules
-------
:mod:`~seglab.io.images` (:func:`read_image`, :func:`read_image_size`), :mod:`~seglab.io.masks`
(:func:`read_mask`, :func:`write_mask`, :func:`write_label_image`) and :mod:`~seglab.io.meta`
(:class:`ImageMeta`, the extensions) hold the public API; the format details they share live
in :mod:`~seglab.io.pillow` (opening a file with Pillow), :mod:`~seglab.io.sniff` (the reader by
content, what a non-image file holds), :mod:`~seglab.io.png` (16-bit colour PNGs, late eXIf chunks),
:mod:`~seglab.io.tiff` (tifffile), :mod:`~seglab.io.orientation` (EXIF/TIFF orientation) and
:mod:`~seglab.io.limits` (the decompression-bomb limit). Import from ``seglab.io`` itself.
"""

from __future__ import annotations

from seglab.io.images import read_image, read_image_size
from seglab.io.masks import read_mask, write_class_mask, write_label_image, write_mask
from seglab.io.meta import IMAGE_EXTENSIONS, TIFF_EXTENSIONS, ImageMeta, is_image_file

__all__ = [
    "IMAGE_EXTENSIONS",
    "TIFF_EXTENSIONS",
    "ImageMeta",
    "is_image_file",
    "read_image",
    "read_image_size",
    "read_mask",
    "write_class_mask",
    "write_label_image",
    "write_mask",
]
