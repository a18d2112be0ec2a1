"""A word-level tokenizer for the synthetic world's prompt grammar and the tiny text encoder built on it.

A tiny generator cannot afford to learn language from bytes: each grammar word (colour, shape, verb, …) gets its
own token, so the encoder's embeddings become learned attribute embeddings. The encoder is still a UMT5 encoder
behind a T5-style tokenizer, so WanPipeline loads and runs it unchanged; one attention layer lets "left" read
differently after "moves" and after "pans".
"""
from __future__ import annotations

import torch
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # T5 conventions: pad id 0, eos id 1
_FUNCTION_WORDS = ("a", "an", "one", "two", "three", "on", "background", "the", "camera", "in", "at", ",", ".")


def grammar_vocabulary() -> list[str]:
    """Every word the prompt grammar can produce, lower-cased, in a fixed order."""
    from synthetic.prompts import ACTIONS, BACKGROUNDS, CAMERAS, COLORS, SHAPES

    words: list[str] = list(_FUNCTION_WORDS) + list(COLORS)
    words += [s for shape in SHAPES for s in (shape, shape + "s")]
    for phrase in ACTIONS + CAMERAS:
        for word in phrase.split():
            words += [word, word[:-1]] if word.endswith("s") and word not in ("pans", "tilts") else [word]
    words += list(BACKGROUNDS) + ["daylight", "night"]
    return list(dict.fromkeys(words))


def build_grammar_tokenizer() -> PreTrainedTokenizerFast:
    """Lower-casing word-level tokenizer (punctuation split off), `</s>` appended to every text."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {tok: i for i, tok in enumerate(list(SPECIAL_TOKENS) + grammar_vocabulary())}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def build_grammar_text_encoder(vocab_size: int, dim: int = 64, num_layers: int = 1) -> UMT5EncoderModel:
    return UMT5EncoderModel(
        UMT5Config(
            vocab_size=vocab_size,
            d_model=dim,
            d_kv=dim // 2,
            d_ff=2 * dim,
            num_layers=num_layers,
            num_heads=2,
            relative_attention_num_buckets=8,
            relative_attention_max_distance=20,
            dropout_rate=0.0,
            pad_token_id=0,
            eos_token_id=1,
        )
    )


def encode_with_grad(
    tokenizer: PreTrainedTokenizerFast, text_encoder: UMT5EncoderModel, prompts: list[str], max_length: int
) -> torch.Tensor:
    """WanPipeline's prompt embeddings (zeros past each prompt's length) with gradients, for joint training."""
    inputs = tokenizer(prompts, padding="max_length", max_length=max_length, truncation=True,
                       add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    mask = inputs.attention_mask
    hidden = text_encoder(inputs.input_ids, mask).last_hidden_state
    return hidden * mask.unsqueeze(-1).to(hidden.dtype)
