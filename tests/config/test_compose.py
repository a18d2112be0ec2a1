"""compose.yaml names only commands that exist in this project."""

import importlib
import shlex
from pathlib import Path

import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]


def _services() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]


def _check_command(argv: list[str]) -> None:
    if argv[0] != "python":
        return  # third-party images (postgres, redis) bring their own commands
    assert argv[1] in ("-m", "manage.py"), argv
    if argv[1] == "manage.py":
        assert argv[2] in get_commands(), f"no management command {argv[2]}"
        return
    module = argv[2]
    importlib.import_module(module)
    if module == "uvicorn":
        target = next(a for a in argv[3:] if ":" in a)
        module_name, attribute = target.split(":")
        assert callable(getattr(importlib.import_module(module_name), attribute))
    elif module == "celery":
        app = importlib.import_module(argv[argv.index("-A") + 1]).celery_app
        if "-Q" in argv:
            declared = {q.name for q in app.conf.task_queues}
            for queue in argv[argv.index("-Q") + 1].split(","):
                assert queue in declared, f"queue {queue} is not declared by the Celery app"


def test_every_compose_command_exists():
    services = _services()
    assert {"postgres", "redis", "web", "worker", "gpu-worker", "beat"} <= set(services)
    for service in services.values():
        command = service.get("command")
        if command is None:
            continue
        argv = command if isinstance(command, list) else shlex.split(command)
        _check_command(argv)


def test_gpu_worker_reserves_a_gpu_and_listens_on_the_gpu_queue():
    gpu = _services()["gpu-worker"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] for d in devices)
    assert gpu["command"][gpu["command"].index("-Q") + 1] == "gpu"


def test_the_image_build_file_exists():
    assert (ROOT / "Dockerfile").is_file()
