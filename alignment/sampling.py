"""Sampling of a flow-matching generator with classifier-free guidance and optional reward guidance.

The default loop is the one WanPipeline runs with FlowMatchEulerDiscreteScheduler (same σ table, same CFG
formula), written out so that a reward-gradient term can be added after CFG (REFERENCE §6, Flow-NRG):
x ← x + (σ_next − σ)·(v̂ − λ∇ₓR(x, σ)), where `reward_grad` returns λ∇ₓR. The same σ table can be integrated
with a second-order solver instead (`solver`: "heun" or "midpoint", `alignment.flow_matching.SOLVERS`), which
evaluates that drift v̂ − λ∇ₓR wherever it asks; `shift` overrides the model's sampling shift.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from alignment.flow_matching import NUM_TRAIN_TIMESTEPS, check_solver, ode_step
from alignment.generator import Generator

RewardGrad = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def initial_noise(shape: tuple[int, ...], seeds: Sequence[int]) -> torch.Tensor:
    """One standard-normal latent per seed, [len(seeds), *shape]: a sample depends on its seed only."""
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


@torch.no_grad()
def _velocity(
    transformer: torch.nn.Module,
    x: torch.Tensor,
    t: torch.Tensor,
    prompt_embeds: torch.Tensor,
    negative_embeds: torch.Tensor | None,
    guidance_scale: float,
) -> torch.Tensor:
    timestep = t.expand(x.shape[0])
    dtype = next(transformer.parameters()).dtype
    v = transformer(hidden_states=x.to(dtype), timestep=timestep, encoder_hidden_states=prompt_embeds, return_dict=False)[0]
    if negative_embeds is not None and guidance_scale > 1.0:
        v_uncond = transformer(
            hidden_states=x.to(dtype), timestep=timestep, encoder_hidden_states=negative_embeds, return_dict=False
        )[0]
        v = v_uncond + guidance_scale * (v - v_uncond)
    return v.float()


def sample_latents(
    transformer: torch.nn.Module,
    scheduler: FlowMatchEulerDiscreteScheduler,
    latents: torch.Tensor,
    prompt_embeds: torch.Tensor,
    num_steps: int,
    negative_embeds: torch.Tensor | None = None,
    guidance_scale: float = 1.0,
    reward_grad: RewardGrad | None = None,
    solver: str = "euler",
    timestep_kwargs: dict[str, Any] | None = None,
) -> torch.Tensor:
    """Integrate from pure noise `latents` (σ = 1) to σ = 0 over the scheduler's `num_steps` σ table with
    `solver`; returns float32 latents [B, C, F, H, W]. `timestep_kwargs`: the family's extra `set_timesteps`
    arguments (LTX: its σ list and resolution-dependent μ), so the table is the family pipeline's own."""
    check_solver(solver)
    scheduler.set_timesteps(num_steps, device=latents.device, **(timestep_kwargs or {}))
    sigmas = scheduler.sigmas.tolist()

    def drift(x: torch.Tensor, sigma: float) -> torch.Tensor:
        # float32(σ)·1000 in float32: bit-equal to the scheduler's own timesteps at its σ table
        t = torch.tensor(sigma, dtype=torch.float32, device=x.device) * NUM_TRAIN_TIMESTEPS
        v = _velocity(transformer, x, t, prompt_embeds, negative_embeds, guidance_scale)
        if reward_grad is not None:
            v = v - reward_grad(x, torch.full((x.shape[0],), sigma, device=x.device))
        return v

    x = latents.float()
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        x = ode_step(drift, x, sigma, sigma_next, solver)
    return x


def to_uint8_frames(video: torch.Tensor) -> np.ndarray:
    """[B, 3, F, H, W] in [−1, 1] → uint8 [B, F, H, W, 3]."""
    x = ((video.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 4, 1).cpu().numpy()


def generate_latents(
    generator: Generator,
    prompts: Sequence[str],
    seeds: Sequence[int],
    num_frames: int,
    height: int,
    width: int,
    num_steps: int = 20,
    guidance_scale: float = 5.0,
    negative_prompt: str = "",
    reward_grad: RewardGrad | None = None,
    solver: str = "euler",
    shift: float | None = None,
) -> torch.Tensor:
    """Sample one latent per (prompt, seed): the same seed gives the same starting noise whatever the model.

    `shift`: the σ table's shift (None: the model's own sampling shift)."""
    if len(prompts) != len(seeds):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    shape = generator.codec.latent_shape(num_frames, height, width)
    device = generator.transformer.device
    noise = initial_noise(shape, seeds).to(device)
    embeds = generator.encode_prompts(list(prompts))
    negative = generator.encode_prompts([negative_prompt] * len(prompts)) if guidance_scale > 1.0 else None
    scheduler = generator.sampling_scheduler()
    if shift is not None:
        # an explicit shift replaces a resolution-dependent one (LTX)
        fixed = {"use_dynamic_shifting": False} if scheduler.config.get("use_dynamic_shifting") else {}
        scheduler = FlowMatchEulerDiscreteScheduler.from_config(scheduler.config, shift=shift, **fixed)
    return sample_latents(
        generator.transformer,
        scheduler,
        noise,
        embeds,
        num_steps,
        negative_embeds=negative,
        guidance_scale=guidance_scale,
        reward_grad=reward_grad,
        solver=solver,
        timestep_kwargs=generator.family.timestep_kwargs(scheduler, num_steps, shape),
    )


def decode_latents(generator: Generator, latents: torch.Tensor) -> np.ndarray:
    """Latents → uint8 frames [B, F, H, W, 3] through the generator's codec."""
    return to_uint8_frames(generator.codec.decode(latents))
