"""A small CNN classifier: two conv blocks, global pooling, a linear head."""

from dataclasses import dataclass

from torch import nn

from bench.api import Classifier


class ToyCNN(Classifier):
    """Two conv blocks + global average pooling + linear head (a fast example)."""

    @dataclass
    class Options:
        width: int = 16

    def __init__(self, options=None, *, num_classes=28, in_chans=4):
        super().__init__(options, num_classes=num_classes, in_chans=in_chans)
        w = self.options.width
        self.body = nn.Sequential(
            nn.Conv2d(in_chans, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(2 * w, num_classes)

    def features(self, x):
        return self.body(x)

    def head(self, features):
        return self.fc(features)
