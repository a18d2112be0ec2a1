"""Per-comparison aggregation of judgements and the prompt-level split (pure functions)."""

import hashlib
from collections.abc import Mapping

SPLITS = ("train", "val", "test")


def majority(counts: Mapping[str, int], *, split_vote: str = "same") -> str:
    """The label with the most judgements; a tie between the top labels gives `split_vote` ("same" or "")."""
    ranked = sorted(((n, label) for label, n in counts.items() if n > 0), reverse=True)
    if not ranked:
        return ""
    if len(ranked) > 1 and ranked[0][0] == ranked[1][0]:
        return split_vote
    return ranked[0][1]


def split_of(prompt: str, *, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """The split of a prompt: a hash of (seed, prompt text), so the same prompt always lands in the same part
    for a given seed, whichever project or export it appears in."""
    digest = hashlib.sha256(f"{seed}:{prompt}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < fractions[0]:
        return "train"
    if u < fractions[0] + fractions[1]:
        return "val"
    return "test"
