"""The manager dashboard: live progress over the websocket, and who is refused."""

import pytest

from annotation.models import Membership
from annotation.services.judgements import SubmittedJudgement, judgement_submit
from annotation.services.leases import assignment_claim
from tests.annotation.clips import write_clip
from tests.annotation.factories import make_member, make_project
from tests.frontend.conftest import make_clip_comparisons, screenshot

MANAGER = Membership.Role.MANAGER
ANNOTATOR = Membership.Role.ANNOTATOR
OPEN_SOCKET = """url => new Promise(resolve => {
  const socket = new WebSocket(url);
  socket.onopen = () => { resolve('open'); socket.close(); };
  socket.onclose = () => resolve('refused');
})"""


def judge(project, annotator, labels: dict) -> None:
    assignment_id = assignment_claim(project=project, annotator=annotator)
    judgement_submit(
        assignment_id=assignment_id,
        annotator=annotator,
        submission=SubmittedJudgement(labels=labels, idempotency_key=f"seed-{assignment_id}", lead_time_ms=4200),
    )


@pytest.mark.django_db(transaction=True)
def test_manager_sees_progress_change_live_when_an_annotator_submits(open_page):
    project = make_project(name="Live project", overlap=2)
    manager = make_member(project, MANAGER, username="maria")
    annotator = make_member(project, ANNOTATOR, username="ann")
    make_clip_comparisons(project, 4, frames=8, fps=8)
    for name, labels in (("bo", {"VQ": "left", "MQ": "left", "TA": "tie"}), ("cy", {"VQ": "left", "MQ": "right", "TA": "tie"})):
        other = make_member(project, ANNOTATOR, username=name)
        for _ in range(2):
            judge(project, other, labels)

    dashboard = open_page(manager)
    dashboard.goto(f"/projects/{project.slug}/dashboard/")
    dashboard.wait_for_selector("#live[data-state=live]")
    assert dashboard.text_content("#kpi-judgements") == "4"
    dashboard.wait_for_selector("#annotators td:text('bo')")
    dashboard.evaluate("window.__sameDocument = true")

    annotate = open_page(annotator)
    annotate.goto(f"/projects/{project.slug}/annotate/")
    annotate.wait_for_selector("body[data-assignment]")
    first = annotate.evaluate("document.body.dataset.assignment")
    for key in ("1", "3", "2", "Enter"):
        annotate.keyboard.press(key)
    annotate.wait_for_function("prev => document.body.dataset.assignment !== prev", arg=first)

    # No reload: the websocket event brings the new figures into the same document.
    dashboard.wait_for_function("document.getElementById('kpi-judgements').textContent === '5'", timeout=10000)
    assert dashboard.evaluate("window.__sameDocument") is True
    assert dashboard.evaluate("window.vidprefDashboard.events") >= 1
    dashboard.wait_for_selector("#annotators td:text('ann')")
    row = dashboard.locator("#annotators tr", has_text="ann")
    assert row.locator("td").nth(1).text_content() == "1"
    dashboard.wait_for_function("!document.querySelector('#dimension-quality').textContent.includes('Loading')")
    screenshot(dashboard, "dashboard-1280x720.png")
    assert dashboard.errors == [] and annotate.errors == []


@pytest.mark.django_db(transaction=True)
def test_annotators_are_refused_the_dashboard_and_its_websocket(open_page, server_url):
    project = make_project()
    annotator = make_member(project, ANNOTATOR)
    manager = make_member(project, MANAGER)
    socket_url = server_url.replace("http", "ws") + f"/ws/projects/{project.slug}/"

    page = open_page(annotator)
    response = page.goto(f"/projects/{project.slug}/dashboard/")
    assert response.status == 403
    assert "for managers" in page.text_content("main")
    assert page.locator("#kpi-judgements").count() == 0
    assert page.evaluate(OPEN_SOCKET, socket_url) == "refused"
    assert page.request.get(f"/api/v1/projects/{project.slug}/progress/").status == 404

    # The contrast: the manager's socket opens; a manager cannot open the annotation page.
    manager_page = open_page(manager)
    manager_page.goto("/")
    assert manager_page.evaluate(OPEN_SOCKET, socket_url) == "open"
    assert manager_page.goto(f"/projects/{project.slug}/annotate/").status == 403

    # Someone signed out is sent to sign in; a project that is not theirs does not exist for them.
    anonymous = open_page()
    anonymous.goto(f"/projects/{project.slug}/dashboard/")
    assert "/login/" in anonymous.url
    assert anonymous.evaluate(OPEN_SOCKET, socket_url) == "refused"
    stranger = open_page(make_member(make_project(), MANAGER))
    assert stranger.goto(f"/projects/{project.slug}/dashboard/").status == 404
    assert stranger.evaluate(OPEN_SOCKET, socket_url) == "refused"


@pytest.mark.django_db(transaction=True)
def test_manager_imports_and_exports_from_the_dashboard(open_page, celery_worker, tmp_path):
    project = make_project(name="Data project")
    manager = make_member(project, MANAGER)
    for index, name in enumerate(("a.mp4", "b.mp4", "c.mp4")):
        write_clip(tmp_path / name, colour=90 + index)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path_A,path_B,prompt,VQ,MQ,TA\na.mp4,b.mp4,a red circle,A,B,same\nb.mp4,c.mp4,a blue square,,,\n")
    broken = tmp_path / "broken.csv"
    broken.write_text("path_A,path_B,prompt\nmissing.mp4,a.mp4,a green star\n")

    page = open_page(manager)
    page.goto(f"/projects/{project.slug}/dashboard/")
    page.wait_for_selector("#live[data-state=live]")
    assert page.text_content("#kpi-total") == "0"

    # A manifest with a bad row: the job fails and says which row and why; nothing is imported.
    page.set_input_files("#import-manifest", str(broken))
    page.click("#import-form button[type=submit]")
    failed = page.wait_for_selector(".job-failed:has(.job-errors)", timeout=30000)
    assert "Row 1" in failed.text_content() and "missing.mp4" in failed.text_content()

    page.set_input_files("#import-manifest", str(manifest))
    page.set_input_files("#import-videos", [str(tmp_path / n) for n in ("a.mp4", "b.mp4", "c.mp4")])
    page.click("#import-form button[type=submit]")
    page.wait_for_selector(".job-succeeded", timeout=30000)
    page.wait_for_function("document.getElementById('kpi-total').textContent === '2'")  # live, no reload

    page.select_option("#export-format", "jsonl")
    page.click("#export-form button[type=submit]")
    link = page.wait_for_selector(".job-succeeded a:text('Download')", timeout=30000)
    download = page.request.get(link.get_attribute("href"))
    assert download.status == 200
    assert b"a red circle" in download.body()
    assert page.errors == []
