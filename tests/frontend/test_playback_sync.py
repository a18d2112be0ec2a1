"""One transport for two videos: play, pause, scrubbing, frame steps and speed keep them within one frame."""

import pytest

from annotation.models import Membership
from tests.annotation.factories import make_member, make_project
from tests.frontend.conftest import make_clip_comparisons

FPS = 24
FRAME = 1 / FPS

TIMES = """() => {
  const l = document.getElementById('video-left'), r = document.getElementById('video-right');
  return {left: l.currentTime, right: r.currentTime, paused: [l.paused, r.paused], rate: [l.playbackRate, r.playbackRate],
          frame: document.getElementById('frame').textContent};
}"""


def times(page) -> dict:
    return page.evaluate(TIMES)


def assert_in_sync(page, samples: int = 1, every_ms: int = 120) -> list[dict]:
    seen = []
    for _ in range(samples):
        now = times(page)
        seen.append(now)
        drift = abs(now["left"] - now["right"])
        assert drift <= FRAME, f"videos {drift * 1000:.0f} ms apart (one frame is {FRAME * 1000:.0f} ms): {now}"
        page.wait_for_timeout(every_ms)
    return seen


@pytest.mark.django_db(transaction=True)
def test_play_pause_scrub_step_keep_videos_within_one_frame(open_page):
    project = make_project()
    annotator = make_member(project, Membership.Role.ANNOTATOR)
    make_clip_comparisons(project, 1, frames=72, fps=FPS)  # 3 s clips
    page = open_page(annotator)
    page.goto(f"/projects/{project.slug}/annotate/")
    page.wait_for_selector("body[data-videos-ready]")

    # Playing (started on load): both advance, together.
    page.wait_for_function("document.getElementById('video-left').currentTime > 0.3")
    played = assert_in_sync(page, samples=6)
    assert played[-1]["left"] != played[0]["left"], "the videos should be playing"
    assert played[-1]["paused"] == [False, False]

    # Pause: both stop on the same instant.
    page.keyboard.press("Space")
    page.wait_for_function("document.getElementById('video-left').paused && document.getElementById('video-right').paused")
    paused = assert_in_sync(page, samples=2)
    assert paused[0]["left"] == paused[1]["left"]

    # Scrub with the mouse to about 70 %: both land there, paused while dragging.
    box = page.locator("#scrubber").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=4)
    page.mouse.up()
    page.wait_for_function("!document.getElementById('video-left').seeking && !document.getElementById('video-right').seeking")
    scrubbed = assert_in_sync(page)[0]
    assert 0.6 * 3 < scrubbed["left"] < 0.8 * 3

    # Frame steps: exactly one frame of the shared clock each, both videos.
    start_frame = int(scrubbed["frame"].split()[1].split("/")[0])
    for _ in range(3):
        page.keyboard.press(".")
    page.keyboard.press(",")
    page.wait_for_function("!document.getElementById('video-left').seeking && !document.getElementById('video-right').seeking")
    stepped = assert_in_sync(page)[0]
    assert stepped["frame"].startswith(f"frame {start_frame + 2}/72")
    assert stepped["left"] == pytest.approx((start_frame + 2 - 1 + 0.5) / FPS, abs=1e-3)

    # Faster, play again from the stepped position (looping past the end): still together.
    page.keyboard.press("=")
    page.keyboard.press("=")
    page.keyboard.press("Space")
    page.wait_for_function("!document.getElementById('video-left').paused")
    fast = assert_in_sync(page, samples=4)
    leader_rate, follower_rate = fast[-1]["rate"]
    assert leader_rate == 1.5 and follower_rate == pytest.approx(1.5, rel=0.12)  # the follower is nudged
    assert page.input_value("#speed") == "1.5"
    # Loop is on by default: both wrap around together and keep playing.
    page.wait_for_function(f"document.getElementById('video-left').currentTime < {stepped['left'] - 0.5}", timeout=10000)
    wrapped = assert_in_sync(page, samples=4)
    assert wrapped[-1]["paused"] == [False, False]
    assert page.errors == []
