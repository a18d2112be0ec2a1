"""A tiny base with four frames per vision patch: the recipe checks the frame count, the reward model reads
videos the way the base was pretrained, and the default recipe keeps the key of bases built before."""
import dataclasses

import numpy as np
import pytest

from rewards.config import ConfigError
from rewards.pretrain_base import PretrainConfig, _digest
from rewards.video_input import patchify


def test_frames_must_tile_into_temporal_patches():
    with pytest.raises(ConfigError, match="multiple of temporal_patch_size"):
        PretrainConfig(frames=18, temporal_patch_size=4)


def test_the_video_config_carries_the_temporal_patch():
    cfg = PretrainConfig(temporal_patch_size=4)
    video = cfg.video_config()
    assert video.temporal_patch_size == 4
    frames = np.zeros((16, 112, 112, 3), np.uint8)
    patches = patchify(frames, video)
    # 16 frames in patches of 4 → 4 temporal positions × (112/14)² patches, each 3·4·14·14 values
    assert tuple(patches.grid_thw) == (4, 8, 8)
    assert patches.pixel_values.shape == (4 * 64, 3 * 4 * 14 * 14)


def test_the_default_keeps_the_earlier_recipe_key():
    cfg = PretrainConfig()
    earlier = {k: v for k, v in dataclasses.asdict(cfg).items()
               if k not in ("workers", "threads", "temporal_patch_size")}
    assert cfg.key() == _digest(earlier)
    assert PretrainConfig(temporal_patch_size=4).key() != cfg.key()
