"""Pretraining the tiny Qwen2-VL as a captioner of synthetic clips (``python -m rewards pretrain-base``).

A random tiny VLM trained on preference pairs learns some visual quality but neither motion quality nor
prompt binding (REFERENCE §7); a real reward model starts from a VLM that already describes what it sees.
This recipe gives the tiny one that start: it renders clips of the synthetic world (``synthetic``), encodes
them to mp4 and reads them back through the reward model's own video path (``rewards.video_input``), and
trains next-token prediction of ``rewards.captions`` texts — the clip's visual defects, motion defects, its
mismatches with the prompt and a caption of what is visible. The result is saved like a downloaded
Qwen2-VL-2B-Instruct (``config.json``, safetensors weights, tokenizer), so ``RewardNetwork.from_base`` loads
it through the same ``from_pretrained(dir)`` path, plus ``pretrain_info.json`` (the recipe, the video
settings the reward model must use with it, and the measured losses and times).

Cache: ``ensure_pretrained_base`` keeps one directory per recipe under ``VIDPREF_VAR`` (default: the
repository's ``var/``) at ``rewards/tiny_base/<hash of the recipe>/``, and the rendered clips under
``rewards/pretrain_clips/<hash of the clip settings>/``; a missing or half-written entry is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase, Qwen2VLForConditionalGeneration

from rewards.captions import LEVELS, Caption, describe
from rewards.config import ConfigError, ModelConfig, VideoConfig
from rewards.patch_basis import init_patch_embedding
from rewards.pause import wait_while_paused
from rewards.pretrain_sequences import (
    READOUT_LAYOUT,
    READOUT_TARGETS,
    ReadoutHeads,
    caption_loss,
    hidden_states,
    labelled_logits,
    level_token_ids,
    make_batch,
    number_corpus,
    number_token_ids,
    readout_layout,
    readout_levels,
    reward_token_ids,
)
from rewards.tiny_base import tiny_qwen2vl_config
from rewards.tokenizer import IMAGE_PAD, VIDEO_PAD, VISION_END, VISION_START, build_tiny_tokenizer
from rewards.video_input import patchify, sample_frames

logger = logging.getLogger(__name__)

INFO_FILE = "pretrain_info.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
ProgressCallback = Callable[[dict[str, Any]], None]


def var_root() -> Path:
    """Where expensive artefacts are cached: $VIDPREF_VAR, else the repository's git-ignored var/."""
    return Path(os.environ.get("VIDPREF_VAR", REPO_ROOT / "var"))


