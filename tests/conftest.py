"""Session-wide test setup: the real PostgreSQL and Redis of this machine, media in a temporary folder, and a
real Celery worker process for the tests where the queue is the point."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    settings.MEDIA_ROOT = tmp_path_factory.getbasetemp() / "media"
    settings.MEDIA_ROOT.mkdir(exist_ok=True)
    settings.JOBS_ROOT = tmp_path_factory.getbasetemp() / "jobs"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~0.3 s per user on this machine; what is tested is who may do what, not hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process on the test database and this session's media folders."""
    from django.conf import settings
    from django.db import connection

    from config.celery import app

    name = connection.settings_dict["NAME"]
    base = settings.DATABASE_URL.rsplit("/", 1)[0]
    env = os.environ | {
        "DATABASE_URL": f"{base}/{name}",
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(tmp_path_factory.getbasetemp() / "media"),
        "JOBS_ROOT": str(tmp_path_factory.getbasetemp() / "jobs"),
        "DB_POOL": "0",
    }
    app.control.purge()  # nothing left over from an earlier, interrupted session
    log = tmp_path_factory.getbasetemp() / "celery-worker.log"
    handle = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default", "-P", "solo",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Celery worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    yield process
    process.terminate()
    process.wait(timeout=30)
    handle.close()
