"""Reward-model training speed: pairs/s and the share of step time spent waiting for data, per epoch.

    .venv/bin/python benchmarks/rewards_train.py                  # tiny Qwen2-VL on CPU, 112×112 clips
    .venv/bin/python benchmarks/rewards_train.py --shape 2b       # Qwen2-VL-2B shape, random weights (GPU)

The first epoch decodes every clip (cache misses); later epochs read the clip cache, so their waiting
share should be small. With --shape 2b the base is written to disk with random weights in the real
Qwen2-VL-2B layout (hidden 1536, 28 layers, vision depth 32), trained in bf16 at 448×448, 2 fps.
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rewards.config import ModelConfig, RewardConfig, TrainConfig, VideoConfig
from rewards.tiny_base import write_tiny_base
from rewards.train import train


def write_clips_and_pairs(directory: Path, n_videos: int, n_pairs: int, size: int, frames: int, fps: int) -> Path:
    import av

    rng = np.random.default_rng(0)
    for i in range(n_videos):
        with av.open(str(directory / f"v{i}.mp4"), mode="w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width = stream.height = size
            stream.pix_fmt = "yuv420p"
            base = rng.integers(0, 256, 3)
            for t in range(frames):
                frame = np.clip(base + rng.normal(0, 10 * (i % 4), (size, size, 3)), 0, 255).astype(np.uint8)
                frame[:, (t * 4) % size: (t * 4) % size + size // 8] = 255  # a moving bar
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    lines = ["path_A,path_B,prompt,VQ,MQ,TA,fps_A,num_frames_A,fps_B,num_frames_B"]
    for p in range(n_pairs):
        a, b = rng.choice(n_videos, 2, replace=False)
        label = "A" if a % 4 < b % 4 else "B" if a % 4 > b % 4 else "same"
        lines.append(f"v{a}.mp4,v{b}.mp4,prompt {p % 20},{label},{label},{label},{fps},{frames},{fps},{frames}")
    (directory / "pairs.csv").write_text("\n".join(lines) + "\n")
    return directory / "pairs.csv"


def write_2b_shape_base(directory: Path) -> Path:
    """Random weights in the Qwen2-VL-2B-Instruct layout, saved like a downloaded checkpoint."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    from rewards.tokenizer import IMAGE_PAD, VIDEO_PAD, VISION_END, VISION_START, build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    vocab = tokenizer.get_vocab()
    config = Qwen2VLConfig(
        text_config={"vocab_size": 151936, "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                     "num_attention_heads": 12, "num_key_value_heads": 2, "max_position_embeddings": 32768,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
                     "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.pad_token_id},
        vision_config={"depth": 32, "embed_dim": 1280, "hidden_size": 1536, "num_heads": 16, "patch_size": 14,
                       "spatial_merge_size": 2, "temporal_patch_size": 2},
        image_token_id=vocab[IMAGE_PAD], video_token_id=vocab[VIDEO_PAD],
        vision_start_token_id=vocab[VISION_START], vision_end_token_id=vocab[VISION_END], tie_word_embeddings=True)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2VLForConditionalGeneration(config).to(torch.bfloat16)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=("tiny", "2b"), default="tiny")
    parser.add_argument("--pairs", type=int, default=0, help="default: 96 (tiny) / 64 (2b)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="data-loader worker processes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tiny = args.shape == "tiny"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "media").mkdir()
        size, seconds = (112, 4) if tiny else (448, 4)
        fps_file = 8
        csv_path = write_clips_and_pairs(tmp / "media", 24, args.pairs or (96 if tiny else 64), size,
                                         seconds * fps_file, fps_file)
        base = write_tiny_base(tmp / "base") if tiny else write_2b_shape_base(tmp / "base")
        video = (VideoConfig(min_pixels=28 * 28, max_pixels=112 * 112, fps=2.0) if tiny
                 else VideoConfig(fps=2.0))
        train_cfg = TrainConfig(loss="btt", lora_r=4 if tiny else 64, lora_alpha=8 if tiny else 128,
                                batch_size=4 if tiny else 1, grad_accum=1 if tiny else 4, epochs=args.epochs,
                                lr_head=1e-3, precision="no" if tiny else "bf16", val_fraction=0.1,
                                num_workers=args.workers)
        config = RewardConfig(video=video, model=ModelConfig(base=str(base)), train=train_cfg)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        train(csv_path, config, tmp / "out")
        total = time.perf_counter() - start
        epochs = [json.loads(line) for line in (tmp / "out" / "metrics.jsonl").read_text().splitlines()]
        epochs = [e for e in epochs if e["event"] == "epoch"]
        print(f"shape={args.shape} device={'cuda' if torch.cuda.is_available() else 'cpu'} "
              f"threads={torch.get_num_threads()} workers={args.workers} clip={size}x{size}, {seconds}s at {fps_file} fps → 2 fps sampling")
        for e in epochs:
            cache = f", cache hits/misses so far {e['cache_hits']}/{e['cache_misses']}" if "cache_hits" in e else ""
            print(f"epoch {e['epoch']}: {e['pairs_per_second']:.2f} pairs/s, "
                  f"data wait {100 * e['data_wait_share']:.1f}% of step time{cache}")
        if torch.cuda.is_available():
            print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
        print(f"total wall time {total:.1f} s (incl. model load and validation)")


if __name__ == "__main__":
    main()
