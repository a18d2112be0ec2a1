"""Exports: VideoAlign CSV equal to a hand-built expectation, JSONL/Parquet per judgement, filters, splits."""

import csv
import json
import os
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from annotation.errors import InvalidInput
from annotation.export.aggregate import majority, split_of
from annotation.export.records import ExportFilters, pseudonym
from annotation.models import Assignment, Judgement
from annotation.services.exports import ExportOptions, dataset_export
from annotation.services.judgements import SubmittedJudgement, judgement_submit
from tests.annotation.factories import claim, make_comparisons, make_member, make_project

pytestmark = pytest.mark.django_db

SHOWN = {"A": "left", "B": "right", "same": "tie"}


def _judge(project, user, wanted: dict[int, dict[str, str]], *, left_is_a: bool = True, checklist=None) -> None:
    """The annotator works through the queue, labelling comparison c with wanted[c] (A/B terms)."""
    while (lease := claim(project, user)) is not None:
        Assignment.objects.filter(pk=lease.pk).update(left_is_a=left_is_a)
        labels = wanted[lease.comparison_id]
        flip = {"A": "B", "B": "A", "same": "same"}
        shown = {d: SHOWN[v if left_is_a else flip[v]] for d, v in labels.items()}
        judgement_submit(assignment_id=lease.pk, annotator=user, submission=SubmittedJudgement(
            labels=shown, checklist=checklist or {}, idempotency_key=f"{user.pk}-{lease.pk}", lead_time_ms=5000))


def read_videoalign(csv_path: Path, data_dir: Path) -> list[dict]:
    """A reader written from the VideoAlign trainer's column spec: A→1, B→−1, same→0, anything else invalid;
    video paths joined to the data folder must exist; fps and frame counts are floats."""
    encode = {"A": 1, "B": -1, "same": 0}
    rows = []
    with csv_path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            for side in ("A", "B"):
                assert (data_dir / row[f"path_{side}"]).exists(), row[f"path_{side}"]
            rows.append({
                "prompt": row["prompt"],
                **{d: encode.get(row[d], None) for d in ("VQ", "MQ", "TA", "Overall")},
                "fps_A": float(row["fps_A"]), "num_frames_A": float(row["num_frames_A"]),
                "fps_B": float(row["fps_B"]), "num_frames_B": float(row["num_frames_B"]),
            })
    return rows


@pytest.fixture
def judged(tmp_path):
    """Three comparisons, K=3: two annotators agree, a third differs on some dimensions."""
    project = make_project(overlap=3)
    comparisons = make_comparisons(project, 3, with_files=True)
    c1, c2, c3 = (c.pk for c in comparisons)
    users = [make_member(project, username=name) for name in ("ann", "bea", "cal")]
    plan = {
        "ann": {c1: dict(VQ="A", MQ="A", TA="B"), c2: dict(VQ="B", MQ="same", TA="A"), c3: dict(VQ="A", MQ="B", TA="same")},
        "bea": {c1: dict(VQ="A", MQ="B", TA="B"), c2: dict(VQ="B", MQ="same", TA="A"), c3: dict(VQ="B", MQ="A", TA="same")},
        "cal": {c1: dict(VQ="A", MQ="same", TA="A"), c2: dict(VQ="A", MQ="same", TA="A"), c3: dict(VQ="same", MQ="same", TA="same")},
    }
    for user in users:
        _judge(project, user, plan[user.username], left_is_a=user.username != "bea",
               checklist={"left": {"VQ": ["clarity"]}})
    return project, comparisons, users


def test_videoalign_csv_equals_the_hand_built_expectation(judged, tmp_path):
    project, comparisons, _users = judged
    output = tmp_path / "out" / "dataset.csv"
    call_command("export_dataset", project=project.slug, format="videoalign", output=str(output))
    # Majority per dimension: c1 VQ A,A,A → A; MQ A,B,same → split → same; TA B,B,A → B.
    # c2: VQ B,B,A → B; MQ same ×3 → same; TA A ×3 → A.  c3: VQ A,B,same → same; MQ B,A,same → same; TA same.
    expected_labels = [("A", "same", "B"), ("B", "same", "A"), ("same", "same", "same")]
    with output.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["path_A", "path_B", "A_model", "B_model", "prompt", "VQ", "MQ", "TA", "Overall",
                       "fps_A", "num_frames_A", "fps_B", "num_frames_B"]
    expected = [
        [f"media/{c.video_a.file.name}", f"media/{c.video_b.file.name}", "gen-a", "gen-b", c.prompt.text,
         *labels, "", "8.0", "8.0", "8.0", "8.0"]
        for c, labels in zip(comparisons, expected_labels, strict=True)
    ]
    assert rows[1:] == expected
    parsed = read_videoalign(output, output.parent)
    assert [(r["VQ"], r["MQ"], r["TA"]) for r in parsed] == [(1, 0, -1), (-1, 0, 1), (0, 0, 0)]
    assert all(r["Overall"] is None for r in parsed)  # empty Overall is "invalid", masked by the trainer
    assert not list(output.parent.glob("*.partial"))


