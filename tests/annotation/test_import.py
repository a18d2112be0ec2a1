"""Importing manifests: the VideoAlign example as it is, per-row reports, all-or-nothing, path safety."""

import csv
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from annotation.models import Comparison, Judgement, Prompt, Video
from annotation.services.imports import comparisons_import
from tests.annotation.clips import write_clip
from tests.annotation.factories import make_project

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "videoalign" / "train-example.csv"
HEADER = ["path_A", "path_B", "prompt", "VQ", "MQ", "TA", "fps_A", "num_frames_A", "fps_B", "num_frames_B"]


def _counts():
    return (Video.objects.count(), Prompt.objects.count(), Comparison.objects.count(), Judgement.objects.count())


def _write_manifest(path: Path, rows: list[dict], header=HEADER) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def videos_dir(tmp_path):
    """An outside folder of clips: a.mp4..d.mp4 at 8 fps × 8 frames, each different."""
    folder = tmp_path / "outside"
    for index, name in enumerate("abcd"):
        write_clip(folder / "videos" / f"{name}.mp4", colour=index + 1)
    return folder


def _row(a="videos/a.mp4", b="videos/b.mp4", prompt="a red circle moves left", **labels):
    base = {"path_A": a, "path_B": b, "prompt": prompt, "VQ": "", "MQ": "", "TA": "",
            "fps_A": "8.0", "num_frames_A": "8.0", "fps_B": "8.0", "num_frames_B": "8.0"}
    return base | labels


def test_videoalign_example_imports_as_it_is(tmp_path):
    # The example's three clips, with the fps and frame counts the file declares.
    media = tmp_path / "media-root"
    clips = (("example_1_A", 24, 126), ("example_1_B", 30, 152), ("example_2_A", 24, 144),
             ("example_2_B", 24, 128), ("example_3_A", 24, 128), ("example_3_B", 16, 60))
    for colour, (stem, fps, frames) in enumerate(clips):
        write_clip(media / "videos" / f"{stem}.mp4", fps=fps, frames=frames, size=16, colour=colour)
    project = make_project()
    call_command("import_comparisons", str(EXAMPLE), project=project.slug, media_root=str(media))
    assert Comparison.objects.filter(project=project).count() == 3
    # Each triplet appears four times with the same labels: merged into one comparison and one judgement.
    labels = {
        j.comparison.prompt.text[:20]: (j.vq, j.mq, j.ta)
        for j in Judgement.objects.select_related("comparison__prompt")
    }
    assert labels == {"The camera remains s": ("B", "B", "A"), "The camera follows a": ("same", "same", "A"),
                      "A first-person view ": ("A", "same", "same")}
    assert set(Judgement.objects.values_list("source", flat=True)) == {"imported"}
    assert Video.objects.count() == 6
    video = Video.objects.get(fps=16)
    assert video.num_frames == 60 and video.file.name.startswith("imports/")
    # Files from outside MEDIA_ROOT are copied in under their content hash, so they can be served.
    assert (Path(settings.MEDIA_ROOT) / video.file.name).is_file()


def test_a_file_imported_twice_is_one_video(videos_dir):
    project = make_project()
    shutil.copy(videos_dir / "videos" / "a.mp4", videos_dir / "videos" / "a-copy.mp4")
    manifest = _write_manifest(videos_dir / "m.csv", [_row(), _row(a="videos/a-copy.mp4", b="videos/c.mp4")])
    report = comparisons_import(project=project, manifest=manifest, roots=[videos_dir])
    assert report.written and report.comparisons == 2
    assert Video.objects.count() == 3  # a and a-copy have the same content


def test_declared_fps_or_frames_that_contradict_the_file_are_reported(videos_dir):
    project = make_project()
    manifest = _write_manifest(videos_dir / "m.csv", [_row(fps_A="24.0", num_frames_B="99")])
    report = comparisons_import(project=project, manifest=manifest, roots=[videos_dir])
    assert report.written
    assert {(w.row, w.field) for w in report.warnings} == {(1, "fps_A"), (1, "num_frames_B")}
    assert "the file has 8" in report.warnings[0].reason


