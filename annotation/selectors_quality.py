"""Label quality of a project: one query fetches the judgements, numpy does the rest (annotation.quality)."""

import math

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection

from annotation import quality
from annotation.models import Project
from annotation.rawsql import json_value

DIMENSIONS = ("VQ", "MQ", "TA")

_JUDGEMENTS_SQL = """
SELECT j.comparison_id, j.annotator_id, j.vq, j.mq, j.ta, coalesce(a.left_is_a, true), j.lead_time_ms,
       c.is_gold, c.gold_labels
FROM annotation_judgement j
JOIN annotation_comparison c ON c.id = j.comparison_id
LEFT JOIN annotation_assignment a ON a.id = j.assignment_id
WHERE c.project_id = %s AND j.annotator_id IS NOT NULL
"""


def _nan_to_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, 4)


def project_quality(*, project: Project, rule: quality.SpamRule | None = None) -> dict:
    rule = rule or quality.SpamRule()
    with connection.cursor() as cursor:
        cursor.execute(_JUDGEMENTS_SQL, [project.pk])
        rows = cursor.fetchall()
    if not rows:
        return {"dimensions": {d: {"alpha": None, "pairwise_agreement": None} for d in DIMENSIONS}, "annotators": []}
    units = np.array([r[0] for r in rows])
    annotators = np.array([r[1] for r in rows])
    labels = np.array([[quality.CODE[r[2 + i]] for i in range(3)] for r in rows])  # (n, 3)
    left_is_a = np.array([r[5] for r in rows])
    lead = np.array([np.nan if r[6] is None else r[6] for r in rows], dtype=float)
    is_gold = np.array([r[7] for r in rows])

    dimensions = {}
    agrees = np.full(labels.shape, np.nan)
    for i, dimension in enumerate(DIMENSIONS):
        regular = ~is_gold
        counts = quality.unit_counts(units[regular], labels[regular, i], 3) if regular.any() else np.zeros((0, 3))
        dimensions[dimension] = {
            "alpha": _nan_to_none(quality.krippendorff_alpha_nominal(counts)),
            "pairwise_agreement": _nan_to_none(quality.pairwise_agreement(counts)),
        }
        majority = quality.majority_of_others(units, labels[:, i], 3)
        agrees[:, i] = np.where(majority >= 0, (majority == labels[:, i]).astype(float), np.nan)

    # A pick of A is a pick of the left side exactly when A was shown on the left.
    decided = labels != quality.CODE["same"]
    picked_left = (labels == quality.CODE["A"]) == left_is_a[:, None]
    gold_hits = np.full(labels.shape, np.nan)
    for row_index, row in enumerate(rows):
        gold_labels = json_value(row[8]) if row[7] else None
        if gold_labels:
            for i, dimension in enumerate(DIMENSIONS):
                if dimension in gold_labels:
                    gold_hits[row_index, i] = float(gold_labels[dimension] == quality.CATEGORIES[labels[row_index, i]])

    names = dict(get_user_model().objects.filter(pk__in=set(annotators.tolist())).values_list("pk", "username"))
    table = []
    for annotator in sorted(set(annotators.tolist()), key=lambda pk: names[pk]):
        mine = annotators == annotator
        n = int(mine.sum())
        gold_values = gold_hits[mine][~np.isnan(gold_hits[mine])]
        agreement_values = agrees[mine][~np.isnan(agrees[mine])]
        n_decided = int(decided[mine].sum())
        n_left = int((picked_left & decided)[mine].sum())
        left_share = n_left / n_decided if n_decided else float("nan")
        left_p = quality.binomial_two_sided_p(n_left, n_decided)
        lead_mine = lead[mine][~np.isnan(lead[mine])]
        median_lead = float(np.median(lead_mine)) if len(lead_mine) else float("nan")
        per_hour = n / (lead_mine.sum() / 3.6e6) if len(lead_mine) and lead_mine.sum() > 0 else float("nan")
        figures = {
            "judgements": n,
            "gold": int(is_gold[mine].sum()),
            "gold_accuracy": float(gold_values.mean()) if len(gold_values) else float("nan"),
            "agreement": float(agreement_values.mean()) if len(agreement_values) else float("nan"),
            "tie_rate": float((~decided[mine]).mean()),
            "left_share": left_share,
            "left_p": left_p,
            "median_lead_ms": median_lead,
        }
        reasons = rule.reasons(**figures)
        table.append(
            {"username": names[annotator], **{k: _nan_to_none(v) if isinstance(v, float) else v for k, v in figures.items()},
             "judgements_per_hour": _nan_to_none(per_hour), "spammer": bool(reasons), "spam_reasons": reasons}
        )
    return {"dimensions": dimensions, "annotators": table}
