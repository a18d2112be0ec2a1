"""Browser tests: one real ASGI server (uvicorn, HTTP and websockets) and one headless Chromium per session.

The server is a subprocess on a free loopback port, pointed at pytest-django's test database and at the test
media folder. What a test creates for it must be committed, so the tests here use transactional databases
(`@pytest.mark.django_db(transaction=True)`); the table flush after each test also wipes the sessions.
"""

import hashlib
import itertools
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import PBKDF2PasswordHasher
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def server_url(django_db_setup, tmp_path_factory) -> str:
    media = tmp_path_factory.getbasetemp() / "media"
    media.mkdir(exist_ok=True)
    static = tmp_path_factory.mktemp("static")
    log_path = tmp_path_factory.getbasetemp() / "ui-server.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(media),
        "STATIC_ROOT": str(static),
        # The same broker and channel layer as the session's Celery worker (tests/conftest.py), so that jobs
        # it runs reach this server's websockets.
        "REDIS_URL": settings.REDIS_URL,
        "JOBS_ROOT": str(tmp_path_factory.getbasetemp() / "jobs"),
        "DEBUG": "0",
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "8",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    # Static files as in production: collected, then served by WhiteNoise from the ASGI server.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = _free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/login/", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the test server did not start; see {log_path}:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


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


def set_form_password(user, password: str) -> None:
    """A password the server can check quickly: PBKDF2 (which the server knows) with few iterations.

    The test settings hash with MD5, which the server does not accept.
    """
    user.password = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt(), iterations=1000)
    user.save(update_fields=["password"])


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
