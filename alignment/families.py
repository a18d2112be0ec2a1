"""Model families: what differs between diffusers text-to-video generators, one small adapter per family.

The rest of alignment/ speaks one convention, Wan's: a denoiser called as
`denoiser(hidden_states [B, C, F, H, W], timestep [B], encoder_hidden_states [B, L, D], return_dict=False)`,
returning a tuple whose first item has the input's shape; prompt embeddings with the padding rows zeroed. A
family says which diffusers pipeline a model directory holds (`model_index.json`'s `_class_name`), how its
prompts are encoded, how its transformer is called behind that convention, which latent codec its VAE needs,
how its sampler's σ table is set, and whether it is a flow-matching or an ε/v-prediction diffusion model.

- Wan 2.1 (`WanPipeline`): the convention itself; the denoiser is the transformer, unwrapped.
- LTX-Video (`LTXPipeline`): packed tokens [B, F·H·W, C], an explicit text attention mask, the latent grid
  size and RoPE interpolation scale as arguments; its σ table is linspace(1, 1/N, N) shifted by the
  resolution-dependent μ. Its mask is recovered from the zeroed padding rows (a real T5 token is never
  exactly zero), so cached embeddings need no second tensor.
- CogVideoX (`CogVideoXPipeline`): a v-prediction DDIM model (the Diffusion-DPO family), latents
  [B, F, C, H, W] and optional 3-D RoPE; its embeddings are used as the pipeline makes them (no mask, the
  padding attends), and the denoiser carries the training noise schedule (ᾱ, prediction type).
- HunyuanVideo is not served: its transformer also needs a pooled CLIP embedding of the prompt and an
  embedded-guidance scalar, and its prompts go through a Llama chat template with a second text encoder, so a
  prompt is two tensors and a pair cache, the data set and the sampler would all have to carry the second one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers import (
    CogVideoXPipeline,
    CogVideoXTransformer3DModel,
    FlowMatchEulerDiscreteScheduler,
    LTXPipeline,
    LTXVideoTransformer3DModel,
    WanPipeline,
    WanTransformer3DModel,
)
from diffusers.pipelines.ltx.pipeline_ltx import calculate_shift

from alignment.config import DIFFUSION, FLOW_MATCHING


class Denoiser(torch.nn.Module):
    """A family's transformer behind Wan's call; anything else (peft, checkpointing, config) goes to `model`."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            model = self.__dict__.get("_modules", {}).get("model")
            if model is None:  # half-built (copy, unpickling): no forwarding, no recursion
                raise
            return getattr(model, name)


def unwrap(transformer: torch.nn.Module) -> torch.nn.Module:
    """The diffusers model behind a denoiser: LoRA state dicts must carry its own module names."""
    return transformer.model if isinstance(transformer, Denoiser) else transformer


def text_mask(embeds: torch.Tensor) -> torch.Tensor:
    """[B, L] True where a prompt token is (encode_prompts zeroes the padding rows)."""
    return embeds.ne(0).any(dim=-1)


