"""Imports and exports through the API, run by a real Celery worker process."""

import csv
import io
import time

import pytest
from django.conf import settings

from annotation.models import Comparison, Job
from tests.annotation.clips import write_clip
from tests.annotation.factories import claim, make_comparisons, make_member, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def _wait(client, job_id: int, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}/").json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def _upload(path, name=None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name or path.name, path.read_bytes())


def test_import_through_the_api_with_uploaded_videos(celery_worker, client_for, tmp_path):
    project = make_project()
    manager = client_for(make_member(project, "manager"))
    for index, name in enumerate(("a.mp4", "b.mp4", "c.mp4")):
        write_clip(tmp_path / name, colour=40 + index)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path_A,path_B,prompt,VQ,MQ,TA\na.mp4,b.mp4,a red circle,A,B,same\nb.mp4,c.mp4,a blue square,,,\n")
    files = [_upload(tmp_path / n) for n in ("a.mp4", "b.mp4", "c.mp4")]
    response = manager.post(f"/api/v1/projects/{project.slug}/imports/",
                            {"manifest": _upload(manifest), "videos": files}, format="multipart")
    assert response.status_code == 202, response.content
    job = _wait(manager, response.json()["id"])
    assert job["state"] == "succeeded", job
    assert (job["result"]["comparisons"], job["result"]["judgements"], job["result"]["videos"]) == (2, 1, 3)
    assert Comparison.objects.filter(project=project).count() == 2
    # The imported videos are served from MEDIA_ROOT like any other.
    annotator = make_member(project)
    lease = claim(project, annotator)
    assert (settings.MEDIA_ROOT / lease.comparison.video_a.file.name).is_file()


def test_a_failing_import_job_reports_rows_and_writes_nothing(celery_worker, client_for, tmp_path):
    project = make_project()
    manager = client_for(make_member(project, "manager"))
    manifest = tmp_path / "m.csv"
    manifest.write_text("path_A,path_B,prompt\nmissing.mp4,../../etc/passwd,a red circle\n")
    response = manager.post(f"/api/v1/projects/{project.slug}/imports/", {"manifest": _upload(manifest)},
                            format="multipart")
    job = _wait(manager, response.json()["id"])
    assert job["state"] == "failed" and "nothing was imported" in job["error"]
    reasons = {(e["row"], e["field"]): e["reason"] for e in job["result"]["errors"]}
    assert reasons == {(1, "path_A"): "missing.mp4: missing file", (1, "path_B"): "../../etc/passwd: outside the media root"}
    assert Comparison.objects.count() == 0


def test_export_through_the_api_and_download(celery_worker, client_for):
    project = make_project()
    comparisons = make_comparisons(project, 2, with_files=True)
    annotator = make_member(project)
    from annotation.services.judgements import SubmittedJudgement, judgement_submit

    for step in range(2):
        lease = claim(project, annotator)
        judgement_submit(assignment_id=lease.pk, annotator=annotator, submission=SubmittedJudgement(
            labels={"VQ": "left" if lease.left_is_a else "right", "MQ": "tie", "TA": "tie"}, idempotency_key=f"e{step}"))
    manager = client_for(make_member(project, "manager"))
    response = manager.post(f"/api/v1/projects/{project.slug}/exports/", {"format": "videoalign", "name": "labels"},
                            format="json")
    assert response.status_code == 202, response.content
    job = _wait(manager, response.json()["id"])
    assert job["state"] == "succeeded", job
    download = manager.get(job["download_url"])
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert [(r["path_A"], r["VQ"], r["MQ"]) for r in rows] == [(c.video_a.file.name, "A", "same") for c in comparisons]
    assert Job.objects.get(pk=job["id"]).output.endswith("labels.csv")


def test_export_input_is_validated(client_for):
    project = make_project()
    manager = client_for(make_member(project, "manager"))
    response = manager.post(f"/api/v1/projects/{project.slug}/exports/",
                            {"format": "xlsx", "name": "../x", "min_agreement": 2, "annotators": ["ghost"]},
                            format="json")
    assert response.status_code == 400
    assert {"format", "name", "min_agreement"} <= set(response.json()["errors"])
    response = manager.post(f"/api/v1/projects/{project.slug}/exports/", {"annotators": ["ghost"]}, format="json")
    assert response.status_code == 400 and "annotators" in response.json()["errors"]
    assert Job.objects.count() == 0


def test_jobs_are_for_managers_of_the_project_only(client_for):
    project, other = make_project(), make_project()
    job = Job.objects.create(project=project, kind=Job.Kind.EXPORT)
    for role, expected in (("annotator", 404), ("other_manager", 404), ("anonymous", 401), ("manager", 200)):
        if role == "anonymous":
            client = client_for(None)
        elif role == "other_manager":
            client = client_for(make_member(other, "manager"))
        else:
            client = client_for(make_member(project, role))
        assert client.get(f"/api/v1/jobs/{job.pk}/").status_code == expected, role
        assert client.get(f"/api/v1/projects/{project.slug}/jobs/").status_code == expected, role
        posted = client.post(f"/api/v1/projects/{project.slug}/exports/", {}, format="json").status_code
        assert posted == (202 if role == "manager" else expected), role