def test_split_vote_can_be_left_empty_and_paths_absolute(judged, tmp_path):
    project, comparisons, _ = judged
    output = tmp_path / "d.csv"
    dataset_export(project=project, output=output, options=ExportOptions(split_vote="", paths="absolute"))
    with output.open(newline="") as handle:
        first = next(csv.DictReader(handle))
    assert first["MQ"] == ""  # c1's MQ votes A, B, same: split evenly
    assert os.path.isabs(first["path_A"]) and Path(first["path_A"]).is_file()


def test_jsonl_one_judgement_per_line_with_pseudonyms_and_sides(judged, tmp_path):
    project, comparisons, users = judged
    output = tmp_path / "j.jsonl"
    result = dataset_export(project=project, output=output, options=ExportOptions(fmt="jsonl"))
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == result.judgements == 9
    by_user = {u.username: pseudonym(u.pk, "annotator") for u in users}
    assert {line["annotator"] for line in lines} == set(by_user.values())
    assert not any(name in output.read_text() for name in ("ann", "bea", "cal") if f'"{name}"' in output.read_text())
    bea = [line for line in lines if line["annotator"] == by_user["bea"]]
    # bea saw B on the left; her ticks on the left side are stored against video B.
    assert {line["left"] for line in bea} == {"B"}
    assert [line["checklist"] for line in bea] == [{"B": {"VQ": ["clarity"]}}] * 3
    first = next(line for line in lines if line["comparison"] == comparisons[0].pk and line["annotator"] == by_user["ann"])
    assert (first["VQ"], first["MQ"], first["TA"]) == ("A", "A", "B")
    assert first["lead_time_ms"] == 5000


def test_parquet_is_readable_with_pyarrow_and_datasets(judged, tmp_path):
    project, _comparisons, _users = judged
    output = tmp_path / "j.parquet"
    dataset_export(project=project, output=output, options=ExportOptions(fmt="parquet", split=True, seed=3))
    table = pq.read_table(output)
    assert table.num_rows == 9
    assert sorted(table.column("VQ").to_pylist()) == sorted(["A", "A", "A", "B", "B", "A", "A", "B", "same"])
    import datasets

    loaded = datasets.load_dataset("parquet", data_files=str(output), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
    assert loaded.num_rows == 9 and set(loaded.column_names) >= {"prompt", "VQ", "MQ", "TA", "left", "split"}
    assert json.loads(loaded[0]["checklist"]) in ({"A": {"VQ": ["clarity"]}}, {"B": {"VQ": ["clarity"]}})


def test_split_by_prompt_is_deterministic_and_disjoint(tmp_path):
    project = make_project()
    comparisons = make_comparisons(project, 40)
    user = make_member(project)
    _judge(project, user, {c.pk: dict(VQ="A", MQ="B", TA="same") for c in comparisons})
    output = tmp_path / "s.csv"
    result = dataset_export(project=project, output=output, options=ExportOptions(split=True, seed=11, paths="media-root"))
    parts = {}
    for part in ("train", "val", "test"):
        with (tmp_path / f"s_{part}.csv").open(newline="") as handle:
            parts[part] = {row["prompt"] for row in csv.DictReader(handle)}
    assert not (parts["train"] & parts["val"]) and not (parts["train"] & parts["test"]) and not (parts["val"] & parts["test"])
    assert sum(len(p) for p in parts.values()) == 40 == result.comparisons
    for part, prompts in parts.items():
        assert all(split_of(p, seed=11) == part for p in prompts)
    # 40 prompts at 80/10/10: the train part holds most of them.
    assert len(parts["train"]) > len(parts["val"]) and len(parts["train"]) > len(parts["test"])
    other = {split_of(p, seed=12) for p in parts["train"]}
    assert other != {"train"}  # another seed moves some prompts


def test_filters_annotators_time_agreement_and_spammers(judged, tmp_path):
    project, comparisons, users = judged
    ann, bea, cal = users
    only_bea = dataset_export(project=project, output=tmp_path / "a.jsonl",
                              options=ExportOptions(fmt="jsonl", filters=ExportFilters(annotators=(bea.pk,))))
    assert only_bea.judgements == 3
    Judgement.objects.filter(annotator=cal).update(created_at=timezone.now() - timedelta(days=3))
    recent = dataset_export(project=project, output=tmp_path / "b.jsonl", options=ExportOptions(
        fmt="jsonl", filters=ExportFilters(since=timezone.now() - timedelta(days=1))))
    assert recent.judgements == 6
    # Agreement per comparison, averaged over VQ/MQ/TA: c1 (1 + 1/3 + 2/3)/3 = 2/3; c2 (2/3 + 1 + 1)/3 = 8/9;
    # c3 (1/3 + 1/3 + 1)/3 = 5/9.
    agreeing = dataset_export(project=project, output=tmp_path / "c.csv",
                              options=ExportOptions(filters=ExportFilters(min_agreement=0.6)))
    assert agreeing.comparisons == 2
    assert dataset_export(project=project, output=tmp_path / "d.csv",
                          options=ExportOptions(filters=ExportFilters(min_agreement=0.8))).comparisons == 1


def test_bad_options_and_cli_errors(judged, tmp_path):
    project, _c, _u = judged
    with pytest.raises(InvalidInput) as error:
        ExportOptions(fmt="xlsx", fractions=(0.5, 0.5, 0.5))
    assert set(error.value.field_errors) == {"format", "fractions"}
    with pytest.raises(CommandError, match="unknown annotator"):
        call_command("export_dataset", project=project.slug, output=str(tmp_path / "x.csv"), annotators="nobody")
    with pytest.raises(CommandError, match="time zone"):
        call_command("export_dataset", project=project.slug, output=str(tmp_path / "x.csv"), since="2026-01-01")
    assert not (tmp_path / "x.csv").exists()


def test_a_failing_export_leaves_no_file(judged, tmp_path, monkeypatch):
    project, _c, _u = judged
    from annotation.export import writers

    def broken(self, record, split, paths):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writers.JsonlWriter, "write", broken)
    with pytest.raises(RuntimeError):
        dataset_export(project=project, output=tmp_path / "f.jsonl", options=ExportOptions(fmt="jsonl"))
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []  # neither f.jsonl nor f.jsonl.partial


