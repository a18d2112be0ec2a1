"""Shared fixtures of the reward tests: one tiny Qwen2-VL base directory per session."""
from pathlib import Path

import pytest

from rewards.tiny_base import write_tiny_base


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory) -> Path:
    return write_tiny_base(tmp_path_factory.mktemp("tiny_base"), corpus=["a red square", "a blue circle"])
