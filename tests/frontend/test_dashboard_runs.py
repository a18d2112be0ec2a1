"""The dashboard's reward-model panel follows a run live: progress, loss curve, promotion."""

import pytest

from annotation.models import Membership
from rewards.models import RewardRun
from rewards.services.runs import registry_promote, reward_run_progress, reward_run_start, reward_run_succeed
from tests.annotation.factories import make_member, make_project
from tests.frontend.conftest import screenshot


@pytest.mark.django_db(transaction=True)
def test_manager_sees_a_run_progress_and_its_promotion_live(open_page):
    project = make_project(name="Runs project")
    manager = make_member(project, Membership.Role.MANAGER, username="mona")
    run = RewardRun.objects.create(project=project)
    page = open_page(manager)
    page.goto(f"/projects/{project.slug}/dashboard/")
    page.wait_for_selector("#live[data-state=live]")
    page.wait_for_selector(f"#reward-runs tr[data-run='{run.pk}'] td:text('queued')")

    # A worker starts the run and reports steps; the panel follows without a reload.
    reward_run_start(run_id=run.pk)
    for step in range(1, 5):
        reward_run_progress(run_id=run.pk, record={"event": "step", "step": step, "total_steps": 4, "loss": 1.0 / step})
    reward_run_succeed(run_id=run.pk, result={"score": 0.75, "promoted": True}, artefacts="/tmp/run")
    registry_promote(project=project, run=run, model_dir="/tmp/run/model", score=0.75)

    row = f"#reward-runs tr[data-run='{run.pk}']"
    page.wait_for_selector(f"{row} td:text('succeeded')", timeout=10000)
    assert page.locator(row).locator("td").nth(2).text_content() == "100%"
    assert page.locator(row).locator("td").nth(4).text_content() == "75.0%"
    page.wait_for_function("document.getElementById('registry-active').textContent.includes('75.0%')")
    assert page.locator("#loss-chart svg .column").count() == 4  # one bar per reported step
    page.locator("#runs-title").scroll_into_view_if_needed()
    screenshot(page, "dashboard-runs-1280x720.png")
    assert page.errors == []


@pytest.mark.django_db(transaction=True)
def test_manager_follows_an_alignment_run_and_its_returned_comparisons_live(open_page):
    from alignment.models import AlignmentRun
    from alignment.services.runs import ALIGNMENT_RUNS

    project = make_project(name="Alignment project")
    manager = make_member(project, Membership.Role.MANAGER, username="ali")
    run = AlignmentRun.objects.create(project=project, config={"train": {"method": "flow-dpo"}})
    page = open_page(manager)
    page.goto(f"/projects/{project.slug}/dashboard/")
    page.wait_for_selector("#live[data-state=live]")
    row = f"#alignment-runs tr[data-run='{run.pk}']"
    page.wait_for_selector(f"{row} td:text('queued')")

    ALIGNMENT_RUNS.start(run_id=run.pk)
    for step in range(1, 4):
        ALIGNMENT_RUNS.progress(run_id=run.pk, record={"step": step, "total_steps": 6, "loss": 0.7 - step / 10})
    # Mid-run: half the steps are done, and the panel says so before the run ends.
    page.wait_for_function(f"document.querySelector(\"{row}\")?.children[2]?.textContent === '50%'", timeout=10000)
    ALIGNMENT_RUNS.succeed(run_id=run.pk, artefacts="/tmp/a", result={
        "score": 0.625, "promoted": True, "generated": {"aligned_vs_pretrained": 4, "aligned_vs_aligned": 8}})
    registry_promote(project=project, run=run, model_dir="/tmp/a/lora", score=0.625, kind="generator")

    page.wait_for_selector(f"{row} td:text('succeeded')", timeout=10000)
    cells = [page.locator(row).locator("td").nth(i).text_content() for i in range(8)]
    assert cells[4:] == ["flow-dpo", "62.5%", "yes", "12"]
    page.wait_for_function("document.getElementById('generator-active').textContent.includes('62.5%')")
    assert page.locator("#alignment-loss-chart svg .column").count() == 3
    # The reward panel is not confused by the generator entry.
    assert page.locator("#registry-active").text_content() == "No model promoted yet."
    assert page.errors == []
