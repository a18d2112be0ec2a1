# ruff: noqa: E402
"""Frozen-base pairwise probe: logistic regression on (h_A − h_B) at each reward token, train pairs → val pairs
accuracy without ties (decided labels only): how much a base's reward tokens carry before any training.

    .venv/bin/python benchmarks/rewards_probe_pairs.py var/rewards/tiny_base/<recipe> var/rewards/worlds/<world> 800
"""
import csv
import json
import os
import sys

# Before torch loads (the imports below): spinning OpenMP threads waste ~10x CPU on the shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np
import torch

torch.set_num_threads(1)
from pathlib import Path

from rewards.clip_cache import ClipCache
from rewards.config import ModelConfig
from rewards.network import RewardNetwork
from rewards.pretrain_base import base_video_config, var_root

base, world, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
net = RewardNetwork.from_base(base, ModelConfig(reward_token_init="previous")).eval()
cache = ClipCache(var_root() / "rewards" / "clip_cache", base_video_config(base))
memo = {}
def feat(path, prompt):
    if path not in memo:
        with torch.no_grad():
            inp = net.encode([cache.patches(world / path)], [prompt])
            h = net.backbone(input_ids=inp.input_ids, attention_mask=inp.attention_mask, pixel_values_videos=inp.pixel_values_videos,
                             video_grid_thw=inp.video_grid_thw, mm_token_type_ids=inp.mm_token_type_ids, use_cache=False).last_hidden_state
            memo[path] = h[0, inp.reward_positions[0]].numpy()  # (3, H)
    return memo[path]
def load(split, k):
    rows = list(csv.DictReader(open(world / f"{split}.csv")))
    rows = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))[:k]]
    X = np.stack([feat(r["path_A"], r["prompt"]) - feat(r["path_B"], r["prompt"]) for r in rows])
    Y = np.array([[{"A": 1, "B": -1, "same": 0}[r[d]] for d in ("VQ", "MQ", "TA")] for r in rows])
    return X, Y
Xt, Yt = load("train", n)
Xv, Yv = load("val", 200)
res = {}
for d, name in enumerate(("VQ", "MQ", "TA")):
    m = Yt[:, d] != 0
    A, y = Xt[m, d], (Yt[m, d] > 0).astype(float)
    mu, sd = A.mean(0), A.std(0) + 1e-6
    w = np.zeros(A.shape[1])
    for _ in range(500):  # ridge-logistic by gradient descent on standardised features (no intercept: antisymmetric)
        p = 1 / (1 + np.exp(-(A / sd) @ w))
        w -= 0.1 * ((A / sd).T @ (p - y) / len(y) + 1e-2 * w)
    mv = Yv[:, d] != 0
    pred = (Xv[mv, d] / sd) @ w
    res[name] = round(float(np.mean(np.sign(pred) == Yv[mv, d])), 3)
print(json.dumps({"n_train_pairs": n, "val_acc_without_ties": res}))
