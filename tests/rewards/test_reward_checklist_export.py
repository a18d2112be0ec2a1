"""The checklist model fitted from the platform's own JSONL export: judgements stored in PostgreSQL through the
submit service, exported by ``export_dataset --format jsonl``, fitted by ``python -m rewards checklist``."""
import json
import math
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command

from annotation.checklists import visionreward_checklist
from annotation.models import Assignment
from annotation.services.judgements import SubmittedJudgement, judgement_submit
from rewards.cli import main
from tests.annotation.factories import claim, make_comparisons, make_member, make_project

VISIONREWARD_QUESTIONS = Path("/work/shared/data/visionreward/video_qa_select.txt")


def _judge(project, plan: list[tuple[dict[str, str], dict[str, dict[str, list[str]]]]]) -> None:
    """One annotator labels comparison i with plan[i] = (labels in A/B terms, ticks in A/B terms). Every other
    lease shows B on the left, so the export's un-swapping is part of what is checked."""
    comparisons = make_comparisons(project, len(plan))
    wanted = {c.pk: spec for c, spec in zip(comparisons, plan, strict=True)}
    user = make_member(project, username=f"checker-{uuid.uuid4().hex[:8]}")  # unique in a reused database
    while (lease := claim(project, user)) is not None:
        left_is_a = lease.comparison_id % 2 == 0
        Assignment.objects.filter(pk=lease.pk).update(left_is_a=left_is_a)
        labels, ticks = wanted.pop(lease.comparison_id)
        side = {"A": "left", "B": "right"} if left_is_a else {"A": "right", "B": "left"}
        judgement_submit(assignment_id=lease.pk, annotator=user, submission=SubmittedJudgement(
            labels={d: "tie" if v == "same" else side[v] for d, v in labels.items()},
            checklist={side[s]: per_dim for s, per_dim in ticks.items()}, idempotency_key=f"k-{lease.pk}"))
    assert not wanted  # every comparison was judged once


def _export_and_fit(project, tmp_path) -> dict:
    export = tmp_path / "export" / "judgements.jsonl"
    call_command("export_dataset", project=project.slug, format="jsonl", output=str(export))
    out = tmp_path / "checklist.json"
    assert main(["checklist", "--data", str(export), "--out", str(out)]) == 0
    return json.loads(out.read_text())


def _vq(label, a=(), b=()):
    return label, {"A": list(a), "B": list(b)}


