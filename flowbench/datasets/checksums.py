"""The MNIST and Fashion-MNIST files: names, download URLs and published checksums.

Each data set has four IDX files (:data:`STEMS`), distributed gzip-compressed. Per file,
:data:`DATASETS` records the distributed name, the name once decompressed, the download URL(s),
the published MD5 of the ``.gz`` and the SHA-256 of the decompressed bytes. :data:`KNOWN_COPIES`
records copies that are not the published file but are known to be good.

MNIST: LeCun, Bottou, Bengio & Haffner (1998). Fashion-MNIST: Xiao, Rasul & Vollgraf (2017),
arXiv 1708.07747.
"""
from __future__ import annotations

MNIST_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_MNIST_BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

SPLITS = {"train": "train", "test": "t10k"}  # split name -> file prefix

#: File key -> IDX file name without ``.gz``.
STEMS = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "t10k-images": "t10k-images-idx3-ubyte",
    "t10k-labels": "t10k-labels-idx1-ubyte",
}


def _entry(base: str, key: str, md5: str, sha256: str | None) -> dict:
    stem = STEMS[key]
    return {
        "file": stem + ".gz",  # name of the file as distributed
        "raw": stem,  # name once decompressed
        "urls": [base + stem + ".gz"],
        "md5": md5,  # of the .gz as distributed
        "sha256": sha256,  # of the decompressed file; None where not enforced
    }


#: Per data set, per file: download URL(s) and published checksums.
DATASETS: dict[str, dict[str, dict]] = {
    "mnist": {
        "train-images": _entry(
            MNIST_BASE_URL, "train-images", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            # The local copy of this file is a rebuild (see KNOWN_COPIES): its decompressed
            # checksum is deliberately not enforced.
            None,
        ),
        "train-labels": _entry(
            MNIST_BASE_URL, "train-labels", "d53e105ee54ea40749a09fcbcd1e9432",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        "t10k-images": _entry(
            MNIST_BASE_URL, "t10k-images", "9fb629c4189551a2d022fa330f9573f3",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        "t10k-labels": _entry(
            MNIST_BASE_URL, "t10k-labels", "ec29112dd5afa0611ce80d1b7f02629c",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    },
    "fashion-mnist": {
        "train-images": _entry(
            FASHION_MNIST_BASE_URL, "train-images", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        "train-labels": _entry(
            FASHION_MNIST_BASE_URL, "train-labels", "25c81989df183df01b3e8a0aad5dffbe",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        "t10k-images": _entry(
            FASHION_MNIST_BASE_URL, "t10k-images", "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        "t10k-labels": _entry(
            FASHION_MNIST_BASE_URL, "t10k-labels", "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    },
}

#: Decompressed SHA-256 of copies that are not the published file but are known to be good, per
#: (data set, file key), with what each is. ``verify_dataset`` accepts them.
KNOWN_COPIES: dict[tuple[str, str], dict[str, str]] = {
    ("mnist", "train-images"): {
        "374ba378bee06c633f4800ac6a495f71d1b80b0e82bf763acbfa4c7e9c379f75":
            "a rebuild of the MNIST training images from a public PNG copy (labels and order as "
            "published; about 97% of pixels exact, the rest within one grey level)",
    },
}
