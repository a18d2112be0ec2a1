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
