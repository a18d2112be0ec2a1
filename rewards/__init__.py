"""Reward models: VideoReward-style VLM reward training, evaluation and scoring (pure ML) plus Django glue."""
