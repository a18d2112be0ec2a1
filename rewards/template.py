"""The reward model's input sequence: video first, then text with the reward tokens (REFERENCE §2).

Layouts (``<video>`` = vision_start, video_pad × n, vision_end):
- separate, prompt hidden from VQ/MQ (the paper):  <video> Visual quality:<VQ> Motion quality:<MQ>
  Prompt: {prompt} Text alignment:<TA>   — with causal attention VQ and MQ never see the prompt.
- separate, prompt seen by all:  <video> Prompt: {prompt} Visual quality:<VQ> Motion quality:<MQ>
  Text alignment:<TA>
- shared:  <video> Prompt: {prompt} Reward:<R>   — one token, the head's three outputs read there.
- with a checklist (``ModelConfig.checklist``), separate tokens only: each field lists its words before its
  token, e.g. ``Motion quality: jitter stutter jumps flicker frozen<MQ>``.
The pieces are tokenized one by one, so a prompt can never smuggle in a special token and the reward token
positions are known without searching.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from rewards.config import ModelConfig
from rewards.tokenizer import VIDEO_PAD, VISION_END, VISION_START, special_token_ids
from rewards.video_input import VideoPatches

MAX_PROMPT_TOKENS = 256


@dataclass
class ModelInputs:
    """A padded batch; B sequences of up to L tokens, N patch rows over all videos."""

    input_ids: torch.Tensor  # (B, L) int64
    attention_mask: torch.Tensor  # (B, L) int64, 0 on right padding
    mm_token_type_ids: torch.Tensor  # (B, L) int32: 2 on video_pad, 0 elsewhere
    pixel_values_videos: torch.Tensor  # (N, 3·2·14·14) float32
    video_grid_thw: torch.Tensor  # (B, 3) int64
    reward_positions: torch.Tensor  # (B, K) int64, K = 3 (separate) or 1 (shared)

    def to(self, device: torch.device | str) -> ModelInputs:
        return ModelInputs(**{k: v.to(device) for k, v in self.__dict__.items()})


def _text(tokenizer: PreTrainedTokenizerBase, text: str, limit: int | None = None) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    return ids[:limit] if limit is not None else ids


@dataclass
class Layout:
    ids: list[int]
    reward_positions: list[int]  # one per reward token
    word_positions: list[list[int]]  # per dimension, the last token of each checklist word


def sequence_layout(
    tokenizer: PreTrainedTokenizerBase,
    num_video_tokens: int,
    prompt: str,
    reward_token_ids: Sequence[int],
    cfg: ModelConfig,
) -> Layout:
    """Token ids of one sample, the positions of its reward tokens and of its checklist words."""
    start, pad, end = special_token_ids(tokenizer, (VISION_START, VIDEO_PAD, VISION_END))
    prompt_part: list[str | tuple[str, str]] = [" Prompt: ", ("prompt", prompt)]
    if cfg.token_mode == "shared":
        pieces: list = [*prompt_part, " Reward:", ("reward", 0)]
    else:
        fields = [[name, ("words", d), ("reward", d)]
                  for d, name in enumerate((" Visual quality:", " Motion quality:", " Text alignment:"))]
        pieces = ([*prompt_part, *fields[0], *fields[1]] if cfg.vq_mq_see_prompt
                  else [*fields[0], *fields[1], *prompt_part]) + fields[2]
    ids = [start] + [pad] * num_video_tokens + [end]
    layout = Layout(ids, [], [[] for _ in range(3 if cfg.token_mode == "separate" else 0)])
    for piece in pieces:
        if isinstance(piece, str):
            ids += _text(tokenizer, piece)
        elif piece[0] == "prompt":
            ids += _text(tokenizer, piece[1], MAX_PROMPT_TOKENS)
        elif piece[0] == "words":
            for word in cfg.checklist[piece[1]] if cfg.checklist else ():
                ids += _text(tokenizer, f" {word}")
                layout.word_positions[piece[1]].append(len(ids) - 1)
        else:
            layout.reward_positions.append(len(ids))
            ids.append(reward_token_ids[piece[1]])
    return layout


def sequence_ids(
    tokenizer: PreTrainedTokenizerBase,
    num_video_tokens: int,
    prompt: str,
    reward_token_ids: Sequence[int],
    cfg: ModelConfig,
) -> tuple[list[int], list[int]]:
    """Token ids of one sample and the positions of its reward tokens."""
    layout = sequence_layout(tokenizer, num_video_tokens, prompt, reward_token_ids, cfg)
    return layout.ids, layout.reward_positions


def reward_token_predecessors(tokenizer: PreTrainedTokenizerBase, cfg: ModelConfig) -> list[int]:
    """The id of the token just before each reward token in the template, in reward-token order."""
    ids, positions = sequence_ids(tokenizer, 0, "", list(range(-1, -4, -1)), cfg)
    return [ids[p - 1] for p in positions]


def build_inputs(
    tokenizer: PreTrainedTokenizerBase,
    videos: Sequence[VideoPatches],
    prompts: Sequence[str],
    reward_token_ids: Sequence[int],
    cfg: ModelConfig,
    merge_size: int,
) -> ModelInputs:
    """Batch videos with their prompts into padded model inputs (right padding)."""
    if len(videos) != len(prompts):
        raise ValueError(f"{len(videos)} videos but {len(prompts)} prompts")
    video_pad = special_token_ids(tokenizer, (VIDEO_PAD,))[0]
    rows = [sequence_ids(tokenizer, v.num_video_tokens(merge_size), p, reward_token_ids, cfg)
            for v, p in zip(videos, prompts, strict=True)]
    length = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), length), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, (ids, _) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention_mask[i, : len(ids)] = 1
    return ModelInputs(
        input_ids=input_ids,
        attention_mask=attention_mask,
        mm_token_type_ids=((input_ids == video_pad) & attention_mask.bool()).to(torch.int32) * 2,
        pixel_values_videos=torch.from_numpy(np.concatenate([v.pixel_values for v in videos])),
        video_grid_thw=torch.from_numpy(np.stack([v.grid_thw for v in videos])),
        reward_positions=torch.tensor([pos for _, pos in rows], dtype=torch.long),
    )
