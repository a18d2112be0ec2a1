"""The annotation page's rules: submit waits for every required answer, a lost lease is explained and the page
moves on, and prompts and guidelines cannot inject markup."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Comparison, Judgement, Membership
from annotation.services.leases import assignment_claim, leases_reclaim_expired
from tests.annotation.factories import make_member, make_project
from tests.frontend.conftest import make_clip_comparisons, screenshot

# Whether each element shows all its content (nothing scrolled away or spilling over).
FITS = "sels => sels.map(s => { const e = document.querySelector(s); return e.scrollHeight <= e.clientHeight + 1; })"


def shown_assignment(page, previous: str | None = None) -> Assignment:
    page.wait_for_function(
        "prev => document.body.dataset.assignment && document.body.dataset.assignment !== prev", arg=previous
    )
    return Assignment.objects.get(pk=int(page.evaluate("document.body.dataset.assignment")))


@pytest.mark.django_db(transaction=True)
def test_submit_waits_for_every_dimension_and_score(open_page):
    project = make_project(asks_overall=True, asks_mos=True)
    annotator = make_member(project, Membership.Role.ANNOTATOR)
    make_clip_comparisons(project, 2, frames=16, fps=8)
    page = open_page(annotator)
    page.goto(f"/projects/{project.slug}/annotate/")
    assignment = shown_assignment(page)

    assert page.is_disabled("#submit")
    for key in ("1", "3", "2"):
        page.keyboard.press(key)
    assert page.is_disabled("#submit"), "Overall is still missing"
    page.keyboard.press("Enter")  # refused on the page: nothing is sent
    assert "Overall" in page.text_content("#notice-text")
    page.keyboard.press("1")  # Overall: left
    assert page.is_disabled("#submit"), "the six scores are still missing"
    assert "6 scores" in page.text_content("#submit-hint")

    # Five of six scores by mouse, the last by keyboard on its row.
    scores = {("left", "VQ"): 5, ("left", "MQ"): 4, ("left", "TA"): 3, ("right", "VQ"): 2, ("right", "MQ"): 1}
    for (side, dimension), score in scores.items():
        page.click(f"input[name=mos-{side}-{dimension}][value='{score}']")
        assert page.is_disabled("#submit")
    page.focus("input[name=mos-right-TA][value='1']")
    page.keyboard.press("4")
    assert page.is_checked("input[name=mos-right-TA][value='4']")
    assert page.is_enabled("#submit")
    page.wait_for_selector("body[data-videos-ready]")
    screenshot(page, "annotate-overall-mos-1280x720.png")
    # Everything, MOS included, fits a 1280×720 screen: no page scroll, no clipped panel.
    assert page.evaluate("document.documentElement.scrollHeight") <= 720
    assert page.evaluate(FITS, [".judge", "#checklist-scroll", ".prompt-text"]) == [True, True, True]

    assert not Judgement.objects.exists()
    page.keyboard.press("Escape")  # leave the radio group; Enter is then a page shortcut again
    page.keyboard.press("Enter")
    shown_assignment(page, str(assignment.pk))
    judgement = Judgement.objects.get(assignment=assignment)
    left, right = ("a", "b") if assignment.left_is_a else ("b", "a")
    assert judgement.overall == ("A" if assignment.left_is_a else "B")
    assert (getattr(judgement, f"mos_{left}_vq"), getattr(judgement, f"mos_{left}_mq"), getattr(judgement, f"mos_{left}_ta")) == (5, 4, 3)
    assert (getattr(judgement, f"mos_{right}_vq"), getattr(judgement, f"mos_{right}_mq"), getattr(judgement, f"mos_{right}_ta")) == (2, 1, 4)
    # The next comparison starts blank.
    assert page.is_disabled("#submit")
    assert page.locator(".choice[aria-pressed=true]").count() == 0
    assert page.locator(".mos input:checked").count() == 0
    assert page.errors == []


@pytest.mark.django_db(transaction=True)
def test_lost_lease_is_explained_and_the_page_moves_on(open_page):
    project = make_project(overlap=1)
    annotator = make_member(project, Membership.Role.ANNOTATOR)
    rival = make_member(project, Membership.Role.ANNOTATOR)
    make_clip_comparisons(project, 2, frames=16, fps=8)
    page = open_page(annotator)
    page.goto(f"/projects/{project.slug}/annotate/")
    lost = shown_assignment(page)
    for key in ("1", "3", "2"):
        page.keyboard.press(key)

    # The lease runs out (a long break) and the slot goes to someone else.
    Assignment.objects.filter(pk=lost.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert leases_reclaim_expired() == 1
    Comparison.objects.filter(pk=lost.comparison_id).update(queue_key=-1)  # the rival is served it first
    rivals = Assignment.objects.get(pk=assignment_claim(project=project, annotator=rival))
    assert rivals.comparison_id == lost.comparison_id

    page.keyboard.press("Enter")
    following = shown_assignment(page, str(lost.pk))
    notice = page.text_content("#notice-text")
    assert "went to another annotator" in notice and "next comparison" in notice
    assert following.comparison_id != lost.comparison_id
    assert not Judgement.objects.filter(annotator=annotator).exists()
    # The annotator carries on where they are: the new comparison is blank and can be judged at once.
    assert page.locator(".choice[aria-pressed=true]").count() == 0
    for key in ("2", "2", "2"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    assert Judgement.objects.get(annotator=annotator).assignment_id == following.pk


@pytest.mark.django_db(transaction=True)
def test_prompt_and_guidelines_cannot_inject_markup(open_page):
    prompt = '<script>window.__pwned = 1</script><b>bold?</b> & "quotes" <img src=x onerror="window.__pwned = 2">'
    guidelines = (
        "# Rules\n\n**Judge motion first.**\n\n<script>window.__pwnedGuidelines = 1</script>\n\n"
        '<img src="x" onerror="window.__pwnedGuidelines = 2">\n\n[a link](javascript:alert(1))'
    )
    project = make_project(guidelines=guidelines)
    annotator = make_member(project, Membership.Role.ANNOTATOR)
    make_clip_comparisons(project, 1, frames=8, fps=8, prompts=[prompt])
    page = open_page(annotator)
    page.goto(f"/projects/{project.slug}/annotate/")
    shown_assignment(page)

    assert page.text_content("#prompt") == prompt
    assert page.locator("#prompt *").count() == 0
    page.keyboard.press("g")
    assert page.is_visible("#guidelines")
    markdown = page.locator("#guidelines .markdown")
    assert markdown.locator("strong").text_content() == "Judge motion first."
    assert markdown.locator("script").count() == 0
    assert markdown.locator("[onerror]").count() == 0
    assert markdown.locator("a[href^='javascript']").count() == 0
    page.wait_for_timeout(200)  # give any injected handler its chance to run
    assert page.evaluate("[window.__pwned, window.__pwnedGuidelines]") == [None, None]
    page.keyboard.press("Escape")
    assert page.is_hidden("#guidelines")


@pytest.mark.django_db(transaction=True)
def test_heartbeats_keep_the_lease_while_the_page_is_visible(open_page):
    project = make_project(lease_ttl_seconds=10)  # the shortest lease: a beat every ~3.3 s
    annotator = make_member(project, Membership.Role.ANNOTATOR)
    make_clip_comparisons(project, 1, frames=8, fps=8)
    page = open_page(annotator)
    page.goto(f"/projects/{project.slug}/annotate/")
    assignment = shown_assignment(page)

    def expiry():
        return Assignment.objects.get(pk=assignment.pk).expires_at

    first = expiry()
    page.wait_for_timeout(3800)
    beaten = expiry()
    assert beaten > first

    # Hidden (another tab in front): no more beats, so an abandoned page frees its work for others.
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_timeout(300)
    hidden = expiry()
    page.wait_for_timeout(3800)
    assert expiry() == hidden

    # Back in front: a beat at once.
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_timeout(500)
    assert expiry() > hidden
    assert page.errors == []


@pytest.mark.django_db(transaction=True)
def test_a_video_that_cannot_be_played_is_reported_with_the_way_out(open_page, settings):
    from pathlib import Path

    project = make_project(overlap=1)
    annotator = make_member(project, Membership.Role.ANNOTATOR)
    (comparison,) = make_clip_comparisons(project, 1, frames=16, fps=8)
    (Path(settings.MEDIA_ROOT) / comparison.video_b.file.name).write_bytes(b"\x00not an mp4 at all" * 64)
    page = open_page(annotator)
    page.goto(f"/projects/{project.slug}/annotate/")
    page.wait_for_function("document.getElementById('notice-text')?.textContent.includes('could not be played')",
                           timeout=15000)
    assert "Shift+S" in page.text_content("#notice-text")