@dataclass(frozen=True)
class PretrainConfig:
    """The captioning recipe. Defaults: the measured tips of issue 6 (112×112, 16 frames → 8 temporal
    tokens, initializer_range 0.1, lr 1e-3), DCT starting filters for the patch embedding, half the clips as
    the checklist readout with levels regressed at the reward tokens (the best learning figures measured,
    docs/rewards/README.md), and a budget of 28 minutes of process CPU time (the bar allows 30)."""

    n_clips: int = 2000
    held_out: int = 120
    size: int = 112
    frames: int = 16
    fps: float = 8.0
    hidden_size: int = 96
    num_layers: int = 3
    vision_depth: int = 2
    vision_embed_dim: int = 48
    # Frames per vision patch. Qwen2-VL's is 2, and its vision blocks attend within one temporal patch, so a
    # tower of this size compares frames only inside it; 4 lets it see three frame-to-frame changes (jitter,
    # held frames, flicker) before the language layers. The DCT start adds the higher temporal frequencies
    # after its first 48 channels, so they need a vision_embed_dim above 48 (80 holds all 32 of them for 4
    # frames); measured with the direct probe it saw no motion defect either (docs/rewards/README.md).
    temporal_patch_size: int = 2
    initializer_range: float = 0.1
    # The vision tower's own (None: the same). See docs/rewards/README.md for what each value learnt.
    vision_initializer_range: float | None = None
    # The patch embedding's starting filters: "random" (the initializer) or "dct" (rewards.patch_basis: the
    # frequency balance and frame differences that noise, blur and motion show in, × patch_init_scale).
    patch_init: str = "dct"
    patch_init_scale: float = 1.0
    vocab_size: int = 640
    lr: float = 1e-3
    # The vision tower and merger learn at lr × this: they start from random weights and must learn what
    # the clip shows, while the text side mostly learns a fixed layout.
    vision_lr_scale: float = 1.0
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    warmup_steps: int = 30
    batch_size: int = 8
    epochs: int = 30  # an upper bound: the CPU budget ends the run first
    # The budget is process CPU time (this process and its rendering workers, from the start), so that the
    # recipe does the same work on a busy machine as on an idle one; training stops, and the learning rate
    # has decayed, when it is spent (or after ``epochs``). 0.5 minute is kept for the held-out figures and
    # saving. Run with OMP_WAIT_POLICY=PASSIVE (the CLI sets it): spinning OpenMP threads waste ~10×.
    max_cpu_minutes: float = 28.0
    seed: int = 0
    # In the sparse half of the clips each defect is present with this probability (uniform severity), so
    # that the level words are not dominated by "none".
    defect_rate: float = 0.25
    # Share of training clips laid out as the reward model's template, the flaw totals predicted at its
    # reward tokens (``rewards.pretrain_sequences``); the rest are captions. 0: a captioner only, whose
    # tokenizer has no reward tokens (the reward model adds them).
    readout_share: float = 0.5
    # What the readout trains at the reward tokens: "total" (the flaw total as a number word) or "levels"
    # (every defect level, regressed by pretraining-only linear heads); see rewards.pretrain_sequences.
    readout_target: str = "levels"
    # The readout's template lists each dimension's defect words before its token, each labelled with its
    # level (rewards.pretrain_sequences.CHECKLIST); the reward model then uses that template (read_info).
    readout_checklist: bool = True
    workers: int = 2  # rendering processes
    threads: int = 2

    def __post_init__(self) -> None:
        def need(cond: bool, message: str) -> None:
            if not cond:
                raise ConfigError(message)

        need(self.n_clips >= 2, f"pretrain n_clips must be >= 2, got {self.n_clips}")
        need(0 <= self.held_out < self.n_clips, f"pretrain held_out must be in [0, n_clips), got {self.held_out}")
        need(self.size >= 28 and self.size % 28 == 0, f"pretrain size must be a multiple of 28, got {self.size}")
        need(self.frames >= 2 and self.frames % 2 == 0, f"pretrain frames must be even and >= 2, got {self.frames}")
        need(self.fps > 0, f"pretrain fps must be > 0, got {self.fps}")
        need(self.temporal_patch_size >= 1 and self.frames % self.temporal_patch_size == 0,
             f"pretrain frames ({self.frames}) must be a multiple of temporal_patch_size ({self.temporal_patch_size})")
        need(self.hidden_size % 4 == 0 and self.hidden_size >= 16, "pretrain hidden_size must be a multiple of 4, >= 16")
        need(self.vision_embed_dim % 4 == 0, "pretrain vision_embed_dim must be a multiple of 4 (4 heads)")
        need(min(self.num_layers, self.vision_depth) >= 1, "pretrain num_layers and vision_depth must be >= 1")
        need(self.lr > 0 and 0 < self.min_lr_ratio <= 1, "pretrain lr must be > 0 and min_lr_ratio in (0, 1]")
        need(self.batch_size >= 1 and self.epochs >= 1, "pretrain batch_size and epochs must be >= 1")
        need(self.max_cpu_minutes > 0.5, f"pretrain max_cpu_minutes must be > 0.5, got {self.max_cpu_minutes}")
        need(self.workers >= 1 and self.threads >= 1, "pretrain workers and threads must be >= 1")
        need(self.patch_init in ("random", "dct"), f"pretrain patch_init must be random or dct, got {self.patch_init!r}")
        need(0 <= self.readout_share <= 1, f"pretrain readout_share must be in [0, 1], got {self.readout_share}")
        need(self.readout_target in READOUT_TARGETS,
             f"pretrain readout_target must be one of {READOUT_TARGETS}, got {self.readout_target!r}")

    def video_config(self) -> VideoConfig:
        """The reward model's sampling that sees exactly these clips: every frame, at the rendered size."""
        return VideoConfig(fps=self.fps, min_frames=min(4, self.frames), max_frames=self.frames,
                           min_pixels=self.size * self.size, max_pixels=self.size * self.size,
                           temporal_patch_size=self.temporal_patch_size)

    def reward_template(self) -> ModelConfig:
        """The template a reward model on this base should use: the one its readout trained."""
        return readout_layout(self.readout_share > 0 and self.readout_checklist)

    def clip_key(self) -> str:
        # Not n_clips: clip i is the same for any n_clips, so a larger run reuses a smaller one's clips.
        keys = ("size", "frames", "fps", "seed") + (("defect_rate",) if self.defect_rate != 0.25 else ())
        return _digest({k: getattr(self, k) for k in keys})

    def key(self) -> str:
        """What the saved weights depend on (not the rendering worker count or the thread count)."""
        # The readout joined the recipe later: left off (these values) it keeps the key of the bases built before.
        later = {"readout_share": 0.0, "readout_target": "total", "readout_checklist": False, "temporal_patch_size": 2}
        return _digest({k: v for k, v in asdict(self).items() if k not in ("workers", "threads")
                        and not (k in later and v == later[k])})


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the rendering workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _digest(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ClipSpec:
    prompt: str
    seed: int
    defects: dict[str, float]

    def caption(self) -> Caption:
        from synthetic.defects import Defects
        from synthetic.prompts import parse_prompt

        return describe(parse_prompt(self.prompt), Defects(**self.defects))


def clip_specs(cfg: PretrainConfig) -> list[ClipSpec]:
    """Prompts drawn over the whole grammar; defects half from the named generators (their typical mixes),
    half sparse and uniform in severity (so every defect is seen alone and at every level)."""
    from synthetic.defects import DEFECT_NAMES, Defects
    from synthetic.generators import GENERATORS
    from synthetic.prompts import sample_prompt

    rng = np.random.default_rng([cfg.seed, 7919])
    profiles = list(GENERATORS.values())
    specs = []
    for i in range(cfg.n_clips):
        attrs = sample_prompt(rng)
        if i % 2 == 0:
            defects = profiles[int(rng.integers(len(profiles)))].sample(rng)
        else:
            present = rng.random(len(DEFECT_NAMES)) < cfg.defect_rate
            defects = Defects(**{n: float(rng.uniform(0.05, 1.0)) if p else 0.0
                                 for n, p in zip(DEFECT_NAMES, present, strict=True)})
        specs.append(ClipSpec(prompt=attrs.text, seed=int(rng.integers(2**31)), defects=defects.to_dict()))
    return specs


def _render_one(job: tuple[ClipSpec, int, int, float, str]) -> None:
    from synthetic.defects import Defects
    from synthetic.encode import encode_frames
    from synthetic.render import RenderConfig, render_frames

    spec, size, frames, fps, path = job
    pixels = render_frames(spec.prompt, spec.seed, Defects(**spec.defects), RenderConfig(frames=frames, fps=fps,
                                                                                         size=size))
    tmp = f"{path}.tmp"
    Path(tmp).write_bytes(encode_frames(pixels, fps=fps))
    os.replace(tmp, path)


def render_clips(cfg: PretrainConfig, directory: Path, specs: Sequence[ClipSpec]) -> list[Path]:
    """mp4 files for the specs (kept between runs: only missing files are rendered)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{i:05d}.mp4" for i in range(len(specs))]
    jobs = [(s, cfg.size, cfg.frames, cfg.fps, str(p)) for s, p in zip(specs, paths, strict=True) if not p.is_file()]
    if jobs:
        logger.info("rendering %d pretraining clips into %s", len(jobs), directory)
        if cfg.workers == 1:
            for job in jobs:
                _render_one(job)
        else:
            with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
                list(pool.map(_render_one, jobs, chunksize=32))
    return paths


# --- the run ---------------------------------------------------------------------------------------------


@dataclass
class PretrainResult:
    directory: Path
    steps: int
    epochs_done: float
    first_loss: float
    last_loss: float
    held_out: dict[str, float] = field(default_factory=dict)
    render_seconds: float = 0.0
    train_seconds: float = 0.0
    cpu_seconds: float = 0.0


def _corpus(specs: Sequence[ClipSpec], readout: bool) -> list[str]:
    texts = number_corpus() if readout else []
    for spec in specs:
        cap = spec.caption()
        texts += [spec.prompt, " ".join(text for text, _ in cap.pieces(spec.prompt))]
    return texts


def build_tokenizer(cfg: PretrainConfig, specs: Sequence[ClipSpec]) -> PreTrainedTokenizerBase:
    """The tiny BPE over the captions; with a readout, also the reward tokens and one token per total."""
    numbers = cfg.readout_share > 0 and cfg.readout_target == "total"
    tokenizer = build_tiny_tokenizer(_corpus(specs, numbers), vocab_size=cfg.vocab_size)
    if cfg.readout_share > 0:
        reward_token_ids(tokenizer)
    # Fail now, not mid-run, if a word the readout labels with splits.
    if numbers:
        number_token_ids(tokenizer)
    if cfg.readout_share > 0 and cfg.readout_checklist:
        level_token_ids(tokenizer)
    return tokenizer


def build_model(cfg: PretrainConfig, tokenizer: PreTrainedTokenizerBase,
                sample_patches: np.ndarray | None = None) -> Qwen2VLForConditionalGeneration:
    vocab = tokenizer.get_vocab()
    ids = {t: vocab[t] for t in (VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)}
    ids["pad"] = tokenizer.pad_token_id
    config = tiny_qwen2vl_config(vocab_size=len(tokenizer), token_ids=ids, hidden_size=cfg.hidden_size,
                                 num_layers=cfg.num_layers, vision_depth=cfg.vision_depth,
                                 vision_embed_dim=cfg.vision_embed_dim, initializer_range=cfg.initializer_range,
                                 vision_initializer_range=cfg.vision_initializer_range,
                                 temporal_patch_size=cfg.temporal_patch_size)
    torch.manual_seed(cfg.seed)
    model = Qwen2VLForConditionalGeneration(config)
    if cfg.patch_init == "dct":
        init_patch_embedding(model.model.visual, cfg.patch_init_scale, cfg.seed, sample_patches)
    return model


@torch.no_grad()
def held_out_metrics(model: Qwen2VLForConditionalGeneration, tokenizer: PreTrainedTokenizerBase,
                     frames: Sequence[np.ndarray], specs: Sequence[ClipSpec], video_cfg: VideoConfig,
                     batch_size: int) -> dict[str, float]:
    """Captioning loss, the share of defect-level words predicted exactly, and per defect the correlation
    between the expected level the captioner predicts (softmax over the five level words) and the true
    level, on clips never trained on. Teacher-forced: each level is predicted after the dimension's true
    flaw total and the levels before it, so the last defect of a dimension is implied by arithmetic and the
    others partly — an upper bound on what the base sees; ``held_out_readout``'s checklist figures are not."""
    from synthetic.defects import DEFECT_NAMES

    was_training = model.training
    model.eval()
    level_list = tokenizer.convert_tokens_to_ids([tokenizer.tokenize(f" {w}")[0] for w in LEVELS])
    level_ids = set(level_list)
    losses, hits, total, n_level, level_hits = [], 0, 0, 0, 0
    expected, truth = [], []
    for start in range(0, len(specs), batch_size):
        chunk = specs[start:start + batch_size]
        batch = make_batch(tokenizer, frames[start:start + batch_size], [s.prompt for s in chunk],
                           [s.caption() for s in chunk], video_cfg)
        logits, targets, _ = labelled_logits(model, batch)
        losses.append(F.cross_entropy(logits, targets, reduction="sum").item())
        predicted = logits.argmax(-1)
        hits += int((predicted == targets).sum())
        total += int(targets.numel())
        is_level = torch.tensor([int(t) in level_ids for t in targets], dtype=torch.bool)
        n_level += int(is_level.sum())
        level_hits += int((predicted[is_level] == targets[is_level]).sum())
        # The level words come in DEFECT_NAMES order, one per defect and clip.
        probs = logits[is_level][:, level_list].softmax(-1)
        expected.append((probs * torch.arange(len(LEVELS))).sum(-1).numpy())
        truth.append(np.array([level_list.index(int(t)) for t in targets[is_level]]))
    model.train(was_training)
    per_defect = {}
    exp, tru = np.concatenate(expected), np.concatenate(truth)
    if len(exp) == len(specs) * len(DEFECT_NAMES):
        exp, tru = exp.reshape(len(specs), -1), tru.reshape(len(specs), -1)
        for k, name in enumerate(DEFECT_NAMES):
            ok = tru[:, k].std() > 0 and exp[:, k].std() > 0
            per_defect[name] = round(float(np.corrcoef(exp[:, k], tru[:, k])[0, 1]), 3) if ok else float("nan")
    return {"loss": sum(losses) / max(total, 1), "token_accuracy": hits / max(total, 1),
            "level_word_accuracy": level_hits / max(n_level, 1),
            "level_none_rate": float(np.mean(tru == 0)) if len(tru) else float("nan"),
            "level_correlation": per_defect, "clips": len(specs)}


@torch.no_grad()
def held_out_readout(model: Qwen2VLForConditionalGeneration, tokenizer: PreTrainedTokenizerBase,
                     frames: Sequence[np.ndarray], specs: Sequence[ClipSpec], video_cfg: VideoConfig,
                     batch_size: int, heads: ReadoutHeads | None = None,
                     layout_cfg: ModelConfig = READOUT_LAYOUT) -> dict[str, Any]:
    """In the reward template, per dimension: the correlation between the flaw total the base predicts at
    the reward token and the true one — the expected number word (softmax over them), or with ``heads``
    the sum of the regressed levels. With a checklist, also per defect the correlation of the expected
    level predicted at its word with the true level: nothing about the levels is in the input there."""
    was_training = model.training
    model.eval()
    numbers = number_token_ids(tokenizer) if heads is None else None
    values = torch.arange(len(numbers or ()), dtype=torch.float32)
    expected, truth, word_expected, word_truth = [], [], [], []
    levels = torch.tensor(level_token_ids(tokenizer)) if layout_cfg.checklist else None
    for start in range(0, len(specs), batch_size):
        chunk = specs[start:start + batch_size]
        captions = [s.caption() for s in chunk]
        batch = make_batch(tokenizer, frames[start:start + batch_size], [s.prompt for s in chunk], captions,
                           video_cfg, readout=[True] * len(chunk),
                           readout_target="total" if heads is None else "levels", layout_cfg=layout_cfg)
        hidden = hidden_states(model, batch)
        logits, targets, _ = labelled_logits(model, batch, hidden)
        if heads is None:
            at_tokens = torch.isin(targets, torch.tensor(numbers))  # three per clip, in VQ, MQ, TA order
            expected.append((logits[at_tokens][:, numbers].softmax(-1) * values).sum(-1).reshape(-1, 3).numpy())
        else:
            predicted, _ = readout_levels(heads, batch, hidden)
            expected.append(np.stack([part.sum(-1).numpy() for part in predicted.split(heads.sizes, dim=-1)], 1))
        truth.append(np.array([c.totals for c in captions]))
        if levels is not None:  # the checklist words' labels are level words, 17 per clip in DEFECT_NAMES order
            at_words = torch.isin(targets, levels)
            word_expected.append((logits[at_words][:, levels].softmax(-1) * torch.arange(len(levels))).sum(-1))
            word_truth.append(torch.tensor([lv for c in captions for dim in c.levels for lv in dim]))
    model.train(was_training)
    result: dict[str, Any] = {"readout_correlation": _correlations(
        np.concatenate(expected), np.concatenate(truth), ("VQ", "MQ", "TA"))}
    if word_expected:
        from synthetic.defects import DEFECT_NAMES

        result["checklist_level_correlation"] = _correlations(
            torch.cat(word_expected).reshape(-1, len(DEFECT_NAMES)).numpy(),
            torch.cat(word_truth).reshape(-1, len(DEFECT_NAMES)).numpy(), DEFECT_NAMES)
    return result


def _correlations(predicted: np.ndarray, true: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Per column, Pearson's r of predicted against true (NaN where either is constant)."""
    return {name: round(float(np.corrcoef(predicted[:, k], true[:, k])[0, 1]), 3)
            if predicted[:, k].std() > 0 and true[:, k].std() > 0 else float("nan")
            for k, name in enumerate(names)}


def pretrain_base(out_dir: str | Path, cfg: PretrainConfig, *, clip_dir: str | Path | None = None,
                  progress: ProgressCallback | None = None, max_steps: int | None = None) -> PretrainResult:
    """Render (or reuse) the clips, train the captioner, and save it as a Qwen2-VL model directory."""
    # torch's thread count is process-wide: restore it, so that later work in the same process (a worker, a
    # test session) computes with the threads it expects — float sums differ between thread counts.
    previous = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _pretrain_base(out_dir, cfg, clip_dir=clip_dir, progress=progress, max_steps=max_steps)
    finally:
        torch.set_num_threads(previous)


def _pretrain_base(out_dir: str | Path, cfg: PretrainConfig, *, clip_dir: str | Path | None,
                   progress: ProgressCallback | None, max_steps: int | None) -> PretrainResult:
    out_dir = Path(out_dir)
    cpu_start = _cpu_seconds()
    wall_start = time.perf_counter()
    specs = clip_specs(cfg)
    clip_dir = Path(clip_dir) if clip_dir is not None else var_root() / "rewards" / "pretrain_clips" / cfg.clip_key()
    paths = render_clips(cfg, clip_dir, specs)
    video_cfg = cfg.video_config()
    frames = [sample_frames(p, video_cfg).frames for p in paths]  # the reward model's decoding path
    render_seconds = time.perf_counter() - wall_start
    logger.info("clips ready in %.0f s", render_seconds)

    tokenizer = build_tokenizer(cfg, specs)
    n_train = cfg.n_clips - cfg.held_out
    sample = None
    if cfg.patch_init == "dct":  # every 7th patch of every 10th training clip sets the filters' scales
        sample = np.concatenate([patchify(frames[i], video_cfg).pixel_values[::7]
                                 for i in range(0, n_train, 10)])
    model = build_model(cfg, tokenizer, sample)
    heads = ReadoutHeads(cfg.hidden_size) if cfg.readout_share > 0 and cfg.readout_target == "levels" else None
    train_idx = np.arange(n_train)
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    named = [*model.named_parameters(), *(heads.named_parameters(prefix="readout") if heads else ())]
    for name, p in named:
        key = (".visual." in f".{name}", not (p.ndim < 2 or "embed" in name))  # (vision side, decays)
        groups.setdefault(key, []).append(p)
    optimizer = torch.optim.AdamW([
        {"params": params, "weight_decay": cfg.weight_decay if decays else 0.0,
         "base_lr": cfg.lr * (cfg.vision_lr_scale if vision else 1.0)}
        for (vision, decays), params in sorted(groups.items())], lr=cfg.lr)
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    train_cpu_start = _cpu_seconds()
    budget = max(1.0, (cfg.max_cpu_minutes - 0.5) * 60.0 - (train_cpu_start - cpu_start))  # CPU s for training

    def lr_factor(step: int, spent: float) -> float:
        # Warm-up, then cosine to min_lr_ratio over whichever runs out first: the steps or the CPU budget.
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        done = min(1.0, max(step / total_steps, spent / budget))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * done))

    model.train()
    rng = np.random.default_rng([cfg.seed, 1])
    layout_rng = np.random.default_rng([cfg.seed, 2])  # its own stream: readout_share 0 keeps the old order
    step, losses = 0, []
    train_start = time.perf_counter()
    stop = False
    for epoch in range(cfg.epochs):
        order = rng.permutation(train_idx)
        for start in range(0, n_train, cfg.batch_size):
            elapsed = time.perf_counter() - train_start
            spent = _cpu_seconds() - train_cpu_start
            if spent >= budget or (max_steps is not None and step >= max_steps):
                stop = True
                break
            idx = order[start:start + cfg.batch_size]
            batch = make_batch(tokenizer, [frames[i] for i in idx], [specs[i].prompt for i in idx],
                               [specs[i].caption() for i in idx], video_cfg,
                               readout=list(layout_rng.random(len(idx)) < cfg.readout_share),
                               readout_target=cfg.readout_target, layout_cfg=cfg.reward_template())
            wait_while_paused()
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * lr_factor(step, spent)
            loss = caption_loss(model, batch, heads)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
            optimizer.step()
            step += 1
            losses.append(loss.item())
            if progress is not None or step % 50 == 0:
                record = {"event": "step", "step": step, "epoch": epoch, "loss": losses[-1],
                          "lr": optimizer.param_groups[0]["lr"], "elapsed_s": round(elapsed, 1),
                          "cpu_s": round(spent, 1)}
                if progress is not None:
                    progress(record)
                if step % 50 == 0:
                    logger.info("pretrain step %d epoch %d loss %.4f (%.0f s wall, %.0f s CPU)", step, epoch,
                                sum(losses[-50:]) / len(losses[-50:]), elapsed, spent)
        if stop:
            break
    train_seconds = time.perf_counter() - train_start

    held = {}
    if cfg.held_out:
        held = held_out_metrics(model, tokenizer, frames[n_train:], specs[n_train:], video_cfg, cfg.batch_size)
        if cfg.readout_share > 0:
            held.update(held_out_readout(model, tokenizer, frames[n_train:], specs[n_train:], video_cfg,
                                         cfg.batch_size, heads, cfg.reward_template()))
        logger.info("held-out captioning: %s", held)
    result = PretrainResult(
        directory=out_dir, steps=step, epochs_done=step / steps_per_epoch,
        first_loss=float(np.mean(losses[:10])) if losses else float("nan"),
        last_loss=float(np.mean(losses[-10:])) if losses else float("nan"),
        held_out=held, render_seconds=render_seconds, train_seconds=train_seconds,
        cpu_seconds=_cpu_seconds() - cpu_start,
    )
    save_base(out_dir, model, tokenizer, cfg, result)
    return result


