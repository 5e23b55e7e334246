"""Classification heads on pooled features: a linear layer, or the paper's ArcFace head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ArcFaceHead(nn.Module):
    """The paper's metric-learning head (from bestfitting's HPA 2018 solution); outputs cos(theta), unscaled.

    BN -> dropout 0.25 -> FC(D, 1024) -> ReLU -> BN -> dropout 0.5 -> FC(1024, 512) -> BN, then the
    cosine between the L2-normalised 512-d feature and 28 L2-normalised class vectors. The paper's
    code used functional dropout, which stays on in eval; `dropout_in_eval=True` reproduces that.
    """

    def __init__(self, in_features: int, num_classes: int, dropout_in_eval: bool = False):
        super().__init__()
        self.bn1, self.fc1 = nn.BatchNorm1d(in_features), nn.Linear(in_features, 1024)
        self.bn2, self.fc2 = nn.BatchNorm1d(1024), nn.Linear(1024, 512)
        self.bn3 = nn.BatchNorm1d(512)
        self.weight = nn.Parameter(torch.empty(num_classes, 512))
        nn.init.xavier_uniform_(self.weight)
        self.dropout_in_eval = dropout_in_eval

    def _dropout(self, x: torch.Tensor, p: float) -> torch.Tensor:
        return F.dropout(x, p, training=self.training or self.dropout_in_eval)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        f = self.fc1(self._dropout(self.bn1(f), 0.25)).relu()
        f = self.bn3(self.fc2(self._dropout(self.bn2(f), 0.5)))
        return F.linear(F.normalize(f), F.normalize(self.weight))


def make_head(kind: str, in_features: int, num_classes: int, drop_rate: float, dropout_in_eval: bool) -> nn.Module:
    if kind == "arcface":
        return ArcFaceHead(in_features, num_classes, dropout_in_eval)
    return nn.Sequential(nn.Dropout(drop_rate), nn.Linear(in_features, num_classes))
