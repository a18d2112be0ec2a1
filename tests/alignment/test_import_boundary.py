"""The ML modules of alignment/ import neither Django nor the annotation app, and the package root no torch."""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "alignment"
DJANGO_GLUE = {"apps.py", "models.py", "admin.py", "tasks.py", "api.py", "urls.py"}
GLUE_DIRS = {"services", "migrations", "management"}
WORLD_DIR = "world"  # the synthetic-world adapters: the only place allowed to import `synthetic`


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_ml_modules_do_not_import_django_or_annotation():
    ml_modules = [
        p for p in PACKAGE.rglob("*.py")
        if p.name not in DJANGO_GLUE and not GLUE_DIRS & set(p.relative_to(PACKAGE).parts)
    ]
    assert len(ml_modules) >= 10
    offenders = {
        p.name: _imported_roots(p) & {"django", "annotation", "rest_framework"} | (
            _imported_roots(p) & {"synthetic"} if WORLD_DIR not in p.relative_to(PACKAGE).parts else set())
        for p in ml_modules
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_package_root_is_import_light():
    code = "import sys, alignment; print(sorted(m for m in ('torch', 'django', 'diffusers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_config_names_match_the_functions_and_load_no_torch():
    # Web processes validate alignment configs: alignment.config keeps the names only, the functions live in
    # torch modules; the two lists must not drift apart.
    code = "import sys, alignment.config as c; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
    from alignment import config, flow_matching, losses

    assert set(config.SIGMA_SAMPLERS) == set(flow_matching.SIGMA_SAMPLERS)
    assert set(config.BETA_SCHEDULES) == set(losses.BETA_SCHEDULES)
