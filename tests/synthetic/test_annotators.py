import itertools
import math

import numpy as np
import pytest

from synthetic.annotate_client import AnnotatorSpec, decide_assignment, submission_payload
from synthetic.annotators import (
    ANNOTATOR_TYPES,
    AnnotatorError,
    ShownVideo,
    btt_probabilities,
    decide,
    draw_label,
)
from synthetic.dataset import OracleEntry
from synthetic.defects import CHECKLIST_KEYS, Defects
from synthetic.generators import GENERATORS
from synthetic.oracle import oracle_accuracy, oracle_utilities
from synthetic.prompts import parse_prompt, sample_prompts

PROMPT = parse_prompt("A red square moves right on a noisy background in daylight.")


def _video(**defects):
    d = Defects(**defects)
    return ShownVideo(oracle_utilities(d, PROMPT), d, PROMPT)


def test_btt_probabilities_by_hand():
    # θ = 2, d = 0: σ(−ln 2) = 1/3 for each side, tie (4 − 1)·(1/3)² = 1/3.
    assert btt_probabilities(0.0, 2.0) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    # θ = 5, d = ln 5: σ(0) = ½; σ(−2 ln 5) = 1/26; tie = 24·½·1/26 = 6/13.
    assert btt_probabilities(math.log(5), 5.0) == pytest.approx((0.5, 1 / 26, 6 / 13))
    for d in (-3.0, -0.4, 0.7, 5.0):
        assert sum(btt_probabilities(d, 2.5)) == pytest.approx(1.0)


def test_label_frequencies_match_btt_within_sampling_error():
    careful = ANNOTATOR_TYPES["careful"]
    rng = np.random.default_rng(123)
    n = 4000
    for u_left, u_right in [(0.0, 0.0), (-0.1, -0.3), (-0.6, -0.2)]:
        labels = [draw_label(careful, u_left, u_right, rng) for _ in range(n)]
        expected = btt_probabilities((u_left - u_right) / careful.temperature, careful.theta)
        for label, p in zip(("left", "right", "tie"), expected, strict=True):
            observed = labels.count(label) / n
            assert abs(observed - p) < 4 * math.sqrt(p * (1 - p) / n), (u_left, u_right, label)


def test_left_biased_annotator_prefers_the_left_video():
    rng = np.random.default_rng(5)
    biased = [draw_label(ANNOTATOR_TYPES["left_biased"], -0.2, -0.2, rng) for _ in range(2000)]
    careful = [draw_label(ANNOTATOR_TYPES["careful"], -0.2, -0.2, rng) for _ in range(2000)]
    # Equal videos: the bias alone (d = 2) gives P(left) = σ(2 − ln 2.5) ≈ 0.75.
    assert biased.count("left") / 2000 == pytest.approx(0.75, abs=0.04)
    assert abs(careful.count("left") - careful.count("right")) / 2000 < 0.05


def test_lazy_ties_everything_and_spammer_is_uniform():
    rng = np.random.default_rng(1)
    assert {draw_label(ANNOTATOR_TYPES["lazy"], 0.0, -2.0, rng) for _ in range(50)} == {"tie"}
    spam = [draw_label(ANNOTATOR_TYPES["spammer"], 0.0, -2.0, rng) for _ in range(3000)]
    for label in ("left", "right", "tie"):
        assert spam.count(label) / 3000 == pytest.approx(1 / 3, abs=0.035)


def test_careful_annotator_is_informative_but_noisy():
    """Scoring with the true utilities reaches 85–90% without ties against careful labels (the calibration)."""
    prompts = sample_prompts(60, seed=11)
    rng = np.random.default_rng(11)
    gens = list(GENERATORS.values())
    careful = ANNOTATOR_TYPES["careful"]
    for dim in ("VQ", "MQ", "TA"):
        labels, ua, ub = [], [], []
        for p in prompts:
            utils = [oracle_utilities(g.sample(rng), p)[dim] for g in gens]
            for a, b in itertools.combinations(range(len(gens)), 2):
                labels.append({"left": "A", "right": "B", "tie": "same"}[draw_label(careful, utils[a], utils[b], rng)])
                ua.append(utils[a])
                ub.append(utils[b])
        acc = oracle_accuracy(labels, ua, ub)["without_ties"]
        assert 0.84 <= acc <= 0.91, (dim, acc)


