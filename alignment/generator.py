"""Access to a diffusers text-to-video generator (Wan 2.1, LTX-Video, CogVideoX) stored in a local directory.

One code path: production loads a real checkpoint with `load_generator(dir)`; tests and CPU runs first write a
tiny random-weight model with `build_tiny_generator(dir)` (REFERENCE §7 sizes; `alignment.tiny_families` for
LTX-Video and CogVideoX) and load it the same way. A directory is a `<Pipeline>.save_pretrained` layout plus an
optional `generator.json` ({"codec": {...}, "max_sequence_length": N, "frame_rate": R}); its
`model_index.json` names the pipeline, which picks the family (`alignment.families`): the one place where
the families differ.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

from alignment.codec import (
    CodecConfigError,
    LatentCodec,
    PixelUnshuffleCodec,
    check_codec_spec,
    codec_from_spec,
)
from alignment.config import FLOW_MATCHING
from alignment.families import Family, family_for_pipeline

logger = logging.getLogger(__name__)

GENERATOR_META = "generator.json"

# Words the tiny tokenizer is trained on; any other text still tokenises (byte-level BPE).
_TOKENIZER_CORPUS = [
    "a red green blue yellow white black orange purple circle square triangle ball box star",
    "moves left right up down slowly quickly across the frame on a plain dark light background",
    "the camera remains still, a small large object bounces rotates grows shrinks in the scene",
]


class GeneratorLoadError(ValueError):
    """The model directory does not hold a loadable generator."""


@dataclass
class Generator:
    pipe: Any  # the family's diffusers pipeline (WanPipeline, LTXPipeline, CogVideoXPipeline)
    codec: LatentCodec
    max_sequence_length: int
    family: Family = field(default_factory=Family)
    _denoiser: torch.nn.Module | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self._denoiser = self.family.denoiser(self.pipe)

    @property
    def transformer(self) -> torch.nn.Module:
        """The denoiser in Wan's calling convention (Wan: the pipeline's transformer itself)."""
        return self._denoiser if self._denoiser is not None else self.pipe.transformer

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """Text embeddings [B, L, D] exactly as the family's pipeline computes them (Wan, LTX: padding zeroed)."""
        embeds = self.family.encode_prompts(self.pipe, prompts, self.max_sequence_length)
        return embeds.to(self.transformer.dtype)

    def sampling_scheduler(self) -> FlowMatchEulerDiscreteScheduler:
        """A flow-matching Euler scheduler of our own (a pipeline call overwrites its scheduler's table).

        Released Wan checkpoints ship a UniPC scheduler whose shift is called `flow_shift`: carry it over.
        """
        if self.family.objective != FLOW_MATCHING:
            raise ValueError(
                f"{self.family.name} is a {self.family.objective} model: the flow-matching sampler cannot run it "
                f"(sample it with its diffusers pipeline, `generator.pipe`)"
            )
        config = self.pipe.scheduler.config
        if isinstance(self.pipe.scheduler, FlowMatchEulerDiscreteScheduler):
            return FlowMatchEulerDiscreteScheduler.from_config(config)
        return FlowMatchEulerDiscreteScheduler(
            num_train_timesteps=config.get("num_train_timesteps", 1000), shift=config.get("flow_shift", 1.0)
        )


