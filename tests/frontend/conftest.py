"""Browser tests: one headless Chromium per session, driving the session's real ASGI server (`server_url` in
tests/conftest.py). What a test creates for the server must be committed, so the tests here use transactional
databases (`@pytest.mark.django_db(transaction=True)`); the table flush after each test also wipes the sessions.
"""

import hashlib
import itertools
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from annotation.models import Comparison, Prompt, Video
from annotation.services.comparisons import comparison_create
from tests.annotation.clips import write_clip

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # Videos start without a click, as they do for an annotator who has interacted with the page.
    "--autoplay-policy=no-user-gesture-required",
]
VIEWPORT = {"width": 1280, "height": 720}
_clips = itertools.count()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, which Django's ORM would take for async code;
    # the ORM calls made by these tests are plain synchronous calls between browser steps.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def open_page(browser, server_url, transactional_db):
    """`open_page(user=None)`: a fresh 1280×720 page, signed in as `user` by session cookie when given.

    Depends on the transactional database so that pages are closed before the tables are flushed.
    """
    contexts = []

    def make(user=None):
        context = browser.new_context(viewport=VIEWPORT, base_url=server_url)
        contexts.append(context)
        if user is not None:
            context.add_cookies([{"name": "sessionid", "value": session_for(user), "url": server_url}])
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


def session_for(user) -> str:
    """A server-side session signed in as `user`, as Django's login() would store it."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def make_clip_comparisons(project, count: int, *, frames: int = 48, fps: int = 24, prompts=None) -> list[Comparison]:
    """Comparisons of real, longer clips (default 2 s at 24 fps) with prompts of our choosing."""
    comparisons = []
    for index in range(count):
        text = prompts[index] if prompts else f"a grey square fades slowly #{next(_clips)}"
        prompt = Prompt.objects.create(project=project, text=text)
        videos = []
        for generator in ("gen-a", "gen-b"):
            n = next(_clips)
            relative = f"videos/ui-{os.getpid()}-{n}.mp4"
            path = write_clip(Path(settings.MEDIA_ROOT) / relative, frames=frames, fps=fps, size=64, colour=n)
            videos.append(
                Video.objects.create(
                    file=relative, generator=generator, fps=fps, num_frames=frames, width=64, height=64,
                    duration=frames / fps, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                )
            )
        comparisons.append(comparison_create(project=project, prompt=prompt, video_a=videos[0], video_b=videos[1]))
    return comparisons


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    return path
