"""A tiny Qwen2-VL base-model directory with random weights (REFERENCE §7), for tests and CPU runs.

It is written to disk exactly like a downloaded Qwen2-VL-2B-Instruct (config, safetensors weights,
tokenizer), so the reward model loads it through the same ``from_pretrained(dir)`` path as a real one.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

from rewards.tokenizer import IMAGE_PAD, VIDEO_PAD, VISION_END, VISION_START, build_tiny_tokenizer


def tiny_qwen2vl_config(
    vocab_size: int,
    token_ids: dict[str, int],
    hidden_size: int = 64,
    num_layers: int = 2,
    vision_depth: int = 2,
    vision_embed_dim: int = 32,
    initializer_range: float = 0.1,
    vision_initializer_range: float | None = None,
    temporal_patch_size: int = 2,
) -> Qwen2VLConfig:
    """Text hidden 64, 2 layers, 4 heads (2 KV), mrope sections [2, 3, 3] (= head_dim 16 / 2); vision depth 2,
    embed 32. initializer_range 0.1: with 0.02 a model this narrow gave input-invariant rewards.
    ``vision_initializer_range`` (default: the same) sets the vision tower's own."""
    heads = 4
    head_dim = hidden_size // heads
    # M-RoPE splits head_dim/2 frequencies over (time, height, width).
    half = head_dim // 2
    mrope = [half - 2 * (half // 3), half // 3, half // 3]
    return Qwen2VLConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": num_layers,
            "num_attention_heads": heads,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "initializer_range": initializer_range,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope},
            "bos_token_id": None,
            "eos_token_id": token_ids["pad"],
            "pad_token_id": token_ids["pad"],
        },
        vision_config={
            "depth": vision_depth,
            "embed_dim": vision_embed_dim,
            "hidden_size": hidden_size,
            "num_heads": 4,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": temporal_patch_size,
            "initializer_range": initializer_range if vision_initializer_range is None else vision_initializer_range,
        },
        image_token_id=token_ids[IMAGE_PAD],
        video_token_id=token_ids[VIDEO_PAD],
        vision_start_token_id=token_ids[VISION_START],
        vision_end_token_id=token_ids[VISION_END],
    )


def write_tiny_base(directory: str | Path, corpus: Iterable[str] = (), seed: int = 0, **sizes: int | float) -> Path:
    """Build tokenizer + tiny Qwen2-VL with random weights and save both into ``directory``."""
    directory = Path(directory)
    tokenizer = build_tiny_tokenizer(corpus)
    vocab = tokenizer.get_vocab()
    ids = {t: vocab[t] for t in (VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)}
    ids["pad"] = tokenizer.pad_token_id
    config = tiny_qwen2vl_config(vocab_size=len(tokenizer), token_ids=ids, **sizes)
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
