"""A structured starting point for the tiny vision tower's patch embedding: 3-D DCT filters.

Why: the Qwen2-VL patch embedding is one linear map from a 2×14×14 RGB patch to ``embed_dim`` channels, and
every block after it normalises each token (LayerNorm), so a token's overall energy is lost and only the
ratios between channels survive. From random filters the tiny tower learnt brightness and contrast but, in
minutes of CPU, never noise, blur or motion (measured: probe correlations ≤ 0.15 even when trained to
regress the severities directly). Those defects live in the balance between high and low spatial
frequencies, and in the difference between the two frames of a temporal patch. Starting the filters as a
chosen set of DCT basis functions puts that balance into explicit channels from step one; training then
adjusts them like any other weights (the saved model is an ordinary Qwen2-VL, nothing else changes).

The channels: luminance at a spread of spatial frequencies, each as the two-frame sum and the two-frame
difference (motion within a temporal patch), and the two colour-opponent signals at the lowest frequencies.
"""
from __future__ import annotations

import math

import numpy as np

# (u, v) spatial frequencies for luminance, lowest first; the high ones see noise, blur and pixel blocks.
_LUMA_FREQUENCIES: tuple[tuple[int, int], ...] = (
    (0, 0), (0, 1), (1, 0), (1, 1), (0, 3), (3, 0), (2, 2), (3, 3),
    (0, 7), (7, 0), (5, 5), (7, 7), (0, 13), (13, 0), (10, 10), (13, 13),
)
_CHROMA_FREQUENCIES: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (1, 1))
# Luminance and two colour-opponent axes as RGB weights (rows unit length).
_COLOUR_AXES = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [0.5, 0.5, -1.0]])
_COLOUR_AXES /= np.linalg.norm(_COLOUR_AXES, axis=1, keepdims=True)


def dct_1d(n: int, k: int) -> np.ndarray:
    """The orthonormal DCT-II basis vector of frequency ``k`` over ``n`` samples."""
    x = np.arange(n)
    scale = math.sqrt(1.0 / n) if k == 0 else math.sqrt(2.0 / n)
    return scale * np.cos(math.pi * (x + 0.5) * k / n)


def dct_patch_filters(embed_dim: int, patch_size: int = 14, temporal_patch_size: int = 2) -> np.ndarray:
    """(embed_dim, 3, temporal, patch, patch) unit-norm, mutually orthogonal filters, in the Conv3d layout of
    ``Qwen2VL``'s ``PatchEmbed``. The first 32 are luminance (16 frequencies × frame sum/difference), the next
    16 colour-opponent (2 axes × 4 frequencies × sum/difference). With more than two frames per temporal
    patch, the higher temporal frequencies (frame-to-frame changes: jitter, flicker, held frames) follow for
    the luminance frequencies, lowest first — the first 48 stay the same whatever the temporal size. Channels
    beyond the plan are left zero for the caller to fill."""
    def spatial(u: int, v: int) -> np.ndarray:  # (p, p)
        return np.outer(dct_1d(patch_size, min(u, patch_size - 1)), dct_1d(patch_size, min(v, patch_size - 1)))

    filters = []
    plan = [(0, uv) for uv in _LUMA_FREQUENCIES] + [(axis, uv) for axis in (1, 2) for uv in _CHROMA_FREQUENCIES]
    for axis, (u, v) in plan:
        for k in range(min(2, temporal_patch_size)):
            filters.append(np.einsum("c,t,hw->cthw", _COLOUR_AXES[axis], dct_1d(temporal_patch_size, k),
                                     spatial(u, v)))
    for u, v in _LUMA_FREQUENCIES:
        for k in range(2, temporal_patch_size):
            filters.append(np.einsum("c,t,hw->cthw", _COLOUR_AXES[0], dct_1d(temporal_patch_size, k), spatial(u, v)))
    out = np.zeros((embed_dim, 3, temporal_patch_size, patch_size, patch_size))
    n = min(embed_dim, len(filters))
    out[:n] = np.stack(filters[:n])
    return out


def init_patch_embedding(visual, scale: float = 1.0, seed: int = 0, patches: np.ndarray | None = None) -> np.ndarray:
    """Overwrite a Qwen2-VL vision tower's patch embedding with DCT filters (× ``scale``); channels the plan
    does not cover keep small random filters. With sample ``patches`` (N, 3·T·P·P, the rows ``patchify``
    gives), each filter is divided by the standard deviation of its response on them, so every channel
    starts at unit variance: otherwise the smooth content's low frequencies outweigh the high ones by
    ~100×, and after the per-token LayerNorm a noisy patch looks like a clean one. Returns the weights."""
    import torch

    weight = visual.patch_embed.proj.weight  # (embed_dim, 3, T, P, P)
    embed_dim, _, t, p, _ = weight.shape
    filters = dct_patch_filters(embed_dim, p, t)
    rng = np.random.default_rng(seed)
    empty = ~filters.reshape(embed_dim, -1).any(axis=1)
    filters[empty] = rng.normal(0.0, 1.0 / math.sqrt(filters[0].size), size=(int(empty.sum()), *filters.shape[1:]))
    if patches is not None:
        responses = patches.astype(np.float64) @ filters.reshape(embed_dim, -1).T  # (N, embed_dim)
        filters /= np.maximum(responses.std(axis=0), 1e-3)[:, None, None, None, None]
    filters *= scale
    with torch.no_grad():
        weight.copy_(torch.from_numpy(filters).to(weight.dtype))
    return filters
