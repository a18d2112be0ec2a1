"""Which prompts the synthetic world's pixel judge can read: only those of its grammar (it recovers colour, shape
and motion from the pixels and compares them with the parsed prompt). Checked before any sampling, so that a
suite of free-text prompts fails at once instead of after the base has been sampled."""
from __future__ import annotations

from collections.abc import Sequence


def check_synthetic_prompts(prompts: Sequence[str], source: str = "the prompts") -> None:
    """Raise ValueError naming the first prompt outside the synthetic grammar."""
    from synthetic import parse_prompt
    from synthetic.prompts import PromptError

    for i, prompt in enumerate(prompts):
        try:
            parse_prompt(prompt)
        except PromptError:
            shown = prompt if len(prompt) <= 80 else prompt[:77] + "..."
            raise ValueError(f"prompt {i + 1} of {source} is outside the synthetic grammar, which the synthetic "
                             f"judge needs: {shown!r} (use --judge reward-model for free-text prompts)") from None
