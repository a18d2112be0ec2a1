"""Latent codecs: how a video becomes the latent tensor a generator is trained on, and back.

Videos are float tensors [B, 3, F, H, W] in [−1, 1]; latents are normalised tensors [B, C, f, h, w].
The codecs share one protocol so that the training code never cares which is in use:
- `WanVaeCodec`: the Wan 2.1 VAE, normalised with its config's latents_mean / latents_std (what WanPipeline
  undoes before decoding); `ScaledVaeCodec`: the LTX-Video and CogVideoX VAEs with their pipelines' scaling;
- `PixelUnshuffleCodec`: an exactly invertible space-to-channel transform, for tiny CPU generators that cannot
  rely on a trained VAE (a random-weight VAE reconstructs nothing), and `ChromaUnshuffleCodec`, its yuv420 form;
- `alignment.frame_autoencoder.FrameAutoencoderCodec`: a small per-frame autoencoder trained with the tiny base.
A model directory names its codec in `generator.json`; without one its family's own VAE is used (`alignment.families`).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F


class LatentCodec(Protocol):
    def encode(self, video: torch.Tensor) -> torch.Tensor: ...

    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...

    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]: ...

    def spec(self) -> dict[str, Any]: ...


class CodecConfigError(ValueError):
    """A model directory's codec description is invalid."""


