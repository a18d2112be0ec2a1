"""The DCT starting filters of the tiny vision tower: an orthonormal set in the Conv3d layout, whose
frame-difference channels ignore a still patch and whose high-frequency channels see noise; whitening gives
each channel unit variance on the sample."""
import numpy as np
import torch
from transformers import Qwen2VLForConditionalGeneration

from rewards.config import VideoConfig
from rewards.patch_basis import dct_patch_filters, init_patch_embedding
from rewards.tiny_base import tiny_qwen2vl_config
from rewards.video_input import patchify

IDS = {"<|vision_start|>": 1, "<|vision_end|>": 2, "<|image_pad|>": 3, "<|video_pad|>": 4, "pad": 0}


def test_filters_are_orthonormal_in_the_conv3d_layout():
    f = dct_patch_filters(48)
    assert f.shape == (48, 3, 2, 14, 14)
    flat = f.reshape(48, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(48), atol=1e-12)
    # Wider towers: the plan's 48 channels, then zeros for the caller to fill.
    assert not dct_patch_filters(64)[48:].any()


def test_difference_channels_ignore_a_still_patch_and_high_frequencies_see_noise():
    f = dct_patch_filters(48).reshape(48, -1)
    rng = np.random.default_rng(0)
    cfg = VideoConfig(fps=2, min_frames=2, max_frames=2, min_pixels=28 * 28, max_pixels=28 * 28)
    gradient = np.tile(np.linspace(0, 255, 28)[None, :, None], (28, 1, 3))  # smooth, the same in both frames
    still = np.stack([gradient, gradient]).astype(np.uint8)
    noisy = np.clip(still + rng.normal(0, 25, still.shape), 0, 255).astype(np.uint8)
    r_still = patchify(still, cfg).pixel_values @ f.T  # (4 patches, 48)
    r_noisy = patchify(noisy, cfg).pixel_values @ f.T
    difference = np.arange(1, 48, 2)  # odd channels: frame 1 minus frame 0
    np.testing.assert_allclose(r_still[:, difference], 0.0, atol=1e-5)
    assert np.abs(r_still[:, 0]).min() > 1.0  # the frame-sum luminance mean sees the content
    high = [30, 31]  # luminance (13, 13): sum and difference
    assert np.abs(r_noisy[:, high]).mean() > 10 * np.abs(r_still[:, high]).mean() + 0.1


def test_whitening_gives_every_channel_unit_variance_on_the_sample():
    config = tiny_qwen2vl_config(vocab_size=8, token_ids=IDS, hidden_size=32, num_layers=1, vision_depth=1,
                                 vision_embed_dim=48)
    visual = Qwen2VLForConditionalGeneration(config).model.visual
    patches = np.random.default_rng(1).normal(size=(500, 1176)) * np.linspace(0.1, 3, 1176)
    init_patch_embedding(visual, 1.0, 0, patches.astype(np.float32))
    w = visual.patch_embed.proj.weight.detach().reshape(48, -1).double().numpy()
    np.testing.assert_allclose((patches @ w.T).std(axis=0), 1.0, rtol=1e-3)
    assert visual.patch_embed.proj.weight.dtype == torch.float32


def test_four_frame_patches_add_higher_temporal_frequencies_after_the_same_plan():
    f = dct_patch_filters(80, temporal_patch_size=4)
    assert f.shape == (80, 3, 4, 14, 14)
    flat = f.reshape(80, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(80), atol=1e-12)
    # A patch whose brightness changes steadily over the four frames (a constant rate): the frame sum and the
    # first difference see it, temporal frequency 2 does not; a held frame breaks the steady rate and it does.
    spatial = np.ones((14, 14)) / 14.0  # the luminance DC
    luma = np.ones(3) / np.sqrt(3)
    steady = np.einsum("c,t,hw->cthw", luma, np.array([0.0, 1.0, 2.0, 3.0]), spatial).ravel()
    held = np.einsum("c,t,hw->cthw", luma, np.array([0.0, 1.0, 1.0, 3.0]), spatial).ravel()
    assert abs(flat[0] @ steady) > 1.0 and abs(flat[1] @ steady) > 1.0
    # channel 48 is luminance DC at temporal frequency 2, channel 49 at 3: hand-computed responses
    c2, c3 = np.cos(np.pi * (np.arange(4) + 0.5) * 2 / 4), np.cos(np.pi * (np.arange(4) + 0.5) * 3 / 4)
    np.testing.assert_allclose([flat[48] @ steady, flat[49] @ steady], [0.0, np.sqrt(0.5) * c3 @ [0, 1, 2, 3]],
                               atol=1e-12)
    np.testing.assert_allclose(flat[48] @ held, np.sqrt(0.5) * c2 @ [0, 1, 1, 3], atol=1e-12)
    assert abs(flat[48] @ held) > 0.3
    # Two-frame patches keep their plan: nothing after the first 48 channels.
    assert not dct_patch_filters(80, temporal_patch_size=2)[48:].any()
