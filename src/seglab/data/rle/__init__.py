"""Run-length encodings of binary masks: the seed's CSV format and COCO RLE.

Two formats, which differ in pixel order and in what the numbers mean:

**Seed RLE** (Kaggle style, used in ``train_masks.csv``-like files). The mask is flattened
row-major (C order, ``mask.ravel()``); pixels ``!= 0`` are foreground. The string is
space-separated ``start length`` pairs, one per foreground run, with 1-based starts, sorted and
not overlapping. An empty mask is the empty string. For ``[[0, 1, 1], [0, 0, 1]]`` the flat mask
is ``0 1 1 0 0 1`` and the RLE is ``"2 2 6 1"``.

**COCO RLE** (``segmentation`` of ``iscrowd`` annotations, and of most tools' mask output). The
mask is flattened column-major (Fortran order, ``mask.ravel(order="F")``) and described by a
dict ``{"size": [h, w], "counts": ...}``, where counts are the lengths of alternating runs,
starting with a run of zeros, which may have length 0. The same mask is
``{"size": [2, 3], "counts": [2, 1, 1, 2]}`` uncompressed (column order ``0 0 1 0 1 1``).
``counts`` may also be *compressed*: pycocotools' string of characters ``'0'``..``'o'``, each
carrying 5 bits of a count, later counts stored as differences (``"2111"`` here). Compressed
encoding and decoding go through :mod:`pycocotools.mask`; seglab validates the input first,
because pycocotools returns uninitialised memory for strings whose counts add up to fewer pixels
than the image has.

Example
-------
>>> import numpy as np
>>> mask = np.array([[0, 1, 1], [0, 0, 1]])
>>> encode_rle(mask)
'2 2 6 1'
>>> encode_coco_rle(mask)
{'size': [2, 3], 'counts': '2111'}
>>> coco_uncompressed_rle(mask)
{'size': [2, 3], 'counts': [2, 1, 1, 2]}
>>> bool((decode_rle("2 2 6 1", (2, 3)) == mask).all())
True
"""

from seglab.data.rle.coco import (
    coco_rle_object,
    coco_to_seed_rle,
    coco_uncompressed_rle,
    decode_coco_rle,
    decode_rle_objects,
    encode_coco_rle,
    polygons_to_mask,
    polygons_to_rle,
    seed_rle_to_coco,
)
from seglab.data.rle.csvfile import (
    RLE_CSV_HEADER,
    RleRow,
    read_csv_header,
    read_rle_csv,
    read_rle_csv_rows,
    write_rle_csv,
)
from seglab.data.rle.seed import decode_rle, encode_rle

__all__ = [
    "RLE_CSV_HEADER",
    "RleRow",
    "coco_rle_object",
    "coco_to_seed_rle",
    "coco_uncompressed_rle",
    "decode_coco_rle",
    "decode_rle",
    "decode_rle_objects",
    "encode_coco_rle",
    "encode_rle",
    "polygons_to_mask",
    "polygons_to_rle",
    "read_csv_header",
    "read_rle_csv",
    "read_rle_csv_rows",
    "seed_rle_to_coco",
    "write_rle_csv",
]
