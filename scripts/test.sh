#!/usr/bin/env bash
# The whole test suite against this machine's real PostgreSQL and Redis (started if they are down).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
eval "$(.venv/bin/python scripts/services.py --no-embedded)"
# Tests use their own Redis database, so a demo running beside them never sees their queues or events.
export REDIS_URL="${REDIS_URL%/*}/15"
# torch's OpenMP threads otherwise spin while waiting, which on two shared cores costs more than it saves.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
if [ ! -x /usr/bin/chromium ]; then
    # The UI tests drive Debian's Chromium through Playwright (no browser download).
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "warning: could not install chromium; browser tests will fail" >&2
fi
exec .venv/bin/python -m pytest "$@"
