"""The ML side imports neither Django nor the annotation app, so training runs from a CLI with no web stack."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ML_PACKAGES = ("rewards", "alignment", "synthetic")
# The Django glue of rewards/ and alignment/ (run records, tasks) may import Django; nothing else may.
GLUE = {"apps.py", "models.py", "admin.py", "tasks.py", "selectors.py", "urls.py", "views.py", "consumers.py", "api.py"}
GLUE_DIRS = {"migrations", "services", "api", "management"}
WEB_STACK = ("django", "annotation", "rest_framework", "channels", "celery", "config", "frontend")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _ml_files() -> list[Path]:
    files = []
    for package in ML_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT / package)
            if path.name in GLUE or (relative.parts and relative.parts[0] in GLUE_DIRS):
                continue
            files.append(path)
    return files


@pytest.mark.parametrize("path", _ml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_ml_module_does_not_import_the_web_stack(path):
    offending = {m for m in _imported_modules(path) if m.split(".")[0] in WEB_STACK}
    assert not offending, f"{path.relative_to(ROOT)} imports {sorted(offending)}"


@pytest.mark.parametrize("package", ML_PACKAGES)
def test_package_init_is_import_light(package):
    # Django imports rewards/ and alignment/ as apps in every web process: torch must not load there.
    heavy = {m for m in _imported_modules(ROOT / package / "__init__.py") if m.split(".")[0] in {"torch", "transformers", "diffusers", "peft", "accelerate"}}
    assert not heavy, f"{package}/__init__.py imports {sorted(heavy)}"