def test_checklist_ticks_follow_noticed_defects():
    rng = np.random.default_rng(2)
    careful = ANNOTATOR_TYPES["careful"]
    blurry, clean = _video(blur=1.0), _video()
    ticks = {"blurry": 0, "clean": 0}
    for _ in range(300):
        decision = decide(careful, blurry, clean, ["VQ", "MQ", "TA"], CHECKLIST_KEYS, False, rng)
        ticks["blurry"] += "clarity" in decision.checklist["left"]["VQ"]
        ticks["clean"] += "clarity" in decision.checklist["right"]["VQ"]
    # Noticed unless missed (10%), plus 2% false alarms: 1 − 0.1·0.98 ≈ 0.90; a clean video: 2%.
    assert ticks["blurry"] / 300 == pytest.approx(0.90, abs=0.05)
    assert ticks["clean"] / 300 < 0.06


def test_decision_is_deterministic_per_seed_and_carries_mos():
    args = (ANNOTATOR_TYPES["noisy"], _video(noise=0.6), _video(jitter=0.3), ["VQ", "MQ", "TA", "Overall"],
            CHECKLIST_KEYS, True)
    one = decide(*args, np.random.default_rng(9))
    two = decide(*args, np.random.default_rng(9))
    assert one == two
    assert set(one.mos["left"]) == {"VQ", "MQ", "TA"}
    assert all(1 <= v <= 5 for side in one.mos.values() for v in side.values())


def test_http_decision_and_payload_follow_the_api_contract():
    entry = OracleEntry("videos/a.mp4", "atlas-pro", PROMPT, 1, Defects(blur=0.9), oracle_utilities(Defects(blur=0.9), PROMPT))
    clean = OracleEntry("videos/b.mp4", "atlas-pro", PROMPT, 2, Defects(), oracle_utilities(Defects(), PROMPT))
    assignment = {
        "id": 17, "prompt": {"text": PROMPT.text}, "dimensions": ["VQ", "MQ", "TA"], "asks_mos": True,
        "checklist": {"VQ": [{"key": "clarity", "label": "Clarity", "help": ""}], "MQ": [], "TA": []},
    }
    decision = decide_assignment(ANNOTATOR_TYPES["careful"], assignment, entry, clean, seed=0, username="ann")
    assert decision == decide_assignment(ANNOTATOR_TYPES["careful"], assignment, entry, clean, seed=0, username="ann")
    payload = submission_payload(decision, True, "key-1")
    assert set(payload) == {"labels", "checklist", "mos", "lead_time_ms", "idempotency_key"}
    assert set(payload["labels"]) == {"VQ", "MQ", "TA"}
    assert set(payload["labels"].values()) <= {"left", "right", "tie"}
    assert set(payload["checklist"]) == {"left", "right"}
    assert set(payload["checklist"]["left"]["VQ"]) <= {"clarity"}
    assert isinstance(payload["lead_time_ms"], int) and payload["lead_time_ms"] > 0
    assert "mos" not in submission_payload(decision, False, "key-1")


def test_annotator_spec_parsing():
    assert AnnotatorSpec.parse("ann:pw:careful") == AnnotatorSpec("ann", "pw", "careful")
    with pytest.raises(ValueError, match="USER:PASS:TYPE"):
        AnnotatorSpec.parse("ann:careful")
    with pytest.raises(AnnotatorError, match="unknown annotator type"):
        AnnotatorSpec.parse("ann:pw:sloppy")