class LtxDenoiser(Denoiser):
    def __init__(self, model: LTXVideoTransformer3DModel, rope_interpolation_scale: tuple[float, float, float]):
        super().__init__(model)
        self.rope_interpolation_scale = rope_interpolation_scale

    def forward(
        self, hidden_states: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
        return_dict: bool = False,
    ) -> tuple[torch.Tensor]:
        _, _, f, h, w = hidden_states.shape
        p, pt = self.model.config.patch_size, self.model.config.patch_size_t
        out = self.model(
            hidden_states=LTXPipeline._pack_latents(hidden_states, p, pt),  # [B, F·H·W, C]
            encoder_hidden_states=encoder_hidden_states,
            timestep=timestep,
            encoder_attention_mask=text_mask(encoder_hidden_states),
            # the latent grid, as LTXPipeline passes it (not divided by the patch size)
            num_frames=f,
            height=h,
            width=w,
            rope_interpolation_scale=self.rope_interpolation_scale,
            return_dict=False,
        )[0]
        return (LTXPipeline._unpack_latents(out, f // pt, h // p, w // p, p, pt),)


@dataclass(frozen=True)
class DiffusionSchedule:
    """What Diffusion-DPO needs of an ε/v-prediction model: ᾱ_t per training timestep and the target kind."""

    alphas_cumprod: torch.Tensor  # [T]
    prediction_type: str  # "epsilon" | "v_prediction"


class CogVideoXDenoiser(Denoiser):
    def __init__(self, pipe: CogVideoXPipeline) -> None:
        super().__init__(pipe.transformer)
        cfg = pipe.scheduler.config
        self.diffusion_schedule = DiffusionSchedule(pipe.scheduler.alphas_cumprod.float(), cfg.prediction_type)
        self._vae_spatial = pipe.vae_scale_factor_spatial
        # the pipeline's own RoPE table (CogVideoX-5b); a bound method, not a submodule
        self._rope = (pipe._prepare_rotary_positional_embeddings
                      if pipe.transformer.config.use_rotary_positional_embeddings else None)

    def forward(
        self, hidden_states: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
        return_dict: bool = False,
    ) -> tuple[torch.Tensor]:
        _, _, f, h, w = hidden_states.shape
        rope = None
        if self._rope is not None:
            rope = self._rope(h * self._vae_spatial, w * self._vae_spatial, f, hidden_states.device)
        out = self.model(
            hidden_states=hidden_states.permute(0, 2, 1, 3, 4),  # CogVideoX wants [B, F, C, H, W]
            encoder_hidden_states=encoder_hidden_states,
            timestep=timestep,
            image_rotary_emb=rope,
            return_dict=False,
        )[0]
        return (out.permute(0, 2, 1, 3, 4),)


class Family:
    """Wan's behaviour; the other families override what differs."""

    name = "wan"
    pipeline_class: type = WanPipeline
    transformer_class: type = WanTransformer3DModel
    objective = FLOW_MATCHING
    codec_kind = "wan_vae"

    def denoiser(self, pipe: Any) -> torch.nn.Module | None:
        """None: the pipeline's transformer already speaks the convention."""
        return None

    def default_max_sequence_length(self, pipe: Any) -> int:
        """The prompt length the family's pipeline encodes at when none is configured (WanPipeline: 512)."""
        return 512

    def check_max_sequence_length(self, pipe: Any, max_sequence_length: int) -> None:
        """Raise ValueError when the model cannot take prompts of this length (Wan, LTX: any length)."""

    def encode_prompts(self, pipe: Any, prompts: list[str], max_sequence_length: int) -> torch.Tensor:
        embeds, _ = pipe.encode_prompt(
            prompt=prompts, do_classifier_free_guidance=False, max_sequence_length=max_sequence_length,
            device=pipe.text_encoder.device,
        )
        return embeds

    def timestep_kwargs(
        self, scheduler: FlowMatchEulerDiscreteScheduler, num_steps: int, latent_shape: tuple[int, ...]
    ) -> dict[str, Any]:
        """Extra `scheduler.set_timesteps` arguments of the family's pipeline (Wan: none)."""
        return {}


class LtxFamily(Family):
    name = "ltx"
    pipeline_class = LTXPipeline
    transformer_class = LTXVideoTransformer3DModel
    codec_kind = "ltx_vae"

    def __init__(self, frame_rate: float = 25.0) -> None:
        self.frame_rate = frame_rate  # LTXPipeline's default; it scales RoPE along time

    def default_max_sequence_length(self, pipe: Any) -> int:
        return 128  # LTXPipeline's default

    def denoiser(self, pipe: LTXPipeline) -> torch.nn.Module:
        t, s = pipe.vae_temporal_compression_ratio, pipe.vae_spatial_compression_ratio
        return LtxDenoiser(pipe.transformer, (t / self.frame_rate, s, s))

    def encode_prompts(self, pipe: LTXPipeline, prompts: list[str], max_sequence_length: int) -> torch.Tensor:
        embeds, mask, _, _ = pipe.encode_prompt(
            prompt=prompts, do_classifier_free_guidance=False, max_sequence_length=max_sequence_length,
            device=pipe.text_encoder.device,
        )
        return embeds * mask.unsqueeze(-1).to(embeds.dtype)  # the mask travels as zero rows

    def timestep_kwargs(
        self, scheduler: FlowMatchEulerDiscreteScheduler, num_steps: int, latent_shape: tuple[int, ...]
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"sigmas": np.linspace(1.0, 1 / num_steps, num_steps)}
        if scheduler.config.use_dynamic_shifting:
            _, f, h, w = latent_shape
            cfg = scheduler.config
            kwargs["mu"] = calculate_shift(
                f * h * w, cfg.get("base_image_seq_len", 256), cfg.get("max_image_seq_len", 4096),
                cfg.get("base_shift", 0.5), cfg.get("max_shift", 1.15),
            )
        return kwargs


class CogVideoXFamily(Family):
    name = "cogvideox"
    pipeline_class = CogVideoXPipeline
    transformer_class = CogVideoXTransformer3DModel
    objective = DIFFUSION
    codec_kind = "cogvideox_vae"

    def denoiser(self, pipe: CogVideoXPipeline) -> torch.nn.Module:
        return CogVideoXDenoiser(pipe)

    def default_max_sequence_length(self, pipe: Any) -> int:
        return int(pipe.transformer.config.max_text_seq_length)  # 226, as the pipeline encodes

    def check_max_sequence_length(self, pipe: Any, max_sequence_length: int) -> None:
        cfg = pipe.transformer.config
        # sincos (CogVideoX-2b) or learned positional embeddings span exactly max_text_seq_length text tokens
        fixed = not cfg.use_rotary_positional_embeddings or cfg.get("use_learned_positional_embeddings", False)
        if fixed and max_sequence_length != cfg.max_text_seq_length:
            raise ValueError(
                f"max_sequence_length {max_sequence_length} does not fit this CogVideoX transformer: its "
                f"positional embeddings span exactly max_text_seq_length={cfg.max_text_seq_length} text tokens"
            )


FAMILIES: dict[str, type[Family]] = {
    f.pipeline_class.__name__: f for f in (Family, LtxFamily, CogVideoXFamily)
}


def family_for_pipeline(class_name: str | None) -> Family:
    """The family of a `model_index.json` `_class_name`; directories without one are read as Wan."""
    if class_name is None:
        return Family()
    if class_name not in FAMILIES:
        raise KeyError(f"unsupported pipeline {class_name!r}; supported: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[class_name]()


def pipeline_class_for(transformer: torch.nn.Module) -> type:
    """The pipeline whose LoRA format fits a transformer (Wan's for anything unknown, e.g. test doubles)."""
    model = unwrap(transformer)
    for family in FAMILIES.values():
        if isinstance(model, family.transformer_class):
            return family.pipeline_class
    return WanPipeline
