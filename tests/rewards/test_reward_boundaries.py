"""The package stays light for web processes and the ML modules stay free of Django."""
import subprocess
import sys

ML_MODULES = ["rewards.config", "rewards.losses", "rewards.metrics", "rewards.video_input", "rewards.clip_cache",
              "rewards.tokenizer", "rewards.tiny_base", "rewards.template", "rewards.network", "rewards.data",
              "rewards.checkpoint", "rewards.predict", "rewards.train", "rewards.scorer", "rewards.evaluate",
              "rewards.plots", "rewards.checklist_model", "rewards.checklist_export", "rewards.cli", "rewards.captions", "rewards.pretrain_base",
              "rewards.synthetic_world", "rewards.learning", "rewards.report", "rewards.report_plots",
              "rewards.patch_basis", "rewards.pause"]


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=120).stdout.strip()


def test_importing_the_package_loads_neither_torch_nor_django():
    assert run_python("import sys, rewards; print('torch' in sys.modules, 'django' in sys.modules)") == "False False"


def test_ml_modules_import_neither_django_nor_annotation():
    code = f"import importlib, sys\nfor m in {ML_MODULES!r}: importlib.import_module(m)\n" \
           "print(sorted(n for n in sys.modules if n.split('.')[0] in ('django', 'annotation')))"
    assert run_python(code) == "[]"
