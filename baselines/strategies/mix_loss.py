"""`mix_loss`: the paper's Mix Loss, a lambda-weighted sum of the real and synthetic losses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from baselines.strategies.mixing import MixOptions, backbone_features, draw_lambda
from bench.api import Strategy, option


class MixLoss(Strategy):
    """lambda * L_real + (1 - lambda) * L_syn; `form=batch` as the paper coded it, `per-sample` as it meant."""

    needs_synthetic = True

    @dataclass
    class Options(MixOptions):
        form: Literal["batch", "per-sample"] = option("per-sample", "batch: mean(lambda) * L_real + (1 - "
                                                      "mean(lambda)) * L_syn, the losses batch means (the paper's "
                                                      "code); per-sample: mean_i[lambda_i * l_real_i + (1 - lambda_i) "
                                                      "* l_syn_i] over paired samples")

    def loss(self, model, criterion, real_x, real_y, syn_x, syn_y, rng):
        fr, fg = backbone_features(model, real_x, syn_x, self.options.joint_forward)
        zr, zg = model.head(fr), model.head(fg)
        lam = draw_lambda(self.options, len(syn_x), rng, real_x.device)[:, 0]
        if self.options.form == "batch":
            mean = lam.mean()
            return mean * criterion(zr, real_y) + (1 - mean) * criterion(zg, syn_y)
        n = len(syn_x)
        paired = (lam * criterion(zr[:n], real_y[:n], reduction="none")
                  + (1 - lam) * criterion(zg, syn_y, reduction="none"))
        unpaired = criterion(zr[n:], real_y[n:], reduction="none")  # real samples without a partner (ratio < 1)
        return (paired.sum() + unpaired.sum()) / len(real_x)
