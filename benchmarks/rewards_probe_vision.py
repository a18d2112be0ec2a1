# ruff: noqa: E402
"""Upper-bound probe: can the tiny Qwen2-VL vision tower (+ a 1-layer pooling transformer) regress each
defect's severity directly, in a few CPU minutes? Prints held-out Pearson r per defect (docs/rewards/README.md).

    .venv/bin/python benchmarks/rewards_probe_vision.py --cpu-min 3                   # random filters
    .venv/bin/python benchmarks/rewards_probe_vision.py --cpu-min 3 --dct 1 --whiten  # the base's start
    .venv/bin/python benchmarks/rewards_probe_vision.py --cpu-min 3 --dct 1 --whiten --temporal-patch 4 --width 64

Uses the pretraining clips of the default recipe (var/rewards/pretrain_clips/, rendered when the base was);
the decoded frames are kept in var/rewards/probe/frames.npy (1.2 GB)."""
import argparse
import json
import os
import time
from dataclasses import replace

# Before torch loads (the imports below): spinning OpenMP threads waste ~10x CPU on the shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)
from transformers import Qwen2VLForConditionalGeneration

from rewards.pretrain_base import PretrainConfig, clip_specs, var_root
from rewards.tiny_base import tiny_qwen2vl_config
from rewards.video_input import patchify, sample_frames
from synthetic.defects import DEFECT_NAMES
from synthetic.oracle import relevant
from synthetic.prompts import parse_prompt

p = argparse.ArgumentParser()
p.add_argument("--cpu-min", type=float, default=3.0)
p.add_argument("--depth", type=int, default=2)
p.add_argument("--width", type=int, default=48)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--bs", type=int, default=8)
p.add_argument("--init", type=float, default=0.1)
p.add_argument("--dct", type=float, default=0.0, help="DCT patch filters × this")
p.add_argument("--whiten", action="store_true")
p.add_argument("--diff", action="store_true", help="replace the 2nd frame of each temporal pair by a difference")
p.add_argument("--temporal-patch", type=int, default=2, help="frames per vision patch (Qwen2-VL: 2)")
a = p.parse_args()

cfg = PretrainConfig()
specs = clip_specs(cfg)
clip_dir = var_root() / "rewards" / "pretrain_clips" / cfg.clip_key()
vc = replace(cfg.video_config(), temporal_patch_size=a.temporal_patch)
T = cfg.frames // a.temporal_patch  # temporal tokens per clip
cache = var_root() / "rewards" / "probe" / "frames.npy"
cache.parent.mkdir(parents=True, exist_ok=True)
if cache.exists():
    frames = np.load(cache, mmap_mode="r")
else:
    frames = np.stack([sample_frames(clip_dir / f"{i:05d}.mp4", vc).frames for i in range(len(specs))])
    np.save(cache, frames)
Y = np.zeros((len(specs), 17), np.float32)
for i, s in enumerate(specs):
    attrs = parse_prompt(s.prompt)
    for k, n in enumerate(DEFECT_NAMES):
        Y[i, k] = s.defects[n] if relevant(n, attrs) else 0.0
n_train = cfg.n_clips - cfg.held_out

config = tiny_qwen2vl_config(vocab_size=64, token_ids={"<|vision_start|>": 1, "<|vision_end|>": 2, "<|image_pad|>": 3, "<|video_pad|>": 4, "pad": 0},
                             hidden_size=96, num_layers=1, vision_depth=a.depth, vision_embed_dim=a.width, initializer_range=a.init,
                             temporal_patch_size=a.temporal_patch)
torch.manual_seed(0)
visual = Qwen2VLForConditionalGeneration(config).model.visual
if a.dct:
    from rewards.patch_basis import init_patch_embedding
    sample = np.concatenate([patchify(np.asarray(frames[i]), vc).pixel_values[::7] for i in range(0, n_train, 10)]) if a.whiten else None
    W = init_patch_embedding(visual, a.dct, 0, sample)
    print("filter norms", np.linalg.norm(W.reshape(W.shape[0], -1), axis=1).round(1).tolist(), flush=True)

class Probe(nn.Module):
    def __init__(s):
        super().__init__()
        s.visual = visual
        s.tpos = nn.Parameter(torch.zeros(T, 96))
        s.spos = nn.Parameter(torch.zeros(16, 96))
        s.enc = nn.TransformerEncoderLayer(96, 4, 192, dropout=0.0, batch_first=True, norm_first=True)
        s.out = nn.Linear(96, 17)
    def forward(s, pv, thw, B):
        tok = s.visual(pv, grid_thw=thw).pooler_output.view(B, T, 16, 96)
        tok = tok + s.tpos[None, :, None] + s.spos[None, None]
        h = s.enc(tok.reshape(B, T * 16, 96))
        return s.out(h.mean(1))

def batch(idx):
    fr = [np.asarray(frames[i]) for i in idx]
    if a.diff:
        fr = [np.concatenate([f[0::2][:, None], np.clip(127.5 + (f[1::2].astype(np.int16) - f[0::2]) * 2, 0, 255).astype(np.uint8)[:, None]], 1).reshape(f.shape) for f in fr]
    ps = [patchify(f, vc) for f in fr]
    return (torch.from_numpy(np.concatenate([q.pixel_values for q in ps])),
            torch.from_numpy(np.stack([q.grid_thw for q in ps])))

model = Probe()
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
rng = np.random.default_rng(0)
t0, c0 = time.time(), time.process_time()
step = 0
while time.process_time() - c0 < a.cpu_min * 60:
    idx = rng.choice(n_train, a.bs, replace=False)
    pv, thw = batch(idx)
    pred = model(pv, thw, len(idx))
    loss = ((pred - torch.from_numpy(Y[idx])) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    step += 1
    if step % 100 == 0:
        print(step, round(loss.item(), 4), "gn", round(float(gn), 3), round(time.process_time() - c0), "cpu-s", flush=True)
model.eval()
P = []
with torch.no_grad():
    for s0 in range(n_train, cfg.n_clips, 8):
        idx = list(range(s0, min(s0 + 8, cfg.n_clips)))
        pv, thw = batch(idx)
        P.append(model(pv, thw, len(idx)).numpy())
P = np.concatenate(P)
T = Y[n_train:]
r = {n: float(np.corrcoef(P[:, k], T[:, k])[0, 1]) if T[:, k].std() > 0 else float("nan") for k, n in enumerate(DEFECT_NAMES)}
print(json.dumps({"args": vars(a), "steps": step, "cpu_s": round(time.process_time() - c0), "wall_s": round(time.time() - t0), "r": {k: round(v, 2) for k, v in r.items()}}))