def load_generator(model_dir: str | Path, dtype: torch.dtype = torch.float32, device: str = "cpu") -> Generator:
    model_dir = Path(model_dir)
    if not (model_dir / "model_index.json").is_file():
        raise GeneratorLoadError(f"{model_dir}: not a diffusers pipeline directory (no model_index.json)")
    meta = _read_meta(model_dir)
    try:
        family = family_for_pipeline(json.loads((model_dir / "model_index.json").read_text()).get("_class_name"))
    except (json.JSONDecodeError, AttributeError, KeyError) as exc:
        raise GeneratorLoadError(f"{model_dir / 'model_index.json'}: {exc}") from exc
    if "frame_rate" in meta and hasattr(family, "frame_rate"):  # LTX scales RoPE along time by it
        family.frame_rate = float(meta["frame_rate"])
    codec_spec = meta.get("codec", {"kind": family.codec_kind})
    try:
        check_codec_spec(codec_spec)
    except CodecConfigError as exc:
        raise GeneratorLoadError(f"{model_dir / GENERATOR_META}: {exc}") from exc
    try:
        pipe = family.pipeline_class.from_pretrained(model_dir, dtype=dtype).to(device)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise GeneratorLoadError(f"{model_dir}: cannot load the pipeline ({type(exc).__name__}: {exc})") from exc
    # the text encoder runs in eval mode: with dropout two runs of one seed would differ
    pipe.text_encoder.eval()
    pipe.vae.eval()
    pipe.transformer.eval()
    pipe.set_progress_bar_config(disable=True)
    try:
        codec = codec_from_spec(codec_spec, pipe.vae, model_dir)
    except CodecConfigError as exc:
        raise GeneratorLoadError(f"{model_dir}: {exc}") from exc
    max_len = int(meta.get("max_sequence_length", family.default_max_sequence_length(pipe)))
    try:
        family.check_max_sequence_length(pipe, max_len)
    except ValueError as exc:
        raise GeneratorLoadError(f"{model_dir / GENERATOR_META}: {exc}") from exc
    return Generator(pipe=pipe, codec=codec, max_sequence_length=max_len, family=family)


def model_clip(model_dir: str | Path) -> tuple[int, int, int] | None:
    """(frames, height, width) a generator directory was made for (its generator.json), or None when unrecorded."""
    clip = _read_meta(Path(model_dir)).get("clip")
    return (int(clip["num_frames"]), int(clip["height"]), int(clip["width"])) if clip else None


def _read_meta(model_dir: Path) -> dict[str, Any]:
    path = model_dir / GENERATOR_META
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise GeneratorLoadError(f"{path}: invalid JSON ({exc})") from exc


def build_tiny_tokenizer(vocab_size: int = 320) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with T5's conventions: pad id 0, `</s>` appended to every text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        show_progress=False,
        special_tokens=["<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_TOKENIZER_CORPUS, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def build_tiny_generator(
    out_dir: str | Path,
    *,
    seed: int = 0,
    codec: str = "wan_vae",
    text_dim: int = 32,
    num_layers: int = 2,
    num_attention_heads: int = 2,
    attention_head_dim: int = 12,
    ffn_dim: int = 32,
    max_sequence_length: int = 16,
    shift: float = 7.0,
) -> Path:
    """Write a random-weight tiny Wan generator to `out_dir` (load it with `load_generator`).

    codec="wan_vae" uses the tiny Wan VAE as latent space (16 channels, 4× time, 8× space);
    codec="pixel_unshuffle" uses a 2× space-to-channel transform (12 channels), exactly invertible.
    """
    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    tokenizer = build_tiny_tokenizer()
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(tokenizer),
            d_model=text_dim,
            d_kv=8,
            d_ff=2 * text_dim,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            dropout_rate=0.0,
            pad_token_id=0,
            eos_token_id=1,
        )
    ).eval()
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    ).eval()
    latent_codec = PixelUnshuffleCodec(2) if codec == "pixel_unshuffle" else None
    if codec not in ("wan_vae", "pixel_unshuffle"):
        raise ValueError(f"unknown codec {codec!r}; choose 'wan_vae' or 'pixel_unshuffle'")
    channels = 16 if latent_codec is None else latent_codec.latent_shape(1, 2, 2)[0]
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=num_attention_heads,
        attention_head_dim=attention_head_dim,
        in_channels=channels,
        out_channels=channels,
        text_dim=text_dim,
        freq_dim=256,
        ffn_dim=ffn_dim,
        num_layers=num_layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    pipe = WanPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler, transformer=transformer
    )
    pipe.save_pretrained(out_dir)
    meta = {
        "codec": {"kind": "wan_vae"} if latent_codec is None else latent_codec.spec(),
        "max_sequence_length": max_sequence_length,
    }
    (out_dir / GENERATOR_META).write_text(json.dumps(meta, indent=2))
    logger.info("wrote a tiny generator to %s", out_dir)
    return out_dir
