"""The split section of a run's configuration (light: `bench.config` imports it without numpy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from bench.options import option, require

SHIPPED_PROTOCOLS = ("hpa2018-v1",)


@dataclass
class SplitConfig:
    """Which fixed split protocol to use (see bench.protocol); unset values take the protocol's own.

    `stratified` and `paper` are computed from the dataset's ids and labels; a shipped protocol
    (`hpa2018-v1`) is a manifest inside the package, so its seed and fractions are fixed.
    """

    name: Literal["stratified", "paper", "hpa2018-v1"] = option("stratified", "split protocol: stratified (iterative "
                                                                "stratification), paper (the paper's random "
                                                                "80/10/10), hpa2018-v1 (the shipped manifest for real "
                                                                "HPA)")
    seed: Optional[int] = option(None, "seed of the split (stratified: 0, paper: 42); fixed across runs, so a grid's "
                                 "seeds share one split")
    val_fraction: Optional[float] = option(None, "share of images in the validation role (stratified and paper: 0.1)")
    test_fraction: Optional[float] = option(None, "share of images in the test role (stratified: 0.1; paper: 0, as "
                                            "the paper had no labelled test role)")
    train_fraction: float = option(1.0, "share of the train role kept (a stratified subset, nested: the 10% "
                                        "lies inside the 25%); validation and test are unchanged, so runs at "
                                        "different fractions share one leaderboard section", new=True)
    allow_empty_classes: bool = option(False, "run a train_fraction that leaves a class of the train role with no "
                                              "training image (its F1 is then 0 in every macro average); refused "
                                              "otherwise, naming the classes", runtime=True)

    def __post_init__(self):
        require(0 < self.train_fraction <= 1, "train_fraction", "must be in (0, 1]")
        if self.name in SHIPPED_PROTOCOLS:
            for key in ("seed", "val_fraction", "test_fraction"):
                require(getattr(self, key) is None, key, f"is fixed by the shipped protocol {self.name}")
            self.seed, self.val_fraction, self.test_fraction = 0, 0.1, 0.1
            return
        paper = self.name == "paper"
        if self.seed is None:
            self.seed = 42 if paper else 0
        if self.val_fraction is None:
            self.val_fraction = 0.1
        if self.test_fraction is None:
            self.test_fraction = 0.0 if paper else 0.1
        require(self.seed >= 0, "seed", "must be >= 0")
        require(0 < self.val_fraction < 1, "val_fraction", "must be in (0, 1)")
        require(0 <= self.test_fraction < 1, "test_fraction", "must be in [0, 1)")
        require(not (paper and self.test_fraction), "test_fraction", "the paper split has no test role")
        require(self.val_fraction + self.test_fraction < 1, "test_fraction", "val + test must leave a train role")
