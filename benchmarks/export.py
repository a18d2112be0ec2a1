"""Export benchmark: seed N judgements, export them to each format in a fresh process, print time and peak RSS.

    .venv/bin/python benchmarks/export.py --judgements 1000000 --formats videoalign parquet jsonl

Uses its own database (`vidpref_bench`); the bar is 1M judgements in ≤ 60 s with peak RSS ≤ 400 MB per format.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SLUG = "export-bench"
K = 3  # judgements per comparison

SEED_SQL = """
INSERT INTO annotation_prompt (project_id, text, category)
SELECT %(project)s, 'export bench prompt ' || g, '' FROM generate_series(0, %(prompts)s - 1) g;

INSERT INTO annotation_video (file, url, generator, fps, num_frames, width, height, duration, codec, sha256, created_at)
SELECT 'videos/bench-' || g || '.mp4', '', 'gen-' || (g %% 12), 8, 16, 64, 64, 2, 'h264',
       md5('export-bench-' || g) || md5('export-bench-2-' || g), now()
FROM generate_series(0, %(videos)s - 1) g
ON CONFLICT (sha256) DO NOTHING;
"""

COMPARISONS_SQL = """
INSERT INTO annotation_comparison
    (project_id, prompt_id, video_a_id, video_b_id, is_gold, remaining, judgement_count, queue_key, created_at)
SELECT %(project)s, %(prompt0)s + (i %% %(prompts)s), %(video0)s + (q %% %(videos)s),
       %(video0)s + ((q %% %(videos)s) + 1 + q / %(videos)s) %% %(videos)s, false, 0, %(k)s, random(), now()
FROM generate_series(0, %(n)s - 1) i, LATERAL (SELECT i / %(prompts)s AS q) x;
"""

JUDGEMENTS_SQL = """
INSERT INTO annotation_judgement
    (comparison_id, annotator_id, source, vq, mq, ta, overall, checklist, lead_time_ms, idempotency_key, created_at)
SELECT c.id, %(user0)s + ((c.id + a) %% %(users)s), 'annotator',
       (ARRAY['A','B','same'])[1 + (c.id * 7 + a) %% 3], (ARRAY['A','B','same'])[1 + (c.id * 5 + a * 2) %% 3],
       (ARRAY['A','B','same'])[1 + (c.id * 3 + a) %% 3], '',
       '{"A": {"VQ": ["clarity"]}, "B": {}}'::jsonb, 5000 + (c.id %% 20000), '', now()
FROM annotation_comparison c, generate_series(0, %(k)s - 1) a
WHERE c.project_id = %(project)s;
"""


def seed(judgements: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Judgement, Project
    from annotation.services.projects import membership_set, project_create

    project = Project.objects.filter(slug=SLUG).first()
    if project is not None and Judgement.objects.filter(comparison__project=project).count() == judgements:
        print(f"reusing {judgements:,} seeded judgements", flush=True)
        return
    started = time.perf_counter()
    if project is not None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM annotation_judgement j USING annotation_comparison c "
                           "WHERE c.id = j.comparison_id AND c.project_id = %s", [project.pk])
        project.delete()
    project = project_create(name="Export benchmark", slug=SLUG, overlap=K)
    users = [get_user_model().objects.get_or_create(username=f"export-bench-{i}")[0] for i in range(30)]
    for user in users:
        membership_set(project=project, user=user, role="annotator")
    n = -(-judgements // K)  # at least the asked number
    params = {"project": project.pk, "n": n, "k": K, "prompts": max(1, n // 1000), "videos": 201,
              "users": len(users), "user0": min(u.pk for u in users)}
    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL, params)
        cursor.execute("SELECT min(id) FROM annotation_prompt WHERE project_id = %s", [project.pk])
        params["prompt0"] = cursor.fetchone()[0]
        cursor.execute("SELECT min(id) FROM annotation_video WHERE sha256 = md5('export-bench-0') || md5('export-bench-2-0')")
        params["video0"] = cursor.fetchone()[0]
        cursor.execute(COMPARISONS_SQL, params)
        cursor.execute(JUDGEMENTS_SQL, params)
        cursor.execute("ANALYZE")
    print(f"seeded {n * K:,} judgements in {time.perf_counter() - started:.1f} s", flush=True)


def peak_rss_mb() -> float:
    """This process's peak RSS. Read from VmHWM: ru_maxrss survives fork+exec and would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_once(fmt: str, output: Path) -> dict:
    """Runs in a child process so that its peak RSS is the export's alone."""
    from annotation.models import Project
    from annotation.services.exports import ExportOptions, dataset_export

    project = Project.objects.get(slug=SLUG)
    started = time.perf_counter()
    result = dataset_export(project=project, output=output, options=ExportOptions(fmt=fmt, paths="media-root"))
    elapsed = time.perf_counter() - started
    peak_mb = peak_rss_mb()
    return {"format": fmt, "judgements": result.judgements, "comparisons": result.comparisons,
            "seconds": round(elapsed, 1), "judgements_per_s": round(result.judgements / elapsed),
            "peak_rss_mb": round(peak_mb), "bytes": sum(Path(f).stat().st_size for f in result.files)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgements", type=int, default=1_000_000)
    parser.add_argument("--formats", nargs="+", default=["videoalign", "parquet", "jsonl"])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "export-bench")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from benchmarks.bench_db import use_bench_database

    if args.child:
        use_bench_database(prepare=False)  # the parent created and migrated it
        print(json.dumps(export_once(args.child, args.out / f"export.{args.child}")), flush=True)
        return 0
    use_bench_database()
    seed(args.judgements)
    args.out.mkdir(parents=True, exist_ok=True)
    failed = False
    for fmt in args.formats:
        child = subprocess.run([sys.executable, __file__, "--child", fmt, "--out", str(args.out)],
                               capture_output=True, text=True, env=os.environ | {"LOG_LEVEL": "WARNING"})
        if child.returncode != 0:
            print(child.stderr[-2000:], file=sys.stderr)
            failed = True
            continue
        row = json.loads(child.stdout.strip().splitlines()[-1])
        row["bar"] = "met" if row["seconds"] <= 60 and row["peak_rss_mb"] <= 400 else "missed"
        print(json.dumps(row), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
