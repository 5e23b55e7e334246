"""`latent`: latent diffusion, in two stages trained one after the other on the train role.

1. **autoencoder**: diffusers' convolutional `Encoder` / `Decoder` (the blocks of `AutoencoderKL`,
   without its KL term and attention), `ae_levels` levels (3: 4x smaller per side, a 64 px image is
   a 16 x 16 x `latent_channels` latent), trained with an L1 loss that weighs the protein (green)
   channel, the one that carries the labels, `green_weight` times, on random `ae_crop` px crops
   (it is fully convolutional: crops cost a quarter of whole 64 px images), with Gaussian noise on
   the latents (`latent_noise` of their spread) so the decoder tolerates a diffusion model's errors.
2. **diffusion**: the `edm` generator's EDM-preconditioned U-Net, DPM-Solver++ sampler, label
   conditioning, classifier-free guidance and EMA, on the latents (scaled to EDM's data spread,
   precomputed once for the 8 rotations and flips of every train image).

Each stage has its own training folder and lock, keyed by its own options (and the autoencoder's,
for the diffusion stage): a new diffusion setting reuses a finished autoencoder. `reconstruct=true`
makes a set of the autoencoder's reconstructions of train images with the requested label sets,
which needs the first stage only: its fidelity is the floor of the generator's. Decoded images are
smooth; `residual_noise=true` adds i.i.d. Gaussian noise with the per-channel spread of what the
autoencoder does not reproduce of the train images (measured when it finishes), a sampling option
reported both ways.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.api import BenchError, Progress, load_checkpoint, option, require, save_checkpoint
from bench.api.diffusion import DiffusionGenerator, training_precision
from generators.edm import EDM, PatchUNet
from generators.real import RealImages

D4 = [(k, flip) for flip in (False, True) for k in range(4)]  # the 8 rotations and flips of a square image


class Autoencoder(nn.Module):
    """diffusers' convolutional Encoder and Decoder (no attention, no KL term): images in [-1, 1] <-> latents."""

    def __init__(self, width: int, levels: int, latent_channels: int):
        super().__init__()
        from diffusers.models.autoencoders.vae import Decoder, Encoder

        channels = tuple(width * min(2 ** i, 2) for i in range(levels))
        common = {"block_out_channels": channels, "layers_per_block": 1, "norm_num_groups": min(32, width // 2),
                  "mid_block_add_attention": False}
        self.encoder = Encoder(in_channels=4, out_channels=latent_channels, down_block_types=("DownEncoderBlock2D",)
                               * levels, double_z=False, **common)
        self.decoder = Decoder(in_channels=latent_channels, out_channels=4, up_block_types=("UpDecoderBlock2D",)
                               * levels, **common)


class LatentDiffusion(EDM):
    """Latent diffusion: a convolutional autoencoder, then EDM diffusion of its latents conditioned on the labels."""

    checkpoint_name = "latent-edm.pt"
    sampling_options = ("guidance_scale", "sampling_steps", "sampling_batch_size", "residual_noise")
    quick_options = {"ae_epochs": 1, "epochs": 1, "width": 16, "ae_width": 16, "sampling_steps": 4}
    stages = {
        "autoencoder": ("ae_width", "ae_levels", "latent_channels", "ae_epochs", "ae_lr", "ae_batch_size", "ae_crop",
                        "green_weight", "latent_noise", "precision"),
        "diffusion": ("patch", "width", "depth", "layers_per_block", "epochs", "batch_size", "lr", "ema_decay",
                      "sigma_data", "p_mean", "p_std", "p_uncond", "balance", "precision"),
    }

    @dataclass
    class Options(EDM.Options):
        resolution: int = option(0, "must be 0: the autoencoder works at the dataset's resolution")
        patch: int = option(1, "latent cells folded into channels per side (1: the latent grid as it is)")
        epochs: int = option(60, "diffusion epochs on the latents")
        ae_width: int = option(32, "channels of the autoencoder's first level (deeper levels have 2x)")
        ae_levels: int = option(3, "autoencoder levels: the latent is 2**(levels-1) times smaller per side")
        latent_channels: int = option(8, "channels of the latent")
        ae_epochs: int = option(30, "autoencoder training epochs")
        ae_lr: float = option(1e-3, "autoencoder AdamW learning rate")
        ae_batch_size: int = option(64, "autoencoder images per step")
        ae_crop: int = option(32, "autoencoder training crops in px (0: whole images)")
        green_weight: float = option(3.0, "weight of the protein (green) channel in the autoencoder's L1 loss")
        latent_noise: float = option(0.1, "Gaussian noise on the latents in autoencoder training, in units of their "
                                          "spread")
        reconstruct: bool = option(False, "a set of the autoencoder's reconstructions of train images with the "
                                          "requested label sets (the generator's floor; needs the first stage only)")
        residual_noise: bool = option(False, "add i.i.d. Gaussian noise with the per-channel spread of the "
                                             "autoencoder's residual on train images to decoded images")

        def __post_init__(self):
            super().__post_init__()
            require(self.resolution == 0, "resolution", "must be 0 (the dataset's); ae_levels sets the latent's size")
            for name in ("ae_width", "latent_channels", "ae_epochs", "ae_batch_size"):
                require(getattr(self, name) >= 1, name, "must be >= 1")
            require(self.ae_width % 4 == 0, "ae_width", "must be a multiple of 4 (group norm)")
            require(1 <= self.ae_levels <= 5, "ae_levels", "must be in 1..5")
            require(self.ae_crop == 0 or self.ae_crop >= 8, "ae_crop", "must be 0 (whole images) or at least 8 px")
            require(self.ae_lr > 0 and self.green_weight > 0 and self.latent_noise >= 0, "ae_lr",
                    "ae_lr and green_weight must be > 0, latent_noise >= 0")

    # ---------------------------------------------------------------- stages
    def stages_needed(self):
        return ("autoencoder",) if self.options.reconstruct else tuple(self.stages)

    def check(self, train, dataset) -> None:
        o, size = self.options, train.resolution
        factor = 2 ** (o.ae_levels - 1)
        if size % factor:
            raise BenchError(f"generator latent: the dataset's {size} px is not divisible by the autoencoder's "
                             f"2**(ae_levels-1) = {factor}; choose generator.ae_levels that divides it")
        if o.ae_crop and (o.ae_crop > size or o.ae_crop % factor):
            raise BenchError(f"generator latent: ae_crop={o.ae_crop} must be at most the dataset's {size} px and "
                             f"divisible by {factor}; or 0 for whole images")
        if not o.reconstruct and (size // factor) % o.divisor:
            raise BenchError(f"generator latent: its {size // factor} x {size // factor} latent is not divisible by "
                             f"patch x 2**(depth-1) = {o.divisor}; choose generator.depth / generator.patch")

    def plan(self, n_train, n_images):
        o = self.options
        latent = f"{o.latent_channels} x {{0}} x {{0}}"
        ae = (f"stage autoencoder trains {o.ae_epochs} epochs on {n_train} train-role images ({o.ae_crop or 'whole'}"
              f" px crops) unless a finished one with these options exists")
        if o.reconstruct:
            return f"{ae}; then reconstructs {n_images} train images with the requested label sets"
        noise = " adding the residual's pixel noise" if o.residual_noise else ""
        return (f"{ae}; stage diffusion trains {o.epochs} epochs on the latents ({latent.format('S/4')})"
                f"{self.drawing()} unless finished; then samples {n_images} latents with {o.sampling_steps} "
                f"DPM-Solver++ steps and decodes them{noise}")

    def fit_stage(self, stage, train, *, seed, device, workdir):
        self.train = train
        if stage == "autoencoder":
            self._fit_autoencoder(train, seed, device, Path(workdir))
            return
        o = self.options
        self.size = train.resolution // 2 ** (o.ae_levels - 1)
        self.train_latents = None  # encoded by `prepare`, before the first epoch (a finished stage never does)
        DiffusionGenerator.fit(self, train, seed=seed, device=device, workdir=workdir)

    # ---------------------------------------------------------------- stage 1: the autoencoder
    def _fit_autoencoder(self, train, seed: int, device: torch.device, workdir: Path) -> None:
        o = self.options
        torch.manual_seed(seed)
        self.autoencoder = Autoencoder(o.ae_width, o.ae_levels, o.latent_channels).to(device)
        optimizer = torch.optim.AdamW(self.autoencoder.parameters(), lr=o.ae_lr, foreach=True)
        checkpoint = workdir / "autoencoder.pt"
        start, state = 0, load_checkpoint(checkpoint, device)
        if state is not None:
            self.autoencoder.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            start = int(state["epoch"])
        if start and start < o.ae_epochs:
            print(f"latent: resumed the autoencoder after epoch {start} of {o.ae_epochs} ({checkpoint})",
                  file=sys.stderr, flush=True)
        weights = torch.tensor([1.0, o.green_weight, 1.0, 1.0], device=device)[None, :, None, None]
        tracker = Progress(o.ae_epochs, "latent autoencoder training", "epoch", start=start)
        for epoch in range(start + 1, o.ae_epochs + 1):
            g = torch.Generator().manual_seed(seed * 7919 + epoch)
            order = torch.randperm(len(train), generator=g).numpy()
            self.autoencoder.train()
            total = 0.0
            for lo in range(0, len(order), o.ae_batch_size):
                x = self._crops(self.oriented_pixels(train, order[lo:lo + o.ae_batch_size], g), g).to(device)
                with training_precision(device, o):
                    z = self.autoencoder.encoder(x)
                    z = z + o.latent_noise * z.detach().std() * torch.randn(z.shape, generator=g).to(device)
                    loss = ((self.autoencoder.decoder(z) - x).abs() * weights).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(x)
            state = {"model": self.autoencoder.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
            save_checkpoint(checkpoint, state)
            tracker.update(1, f"L1 {total / len(order):.4f}")
        tracker.close()
        if state is None or "latent_mean" not in state:  # finished now: the statistics the other stages use
            state = {**(state or {}), **self._statistics(train, device)}
            save_checkpoint(checkpoint, state)
        self.latent_mean, self.latent_std = state["latent_mean"], state["latent_std"]
        self.residual_std = state["residual_std"]
        self.autoencoder.eval()

    @staticmethod
    def oriented_pixels(train, index, g) -> torch.Tensor:
        return DiffusionGenerator.oriented_images(train, index, train.resolution, g)

    def _crops(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        crop = self.options.ae_crop
        if not crop or crop >= x.shape[-1]:
            return x
        top, left = (int(v) for v in torch.randint(0, x.shape[-1] - crop + 1, (2,), generator=g))
        return x[:, :, top:top + crop, left:left + crop]

    @torch.inference_mode()
    def _statistics(self, train, device) -> dict:
        """Per-channel mean and spread of the train role's latents, and of the residual (image - reconstruction)."""
        self.autoencoder.eval()
        latents, residuals = [], []
        for lo in range(0, len(train), 256):
            x = self._pixels(train, np.arange(lo, min(lo + 256, len(train)))).to(device)
            z = self.autoencoder.encoder(x)
            latents.append(z.cpu())
            residuals.append((x - self.autoencoder.decoder(z).clamp(-1, 1)).cpu())
        z, r = torch.cat(latents), torch.cat(residuals)
        return {"latent_mean": z.mean(dim=(0, 2, 3)), "latent_std": z.std(dim=(0, 2, 3)),
                "residual_std": r.std(dim=(0, 2, 3))}

    @staticmethod
    def _pixels(train, index) -> torch.Tensor:
        return torch.from_numpy(np.asarray(train.take(index))).float().div_(127.5).sub_(1.0)

    def _to_latent(self, z: torch.Tensor) -> torch.Tensor:
        """Encoder output -> the diffusion model's space: per channel centred, spread sigma_data."""
        shape = (1, -1, 1, 1)
        return (z - self.latent_mean.to(z.device).view(shape)) / self.latent_std.to(z.device).view(shape) \
            * self.options.sigma_data

    def _from_latent(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        return x / self.options.sigma_data * self.latent_std.to(x.device).view(shape) \
            + self.latent_mean.to(x.device).view(shape)

    def _decoded(self, z: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Encoder-space latents -> images in [0, 1], with the residual's pixel noise when asked."""
        x = self.autoencoder.decoder(z).clamp(-1, 1)
        if self.options.residual_noise:
            noise = torch.randn(x.shape, generator=g).to(x.device)
            x = (x + noise * self.residual_std.to(x.device).view(1, -1, 1, 1)).clamp(-1, 1)
        return (x + 1) / 2

    # ---------------------------------------------------------------- stage 2: diffusion of the latents
    @torch.inference_mode()
    def prepare(self, train, device) -> None:
        """The latents of every train image in each of its 8 rotations and flips, (8, N, C, s, s), once."""
        out = []
        for k, flip in D4:
            batches = []
            for lo in range(0, len(train), 256):
                x = self._pixels(train, np.arange(lo, min(lo + 256, len(train))))
                x = torch.rot90(x, k, dims=(2, 3))
                batches.append(self._to_latent(self.autoencoder.encoder((x.flip(3) if flip else x).to(device))).cpu())
            out.append(torch.cat(batches))
        self.train_latents = torch.stack(out)

    def oriented_images(self, train, index, size, g):  # the diffusion stage's training inputs: latents
        turns = torch.randint(0, len(D4), (len(index),), generator=g)
        return self.train_latents[turns, torch.as_tensor(index)]

    def new_model(self) -> nn.Module:
        o = self.options
        return PatchUNet(self.size, o.patch, o.width, o.depth, o.layers_per_block, in_channels=o.latent_channels)

    def denoise(self, model, conditions, g, device):
        latents = self.reverse(model, conditions, (self.options.latent_channels, self.size, self.size), g, device)
        return self._decoded(self._from_latent(latents), g)

    # ---------------------------------------------------------------- sampling
    def sample(self, labels, *, resolution, seed, device):
        if not self.options.reconstruct:
            return super().sample(labels, resolution=resolution, seed=seed, device=device)
        return self._reconstructions(np.asarray(labels), seed, device)

    @torch.inference_mode()
    def _reconstructions(self, labels: np.ndarray, seed: int, device) -> np.ndarray:
        """Reconstructions of the train images the `real` generator would pick for the requested label sets (the
        same set, else one sharing its first class, else any), drawn from this generator's own random stream."""
        real = RealImages()
        real.fit(self.train, seed=seed, device=device)
        picks = real.picks(labels, np.random.default_rng([seed, 0x2EC]))
        g = torch.Generator().manual_seed(seed)
        out = []
        for lo in range(0, len(picks), 256):
            x = self._pixels(self.train, np.asarray(picks[lo:lo + 256])).to(device)
            out.append((self._decoded(self.autoencoder.encoder(x), g) * 255).round().to(torch.uint8).cpu().numpy())
        return np.concatenate(out)
