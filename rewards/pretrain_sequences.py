"""Token sequences the tiny base is pretrained on, batched, and the loss over their predicted tokens.

Two layouts of one clip:
- the *caption* (``rewards.captions``): the clip's visual and motion defects, what is seen, the prompt and
  the mismatches with it, every described token predicted from the ones before;
- the *readout*: exactly the reward model's own template (``rewards.template``, the paper's layout: VQ and
  MQ before the prompt) with the reward tokens in it; nothing but the reward tokens' hidden states is
  trained there, with one of two targets (``READOUT_TARGETS``): "total", the dimension's flaw total
  predicted as the number word (" 0", " 1", …) by the language-model head; or "levels", each of the
  dimension's defect levels (0 … 4) regressed by a linear head (``ReadoutHeads``) that is used only in
  pretraining — the hidden state then holds every level linearly, and the reward model's own linear head
  weighs them.

Why the readout: the reward model reads one hidden state per dimension, at its reward token. A captioner
alone gathers the evidence where it writes the level words, in a context the template never shows it (the
whole visual-quality text stands between the MQ field and the VQ one in a caption, and TA follows a
description of what is seen); measured last session, a linear probe on the captioner's hidden states at the
template's reward tokens found little (ridge r to the true utilities 0.54 / 0.00 / 0.16), and LoRA did not
re-route it in 1,000 steps. Trained on the readout too, the base holds at each reward token a summary of that
dimension — the unweighted flaw total, not the oracle's weights, which the reward model still learns from
judgements.

Labels follow one rule for both layouts: ``labels[t]`` is the token id predicted *at* position t (−100: none).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedTokenizerBase, Qwen2VLForConditionalGeneration

from rewards.captions import DEFECT_WORDS, LEVELS, Caption
from rewards.config import ModelConfig, VideoConfig
from rewards.template import sequence_layout
from rewards.tokenizer import VIDEO_PAD, VISION_END, VISION_START, add_reward_tokens
from rewards.video_input import patchify
from synthetic.defects import MQ_DEFECTS, TA_DEFECTS, VQ_DEFECTS

IGNORE = -100
READOUT_TARGETS = ("total", "levels")
# The reward model's default layout (separate tokens, the prompt hidden from VQ and MQ): the readout trains
# the base in exactly the sequence the reward model will show it.
READOUT_LAYOUT = ModelConfig()
# The checklist variant lists each dimension's defect words before its token, in caption order.
CHECKLIST: tuple[tuple[str, ...], ...] = tuple(tuple(DEFECT_WORDS[n] for n in names)
                                               for names in (VQ_DEFECTS, MQ_DEFECTS, TA_DEFECTS))
# The largest flaw total: 7 text-alignment defects × the top level index 4.
MAX_TOTAL = 28


def readout_layout(checklist: bool) -> ModelConfig:
    """The template the readout trains (and the reward model must then use): the paper's, or with CHECKLIST."""
    return ModelConfig(checklist=CHECKLIST) if checklist else READOUT_LAYOUT


def _single_tokens(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], what: str) -> list[int]:
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    split = [text.strip() for text, toks in zip(texts, ids, strict=True) if len(toks) != 1]
    if split:
        raise ValueError(f"the tokenizer splits the {what} {split}: the readout needs one token each")
    return [toks[0] for toks in ids]


def level_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The single token of each level word " none" … " severe"."""
    return _single_tokens(tokenizer, [f" {w}" for w in LEVELS], "level words")


def number_text(n: int) -> str:
    return f" {n}"


def number_corpus(repeats: int = 40) -> list[str]:
    """Lines that make a byte-level BPE merge every total " 0" … " 28" into one token."""
    return [" ".join(number_text(n) for n in range(MAX_TOTAL + 1))] * repeats


def number_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The single token of each number word " 0" … " 28"; an error names those that split."""
    return _single_tokens(tokenizer, [number_text(n) for n in range(MAX_TOTAL + 1)], "number words")