def test_majority():
    assert majority({"A": 2, "B": 1, "same": 0}) == "A"
    assert majority({"A": 1, "B": 1, "same": 0}) == "same"
    assert majority({"A": 1, "B": 1, "same": 0}, split_vote="") == ""
    assert majority({"A": 1, "B": 0, "same": 2}) == "same"
    assert majority({"A": 0, "B": 0, "same": 0}) == ""


def test_round_trip_import_simulated_judgements_export(tmp_path):
    """Import a manifest, let simulated annotators judge through the services, export, read back."""
    import random

    import numpy as np

    from annotation.services.imports import comparisons_import
    from synthetic.annotators import annotator_profile, draw_label
    from tests.annotation.clips import write_clip

    random.seed(2)
    folder = tmp_path / "incoming"
    for index in range(4):
        write_clip(folder / f"v{index}.mp4", colour=60 + index)
    manifest = folder / "m.csv"
    pairs = [("v0.mp4", "v1.mp4", "a red circle moves left"), ("v2.mp4", "v3.mp4", "two blue squares bounce"),
             ("v1.mp4", "v2.mp4", "a green triangle rotates")]
    manifest.write_text("path_A,path_B,prompt\n" + "".join(f"{a},{b},{p}\n" for a, b, p in pairs))
    project = make_project(overlap=1)
    assert comparisons_import(project=project, manifest=manifest, roots=[folder]).written
    rng = np.random.default_rng(0)
    utility = {f"v{i}.mp4": rng.normal(0, 1, 3) for i in range(4)}
    profile = annotator_profile("careful")
    user = make_member(project)
    expected = {}
    while (lease := claim(project, user)) is not None:
        prompt = lease.comparison.prompt.text
        a, b, _ = next(p for p in pairs if p[2] == prompt)
        left, right = (a, b) if lease.left_is_a else (b, a)
        shown = {d: draw_label(profile, utility[left][i], utility[right][i], rng) for i, d in enumerate(("VQ", "MQ", "TA"))}
        to_ab = {"left": "A" if lease.left_is_a else "B", "right": "B" if lease.left_is_a else "A", "tie": "same"}
        expected[prompt] = [to_ab[shown[d]] for d in ("VQ", "MQ", "TA")]
        judgement_submit(assignment_id=lease.pk, annotator=user,
                         submission=SubmittedJudgement(labels=shown, idempotency_key=f"rt-{lease.pk}"))
    output = tmp_path / "export" / "rt.csv"
    dataset_export(project=project, output=output, options=ExportOptions())
    rows = read_videoalign(output, output.parent)
    encode = {"A": 1, "B": -1, "same": 0}
    assert {r["prompt"]: [r["VQ"], r["MQ"], r["TA"]] for r in rows} == {
        prompt: [encode[label] for label in labels] for prompt, labels in expected.items()
    }


def test_spammers_and_low_gold_accuracy_can_be_excluded(tmp_path):
    project = make_project(overlap=2, gold_rate=0.0)
    comparisons = make_comparisons(project, 25)
    honest, lazy = make_member(project, username="honest"), make_member(project, username="lazy")
    _judge(project, honest, {c.pk: dict(VQ="A", MQ="B", TA="A") for c in comparisons})
    _judge(project, lazy, {c.pk: dict(VQ="same", MQ="same", TA="same") for c in comparisons})
    everyone = dataset_export(project=project, output=tmp_path / "a.jsonl", options=ExportOptions(fmt="jsonl"))
    assert everyone.judgements == 50
    # The lazy annotator ties everything (tie rate 1.0 over 25 judgements): flagged as a spammer.
    without = dataset_export(project=project, output=tmp_path / "b.jsonl",
                             options=ExportOptions(fmt="jsonl", exclude_spammers=True))
    assert without.judgements == 25 and without.excluded_annotators == 1
    lines = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert {line["VQ"] for line in lines} == {"A"}
