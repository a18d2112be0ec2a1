"""Submitting a judgement: validate against the project, un-swap left/right into A/B, store atomically."""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from annotation.checklists import checklist_keys
from annotation.errors import Conflict, InvalidInput
from annotation.events import emit_project_event
from annotation.models import MOS_FIELDS, Assignment, Project
from annotation.services.leases import lock_own_assignment, reacquire_expired_slot

SHOWN_CHOICES = ("left", "right", "tie")
SIDES = ("left", "right")


@dataclass(frozen=True)
class SubmittedJudgement:
    """A submission in the terms the annotator saw: sides as shown, not A/B."""

    labels: dict[str, str]
    checklist: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    mos: dict[str, dict[str, int]] | None = None
    lead_time_ms: int | None = None
    idempotency_key: str = ""


def _validate(project: Project, submission: SubmittedJudgement) -> None:
    errors: dict[str, object] = {}
    dimensions = project.dimensions
    label_errors = {}
    for dimension in dimensions:
        value = submission.labels.get(dimension)
        if value is None:
            label_errors[dimension] = ["This dimension is required."]
        elif value not in SHOWN_CHOICES:
            label_errors[dimension] = [f"{value!r} is not one of left, right, tie."]
    for extra in set(submission.labels) - set(dimensions):
        label_errors[extra] = ["This project does not ask for this dimension."]
    if label_errors:
        errors["labels"] = label_errors

    allowed = checklist_keys(project.checklist)
    checklist_errors: dict[str, object] = {}
    for side, per_dimension in submission.checklist.items():
        if side not in SIDES:
            checklist_errors[side] = ["Sides are left and right."]
            continue
        side_errors = {}
        for dimension, keys in per_dimension.items():
            if dimension not in allowed:
                side_errors[dimension] = ["This project has no checklist for this dimension."]
                continue
            unknown = sorted(set(keys) - allowed[dimension])
            if unknown:
                side_errors[dimension] = [f"Not checklist items of this project: {', '.join(unknown)}."]
        if side_errors:
            checklist_errors[side] = side_errors
    if checklist_errors:
        errors["checklist"] = checklist_errors

    if submission.mos is not None and not project.asks_mos:
        errors["mos"] = ["This project does not ask for MOS scores."]
    elif project.asks_mos:
        mos_errors = {}
        for side in SIDES:
            scores = (submission.mos or {}).get(side) or {}
            side_errors = {}
            for dimension in ("VQ", "MQ", "TA"):
                score = scores.get(dimension)
                if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
                    side_errors[dimension] = ["A whole number from 1 to 5 is required."]
            if side_errors:
                mos_errors[side] = side_errors
        if mos_errors:
            errors["mos"] = mos_errors
    if errors:
        raise InvalidInput("The judgement is not valid.", field_errors=errors)


def _unswap(assignment: Assignment, submission: SubmittedJudgement) -> dict[str, object]:
    """Translate left/right into A/B using the side recorded on the lease."""
    side_to_ab = {"left": "A", "right": "B"} if assignment.left_is_a else {"left": "B", "right": "A"}
    label = {"left": side_to_ab["left"], "right": side_to_ab["right"], "tie": "same"}
    fields: dict[str, object] = {
        "vq": label[submission.labels["VQ"]],
        "mq": label[submission.labels["MQ"]],
        "ta": label[submission.labels["TA"]],
        "overall": label[submission.labels["Overall"]] if "Overall" in submission.labels else "",
        "checklist": {
            side_to_ab[side]: {d: sorted(set(keys)) for d, keys in per_dim.items()}
            for side, per_dim in submission.checklist.items()
        },
    }
    if submission.mos is not None:
        for side in SIDES:
            for dimension in ("VQ", "MQ", "TA"):
                fields[f"mos_{side_to_ab[side].lower()}_{dimension.lower()}"] = submission.mos[side][dimension]
    return fields


@dataclass(frozen=True)
class StoredJudgement:
    id: int
    assignment_id: int
    project_id: int
    created_at: datetime
    created: bool


# One statement stores the judgement, closes the lease and counts it on the comparison.
_STORE_SQL = """
WITH judgement AS (
    INSERT INTO annotation_judgement
        (comparison_id, annotator_id, assignment_id, source, vq, mq, ta, overall, checklist,
         mos_a_vq, mos_a_mq, mos_a_ta, mos_b_vq, mos_b_mq, mos_b_ta, lead_time_ms, idempotency_key, created_at)
    VALUES (%(comparison)s, %(annotator)s, %(assignment)s, 'annotator', %(vq)s, %(mq)s, %(ta)s, %(overall)s,
            %(checklist)s, %(mos_a_vq)s, %(mos_a_mq)s, %(mos_a_ta)s, %(mos_b_vq)s, %(mos_b_mq)s, %(mos_b_ta)s,
            %(lead_time_ms)s, %(idempotency_key)s, %(now)s)
    RETURNING id, created_at
), lease AS (
    UPDATE annotation_assignment SET state = 'submitted', updated_at = %(now)s WHERE id = %(assignment)s
), counted AS (
    UPDATE annotation_comparison SET judgement_count = judgement_count + 1 WHERE id = %(comparison)s
)
SELECT id, created_at FROM judgement
"""

_EARLIER_SQL = "SELECT id, idempotency_key, created_at FROM annotation_judgement WHERE assignment_id = %s"


def _replay(assignment: Assignment, key: str) -> StoredJudgement:
    """A submitted assignment: the stored result for a retry with the same key, else a conflict."""
    with connection.cursor() as cursor:
        cursor.execute(_EARLIER_SQL, [assignment.pk])
        row = cursor.fetchone()
    if row is not None and key and row[1] == key:
        return StoredJudgement(id=row[0], assignment_id=assignment.pk, project_id=assignment.project_id,
                               created_at=row[2], created=False)
    raise Conflict("This assignment was already submitted.")


def judgement_submit(
    *, assignment_id: int, annotator: AbstractBaseUser, submission: SubmittedJudgement
) -> StoredJudgement:
    """Store the annotator's judgement for their assignment, in A/B terms.

    A retry with the same idempotency key returns the first result and stores nothing.
    """
    try:
        with transaction.atomic():
            comparison, assignment = lock_own_assignment(assignment_id, annotator)
            if assignment.state == Assignment.State.SUBMITTED:
                return _replay(assignment, submission.idempotency_key)
            _validate(comparison.project, submission)
            if assignment.state == Assignment.State.SKIPPED:
                raise Conflict("This assignment was skipped; it can no longer be submitted.")
            if assignment.state == Assignment.State.EXPIRED:
                reacquire_expired_slot(comparison, assignment, action="judgement")
            now = timezone.now()
            values = {
                "comparison": comparison.pk,
                "annotator": annotator.pk,
                "assignment": assignment.pk,
                "lead_time_ms": submission.lead_time_ms,
                "idempotency_key": submission.idempotency_key,
                "now": now,
                **dict.fromkeys(MOS_FIELDS),
                **_unswap(assignment, submission),
            }
            values["checklist"] = Jsonb(values["checklist"])
            with connection.cursor() as cursor:
                cursor.execute(_STORE_SQL, values)
                judgement_id, created_at = cursor.fetchone()
            emit_project_event(
                assignment.project_id,
                "judgement.created",
                {"judgement": judgement_id, "comparison": comparison.pk, "annotator": annotator.get_username()},
            )
    except IntegrityError as error:
        raise Conflict("This idempotency key was already used for another judgement.") from error
    return StoredJudgement(id=judgement_id, assignment_id=assignment.pk, project_id=assignment.project_id,
                           created_at=created_at, created=True)