def reward_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The reward tokens of the readout layout (added to the tokenizer when missing)."""
    return add_reward_tokens(tokenizer, READOUT_LAYOUT.token_mode)


def caption_sequence(tokenizer: PreTrainedTokenizerBase, num_video_tokens: int, prompt: str,
                     caption: Caption) -> tuple[list[int], list[int]]:
    """Token ids of the video and its caption, and the label of each position (its next token, or IGNORE)."""
    vocab = tokenizer.get_vocab()
    ids = [vocab[VISION_START]] + [vocab[VIDEO_PAD]] * num_video_tokens + [vocab[VISION_END]]
    target = [False] * len(ids)
    for text, is_target in caption.pieces(prompt):
        piece = tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        ids += piece
        target += [is_target] * len(piece)
    ids.append(tokenizer.eos_token_id)
    target.append(True)  # the end of the description is predicted too
    labels = [ids[t + 1] if target[t + 1] else IGNORE for t in range(len(ids) - 1)] + [IGNORE]
    return ids, labels


def readout_sequence(tokenizer: PreTrainedTokenizerBase, num_video_tokens: int, prompt: str, caption: Caption,
                     rewards: Sequence[int], numbers: Sequence[int] | None,
                     layout_cfg: ModelConfig = READOUT_LAYOUT,
                     levels: Sequence[int] | None = None) -> tuple[list[int], list[int], list[int]]:
    """The reward template's ids, its reward-token positions, and labels: with ``numbers``, each reward
    token labelled with its dimension's flaw total (without, none: the levels are regressed instead); with a
    checklist, each defect word labelled with its level word (``levels``: their token ids), as a caption
    would continue it."""
    layout = sequence_layout(tokenizer, num_video_tokens, prompt, rewards, layout_cfg)
    labels = [IGNORE] * len(layout.ids)
    if numbers is not None:
        for position, total in zip(layout.reward_positions, caption.totals, strict=True):
            labels[position] = numbers[total]
    if layout_cfg.checklist:
        levels = levels if levels is not None else level_token_ids(tokenizer)
        for positions, dim_levels in zip(layout.word_positions, caption.levels, strict=True):
            for position, lv in zip(positions, dim_levels, strict=True):
                labels[position] = levels[lv]
    return layout.ids, labels, layout.reward_positions


@dataclass
class CaptionBatch:
    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    mm_token_type_ids: torch.Tensor  # (B, L): 2 on video_pad
    labels: torch.Tensor  # (B, L): the token id predicted at each position, IGNORE where none
    readout: torch.Tensor  # (B,) bool: the row is laid out as the reward template
    reward_positions: torch.Tensor  # (B, 3): VQ, MQ, TA token positions of readout rows, 0 in caption rows
    levels: torch.Tensor  # (B, 17) float: the shown level indices, VQ then MQ then TA defects
    pixel_values_videos: torch.Tensor  # (N, 1176)
    video_grid_thw: torch.Tensor  # (B, 3)


def make_batch(tokenizer: PreTrainedTokenizerBase, frames: Sequence[np.ndarray], prompts: Sequence[str],
               captions: Sequence[Caption], video_cfg: VideoConfig, readout: Sequence[bool] | None = None,
               readout_target: str = "total", layout_cfg: ModelConfig = READOUT_LAYOUT) -> CaptionBatch:
    """Clips with their texts; ``readout[i]`` lays clip i out as the reward template instead of a caption."""
    patches = [patchify(f, video_cfg) for f in frames]
    merge = video_cfg.merge_size
    readout = readout if readout is not None else [False] * len(frames)
    if any(readout):
        rewards = reward_token_ids(tokenizer)
        numbers = number_token_ids(tokenizer) if readout_target == "total" else None
        levels = level_token_ids(tokenizer) if layout_cfg.checklist else None
    rows = [readout_sequence(tokenizer, p.num_video_tokens(merge), prompt, c, rewards, numbers, layout_cfg, levels)
            if r
            else (*caption_sequence(tokenizer, p.num_video_tokens(merge), prompt, c), [0, 0, 0])
            for p, prompt, c, r in zip(patches, prompts, captions, readout, strict=True)]
    length = max(len(ids) for ids, _, _ in rows)
    input_ids = torch.full((len(rows), length), tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(rows), length), dtype=torch.long)
    labels = torch.full((len(rows), length), IGNORE, dtype=torch.long)
    for i, (ids, lab, _) in enumerate(rows):
        input_ids[i, :len(ids)] = torch.tensor(ids)
        attention[i, :len(ids)] = 1
        labels[i, :len(lab)] = torch.tensor(lab)
    video_pad = tokenizer.convert_tokens_to_ids(VIDEO_PAD)
    return CaptionBatch(
        input_ids=input_ids, attention_mask=attention,
        mm_token_type_ids=((input_ids == video_pad) & attention.bool()).to(torch.int32) * 2, labels=labels,
        readout=torch.tensor(list(readout), dtype=torch.bool),
        reward_positions=torch.tensor([pos for _, _, pos in rows], dtype=torch.long),
        levels=torch.tensor([[lv for dim in c.levels for lv in dim] for c in captions], dtype=torch.float32),
        pixel_values_videos=torch.from_numpy(np.concatenate([p.pixel_values for p in patches])),
        video_grid_thw=torch.from_numpy(np.stack([p.grid_thw for p in patches])),
    )


class ReadoutHeads(nn.Module):
    """Pretraining-only linear heads: from the hidden state at reward token d, dimension d's defect levels."""

    def __init__(self, hidden_size: int, sizes: Sequence[int] = (len(VQ_DEFECTS), len(MQ_DEFECTS),
                                                                  len(TA_DEFECTS))) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.heads = nn.ModuleList(nn.Linear(hidden_size, n) for n in self.sizes)

    def forward(self, at_tokens: torch.Tensor) -> torch.Tensor:
        """(R, 3, H) hidden states at the three reward tokens → (R, 17) predicted levels."""
        return torch.cat([head(at_tokens[:, d]) for d, head in enumerate(self.heads)], dim=-1)


