"""`folder`: images made elsewhere (a diffusion model of your own, a paper's released set), benchmarked as a set.

The folder is in the Kaggle layout (`train.csv` + `train/<Id>_<color>.png`) or holds one 4-channel
file per image (`<Id>.png`/`.tif`/`.tiff` as RGBA with yellow in alpha, or `<Id>.npy` uint8) with
`labels.csv` (Id,Target). The set is every image with its own labels (`synthetic.per_real` and
`synthetic.labels` do not apply), measured like any set; it is reused while the files are unchanged
and built again, with a message, when they change.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.api import BenchError, Generator, check_image_folder, option, read_image_folder, require, source_signature


class ImageFolder(Generator):
    """A folder of labelled images made elsewhere (Kaggle layout, or 4-channel PNG/TIFF/NumPy files + labels.csv)."""

    @dataclass
    class Options:
        path: str = option("", "the folder: Kaggle layout, or one 4-channel file per image with labels.csv")
        labels: str = option("", "the Id,Target CSV (default: train.csv in the Kaggle layout, else labels.csv)")
        resize: bool = option(False, "resize images of another size to the dataset's (area down, bicubic up); "
                                     "false: such an image is refused")

        def __post_init__(self):
            require(bool(self.path), "path", "name the folder of images: generator.path=FOLDER")

    def source(self) -> str:
        return source_signature(self.options.path, self.options.labels)

    def check(self, train, dataset) -> None:
        check_image_folder(self.options.path, self.options.labels)

    def plan(self, n_train, n_images):
        ids, _ = check_image_folder(self.options.path, self.options.labels)
        return (f"reads the {len(ids)} labelled images of {self.options.path} (no training; synthetic.per_real and "
                f"synthetic.labels do not apply)")

    def existing(self, resolution):
        return read_image_folder(self.options.path, self.options.labels, resolution, self.options.resize)

    def sample(self, labels, *, resolution, seed, device):
        raise BenchError("generator folder serves the images of its folder; it does not sample new ones")
