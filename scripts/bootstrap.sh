# Sourced by run.sh and test.sh: create .venv and install the project into it, once per pyproject change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=".venv/.vidpref-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # torch first and pinned: a bare `torch` requirement would pull several GB of CUDA packages.
    .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
    .venv/bin/pip install -q --disable-pip-version-check -e ".[ml,dev,embedded]"
    .venv/bin/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
    echo "$want" > "$stamp"
fi
