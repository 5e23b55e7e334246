"""`mix_rep`: the paper's Mix Representation, mixup of pooled features and labels, real with synthetic."""

from __future__ import annotations

import torch

from baselines.strategies.mixing import MixOptions, backbone_features, draw_lambda
from bench.api import Strategy


class MixRep(Strategy):
    """f = lambda f_real + (1 - lambda) f_syn, y likewise, one shared backbone and head; lambda ~ Beta(0.3, 0.3)."""

    needs_synthetic = True
    Options = MixOptions

    def loss(self, model, criterion, real_x, real_y, syn_x, syn_y, rng):
        fr, fg = backbone_features(model, real_x, syn_x, self.options.joint_forward)
        n = len(syn_x)
        lam = draw_lambda(self.options, n, rng, real_x.device)
        mixed = lam * fr[:n] + (1 - lam) * fg
        targets = lam * real_y[:n] + (1 - lam) * syn_y
        logits = model.head(torch.cat([mixed, fr[n:]]))  # real samples without a partner stay unmixed
        return criterion(logits, torch.cat([targets, real_y[n:]]))
