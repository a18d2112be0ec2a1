"""Streaming judgements out of PostgreSQL, grouped by comparison, with the export filters applied in SQL.

A server-side cursor keeps memory flat however large the project is: rows arrive in batches and are passed on
one comparison at a time.
"""

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from django.conf import settings
from django.db import connection

from annotation.models import Project
from annotation.rawsql import json_value

BATCH = 5000


@dataclass(frozen=True)
class ExportFilters:
    since: datetime | None = None
    until: datetime | None = None
    annotators: tuple[int, ...] = ()  # user ids; empty = everyone
    exclude_annotators: tuple[int, ...] = ()  # user ids (low gold accuracy, spammers)
    sources: tuple[str, ...] = ()  # empty = every source ("annotator", "imported", …)
    min_agreement: float = 0.0  # per comparison, averaged over VQ/MQ/TA


@dataclass(frozen=True)
class JudgementRecord:
    judgement: int
    annotator: str  # pseudonymous
    source: str
    labels: dict[str, str]
    left: str  # "A", "B" or "" when unknown (imported)
    checklist: dict
    mos: dict[str, int | None]
    lead_time_ms: int | None
    created_at: datetime


@dataclass
class ComparisonRecord:
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
    is_gold: bool
    judgements: list[JudgementRecord] = field(default_factory=list)


_SQL = """
SELECT c.id, p.text, coalesce(nullif(va.file, ''), va.url), coalesce(nullif(vb.file, ''), vb.url),
       va.generator, vb.generator, va.fps, vb.fps, va.num_frames, vb.num_frames, c.is_gold,
       j.id, j.annotator_id, j.source, j.vq, j.mq, j.ta, j.overall, a.left_is_a, j.checklist,
       j.mos_a_vq, j.mos_a_mq, j.mos_a_ta, j.mos_b_vq, j.mos_b_mq, j.mos_b_ta, j.lead_time_ms, j.created_at
FROM annotation_judgement j
JOIN annotation_comparison c ON c.id = j.comparison_id
JOIN annotation_prompt p ON p.id = c.prompt_id
JOIN annotation_video va ON va.id = c.video_a_id
JOIN annotation_video vb ON vb.id = c.video_b_id
LEFT JOIN annotation_assignment a ON a.id = j.assignment_id
WHERE c.project_id = %(project)s
  AND (%(since)s::timestamptz IS NULL OR j.created_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR j.created_at < %(until)s)
  AND (cardinality(%(annotators)s::bigint[]) = 0 OR j.annotator_id = ANY(%(annotators)s))
  AND (j.annotator_id IS NULL OR NOT j.annotator_id = ANY(%(exclude)s::bigint[]))
  AND (cardinality(%(sources)s::text[]) = 0 OR j.source = ANY(%(sources)s))
ORDER BY j.comparison_id, j.id
"""

MOS_KEYS = ("A_VQ", "A_MQ", "A_TA", "B_VQ", "B_MQ", "B_TA")


def pseudonym(user_id: int | None, source: str) -> str:
    """A stable pseudonymous annotator id: keyed by the server's secret, so it cannot be reversed from outside."""
    if user_id is None:
        return source
    digest = hmac.new(settings.SECRET_KEY.encode(), f"annotator:{user_id}".encode(), hashlib.sha256)
    return "ann-" + digest.hexdigest()[:12]


def _judgement(row: tuple) -> JudgementRecord:
    left_is_a = row[18]
    return JudgementRecord(
        judgement=row[11],
        annotator=pseudonym(row[12], row[13]),
        source=row[13],
        labels={"VQ": row[14], "MQ": row[15], "TA": row[16], "Overall": row[17]},
        left="" if left_is_a is None else ("A" if left_is_a else "B"),
        checklist=json_value(row[19]) or {},
        mos=dict(zip(MOS_KEYS, row[20:26], strict=True)),
        lead_time_ms=row[26],
        created_at=row[27],
    )


def stream_comparisons(project: Project, filters: ExportFilters) -> Iterator[ComparisonRecord]:
    """Every comparison of the project with at least one judgement passing the filters, in id order."""
    params = {
        "project": project.pk,
        "since": filters.since,
        "until": filters.until,
        "annotators": list(filters.annotators),
        "exclude": list(filters.exclude_annotators),
        "sources": list(filters.sources),
    }
    with connection.chunked_cursor() as cursor:
        cursor.itersize = BATCH
        cursor.execute(_SQL, params)
        for _comparison_id, rows in groupby(cursor, key=lambda row: row[0]):
            rows = list(rows)
            first = rows[0]
            yield ComparisonRecord(
                comparison=first[0],
                prompt=first[1],
                path_a=first[2],
                path_b=first[3],
                model_a=first[4],
                model_b=first[5],
                fps_a=first[6],
                fps_b=first[7],
                frames_a=first[8],
                frames_b=first[9],
                is_gold=first[10],
                judgements=[_judgement(row) for row in rows],
            )