def per_frame(x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Apply `fn` (images [N, C, H, W] → [N, C', H', W']) to every frame of x [B, C, F, H, W] → [B, C', F, H', W']."""
    b, c, f, h, w = x.shape
    y = fn(x.float().permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w))
    return y.reshape(b, f, *y.shape[1:]).permute(0, 2, 1, 3, 4)


class WanVaeCodec:
    def __init__(self, vae: torch.nn.Module) -> None:
        self.vae = vae
        cfg = vae.config
        self._mean = torch.tensor(cfg.latents_mean).view(1, cfg.z_dim, 1, 1, 1)
        self._std = torch.tensor(cfg.latents_std).view(1, cfg.z_dim, 1, 1, 1)

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        # the posterior mode, not a sample: latents are cached once and must not depend on a draw
        z = self.vae.encode(video.to(self.vae.dtype)).latent_dist.mode().float()
        return (z - self._mean.to(z)) / self._std.to(z)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        z = latents.float() * self._std.to(latents.device) + self._mean.to(latents.device)
        return self.vae.decode(z.to(self.vae.dtype), return_dict=False)[0].float().clamp(-1, 1)

    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        cfg = self.vae.config
        t, s = cfg.scale_factor_temporal, cfg.scale_factor_spatial
        if (num_frames - 1) % t or height % s or width % s:
            raise CodecConfigError(
                f"the Wan VAE needs num_frames = {t}k + 1 and sides divisible by {s}; got {num_frames}×{height}×{width}"
            )
        return cfg.z_dim, (num_frames - 1) // t + 1, height // s, width // s

    def spec(self) -> dict[str, Any]:
        return {"kind": "wan_vae"}


class ScaledVaeCodec:
    """A diffusers video VAE whose latents a pipeline normalises as (z − mean)·scale / std.

    LTX-Video: the VAE's latents_mean / latents_std buffers and config scaling_factor (LTXPipeline's
    `_normalize_latents`, undone by `_denormalize_latents` before decoding); CogVideoX: mean 0, std 1 and its
    scaling_factor (CogVideoXPipeline.decode_latents divides by it).
    """

    def __init__(self, vae: torch.nn.Module, kind: str) -> None:
        self.vae, self.kind = vae, kind
        cfg = vae.config
        c = cfg.latent_channels
        if kind == "ltx_vae":
            self._mean, self._std = vae.latents_mean.float().view(1, c, 1, 1, 1), vae.latents_std.float().view(1, c, 1, 1, 1)
            self._t, self._s = vae.temporal_compression_ratio, vae.spatial_compression_ratio
        else:
            self._mean, self._std = torch.zeros(1, c, 1, 1, 1), torch.ones(1, c, 1, 1, 1)
            self._t, self._s = cfg.temporal_compression_ratio, 2 ** (len(cfg.block_out_channels) - 1)
        self._scale = float(cfg.scaling_factor)

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        # the posterior mode, not a sample: latents are cached once and must not depend on a draw
        z = self.vae.encode(video.to(self.vae.dtype)).latent_dist.mode().float()
        return (z - self._mean.to(z)) * self._scale / self._std.to(z)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        z = (latents.float() * self._std.to(latents.device) / self._scale + self._mean.to(latents.device))
        z = z.to(self.vae.dtype)
        if self.kind == "ltx_vae" and self.vae.config.timestep_conditioning:
            # LTXPipeline's defaults: decode_timestep 0 and no decode noise
            out = self.vae.decode(z, torch.zeros(z.shape[0], device=z.device, dtype=z.dtype), return_dict=False)[0]
        else:
            out = self.vae.decode(z, return_dict=False)[0]
        return out.float().clamp(-1, 1)

    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        t, s = self._t, self._s
        if (num_frames - 1) % t or height % s or width % s:
            raise CodecConfigError(
                f"the {self.kind} VAE needs num_frames = {t}k + 1 and sides divisible by {s}; "
                f"got {num_frames}×{height}×{width}"
            )
        return self.vae.config.latent_channels, (num_frames - 1) // t + 1, height // s, width // s

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind}


class PixelUnshuffleCodec:
    """Each r×r pixel block becomes 3·r² channels, divided by `scale`; decode is the exact inverse."""

    def __init__(self, factor: int = 2, scale: float = 1.0) -> None:
        if factor < 1 or scale <= 0:
            raise CodecConfigError(f"pixel_unshuffle needs factor ≥ 1 and scale > 0, got {factor}, {scale}")
        self.factor, self.scale = factor, scale

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        return per_frame(video, lambda frames: F.pixel_unshuffle(frames, self.factor)) / self.scale

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return per_frame(latents, lambda z: F.pixel_shuffle(z * self.scale, self.factor)).clamp(-1, 1)

    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        r = self.factor
        if height % r or width % r:
            raise CodecConfigError(f"pixel_unshuffle({r}) needs sides divisible by {r}; got {height}×{width}")
        return 3 * r * r, num_frames, height // r, width // r

    def spec(self) -> dict[str, Any]:
        return {"kind": "pixel_unshuffle", "factor": self.factor, "scale": self.scale}


# ITU-R BT.601 full-range RGB → (Y, Cb, Cr), all in [−1, 1]-ish for inputs in [−1, 1]; rows orthogonal enough
# that noise in latent space stays noise in pixels.
_RGB_TO_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


class ChromaUnshuffleCodec:
    """Luma unshuffled by `factor`, chroma first averaged over 2×2 pixels then unshuffled by `factor` / 2.

    What an H.264 yuv420p video stores (and what the pixel analyser was calibrated on), arranged so that a
    4× codec gives 24 channels instead of pixel_unshuffle's 48: a token of a tiny transformer then carries no
    more values than its width (the velocity target contains the noise, which must pass through the network).
    Decode repeats each chroma sample over its 2×2 pixels; encode(decode(z)) == z exactly.
    """

    def __init__(self, factor: int = 4, scale: float = 1.0) -> None:
        if factor < 2 or factor % 2 or scale <= 0:
            raise CodecConfigError(f"chroma_unshuffle needs an even factor ≥ 2 and scale > 0, got {factor}, {scale}")
        self.factor, self.scale = factor, scale

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        return per_frame(video, self._encode_frames) / self.scale

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return per_frame(latents, lambda z: self._decode_frames(z * self.scale)).clamp(-1, 1)

    def _encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        ycc = torch.einsum("kc,nchw->nkhw", _RGB_TO_YCC, frames)
        luma = F.pixel_unshuffle(ycc[:, :1], self.factor)
        chroma = F.pixel_unshuffle(F.avg_pool2d(ycc[:, 1:], 2), self.factor // 2)
        return torch.cat([luma, chroma], dim=1)

    def _decode_frames(self, z: torch.Tensor) -> torch.Tensor:
        n_luma = self.factor**2
        luma = F.pixel_shuffle(z[:, :n_luma], self.factor)
        chroma = F.pixel_shuffle(z[:, n_luma:], self.factor // 2).repeat_interleave(2, 2).repeat_interleave(2, 3)
        return torch.einsum("kc,nchw->nkhw", torch.linalg.inv(_RGB_TO_YCC), torch.cat([luma, chroma], dim=1))

    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        r = self.factor
        if height % r or width % r:
            raise CodecConfigError(f"chroma_unshuffle({r}) needs sides divisible by {r}; got {height}×{width}")
        return r * r + 2 * (r // 2) ** 2, num_frames, height // r, width // r

    def spec(self) -> dict[str, Any]:
        return {"kind": "chroma_unshuffle", "factor": self.factor, "scale": self.scale}


CODEC_KINDS = ("wan_vae", "ltx_vae", "cogvideox_vae", "pixel_unshuffle", "chroma_unshuffle", "frame_autoencoder")


def check_codec_spec(spec: dict[str, Any]) -> None:
    if not isinstance(spec, dict) or spec.get("kind") not in CODEC_KINDS:
        kind = spec.get("kind") if isinstance(spec, dict) else spec
        raise CodecConfigError(f"unknown codec kind {kind!r}; choose one of {', '.join(CODEC_KINDS)}")


def codec_from_spec(spec: dict[str, Any], vae: torch.nn.Module | None, model_dir: Path | None = None) -> LatentCodec:
    """The codec a generator.json describes; "frame_autoencoder" loads its weights from `model_dir / path`."""
    check_codec_spec(spec)
    if spec["kind"] == "frame_autoencoder":
        from alignment.frame_autoencoder import FrameAutoencoder, FrameAutoencoderCodec

        if model_dir is None:
            raise CodecConfigError("codec 'frame_autoencoder' needs the model directory")
        path = str(spec.get("path", "frame_autoencoder"))
        codec = FrameAutoencoderCodec(FrameAutoencoder.from_pretrained(Path(model_dir) / path), path)
        if "digest" in spec and spec["digest"] != codec.digest:
            raise CodecConfigError(f"{Path(model_dir) / path}: weights differ from the ones generator.json names")
        return codec
    if spec["kind"] == "wan_vae":
        if vae is None:
            raise CodecConfigError("codec 'wan_vae' needs the pipeline's VAE")
        return WanVaeCodec(vae)
    if spec["kind"] in ("ltx_vae", "cogvideox_vae"):
        if vae is None:
            raise CodecConfigError(f"codec {spec['kind']!r} needs the pipeline's VAE")
        return ScaledVaeCodec(vae, spec["kind"])
    if spec["kind"] == "chroma_unshuffle":
        return ChromaUnshuffleCodec(int(spec.get("factor", 4)), float(spec.get("scale", 1.0)))
    return PixelUnshuffleCodec(int(spec.get("factor", 2)), float(spec.get("scale", 1.0)))
