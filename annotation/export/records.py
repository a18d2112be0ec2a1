"""Streaming export rows out of PostgreSQL through a server-side cursor, filters applied in SQL.

Two shapes: one row per comparison with label counts (aggregated by PostgreSQL, for the VideoAlign CSV) and one
row per judgement, already formatted as text where possible (for JSONL and Parquet). Memory stays flat however
large the project is: rows arrive in batches and leave one at a time.
"""

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.db import connection

from annotation.models import Project

BATCH = 10_000
LABELS = ("A", "B", "same")
DIMENSIONS = ("VQ", "MQ", "TA", "Overall")


@dataclass(frozen=True)
class ExportFilters:
    since: datetime | None = None
    until: datetime | None = None
    annotators: tuple[int, ...] = ()  # user ids; empty = everyone
    exclude_annotators: tuple[int, ...] = ()  # user ids (low gold accuracy, spammers)
    sources: tuple[str, ...] = ()  # empty = every source ("annotator", "imported", …)
    min_agreement: float = 0.0  # per comparison: share of judgements with the top label, averaged over VQ/MQ/TA


@dataclass(frozen=True)
class ComparisonRow:
    comparison: int
    prompt: str
    path_a: str
    path_b: str
    model_a: str
    model_b: str
    fps_a: float
    fps_b: float
    frames_a: int
    frames_b: int
    counts: dict[str, dict[str, int]]  # dimension -> label -> judgements
    judgements: int


@dataclass(frozen=True)
class JudgementRow:
    comparison: int
    judgement: int
    annotator: str  # pseudonymous
    source: str
    prompt: str
    path_a: str
    path_b: str
    model_a: str
    model_b: str
    labels: tuple[str, str, str, str]  # VQ, MQ, TA, Overall
    left: str  # "A", "B", or "" when not known (imported)
    checklist_json: str
    mos: tuple[int | None, ...]  # A_VQ, A_MQ, A_TA, B_VQ, B_MQ, B_TA
    lead_time_ms: int | None
    created_at: str
    is_gold: bool


_WHERE = """
WHERE c.project_id = %(project)s
  AND (%(since)s::timestamptz IS NULL OR j.created_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR j.created_at < %(until)s)
  AND (cardinality(%(annotators)s::bigint[]) = 0 OR j.annotator_id = ANY(%(annotators)s))
  AND (j.annotator_id IS NULL OR NOT j.annotator_id = ANY(%(exclude)s::bigint[]))
  AND (cardinality(%(sources)s::text[]) = 0 OR j.source = ANY(%(sources)s))
"""


def _count(column: str, label: str) -> str:
    return f"count(*) FILTER (WHERE j.{column} = '{label}')"


_COUNTS = ", ".join(_count(d.lower(), label) for d in DIMENSIONS for label in LABELS)
# Agreement = mean over VQ/MQ/TA of (judgements with the top label / judgements).
_AGREEMENT = "(" + " + ".join(
    "greatest(" + ", ".join(_count(column, label) for label in LABELS) + ")" for column in ("vq", "mq", "ta")
) + ") / (3.0 * count(*))"

_COMPARISONS_SQL = f"""
WITH counted AS (
    SELECT j.comparison_id AS id, {_COUNTS}, count(*) AS n, {_AGREEMENT} AS agreement
    FROM annotation_judgement j JOIN annotation_comparison c ON c.id = j.comparison_id
    {_WHERE}
    GROUP BY j.comparison_id
)
SELECT c.id, p.text, coalesce(nullif(va.file, ''), va.url), coalesce(nullif(vb.file, ''), vb.url),
       va.generator, vb.generator, va.fps, vb.fps, va.num_frames, vb.num_frames, counted.*
FROM counted
JOIN annotation_comparison c ON c.id = counted.id
JOIN annotation_prompt p ON p.id = c.prompt_id
JOIN annotation_video va ON va.id = c.video_a_id
JOIN annotation_video vb ON vb.id = c.video_b_id
WHERE counted.agreement >= %(min_agreement)s
ORDER BY c.id
"""

_JUDGEMENTS_SQL = f"""
WITH kept AS (
    SELECT j.comparison_id AS id
    FROM annotation_judgement j JOIN annotation_comparison c ON c.id = j.comparison_id
    {_WHERE}
    GROUP BY j.comparison_id
    HAVING {_AGREEMENT} >= %(min_agreement)s
)
SELECT c.id, j.id, j.annotator_id, j.source, p.text,
       coalesce(nullif(va.file, ''), va.url), coalesce(nullif(vb.file, ''), vb.url), va.generator, vb.generator,
       j.vq, j.mq, j.ta, j.overall, CASE WHEN a.left_is_a THEN 'A' WHEN NOT a.left_is_a THEN 'B' ELSE '' END,
       j.checklist::text, j.mos_a_vq, j.mos_a_mq, j.mos_a_ta, j.mos_b_vq, j.mos_b_mq, j.mos_b_ta, j.lead_time_ms,
       to_json(j.created_at) #>> '{{}}', c.is_gold
FROM annotation_judgement j
JOIN annotation_comparison c ON c.id = j.comparison_id
JOIN kept ON kept.id = c.id
JOIN annotation_prompt p ON p.id = c.prompt_id
JOIN annotation_video va ON va.id = c.video_a_id
JOIN annotation_video vb ON vb.id = c.video_b_id
LEFT JOIN annotation_assignment a ON a.id = j.assignment_id
{_WHERE}
ORDER BY j.comparison_id, j.id
"""


@lru_cache(maxsize=4096)
def pseudonym(user_id: int | None, source: str) -> str:
    """A stable pseudonymous annotator id: keyed by the server's secret, so it cannot be reversed from outside."""
    if user_id is None:
        return source
    digest = hmac.new(settings.SECRET_KEY.encode(), f"annotator:{user_id}".encode(), hashlib.sha256)
    return "ann-" + digest.hexdigest()[:12]


def _params(project: Project, filters: ExportFilters) -> dict:
    return {
        "project": project.pk,
        "since": filters.since,
        "until": filters.until,
        "annotators": list(filters.annotators),
        "exclude": list(filters.exclude_annotators),
        "sources": list(filters.sources),
        "min_agreement": filters.min_agreement,
    }


def _stream(sql: str, params: dict) -> Iterator[tuple]:
    with connection.chunked_cursor() as cursor:
        cursor.itersize = BATCH
        cursor.execute(sql, params)
        yield from cursor


def stream_comparisons(project: Project, filters: ExportFilters) -> Iterator[ComparisonRow]:
    """Every comparison with at least one judgement passing the filters, with its label counts, in id order."""
    for row in _stream(_COMPARISONS_SQL, _params(project, filters)):
        counts = row[11:23]
        yield ComparisonRow(
            *row[:10],
            counts={d: dict(zip(LABELS, counts[3 * i : 3 * i + 3], strict=True)) for i, d in enumerate(DIMENSIONS)},
            judgements=row[23],
        )


def stream_judgements(project: Project, filters: ExportFilters) -> Iterator[JudgementRow]:
    """Every judgement passing the filters, ordered by comparison."""
    for row in _stream(_JUDGEMENTS_SQL, _params(project, filters)):
        yield JudgementRow(
            comparison=row[0], judgement=row[1], annotator=pseudonym(row[2], row[3]), source=row[3], prompt=row[4],
            path_a=row[5], path_b=row[6], model_a=row[7], model_b=row[8], labels=row[9:13], left=row[13],
            checklist_json=row[14], mos=row[15:21], lead_time_ms=row[21], created_at=row[22], is_gold=row[23],
        )
