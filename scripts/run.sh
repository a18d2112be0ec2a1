#!/usr/bin/env bash
# The main job: services, migrations, the demo project, the ASGI server, a Celery worker and beat.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
eval "$(.venv/bin/python scripts/services.py)"
export DEBUG="${DEBUG:-1}"
exec .venv/bin/python scripts/serve.py "$@"