def test_every_bad_row_is_reported_and_nothing_is_written(videos_dir, tmp_path):
    project = make_project()
    (videos_dir / "videos" / "not-a-video.mp4").write_text("hello")
    outside = tmp_path / "secret.mp4"
    write_clip(outside, colour=9)
    (videos_dir / "videos" / "escape.mp4").symlink_to(outside)
    rows = [
        _row(),                                                    # 1: fine
        _row(a="videos/missing.mp4"),                              # 2: missing file
        _row(a="videos/not-a-video.mp4"),                          # 3: not a video
        _row(a="../secret.mp4"),                                   # 4: .. escape
        _row(a=str(outside)),                                      # 5: absolute path elsewhere
        _row(a="videos/escape.mp4"),                               # 6: symlink escape
        _row(prompt=""),                                           # 7: empty prompt
        _row(b="videos/a.mp4"),                                    # 8: same video on both sides
        _row(VQ="A", MQ="B", TA="maybe"),                          # 9: unknown label
        _row(a="videos/b.mp4", b="videos/a.mp4", VQ="A", MQ="A", TA="A"),  # 10: duplicate of row 1 (swapped)
    ]
    manifest = _write_manifest(videos_dir / "m.csv", rows)
    before = _counts()
    report = comparisons_import(project=project, manifest=manifest, roots=[videos_dir])
    assert not report.written
    problems = {(p.row, p.field): p.reason for p in report.errors}
    assert problems == {
        (2, "path_A"): "videos/missing.mp4: missing file",
        (3, "path_A"): "videos/not-a-video.mp4: " + problems[(3, "path_A")].split(": ", 1)[1],
        (4, "path_A"): "../secret.mp4: outside the media root",
        (5, "path_A"): f"{outside}: outside the media root",
        (6, "path_A"): "videos/escape.mp4: outside the media root",
        (7, "prompt"): "empty",
        (8, "path_B"): "the same video is on both sides",
        (9, "TA"): "unknown label 'maybe' (expected A, B or same)",
        (10, "path_A"): "duplicate comparison (row 1)",
    }
    assert "not a" in problems[(3, "path_A")]
    assert _counts() == before


def test_skip_invalid_imports_the_good_rows(videos_dir):
    project = make_project()
    rows = [_row(), _row(a="videos/missing.mp4"), _row(a="videos/c.mp4", b="videos/d.mp4", VQ="A", MQ="B", TA="same")]
    manifest = _write_manifest(videos_dir / "m.csv", rows)
    report = comparisons_import(project=project, manifest=manifest, roots=[videos_dir], skip_invalid=True)
    assert report.written and report.comparisons == 2 and report.judgements == 1
    assert [(p.row, p.field) for p in report.errors] == [(2, "path_A")]
    comparison = Judgement.objects.get().comparison  # imported labels do not use annotator slots
    assert comparison.remaining == project.overlap and comparison.judgement_count == 0


def test_a_comparison_already_in_the_project_is_a_duplicate(videos_dir):
    project = make_project()
    manifest = _write_manifest(videos_dir / "m.csv", [_row()])
    assert comparisons_import(project=project, manifest=manifest, roots=[videos_dir]).written
    again = comparisons_import(project=project, manifest=manifest, roots=[videos_dir])
    assert not again.written
    assert [(p.row, p.reason) for p in again.errors] == [(1, "this comparison is already in the project")]
    assert Comparison.objects.count() == 1


def test_jsonl_manifest(videos_dir):
    project = make_project()
    manifest = videos_dir / "m.jsonl"
    manifest.write_text(
        '{"path_A": "videos/a.mp4", "path_B": "videos/b.mp4", "prompt": "two blue squares bounce", '
        '"A_model": "gen-x", "B_model": "gen-y", "category": "shapes", "VQ": "B", "MQ": "A", "TA": "same", '
        '"Overall": "B"}\n'
    )
    report = comparisons_import(project=project, manifest=manifest, roots=[videos_dir])
    assert report.written
    comparison = Comparison.objects.select_related("video_a", "prompt").get()
    assert (comparison.video_a.generator, comparison.prompt.category) == ("gen-x", "shapes")
    judgement = Judgement.objects.get()
    assert (judgement.vq, judgement.mq, judgement.ta, judgement.overall) == ("B", "A", "same", "B")


def test_cli_exits_non_zero_with_a_reason(videos_dir, capsys):
    project = make_project()
    manifest = _write_manifest(videos_dir / "m.csv", [_row(a="videos/missing.mp4")])
    with pytest.raises(CommandError, match="1 invalid row"):
        call_command("import_comparisons", str(manifest), project=project.slug)
    with pytest.raises(CommandError, match="no project"):
        call_command("import_comparisons", str(manifest), project="nope")
    bad = videos_dir / "m.txt"
    bad.write_text("x")
    with pytest.raises(CommandError, match="unknown manifest format"):
        call_command("import_comparisons", str(bad), project=project.slug)


def test_the_number_of_queries_does_not_grow_with_the_rows(videos_dir):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(rows: int) -> int:
        project = make_project()
        manifest = _write_manifest(videos_dir / f"m{rows}.csv",
                                   [_row(prompt=f"a red circle moves left {i}", VQ="A", MQ="B", TA="same")
                                    for i in range(rows)])
        with CaptureQueriesContext(connection) as captured:
            report = comparisons_import(project=project, manifest=manifest, roots=[videos_dir])
        assert report.written and report.comparisons == rows and report.judgements == rows
        return len(captured)

    queries_for(5)  # registers the two videos; later imports find them
    # Both sizes fit one write chunk: the same statements, whatever the number of rows.
    assert queries_for(20) == queries_for(400)
