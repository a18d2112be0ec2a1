"""Reward models: VideoReward-style VLM reward training, evaluation and scoring (pure ML) plus Django glue.

Import-light on purpose: the Django app loader imports this package in web processes, so torch and
transformers load only when ``RewardScorer`` (or a submodule) is actually used.
"""
from typing import Any

__all__ = ["RewardScorer"]


def __getattr__(name: str) -> Any:
    if name == "RewardScorer":
        from rewards.scorer import RewardScorer

        return RewardScorer
    raise AttributeError(f"module 'rewards' has no attribute {name!r}")