def save_base(out_dir: Path, model: Qwen2VLForConditionalGeneration, tokenizer: PreTrainedTokenizerBase,
              cfg: PretrainConfig, result: PretrainResult) -> Path:
    """Write like a downloaded checkpoint, into a temporary folder renamed at the end (never half-written)."""
    tmp = out_dir.with_name(out_dir.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    info = {"recipe": asdict(cfg), "key": cfg.key(), "video": asdict(cfg.video_config()),
            "reward_template": {"checklist": cfg.reward_template().checklist},
            "result": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}}
    (tmp / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out_dir)
    return out_dir


def read_info(base_dir: str | Path) -> dict[str, Any]:
    path = Path(base_dir) / INFO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"not a pretrained tiny base (no {INFO_FILE}): {base_dir}")
    return json.loads(path.read_text(encoding="utf-8"))


def base_checklist(base_dir: str | Path) -> tuple[tuple[str, ...], ...]:
    """The checklist words the base's readout was trained with (none for a captioner-only base)."""
    return tuple(tuple(words) for words in read_info(base_dir).get("reward_template", {}).get("checklist", ()))


def base_video_config(base_dir: str | Path) -> VideoConfig:
    """The sampling the base was pretrained with; the reward model must read videos the same way."""
    return VideoConfig(**read_info(base_dir)["video"])


def cached_base_dir(cfg: PretrainConfig, root: str | Path | None = None) -> Path:
    return Path(root) if root is not None else var_root() / "rewards" / "tiny_base" / cfg.key()


def ensure_pretrained_base(cfg: PretrainConfig | None = None, root: str | Path | None = None) -> Path:
    """The cached base for this recipe, pretrained first when it is missing (the ~25-minute step)."""
    cfg = cfg or PretrainConfig()
    directory = cached_base_dir(cfg, root)
    if (directory / INFO_FILE).is_file() and (directory / "config.json").is_file():
        return directory
    logger.info("no pretrained tiny base at %s: pretraining it now (%.0f minutes of CPU)", directory,
                cfg.max_cpu_minutes)
    pretrain_base(directory, cfg)
    return directory
