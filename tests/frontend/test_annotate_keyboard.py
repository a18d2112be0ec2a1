"""An annotator signs in and judges three comparisons with the keyboard alone; the judgements are stored in A/B
terms (un-swapped), and save-then-next is measured in the browser."""

import logging
import statistics

import pytest

from annotation.models import Assignment, Judgement, Membership
from tests.annotation.factories import PASSWORD, make_member, make_project, set_form_password
from tests.frontend.conftest import make_clip_comparisons, screenshot

logger = logging.getLogger(__name__)
# Loose enough for a loaded two-core machine; the figure itself is printed and reported (target: < 300 ms).
SAVE_TO_NEXT_CEILING_MS = 1500


def tab_to(page, text: str, limit: int = 15) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == text:
            return
    raise AssertionError(f"no focusable element reads {text!r}")


def next_assignment(page, previous: str | None) -> int:
    page.wait_for_function(
        "prev => document.body.dataset.assignment && document.body.dataset.assignment !== prev", arg=previous
    )
    return int(page.evaluate("document.body.dataset.assignment"))


@pytest.mark.django_db(transaction=True)
def test_keyboard_only_annotation_stores_unswapped_labels(open_page, capsys):
    project = make_project(name="Keyboard project")
    annotator = make_member(project, Membership.Role.ANNOTATOR, username="kim")
    set_form_password(annotator, PASSWORD)
    make_clip_comparisons(project, 3, frames=16, fps=8)
    page = open_page()

    # Sign in and open the project without the mouse.
    page.goto("/login/")
    page.wait_for_selector("#id_username:focus")  # the sign-in form starts in the username field
    page.keyboard.type("kim")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text('Your projects')")
    tab_to(page, "Annotate")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/projects/{project.slug}/annotate/")

    seen = []
    previous = None
    for index in range(3):
        assignment_id = next_assignment(page, previous)
        previous = str(assignment_id)
        seen.append(assignment_id)
        assert page.is_disabled("#submit")
        page.keyboard.press("1")  # VQ: left better
        page.keyboard.press("3")  # MQ: right better
        assert page.is_disabled("#submit"), "submit must wait for every dimension"
        page.keyboard.press("2")  # TA: tie
        page.keyboard.press("c")  # into the checklist (TA, the highlighted dimension)
        page.keyboard.press("Space")  # tick the first item for the left video
        assert page.is_enabled("#submit")
        if index == 0:
            page.wait_for_selector("body[data-videos-ready]")
            path = screenshot(page, "annotate-1280x720.png")
            logger.info("screenshot: %s", path)
            assert page.evaluate("document.documentElement.scrollHeight") <= 720
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        page.keyboard.press("Enter")

    page.wait_for_selector("#done:not([hidden])")
    assert "All done" in page.text_content("#done")
    assert page.text_content("#stat-today").strip() == "3"

    judgements = {j.assignment_id: j for j in Judgement.objects.filter(annotator=annotator)}
    assert sorted(judgements) == sorted(seen)
    for assignment_id in seen:
        left_is_a = Assignment.objects.get(pk=assignment_id).left_is_a
        left, right = ("A", "B") if left_is_a else ("B", "A")
        judgement = judgements[assignment_id]
        assert (judgement.vq, judgement.mq, judgement.ta) == (left, right, "same")
        assert judgement.checklist == {left: {"TA": ["subject_relevance"]}}
        assert judgement.idempotency_key
        assert judgement.lead_time_ms is not None

    metrics = page.evaluate("window.vidprefMetrics")
    assert len(metrics["saveToPromptMs"]) == 2  # the third submit leads to the end page
    median = statistics.median(metrics["saveToPromptMs"])
    with capsys.disabled():
        print(
            f"\nsave-then-next (submit key → next prompt shown): {[round(m) for m in metrics['saveToPromptMs']]} ms;"
            f" → both videos ready: {[round(m) for m in metrics['saveToVideosMs']]} ms"
        )
    assert median < SAVE_TO_NEXT_CEILING_MS
    assert page.errors == []
