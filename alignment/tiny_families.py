"""Tiny random-weight LTX-Video and CogVideoX generators (tests, CPU runs), written like `build_tiny_generator`.

Sizes follow diffusers' own pipeline tests. The LTX scheduler is the released LTX-Video one (resolution-
dependent shift, terminal σ 0.1) and the CogVideoX scheduler the released CogVideoX-2b one (v-prediction,
zero terminal SNR, SNR shift 3), so the family code paths run as they do on real checkpoints.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLCogVideoX,
    AutoencoderKLLTXVideo,
    CogVideoXDDIMScheduler,
    CogVideoXPipeline,
    CogVideoXTransformer3DModel,
    FlowMatchEulerDiscreteScheduler,
    LTXPipeline,
    LTXVideoTransformer3DModel,
)
from transformers import T5Config, T5EncoderModel

from alignment.generator import GENERATOR_META, build_tiny_tokenizer

logger = logging.getLogger(__name__)


def _text_encoder(vocab_size: int, text_dim: int) -> T5EncoderModel:
    # dropout 0 and eval(): two runs of one seed must give the same embeddings
    return T5EncoderModel(
        T5Config(vocab_size=vocab_size, d_model=text_dim, d_kv=8, d_ff=2 * text_dim, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, dropout_rate=0.0, pad_token_id=0, eos_token_id=1)
    ).eval()


def _save(pipe: LTXPipeline | CogVideoXPipeline, out_dir: Path, max_sequence_length: int) -> Path:
    pipe.save_pretrained(out_dir)
    (out_dir / GENERATOR_META).write_text(json.dumps({"max_sequence_length": max_sequence_length}, indent=2))
    logger.info("wrote a tiny %s to %s", type(pipe).__name__, out_dir)
    return out_dir


def build_tiny_ltx_generator(out_dir: str | Path, *, seed: int = 0, text_dim: int = 32,
                             max_sequence_length: int = 16) -> Path:
    """LTX-Video: a VAE with 4× time and 4× space compression (8 channels) and a 2-layer transformer."""
    torch.manual_seed(seed)
    tokenizer = build_tiny_tokenizer()
    vae = AutoencoderKLLTXVideo(
        latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False), decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4, upsample_factor=(1,) * 4,
        timestep_conditioning=False, patch_size=1, patch_size_t=1,
    ).eval()
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=2, caption_channels=text_dim,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024,
        max_image_seq_len=4096, shift_terminal=0.1,
    )
    pipe = LTXPipeline(scheduler=scheduler, vae=vae, text_encoder=_text_encoder(len(tokenizer), text_dim),
                       tokenizer=tokenizer, transformer=transformer)
    return _save(pipe, Path(out_dir), max_sequence_length)


def build_tiny_cogvideox_generator(out_dir: str | Path, *, seed: int = 0, text_dim: int = 32,
                                   max_sequence_length: int = 16) -> Path:
    """CogVideoX (v-prediction): a VAE with 4× time and 8× space compression (4 channels), a 2-layer transformer."""
    torch.manual_seed(seed)
    tokenizer = build_tiny_tokenizer()
    vae = AutoencoderKLCogVideoX(block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1,
                                 norm_num_groups=2, temporal_compression_ratio=4).eval()
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=4, out_channels=4, time_embed_dim=2,
        text_embed_dim=text_dim, num_layers=2, sample_width=4, sample_height=4, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=max_sequence_length,
    )
    scheduler = CogVideoXDDIMScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, prediction_type="v_prediction",
        rescale_betas_zero_snr=True, snr_shift_scale=3.0, timestep_spacing="trailing", set_alpha_to_one=True,
        clip_sample=False,
    )
    pipe = CogVideoXPipeline(tokenizer=tokenizer, text_encoder=_text_encoder(len(tokenizer), text_dim), vae=vae,
                             transformer=transformer, scheduler=scheduler)
    return _save(pipe, Path(out_dir), max_sequence_length)
