"""Tiny random-weight generators shared by the alignment tests (built once per session: ~1 s each)."""
from pathlib import Path

import pytest
import torch

from alignment.generator import build_tiny_generator


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_generator(tmp_path_factory.mktemp("tiny_wan") / "model", seed=0)


@pytest.fixture(scope="session")
def tiny_unshuffle_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_generator(tmp_path_factory.mktemp("tiny_wan_px") / "model", seed=1, codec="pixel_unshuffle")


@pytest.fixture(autouse=True)
def _single_thread_torch():
    # two cores shared by several engineers: tiny tensors gain nothing from more threads
    torch.set_num_threads(1)
