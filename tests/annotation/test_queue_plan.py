"""The claim query is an index range scan: it neither scans nor sorts all comparisons."""

import pytest
from django.db import connection
from django.utils import timezone

from annotation.models import Comparison, Prompt
from annotation.services.leases import _CLAIM_OPEN_SQL, _GOLD_CANDIDATE_SQL
from tests.annotation.factories import make_member, make_project, make_video

pytestmark = pytest.mark.django_db


def _explain(sql: str, params: dict) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_claim_uses_the_open_queue_index_without_sorting():
    project = make_project()
    prompts = Prompt.objects.bulk_create(Prompt(project=project, text=f"prompt {i}") for i in range(100))
    videos = [make_video(with_file=False) for _ in range(42)]
    pairs = [(a, b) for a in range(len(videos)) for b in range(a + 1, len(videos))][:50]
    Comparison.objects.bulk_create(
        Comparison(project=project, prompt=p, video_a=videos[a], video_b=videos[b], remaining=1)
        for p in prompts for a, b in pairs
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotation_comparison; ANALYZE annotation_assignment")
    annotator = make_member(project)
    now = timezone.now()
    params = {"project": project.pk, "annotator": annotator.pk, "low": 0.5, "high": float("inf"),
              "left_is_a": True, "expires": now, "now": now}
    plan = _explain(_CLAIM_OPEN_SQL, params)  # EXPLAIN plans the whole claim statement without running it
    assert "comparison_open_queue" in plan, plan
    assert "Seq Scan on annotation_comparison" not in plan, plan
    assert "Sort" not in plan, plan
    gold_plan = _explain(_GOLD_CANDIDATE_SQL, params)
    assert "Seq Scan on annotation_comparison" not in gold_plan, gold_plan
