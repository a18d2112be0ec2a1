"""Per-comparison aggregation of judgements and the prompt-level split (pure functions)."""

import hashlib
from collections import Counter
from collections.abc import Sequence

SPLITS = ("train", "val", "test")


def majority(labels: Sequence[str], *, split_vote: str = "same") -> str:
    """The most frequent label; a tie between the top labels gives `split_vote` ("same" or "")."""
    counts = Counter(label for label in labels if label)
    if not counts:
        return ""
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return split_vote
    return ranked[0][0]


def agreement(labels: Sequence[str]) -> float:
    """Share of judgements that carry the most frequent label (1.0 for a single judgement)."""
    counts = Counter(label for label in labels if label)
    if not counts:
        return 1.0
    return counts.most_common(1)[0][1] / sum(counts.values())


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
