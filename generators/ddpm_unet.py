"""`ddpm-unet`: a diffusion generator that models the data, unlike the paper's 3-conv network.

- Network: diffusers' time-conditioned `UNet2DModel` (ResNet blocks, attention at the lowest
  resolution), conditioned on the full 28-class multi-hot label vector through a linear projection
  added to the timestep embedding (`class_embed_type="identity"`).
- Classifier-free guidance: the label vector is zeroed with probability `p_uncond` in training;
  sampling mixes conditional and unconditional predictions with `guidance_scale`.
- EMA weights (diffusers' `EMAModel`) are used for sampling.
- v-prediction by default (`prediction=epsilon` for the noise); DDIM (eta 0) or DPM-Solver++
  sampling with a configurable number of steps, predictions of the clean image clipped to [-1, 1].
- Any resolution (`resolution`: 32, 64, 128 and up); samples are upsampled bicubically to the
  dataset's resolution when they differ.
Per-epoch checkpoints (model, EMA, optimizer) in the generator's training folder make training
resumable, and are shared by sets that differ only in sampling options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.api import NUM_CLASSES, option, require
from bench.api.diffusion import DiffusionGenerator, UNetDiffusionOptions


class LabelConditionedUNet(nn.Module):
    """UNet2DModel whose class embedding is a linear projection of the multi-hot label vector."""

    def __init__(self, resolution: int, width: int, depth: int, layers_per_block: int):
        super().__init__()
        from diffusers import UNet2DModel

        channels = tuple(width * min(2 ** i, 4) for i in range(depth))
        self.unet = UNet2DModel(
            sample_size=resolution, in_channels=4, out_channels=4, layers_per_block=layers_per_block,
            block_out_channels=channels, down_block_types=("DownBlock2D",) * (depth - 1) + ("AttnDownBlock2D",),
            up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (depth - 1), class_embed_type="identity",
            norm_num_groups=min(32, width))
        self.label_proj = nn.Linear(NUM_CLASSES, channels[0] * 4)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t, class_labels=self.label_proj(labels)).sample


class DDPMUNet(DiffusionGenerator):
    """Time-conditioned U-Net (diffusers), multi-hot labels with classifier-free guidance, EMA, DDIM sampling."""

    sampling_options = ("guidance_scale", "sampler", "sampling_steps", "sampling_batch_size")
    checkpoint_name = "ddpm-unet.pt"
    quick_options = {"epochs": 1, "width": 8, "depth": 2, "sampling_steps": 3}
    use_ema = True
    epoch_seed_stride = 7919

    @dataclass
    class Options(UNetDiffusionOptions):
        resolution: int = option(32, "generation resolution; samples are resized bicubically to the dataset's")
        width: int = UNetDiffusionOptions.redefault("width", 16, "32-64 on a GPU")
        lr: float = UNetDiffusionOptions.redefault("lr", 2e-4)
        beta_schedule: Literal["linear", "squaredcos_cap_v2"] = option("squaredcos_cap_v2", "noise schedule of the "
                                                                       "1000-step forward process")
        prediction: Literal["v_prediction", "epsilon"] = option("v_prediction", "what the network predicts: v "
                                                                "(Salimans & Ho 2022; stable at high noise) or the "
                                                                "noise itself")
        guidance_scale: float = UNetDiffusionOptions.redefault("guidance_scale", 2.0)
        sampler: Literal["ddim", "dpm-solver"] = option("ddim", "DDIM (eta 0) or DPM-Solver++")
        sampling_steps: int = UNetDiffusionOptions.redefault("sampling_steps", 50)
        sampling_batch_size: int = UNetDiffusionOptions.redefault("sampling_batch_size", 256)

        def __post_init__(self):
            super().__post_init__()
            require(self.resolution >= 8 and self.resolution % 2 ** (self.depth - 1) == 0, "resolution",
                    "must be >= 8 and divisible by 2**(depth-1)")
            require(self.width % 4 == 0, "width", "must be a multiple of 4 (group norm)")
            require(self.lr > 0 and self.guidance_scale >= 0, "lr", "lr must be > 0 and guidance_scale >= 0")
            require(self.sampling_steps <= 1000, "sampling_steps", "must be <= 1000 (the trained T)")

    def new_model(self) -> nn.Module:
        o = self.options
        return LabelConditionedUNet(o.resolution, o.width, o.depth, o.layers_per_block)

    def new_optimizer(self, model):
        return torch.optim.AdamW(model.parameters(), lr=self.options.lr, foreach=True)

    def noise_scheduler(self):
        from diffusers import DDPMScheduler

        return DDPMScheduler(num_train_timesteps=1000, beta_schedule=self.options.beta_schedule,
                             prediction_type=self.options.prediction, clip_sample=True)

    def training_loss(self, model, scheduler, train, items, g, device):
        o = self.options
        x0 = self.oriented_images(train, items, self.options.resolution, g).to(device)
        labels = torch.from_numpy(train.labels[items]).float()
        labels[torch.rand(len(items), generator=g) < o.p_uncond] = 0.0  # the unconditional branch
        noise = torch.randn(x0.shape, generator=g).to(device)
        t = torch.randint(0, 1000, (len(items),), generator=g).to(device)
        pred = model(scheduler.add_noise(x0, noise, t), t, labels.to(device))
        target = noise if o.prediction == "epsilon" else scheduler.get_velocity(x0, noise, t)
        return F.mse_loss(pred, target)

    def _sampler(self):
        from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

        cls = DDIMScheduler if self.options.sampler == "ddim" else DPMSolverMultistepScheduler
        sampler = cls.from_config(self.noise_scheduler().config)
        sampler.set_timesteps(self.options.sampling_steps)
        return sampler

    def _guided_prediction(self, model, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Classifier-free guidance of the network's prediction (v or noise); at guidance_scale 1 the
        conditional prediction alone (one pass, not two)."""
        scale = self.options.guidance_scale
        steps = t.expand(len(x)).to(x.device)
        if scale == 1.0:
            return model(x, steps, cond)
        both = torch.cat([cond, torch.zeros_like(cond)])
        conditional, unconditional = model(torch.cat([x, x]), torch.cat([steps, steps]), both).chunk(2)
        return unconditional + scale * (conditional - unconditional)

    def denoise(self, model, conditions, g, device):
        cond = torch.from_numpy(np.asarray(conditions)).float().to(device)
        size = self.options.resolution
        x = torch.randn((len(cond), 4, size, size), generator=g).to(device)
        sampler = self._sampler()
        for t in sampler.timesteps:
            x = sampler.step(self._guided_prediction(model, x, t, cond), t, x).prev_sample
        return (x.clamp(-1, 1) + 1) / 2
