"""Tokenizers: a tiny byte-level BPE for tiny models, and the reward tokens added to any Qwen2-VL tokenizer.

A real Qwen2-VL tokenizer already holds the vision tokens below; the tiny one is trained here with the same
token strings, so the rest of the code cannot tell them apart.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

PAD_TOKEN = "<|endoftext|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
VIDEO_PAD = "<|video_pad|>"
IMAGE_PAD = "<|image_pad|>"
VISION_TOKENS: tuple[str, ...] = (VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)
REWARD_TOKENS: dict[str, str] = {"VQ": "<|VQ_reward|>", "MQ": "<|MQ_reward|>", "TA": "<|TA_reward|>"}
SHARED_REWARD_TOKEN = "<|reward|>"

# Enough everyday text for a byte-level BPE to learn common merges; prompts passed in come on top.
_BASE_CORPUS = (
    "a red square moves left across a blue background",
    "a green circle bounces up and down in a dark room",
    "the camera pans right over a city street at night, warm light",
    "a person walks along the beach at sunset while waves roll in",
    "visual quality motion quality text alignment prompt reward video",
    "a small white triangle spins slowly on a grey floor",
    "a cat jumps onto a wooden table and sits still",
)


def build_tiny_tokenizer(corpus: Iterable[str] = (), vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``corpus`` (plus a small built-in text) with the vision tokens as specials."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [PAD_TOKEN, *VISION_TOKENS]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([*_BASE_CORPUS, *corpus], trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD_TOKEN,
        eos_token=PAD_TOKEN,
        extra_special_tokens=list(VISION_TOKENS),
    )


def reward_token_strings(token_mode: str) -> list[str]:
    """The tokens whose hidden states are read: three (VQ, MQ, TA) or one shared."""
    if token_mode == "separate":
        return list(REWARD_TOKENS.values())
    if token_mode == "shared":
        return [SHARED_REWARD_TOKEN]
    raise ValueError(f"unknown token mode {token_mode!r}; expected 'separate' or 'shared'")


def add_reward_tokens(tokenizer: PreTrainedTokenizerBase, token_mode: str) -> list[int]:
    """Add the reward tokens as special tokens (no-op when present) and return their ids in order."""
    strings = reward_token_strings(token_mode)
    missing = [s for s in strings if s not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    return [tokenizer.convert_tokens_to_ids(s) for s in strings]


def special_token_ids(tokenizer: PreTrainedTokenizerBase, tokens: Sequence[str]) -> list[int]:
    """Ids of tokens that must exist as single tokens; a missing one is an error naming it."""
    vocab = tokenizer.get_vocab()
    absent = [t for t in tokens if t not in vocab]
    if absent:
        raise ValueError(f"tokenizer lacks required special token(s) {absent}")
    return [vocab[t] for t in tokens]
