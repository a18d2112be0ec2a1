"""`python -m synthetic annotate` drives simulated annotators through the real HTTP API of a running server."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from annotation.models import Comparison, Judgement
from annotation.services.imports import comparisons_import
from synthetic import GENERATORS
from synthetic.dataset import DatasetConfig, make_dataset
from tests.annotation.factories import make_member, make_project, set_form_password

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def test_simulated_annotators_label_everything_through_the_api(server_url):
    dataset = Path(settings.MEDIA_ROOT) / "synthetic-e2e"
    make_dataset(dataset, DatasetConfig(n_prompts=3, generators=("atlas-pro", "crisp-jitter", tuple(GENERATORS)[2]), labels=False,
                                        seed=4, workers=1))
    project = make_project(overlap=2)
    for split in ("train", "val", "test"):
        report = comparisons_import(project=project, manifest=dataset / f"{split}.csv", roots=[dataset],
                                    skip_invalid=False)
        assert report.written, report.errors
    total = Comparison.objects.filter(project=project).count()
    assert total == 9  # 3 prompts × C(3, 2) pairs
    careful, biased = make_member(project, username="sim-careful"), make_member(project, username="sim-biased")
    for user in (careful, biased):
        set_form_password(user, "pw")
    run = subprocess.run(
        [sys.executable, "-m", "synthetic", "annotate", "--url", server_url, "--project", project.slug,
         "--dataset", str(dataset), "--annotator", "sim-careful:pw:careful", "--annotator", "sim-biased:pw:left_biased",
         "--seed", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    # K = 2 and two annotators: each judges every comparison once, through next → submit until 204.
    assert Judgement.objects.filter(annotator=careful).count() == total
    assert Judgement.objects.filter(annotator=biased).count() == total
    assert set(Comparison.objects.filter(project=project).values_list("judgement_count", "remaining")) == {(2, 0)}
    assert "sim-careful" in run.stdout and str(total) in run.stdout


def test_videos_the_oracle_does_not_know_are_skipped_or_perceived_through_the_analyser(server_url, tmp_path):
    """The feedback loop's generated videos are in no oracle.csv: by default an annotator skips them; with
    --perceive-unknown it watches them through the pixel analyser and prefers the sharp one on visual quality."""
    from annotation.services.comparisons import comparison_create, prompt_get_or_create
    from annotation.services.videos import video_register_file
    from synthetic.defects import Defects
    from synthetic.video import render_video

    text = "A red circle moves left on a plain background in daylight."
    folder = Path(settings.MEDIA_ROOT) / "unknown-videos"
    folder.mkdir(parents=True, exist_ok=True)
    project = make_project()
    prompt = prompt_get_or_create(project=project, text=text)
    for index in range(4):  # four comparisons: a clean clip against a heavily blurred and noisy one
        sharp = render_video(text, seed=index, path=folder / f"sharp{index}.mp4")
        smeared = render_video(text, seed=index, defects=Defects.from_dict({"blur": 1.0, "noise": 1.0}),
                               path=folder / f"smeared{index}.mp4")
        comparison_create(project=project, prompt=prompt, video_a=video_register_file(path=Path(sharp)),
                          video_b=video_register_file(path=Path(smeared)))
    empty = tmp_path / "no-dataset"
    make_dataset(empty, DatasetConfig(n_prompts=1, generators=("atlas-pro", "crisp-jitter"), labels=False, workers=1))
    blind, eyes = make_member(project, username="sim-blind"), make_member(project, username="sim-eyes")
    for user in (blind, eyes):
        set_form_password(user, "pw")

    def annotate(username: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "synthetic", "annotate", "--url", server_url, "--project", project.slug,
             "--dataset", str(empty), "--annotator", f"{username}:pw:careful", "--seed", "3", *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=240)

    skipped = annotate("sim-blind")
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "skipped 4" in skipped.stdout and not Judgement.objects.filter(annotator=blind).exists()

    perceived = annotate("sim-eyes", "--perceive-unknown")
    assert perceived.returncode == 0, perceived.stderr[-2000:]
    judgements = list(Judgement.objects.filter(annotator=eyes))
    assert len(judgements) == 4
    # Blur and noise at full severity cost far more visual quality than the careful annotator's noise.
    assert sum(j.vq == "A" for j in judgements) >= 3
