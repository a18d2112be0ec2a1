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
    parser.add_argument("--no-loop", action="store_true",
                        help="no simulated annotators or scheduled training on the demo project")
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
    core = list(children)  # the platform; the demo loop beside it may end without taking it down
    if not args.no_demo and not args.no_loop:
        # The feedback loop on the demo project: simulated annotators label through the API, the reward model
        # retrains and is promoted, Flow-DPO aligns the tiny generator, its videos return to the queue.
        url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
        children.append(subprocess.Popen([PY, "manage.py", "demo_loop", "--url", url], cwd=ROOT))
    print(f"\nvidpref is running at http://{args.host}:{args.port}/  (admin: /admin/, API: /api/v1/)\n", flush=True)

    def stop(*_args) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(child.poll() is None for child in core):
            time.sleep(1)
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c for c in core if c.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
