"""Load benchmark of the annotation queue: seed N comparisons, serve the app with its production server on
loopback, drive M concurrent simulated annotators (next → submit, skips, abandoned leases, retried submits),
then print latency percentiles, throughput and the correctness counts.

    .venv/bin/python benchmarks/load.py --comparisons 10000 100000 1000000 --annotators 16 --seconds 60

Uses its own database (`vidpref_bench` on the configured server) and leaves the development data alone.
"""

import argparse
import http.client
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SLUG = "bench"
logger = logging.getLogger("load")


# --- seeding -------------------------------------------------------------------------------------------------

SEED_SQL = """
INSERT INTO annotation_prompt (project_id, text, category)
SELECT %(project)s, 'bench prompt ' || g, '' FROM generate_series(0, %(prompts)s - 1) g;

INSERT INTO annotation_video (file, url, generator, fps, num_frames, width, height, duration, codec, sha256, created_at)
SELECT '', 'https://bench.invalid/' || g || '.mp4', 'gen-' || (g %% 12), 8, 16, 64, 64, 2, 'h264',
       md5('bench-video-' || g) || md5('bench-video-2-' || g), now()
FROM generate_series(0, %(videos)s - 1) g;
"""

# Comparison i: prompt i mod P; with q = i div P, videos a = q mod V and b = a + 1 + (q div V) (mod V). For odd V
# and q div V < (V - 1) / 2 no two q of one prompt give the same unordered pair.
COMPARISONS_SQL = """
INSERT INTO annotation_comparison
    (project_id, prompt_id, video_a_id, video_b_id, is_gold, remaining, judgement_count, queue_key, created_at)
SELECT %(project)s, %(prompt0)s + (i %% %(prompts)s), %(video0)s + (q %% %(videos)s),
       %(video0)s + ((q %% %(videos)s) + 1 + q / %(videos)s) %% %(videos)s, false, %(k)s, 0, random(), now()
FROM generate_series(0, %(n)s - 1) i, LATERAL (SELECT i / %(prompts)s AS q) x;
"""


