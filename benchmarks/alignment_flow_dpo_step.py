"""Time one Flow-DPO optimiser step (policy forward+backward on a pair, reference forward with the adapter off).

  .venv/bin/python benchmarks/alignment_flow_dpo_step.py --shape tiny              # CPU, REFERENCE §7 sizes
  python benchmarks/alignment_flow_dpo_step.py --shape wan-1.3b --device cuda --gradient-checkpointing
      # Wan 2.1 1.3B transformer, random weights, bf16; 33 frames of 480×832 → latents 16×9×60×104, text 512×4096

Latents are cached once before training, so the VAE is not part of a step. Prints one JSON line of figures.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from diffusers import WanTransformer3DModel

from alignment.config import TrainConfig
from alignment.train import add_lora, flow_dpo_step

SHAPES = {
    "tiny": {
        "transformer": dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
                            out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
                            cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32),
        "latent": (16, 3, 4, 4),  # 9 frames of 32×32 through the Wan VAE
        "text": (16, 32),
    },
    "wan-1.3b": {
        "transformer": dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16,
                            out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30,
                            cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024),
        "latent": (16, 9, 60, 104),  # 33 frames of 480×832: (33 − 1)/4 + 1 = 9, 480/8, 832/8
        "text": (512, 4096),
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=SHAPES, default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pairs", type=int, default=1, help="pairs per step")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=("auto", "float32", "bfloat16"), default="auto", help="auto: bf16 on cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shape = SHAPES[args.shape]
    if args.dtype == "auto":
        dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    else:
        dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(**shape["transformer"]).to(args.device)
    if dtype != torch.float32:
        keep = set(transformer._keep_in_fp32_modules)  # what from_pretrained(dtype=bf16) keeps in fp32
        for name, p in transformer.named_parameters():
            if not keep & set(name.split(".")):
                p.data = p.data.to(dtype)
    config = TrainConfig(method="flow-dpo", lora={"rank": 16, "alpha": 32}, learning_rate=1e-4, progress_bar=False,
                         gradient_checkpointing=args.gradient_checkpointing)
    params = add_lora(transformer, config)
    for p in params:  # trainable LoRA weights in fp32, the frozen base in bf16 on GPU
        p.data = p.data.float()
    if args.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    transformer.train()
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    g = torch.Generator().manual_seed(0)
    batch = {
        "latents_w": torch.randn(args.pairs, *shape["latent"], generator=g).to(args.device, dtype),
        "latents_l": torch.randn(args.pairs, *shape["latent"], generator=g).to(args.device, dtype),
        "embeds": torch.randn(args.pairs, *shape["text"], generator=g).to(args.device, dtype),
    }
    cuda = args.device.startswith("cuda")
    times = []
    for i in range(args.warmup + args.steps):
        if cuda:
            torch.cuda.synchronize()
            if i == args.warmup:
                torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        out = flow_dpo_step(transformer, batch, torch.Generator().manual_seed(i), config)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if cuda:
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    c, f, h, w = shape["latent"]
    figures = {
        "shape": args.shape,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "dtype": str(dtype).removeprefix("torch."),
        "pairs_per_step": args.pairs,
        "video_tokens": f * (h // 2) * (w // 2),
        "gradient_checkpointing": args.gradient_checkpointing,
        "transformer_params_m": round(sum(p.numel() for p in transformer.parameters()) / 1e6, 3),
        "lora_params_m": round(sum(p.numel() for p in params) / 1e6, 3),
        "step_s_median": round(statistics.median(times), 4),
        "step_s_mean": round(statistics.fmean(times), 4),
        "final_loss": round(out.loss.item(), 4),
    }
    if cuda:
        figures["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
