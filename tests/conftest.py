"""Session-wide test setup: the real PostgreSQL and Redis of this machine, media in a temporary folder, and a
real Celery worker process for the tests where the queue is the point."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    settings.MEDIA_ROOT = tmp_path_factory.getbasetemp() / "media"
    settings.MEDIA_ROOT.mkdir(exist_ok=True)
    settings.JOBS_ROOT = tmp_path_factory.getbasetemp() / "jobs"
    settings.RUNS_ROOT = tmp_path_factory.getbasetemp() / "runs"
    # WhiteNoise warns on every request handler it builds when the static folder is missing (a fresh clone).
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~0.3 s per user on this machine; what is tested is who may do what, not hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def start_worker(queues: str, log: Path, **env_extra: str) -> subprocess.Popen:
    """A real `celery worker` process on the test database and this session's folders; returns once ready."""
    from django.db import connection

    base = settings.DATABASE_URL.rsplit("/", 1)[0]
    folders = log.parent
    env = os.environ | {
        "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(folders / "media"),
        "JOBS_ROOT": str(folders / "jobs"),
        "RUNS_ROOT": str(folders / "runs"),
        "DB_POOL": "0",
    } | env_extra
    handle = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues, "-P", "solo",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Celery worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, tmp_path_factory):
    """The session's worker for the `default` queue (imports, exports)."""
    from config.celery import app

    app.control.purge()  # nothing left over from an earlier, interrupted session
    process = start_worker("default", tmp_path_factory.getbasetemp() / "celery-default.log")
    yield process
    stop_worker(process)


@pytest.fixture(scope="module")
def gpu_worker(django_db_setup, tmp_path_factory):
    """A worker for the `gpu` queue (training runs), per test module, so a module may also run its own."""
    process = start_worker("gpu", tmp_path_factory.getbasetemp() / "celery-gpu.log")
    yield process
    stop_worker(process)


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


@pytest.fixture
def client_for():
    """An API client logged in as `user` (None: anonymous)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make


def finished_run(client, url: str, seconds: float = 600) -> dict:
    """Poll a run's API detail URL until the run has finished (succeeded, failed or cancelled); its JSON."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = client.get(url).json()
        if run["state"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"{url} did not finish: {run['state']}")


# Worker settings for takeover tests: a killed worker's task is handed out again, and its run taken over, in seconds.
FAST_TAKEOVER = {"CELERY_VISIBILITY_TIMEOUT": "3", "RUN_STALE_SECONDS": "3"}


def wait_for_the_run(model, predicate, seconds: float, what: str):
    """The only `model` run row once `predicate(row)` holds; polls the database."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = model.objects.get()
        if predicate(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {model.objects.values().get()}")


def run_with_a_killed_worker(model, start_run, *, kill_at_step: int, log_dir: Path, name: str,
                             finish_within: float):
    """Start a run on a `gpu` worker, SIGKILL that worker once the run reached `kill_at_step`, let a second worker
    take it over; returns (the run row as it was before the kill, its step after the kill, the finished row)."""
    first = start_worker("gpu", log_dir / f"celery-{name}-1.log", **FAST_TAKEOVER)
    try:
        start_run()
        running = wait_for_the_run(model, lambda r: r.step >= kill_at_step, 240, f"{kill_at_step} training steps")
        first.send_signal(signal.SIGKILL)  # no goodbye: the task stays unacknowledged
        first.wait(timeout=30)
        killed_at = model.objects.get().step
    finally:
        if first.poll() is None:
            stop_worker(first)
    second = start_worker("gpu", log_dir / f"celery-{name}-2.log", **FAST_TAKEOVER)
    try:
        done = wait_for_the_run(model, lambda r: r.state not in ("queued", "running"), finish_within,
                                "the run to finish")
    finally:
        stop_worker(second)
    return running, killed_at, done
