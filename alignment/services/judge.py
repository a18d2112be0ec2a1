"""The promoted reward model as the judge of generated samples (the product's evaluation: no pixel analyser
outside the synthetic world). The judge itself is pure ML (`alignment.reward_judge`, shared with the CLI); this
glue only reads the tie calibration from the reward run's stored result."""

from alignment.reward_judge import MIN_TIE_MARGIN, reward_model_judge
from alignment.reward_judge import tie_margins as _calibrated_margins

__all__ = ["MIN_TIE_MARGIN", "reward_model_judge", "tie_margins"]


def tie_margins(reward_result: dict | None) -> dict[str, float]:
    """Per dimension, the tie threshold ε the reward model calibrated on held-out human ties (its run's test
    report), never below MIN_TIE_MARGIN."""
    return _calibrated_margins((reward_result or {}).get("test"))
