"""`edm`: a diffusion model of the images at the dataset's own resolution, fast enough for a CPU.

- Pixel space, no autoencoder (so no reconstruction floor): the U-Net (diffusers' `UNet2DModel`)
  runs on `patch` x `patch` patches folded into channels (`pixel_unshuffle`, lossless), as in
  "simple diffusion" (Hoogeboom et al. 2023): a 64 px image is a 16 x 16 grid of 64-channel
  vectors, 16 x cheaper per layer than the full grid, with every pixel still modelled.
- EDM (Karras et al. 2022): preconditioning (c_in, c_out, c_skip, c_noise), log-normal noise levels
  and the loss weight lambda(sigma), all from diffusers' `EDMDPMSolverMultistepScheduler`, which
  also samples (DPM-Solver++ 2M on the Karras sigma schedule, Lu et al. 2022): 16 steps by default
  against the paper DDPM's 1,000.
- Conditioned on the 28-class multi-hot label vector (a linear projection added to the noise
  embedding), with classifier-free guidance (labels dropped with probability `p_uncond` in
  training; `guidance_scale` 1.5 at sampling, both branches in one batch).
- EMA weights for sampling; random rotations by 90 degrees and flips in training (cells have no
  orientation); per-epoch checkpoints and resume from the base class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.api import NUM_CLASSES, BenchError, option, require
from bench.api.diffusion import DiffusionGenerator, UNetDiffusionOptions


class PatchUNet(nn.Module):
    """UNet2DModel on pixel-unshuffled patches, conditioned on a multi-hot label vector."""

    def __init__(self, resolution: int, patch: int, width: int, depth: int, layers_per_block: int,
                 in_channels: int = 4):
        super().__init__()
        from diffusers import UNet2DModel

        channels = tuple(width * min(2 ** i, 2) for i in range(depth))
        folded = in_channels * patch * patch
        self.patch = patch
        self.unet = UNet2DModel(
            sample_size=resolution // patch, in_channels=folded, out_channels=folded,
            layers_per_block=layers_per_block, block_out_channels=channels,
            down_block_types=("DownBlock2D",) * (depth - 1) + ("AttnDownBlock2D",),
            up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (depth - 1), class_embed_type="identity",
            norm_num_groups=min(32, width // 4))
        self.label_proj = nn.Linear(NUM_CLASSES, channels[0] * 4)

    def forward(self, x: torch.Tensor, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        out = self.unet(F.pixel_unshuffle(x, self.patch), noise, class_labels=self.label_proj(labels)).sample
        return F.pixel_shuffle(out, self.patch)


class EDM(DiffusionGenerator):
    """EDM-preconditioned pixel diffusion at native resolution on patches; DPM-Solver++ sampling, guidance, EMA."""

    sampling_options = ("guidance_scale", "sampling_steps", "sampling_batch_size")
    checkpoint_name = "edm.pt"
    quick_options = {"epochs": 1, "width": 16, "sampling_steps": 4}
    use_ema = True
    epoch_seed_stride = 6007

    @dataclass
    class Options(UNetDiffusionOptions):
        resolution: int = option(0, "0: the dataset's own; another value is said on purpose (samples are resized)")
        patch: int = option(4, "pixels folded into channels per side (4: a 64 px image is 16 x 16 x 64)")
        epochs: int = UNetDiffusionOptions.redefault("epochs", 70, "about 2,600 steps on the embedded dataset's "
                                                                   "2,393 train images (27 min on 2 CPU cores)")
        sigma_data: float = option(0.5, "EDM's data scale (images in [-1, 1])")
        p_mean: float = option(-1.2, "log-normal training noise levels (EDM's P_mean, P_std)")
        p_std: float = option(1.2, "log-normal training noise levels: standard deviation of log sigma (EDM's P_std)")
        guidance_scale: float = UNetDiffusionOptions.redefault(
            "guidance_scale", 1.5, "598 images at 1.5 / 5: domain FID 325 / 250, CAS ratio 0.94 / 0.75: more "
            "guidance, closer features, less for a classifier")
        sampling_steps: int = UNetDiffusionOptions.redefault("sampling_steps", 16, "DPM-Solver++ (2M) on the "
                                                                                   "Karras noise schedule")

        def __post_init__(self):
            super().__post_init__()
            require(self.patch >= 1, "patch", "must be >= 1")
            require(self.resolution >= 0, "resolution", "must be 0 (the dataset's) or a size in pixels")
            require(self.resolution == 0 or self.resolution % self.divisor == 0, "resolution",
                    f"must be divisible by patch x 2**(depth-1) = {self.divisor}")
            require(self.width % 8 == 0, "width", "must be a multiple of 8 (group norm)")
            require(self.sigma_data > 0 and self.p_std > 0, "sigma_data", "sigma_data and p_std must be > 0")

        @property
        def divisor(self) -> int:
            return self.patch * 2 ** (self.depth - 1)

    size: int  # the resolution it models: options.resolution, or the dataset's

    def check(self, train, dataset) -> None:
        """Refused before any folder or lock is made: a size the patch and depth cannot tile."""
        o = self.options
        size = o.resolution or train.resolution
        if size % o.divisor:
            raise BenchError(f"generator edm: the dataset's {size} px is not divisible by patch x 2**(depth-1) = "
                             f"{o.divisor}; choose generator.patch / generator.depth that divide it, or set "
                             f"generator.resolution (samples are then resized to the dataset's)")

    def fit(self, train, *, seed, device, workdir=None):
        self.check(train, None)  # also when used directly, outside a set build
        self.size = self.options.resolution or train.resolution
        super().fit(train, seed=seed, device=device, workdir=workdir)

    def new_model(self) -> nn.Module:
        o = self.options
        return PatchUNet(self.size, o.patch, o.width, o.depth, o.layers_per_block)

    def new_optimizer(self, model):
        return torch.optim.AdamW(model.parameters(), lr=self.options.lr, foreach=True)

    def noise_scheduler(self):
        from diffusers import EDMDPMSolverMultistepScheduler

        return EDMDPMSolverMultistepScheduler(sigma_data=self.options.sigma_data, sigma_min=0.002, sigma_max=80.0)

    def training_loss(self, model, scheduler, train, items, g, device):
        o = self.options
        x0 = self.oriented_images(train, items, self.size, g).to(device)
        labels = torch.from_numpy(train.labels[items]).float()
        labels[torch.rand(len(items), generator=g) < o.p_uncond] = 0.0  # the unconditional branch
        sigma = (torch.randn(len(items), generator=g) * o.p_std + o.p_mean).exp().to(device)
        noisy = x0 + torch.randn(x0.shape, generator=g).to(device) * sigma[:, None, None, None]
        s = sigma[:, None, None, None]
        raw = model(scheduler.precondition_inputs(noisy, s), scheduler.precondition_noise(sigma), labels.to(device))
        denoised = scheduler.precondition_outputs(noisy, raw, s)
        weight = (sigma ** 2 + o.sigma_data ** 2) / (sigma * o.sigma_data) ** 2  # EDM's lambda(sigma)
        return (weight[:, None, None, None] * (denoised - x0) ** 2).mean()

    def denoise(self, model, conditions, g, device):
        return (self.reverse(model, conditions, (4, self.size, self.size), g, device).clamp(-1, 1) + 1) / 2

    def reverse(self, model, conditions, shape: tuple[int, ...], g, device) -> torch.Tensor:
        """The reverse process from pure noise of `shape` per row to a clean sample (DPM-Solver++ 2M, guidance)."""
        o = self.options
        cond = torch.from_numpy(np.asarray(conditions)).float().to(device)
        sampler = self.noise_scheduler()
        sampler.set_timesteps(o.sampling_steps)
        x = (torch.randn((len(cond), *shape), generator=g) * sampler.init_noise_sigma).to(device)
        both = torch.cat([cond, torch.zeros_like(cond)])
        for t in sampler.timesteps:
            scaled = sampler.scale_model_input(x, t)
            if o.guidance_scale == 1.0:
                raw = model(scaled, t.expand(len(x)).to(device), cond)
            else:  # classifier-free guidance, both branches in one batch
                conditional, unconditional = model(torch.cat([scaled, scaled]), t.expand(2 * len(x)).to(device),
                                                   both).chunk(2)
                raw = unconditional + o.guidance_scale * (conditional - unconditional)
            x = sampler.step(raw, t, x).prev_sample
        return x
