"""MNIST / Fashion-MNIST data layer: IDX reader, split loader, checksum verifier and downloader.

Each data set lives in its own folder holding the four standard IDX files, gzip-compressed
(``*.gz``, preferred when both exist) or raw::

    train-images-idx3-ubyte(.gz)  train-labels-idx1-ubyte(.gz)
    t10k-images-idx3-ubyte(.gz)   t10k-labels-idx1-ubyte(.gz)

- :mod:`.checksums`: file names, download URLs, published checksums (``DATASETS``) and known
  good copies (``KNOWN_COPIES``);
- :mod:`.idx`: reading one IDX file (``read_idx``) or one split (``load_split``), and
  :class:`DataError`, the ``ValueError`` every data problem raises, naming the file or folder and
  how to get a good copy;
- :mod:`.download`: ``verify_dataset`` (files on disk against the published checksums),
  ``ensure_dataset`` (download what is missing, MD5-checked, atomically) and the command line.

Command line: ``python -m flowbench.datasets --dataset mnist --root DIR``.

MNIST: LeCun, Bottou, Bengio & Haffner (1998). Fashion-MNIST: Xiao, Rasul & Vollgraf (2017),
arXiv 1708.07747.
"""
from __future__ import annotations

from .checksums import DATASETS, FASHION_MNIST_BASE_URL, KNOWN_COPIES, MNIST_BASE_URL, SPLITS, STEMS
from .download import ensure_dataset, main, verify_dataset
from .idx import (COLS, IMAGE_MAGIC, LABEL_MAGIC, N_CLASSES, ROWS, DataError, find_file, load_split,
                  read_idx)

__all__ = ["COLS", "DATASETS", "FASHION_MNIST_BASE_URL", "IMAGE_MAGIC", "KNOWN_COPIES",
           "LABEL_MAGIC", "MNIST_BASE_URL", "N_CLASSES", "ROWS", "SPLITS", "STEMS", "DataError",
           "ensure_dataset", "find_file", "load_split", "main", "read_idx", "verify_dataset"]