def hidden_states(model: Qwen2VLForConditionalGeneration, batch: CaptionBatch) -> torch.Tensor:
    """The language model's last hidden states (B, L, H): one forward, read by the functions below."""
    return model.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                       pixel_values_videos=batch.pixel_values_videos, video_grid_thw=batch.video_grid_thw,
                       mm_token_type_ids=batch.mm_token_type_ids, use_cache=False).last_hidden_state


def labelled_logits(model: Qwen2VLForConditionalGeneration, batch: CaptionBatch,
                    hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits (M, V) at the M labelled positions, their labels (M,) and rows (M,), in reading order."""
    hidden = hidden_states(model, batch) if hidden is None else hidden
    predicts = batch.labels != IGNORE
    rows = torch.nonzero(predicts)[:, 0]
    return model.lm_head(hidden[predicts]), batch.labels[predicts], rows


def readout_levels(heads: ReadoutHeads, batch: CaptionBatch,
                   hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and true levels (R, 17) of the R readout rows, from the batch's hidden states."""
    rows = torch.nonzero(batch.readout)[:, 0]
    at_tokens = hidden[rows.unsqueeze(1), batch.reward_positions[rows]]  # (R, 3, H)
    return heads(at_tokens), batch.levels[rows]


def caption_loss(model: Qwen2VLForConditionalGeneration, batch: CaptionBatch,
                 heads: ReadoutHeads | None = None) -> torch.Tensor:
    """The mean of each part present, summed: the caption's cross-entropy, the readout's (its three labels
    per clip weigh as much as a caption's ~80; in one mean they would be 4% of the signal), and with
    ``heads`` the readout levels' squared error (on the 0-4 scale, where a level's variance is about 1)."""
    hidden = hidden_states(model, batch)
    logits, targets, rows = labelled_logits(model, batch, hidden)
    losses = F.cross_entropy(logits, targets, reduction="none")
    is_readout = batch.readout[rows]
    total = sum(losses[part].mean() for part in (~is_readout, is_readout) if part.any())
    if heads is not None and batch.readout.any():
        predicted, true = readout_levels(heads, batch, hidden)
        total = total + F.mse_loss(predicted, true)
    return total