def seed(n: int, k: int, ttl: int, annotators: int, abandoners: int) -> dict[str, str]:
    """(Re)create the benchmark project with n comparisons; returns username → API token."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from annotation.models import Comparison, Project
    from annotation.services.projects import membership_set, project_create

    t0 = time.perf_counter()
    project = Project.objects.filter(slug=SLUG).first()
    if project is not None and project.overlap == k and Comparison.objects.filter(project=project).count() == n:
        # Same world as last time: reset its state instead of seeding again (1M rows take a while).
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM annotation_judgement")
            cursor.execute("DELETE FROM annotation_assignment")
            cursor.execute(
                "UPDATE annotation_comparison SET remaining = %s, judgement_count = 0, queue_key = random()", [k]
            )
            cursor.execute("VACUUM ANALYZE annotation_comparison")
        Project.objects.filter(pk=project.pk).update(lease_ttl_seconds=ttl)
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE annotation_judgement, annotation_assignment, annotation_comparison, annotation_prompt, "
                "annotation_video, annotation_membership, annotation_project CASCADE"
            )
        project = project_create(name="Load benchmark", slug=SLUG, overlap=k, lease_ttl_seconds=ttl)
        prompts = max(1, n // 1000)
        videos = 201  # up to 201 * 100 distinct pairs per prompt
        params = {"project": project.pk, "n": n, "k": k, "prompts": prompts, "videos": videos}
        with connection.cursor() as cursor:
            cursor.execute(SEED_SQL, params)
            cursor.execute("SELECT min(id) FROM annotation_prompt WHERE project_id = %s", [project.pk])
            params["prompt0"] = cursor.fetchone()[0]
            cursor.execute("SELECT min(id) FROM annotation_video")
            params["video0"] = cursor.fetchone()[0]
            cursor.execute(COMPARISONS_SQL, params)
            cursor.execute("VACUUM ANALYZE")
    logger.info("seeded %d comparisons in %.1f s", n, time.perf_counter() - t0)
    tokens = {}
    for index in range(annotators + abandoners):
        name = f"bench-{index}"
        user, _ = get_user_model().objects.get_or_create(username=name)
        membership_set(project=project, user=user, role="annotator")
        tokens[name] = Token.objects.get_or_create(user=user)[0].key
    return tokens


# --- serving -------------------------------------------------------------------------------------------------


def serve(server: str, workers: int, port: int, database_url: str) -> subprocess.Popen:
    env = os.environ | {"DATABASE_URL": database_url, "DEBUG": "0", "LOG_LEVEL": "WARNING",
                        "ALLOWED_HOSTS": "127.0.0.1"}
    if server == "uvicorn":
        argv = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    else:
        argv = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}",
                "-w", str(workers), "-k", "gthread", "--threads", "4", "--log-level", "warning"]
    process = subprocess.Popen(argv, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/projects/")
            conn.getresponse().read()
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"{server} did not come up on port {port}")


# --- driving -------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    created: set[int] = field(default_factory=set)  # judgement ids answered 201
    doubled: int = 0  # a retried submit that stored a second judgement
    replay_mismatch: int = 0  # a retried submit answered with another judgement
    skips: int = 0
    abandoned: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


LABELS = ("left", "right", "tie")


class Annotator(threading.Thread):
    def __init__(self, port: int, token: str, tally: Tally, stop_at: float, skip_rate: float, retry_rate: float,
                 abandon: bool, seed: int) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.tally, self.stop_at = port, token, tally, stop_at
        self.skip_rate, self.retry_rate, self.abandon = skip_rate, retry_rate, abandon
        self.rng = random.Random(seed)

    def _call(self, conn: http.client.HTTPConnection, path: str, body: dict | None = None) -> tuple[int, dict]:
        payload = json.dumps(body or {})
        conn.request("POST", path, payload, {"Authorization": f"Token {self.token}",
                                             "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else {})

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            self._loop(conn)
        except Exception as error:  # noqa: BLE001  (reported in the summary)
            with self.tally.lock:
                self.tally.errors.append(repr(error))

    def _loop(self, conn: http.client.HTTPConnection) -> None:
        t = self.tally
        while time.monotonic() < self.stop_at:
            t0 = time.perf_counter()
            status, shown = self._call(conn, f"/api/v1/projects/{SLUG}/next/")
            elapsed = (time.perf_counter() - t0) * 1000
            if status == 204:
                return
            if status != 200:
                raise RuntimeError(f"next answered {status}: {shown}")
            with t.lock:
                t.next_ms.append(elapsed)
            if self.abandon:
                # Walk away holding the lease: it must expire and go to someone else.
                with t.lock:
                    t.abandoned += 1
                return
            if self.rng.random() < self.skip_rate:
                status, _ = self._call(conn, f"/api/v1/assignments/{shown['id']}/skip/")
                with t.lock:
                    t.skips += 1
                continue
            body = {"labels": {d: self.rng.choice(LABELS) for d in shown["dimensions"]},
                    "idempotency_key": uuid.uuid4().hex, "lead_time_ms": self.rng.randint(2000, 20000)}
            t0 = time.perf_counter()
            status, stored = self._call(conn, f"/api/v1/assignments/{shown['id']}/submit/", body)
            elapsed = (time.perf_counter() - t0) * 1000
            if status == 409:
                with t.lock:
                    t.conflicts += 1
                continue
            if status != 201:
                raise RuntimeError(f"submit answered {status}: {stored}")
            with t.lock:
                t.submit_ms.append(elapsed)
                t.created.add(stored["id"])
            if self.rng.random() < self.retry_rate:
                # A client that lost the response and sends the same submit again.
                status, again = self._call(conn, f"/api/v1/assignments/{shown['id']}/submit/", body)
                with t.lock:
                    if status == 201:
                        t.doubled += 1
                    elif again.get("id") != stored["id"]:
                        t.replay_mismatch += 1


def cpu_seconds(server: subprocess.Popen) -> dict[str, float]:
    """CPU time used so far by the server's processes, PostgreSQL's processes and this load generator."""
    import psutil

    def total(processes) -> float:
        seconds = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                seconds += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return seconds

    root = psutil.Process(server.pid)
    postgres = [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]
    return {"server": total([root, *root.children(recursive=True)]), "postgres": total(postgres),
            "client": total([psutil.Process()])}


def drive(port: int, tokens: dict[str, str], annotators: int, seconds: float, skip_rate: float,
          retry_rate: float) -> tuple[Tally, float]:
    tally = Tally()
    names = sorted(tokens, key=lambda n: int(n.split("-")[1]))
    stop_at = time.monotonic() + seconds
    threads = [
        Annotator(port, tokens[name], tally, stop_at, skip_rate, retry_rate, abandon=index >= annotators, seed=index)
        for index, name in enumerate(names)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, time.perf_counter() - started


# --- verifying -----------------------------------------------------------------------------------------------

CHECKS = {
    # More judgements on a comparison than its overlap K: a slot was handed out twice.
    "slots_handed_out_twice": """
        SELECT count(*) FROM (SELECT j.comparison_id FROM annotation_judgement j GROUP BY 1
                              HAVING count(*) > %(k)s) x""",
    # Judgements + live leases above K, or slot counters that disagree with the rows they count.
    "overlap_violations": """
        SELECT count(*) FROM annotation_comparison c
        LEFT JOIN (SELECT comparison_id, count(*) n FROM annotation_judgement GROUP BY 1) j ON j.comparison_id = c.id
        LEFT JOIN (SELECT comparison_id, count(*) n FROM annotation_assignment WHERE state = 'active' GROUP BY 1) a
               ON a.comparison_id = c.id
        WHERE coalesce(j.n, 0) + coalesce(a.n, 0) > %(k)s
           OR c.remaining + coalesce(j.n, 0) + coalesce(a.n, 0) <> %(k)s
           OR c.judgement_count <> coalesce(j.n, 0)""",
    "duplicate_comparison_annotator_pairs": """
        SELECT count(*) FROM (SELECT comparison_id, annotator_id FROM annotation_judgement GROUP BY 1, 2
                              HAVING count(*) > 1) x""",
}


def verify(k: int, tally: Tally) -> dict[str, int]:
    from django.db import connection

    from annotation.services.leases import leases_reclaim_expired

    leases_reclaim_expired()
    counts = {}
    with connection.cursor() as cursor:
        for name, sql in CHECKS.items():
            cursor.execute(sql, {"k": k})
            counts[name] = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM annotation_judgement")
        stored = {row[0] for row in cursor.fetchall()}
    counts["lost_submits"] = len(tally.created - stored)
    counts["doubled_submits"] = tally.doubled + tally.replay_mismatch + len(stored - tally.created)
    return counts


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, nargs="+", default=[10_000])
    parser.add_argument("--annotators", type=int, default=16)
    parser.add_argument("--abandoners", type=int, default=8, help="annotators who claim once and walk away")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--lease-ttl", type=int, default=10, help="seconds; short so abandoned leases expire")
    parser.add_argument("--skip-rate", type=float, default=0.10)
    parser.add_argument("--retry-rate", type=float, default=0.05)
    parser.add_argument("--server", choices=["uvicorn", "gunicorn"], default="uvicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="0: any free loopback port")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    from benchmarks.bench_db import use_bench_database

    database_url = use_bench_database()
    if args.port == 0:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    results = []
    for n in args.comparisons:
        tokens = seed(n, args.overlap, args.lease_ttl, args.annotators, args.abandoners)
        from django.db import connections

        connections.close_all()
        server = serve(args.server, args.workers, args.port, database_url)
        try:
            before = cpu_seconds(server)
            tally, wall = drive(args.port, tokens, args.annotators, args.seconds, args.skip_rate, args.retry_rate)
            after = cpu_seconds(server)
        finally:
            server.terminate()
            server.wait(timeout=30)
        counts = verify(args.overlap, tally)
        row = {
            "comparisons": n, "annotators": args.annotators, "server": f"{args.server}x{args.workers}",
            "seconds": round(wall, 1), "judgements": len(tally.created),
            "judgements_per_s": round(len(tally.created) / wall, 1),
            "next_p50_ms": round(percentile(tally.next_ms, 50), 2),
            "next_p95_ms": round(percentile(tally.next_ms, 95), 2),
            "next_p99_ms": round(percentile(tally.next_ms, 99), 2),
            "submit_p50_ms": round(percentile(tally.submit_ms, 50), 2),
            "submit_p95_ms": round(percentile(tally.submit_ms, 95), 2),
            "submit_p99_ms": round(percentile(tally.submit_ms, 99), 2),
            # CPU spent per stored judgement by each party: what the throughput would be on cores of our own.
            **{f"cpu_ms_per_judgement_{k}": round((after[k] - before[k]) * 1000 / max(len(tally.created), 1), 2)
               for k in after},
            "skips": tally.skips, "abandoned": tally.abandoned, "conflicts_409": tally.conflicts,
            "client_errors": len(tally.errors), **counts,
        }
        if tally.errors:
            logger.warning("client errors: %s", tally.errors[:3])
        results.append(row)
        print(json.dumps(row), flush=True)
    if len(results) > 1:
        first, last = results[0], results[-1]
        for op in ("next", "submit"):
            ratio = last[f"{op}_p95_ms"] / first[f"{op}_p95_ms"]
            print(f"{op} p95 at {last['comparisons']:,} / at {first['comparisons']:,}: {ratio:.2f}x")
    print(f"median judgements/s: {statistics.median(r['judgements_per_s'] for r in results)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    bad = [r for r in results if any(r[c] for c in (*CHECKS, "lost_submits", "doubled_submits", "client_errors"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
