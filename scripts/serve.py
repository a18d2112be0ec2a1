"""Run the platform on this machine: migrations, the demo project, the ASGI server, a Celery worker and beat.

Started by scripts/run.sh after the services are up; stops all children on Ctrl-C or SIGTERM.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--no-demo", action="store_true", help="do not create the demo project")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", f"{args.host},127.0.0.1,localhost")

    manage("migrate", "--noinput", "-v", "0")
    manage("collectstatic", "--noinput", "-v", "0")
    if not args.no_demo:
        manage("seed_demo")

    children = [
        subprocess.Popen(
            [PY, "-m", "uvicorn", "config.asgi:application", "--host", args.host, "--port", str(args.port),
             "--no-access-log"],
            cwd=ROOT,
        ),
        subprocess.Popen(
            [PY, "-m", "celery", "-A", "config", "worker", "-Q", "default,gpu", "-c", "1", "--loglevel", "INFO"],
            cwd=ROOT,
        ),
        subprocess.Popen(
            [PY, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
             "-s", str(ROOT / "var" / "celerybeat-schedule")],
            cwd=ROOT,
        ),
    ]
    print(f"\nvidpref is running at http://{args.host}:{args.port}/  (admin: /admin/, API: /api/v1/)\n", flush=True)

    def stop(*_args) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(1)
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