@pytest.mark.django_db
def test_fits_the_default_checklist_from_a_real_export(tmp_path):
    project = make_project()
    # VQ: "clarity" on the loser decides 10 of the 11 decided pairs; once (pair 10) the winner has it.
    # "detail_richness" is only ever ticked on a winner (a negative weight: dropped); "safety" is ticked on both
    # videos and "aesthetic_creativity" only in a tied pair, so neither tells decided pairs apart (weight 0).
    vq = [_vq("A", a=["detail_richness"], b=["clarity"]) for _ in range(3)]
    vq += [_vq("A", b=["clarity"]) for _ in range(2)] + [_vq("A", a=["safety"], b=["clarity", "safety"])]
    vq += [_vq("B", a=["clarity"], b=["detail_richness"])] + [_vq("B", a=["clarity"]) for _ in range(3)]
    vq += [_vq("A", a=["clarity"]), _vq("same", a=["aesthetic_creativity"]), _vq("same")]
    # MQ: "dynamic_degree" on the loser decides all 8 decided pairs; "motion_clarity" ticked on both once.
    mq = [("B", {"A": ["dynamic_degree"]})] * 4 + [("A", {"B": ["dynamic_degree"]})] * 4
    mq += [("same", {"A": ["motion_clarity"], "B": ["motion_clarity"]})] + [("same", {})] * 4
    plan = []
    for (vq_label, vq_ticks), (mq_label, mq_ticks) in zip(vq, mq, strict=True):
        ticks = {s: {d: t[s] for d, t in (("VQ", vq_ticks), ("MQ", mq_ticks)) if t.get(s)} for s in ("A", "B")}
        plan.append(({"VQ": vq_label, "MQ": mq_label, "TA": "same"}, ticks))
    _judge(project, plan)

    summary = _export_and_fit(project, tmp_path)

    vq_fit = summary["VQ"]
    # Only the items ticked somewhere are learned (not the five of the guideline).
    assert set(vq_fit["weights"]) == {"clarity", "detail_richness", "safety", "aesthetic_creativity"}
    assert vq_fit["dropped"] == ["detail_richness"]
    assert vq_fit["weights"]["detail_richness"] == vq_fit["weights"]["safety"] == 0.0
    assert vq_fit["weights"]["aesthetic_creativity"] == 0.0
    # One item left on the decided pairs: σ(w) = share it gets right = 10/11, so w = ln 10 (less a 1e-4 l2).
    assert vq_fit["weights"]["clarity"] == pytest.approx(math.log(10), abs=0.02)
    # Margins ±w on the 11 decided pairs (10 right), 0 on the 2 ties: without ties 10/11; with ties the best ε is
    # 0 (the two ties become model ties): (10 + 2) / 13.
    assert vq_fit["without_ties"] == pytest.approx(10 / 11)
    assert vq_fit["with_ties"] == pytest.approx(12 / 13) and vq_fit["epsilon"] == 0.0 and vq_fit["n"] == 13

    mq_fit = summary["MQ"]
    assert set(mq_fit["weights"]) == {"dynamic_degree", "motion_clarity"} and mq_fit["dropped"] == []
    assert mq_fit["weights"]["dynamic_degree"] > 1.0 and mq_fit["weights"]["motion_clarity"] == 0.0
    assert mq_fit["without_ties"] == 1.0 and mq_fit["with_ties"] == 1.0 and mq_fit["epsilon"] == 0.0
    assert summary["TA"] == {"skipped": "no decided (A or B) pairs in the export"}


@pytest.mark.django_db
def test_fits_visionreward_preset_keys_from_a_real_export(tmp_path):
    checklist = visionreward_checklist(VISIONREWARD_QUESTIONS)
    project = make_project(checklist=checklist)
    meets_all, meets_most = (item["key"] for item in checklist["TA"][:2])  # vr00_…, vr01_…
    pleasing = checklist["VQ"][0]["key"]  # vr03_…
    # TA: the video that does not "meet all the requirements" loses, 5 times each way; "meets most" is ticked
    # on both videos in two pairs. VQ is tied throughout but one tie has a tick: a dimension with no decided pair.
    plan = [({"VQ": "same", "MQ": "same", "TA": "B"}, {"A": {"TA": [meets_all]}}) for _ in range(5)]
    plan += [({"VQ": "same", "MQ": "same", "TA": "A"}, {"B": {"TA": [meets_all]}}) for _ in range(5)]
    plan += [({"VQ": "same", "MQ": "same", "TA": "A"},
              {"A": {"TA": [meets_most], "VQ": [pleasing]}, "B": {"TA": [meets_all, meets_most]}})] * 2
    _judge(project, plan)

    summary = _export_and_fit(project, tmp_path)

    ta = summary["TA"]
    assert set(ta["weights"]) == {meets_all, meets_most} and ta["dropped"] == []
    assert ta["weights"][meets_all] > 1.0 and ta["weights"][meets_most] == 0.0
    assert ta["without_ties"] == 1.0 and ta["n"] == 12
    assert summary["VQ"] == {"skipped": "no decided (A or B) pairs in the export"}
    assert summary["MQ"] == {"skipped": "no decided (A or B) pairs in the export"}


def test_a_malformed_export_exits_2_naming_the_line_and_writes_nothing(tmp_path, capsys):
    data = tmp_path / "export.jsonl"
    good = {"VQ": "A", "MQ": "B", "TA": "same", "checklist": {"B": {"VQ": ["clarity"]}}}
    data.write_text(json.dumps(good) + "\n" + json.dumps(good | {"checklist": {"left": {}}}) + "\n")
    out = tmp_path / "checklist.json"
    assert main(["checklist", "--data", str(data), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {data}:2: checklist side 'left' is not A or B"
    assert not out.exists()
