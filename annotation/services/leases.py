"""Leases on comparison slots: claim the next comparison, heartbeat, skip, and reclaim expired leases.

Lock order, everywhere: the comparison row first, then its assignment rows. Claims use
`SELECT … FOR UPDATE SKIP LOCKED` on the comparison so that two annotators never take the same slot and never
wait for each other.
"""

import logging
import random
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from annotation.errors import Conflict, NotFound
from annotation.models import Assignment, Comparison, Project

logger = logging.getLogger(__name__)

ACTIVE = Assignment.State.ACTIVE
RECLAIM_BATCH = 500

# Comparisons with a free slot that this annotator has not judged, skipped or currently holds, in serving
# order from a start key. The partial index `comparison_open_queue` serves it as a range scan.
_OPEN_CANDIDATE_SQL = """
SELECT c.id FROM annotation_comparison c
WHERE c.project_id = %(project)s AND c.remaining > 0 AND NOT c.is_gold
  AND c.queue_key >= %(low)s AND c.queue_key < %(high)s
  AND NOT EXISTS (
      SELECT 1 FROM annotation_assignment a
      WHERE a.comparison_id = c.id AND a.annotator_id = %(annotator)s AND a.state <> 'expired')
ORDER BY c.queue_key
LIMIT 1
FOR UPDATE OF c SKIP LOCKED
"""

# Gold comparisons are served to every annotator once; they hold no slots, so nothing needs locking.
_GOLD_CANDIDATE_SQL = """
SELECT c.id FROM annotation_comparison c
WHERE c.project_id = %(project)s AND c.is_gold
  AND c.queue_key >= %(low)s AND c.queue_key < %(high)s
  AND NOT EXISTS (
      SELECT 1 FROM annotation_assignment a
      WHERE a.comparison_id = c.id AND a.annotator_id = %(annotator)s AND a.state <> 'expired')
ORDER BY c.queue_key
LIMIT 1
"""

_LOCK_COMPARISONS_WITH_EXPIRED_SQL = """
SELECT c.id FROM annotation_comparison c
WHERE c.id IN (
    SELECT a.comparison_id FROM annotation_assignment a
    WHERE a.state = 'active' AND a.expires_at < %(now)s
    ORDER BY a.expires_at LIMIT %(limit)s)
FOR UPDATE OF c SKIP LOCKED
"""

# The conditional UPDATE re-checks state and expiry under the row lock, so a heartbeat that extended the lease
# a moment earlier wins and nothing is freed twice.
_EXPIRE_AND_FREE_SQL = """
WITH expired AS (
    UPDATE annotation_assignment SET state = 'expired', updated_at = %(now)s
    WHERE comparison_id = ANY(%(ids)s) AND state = 'active' AND expires_at < %(now)s
    RETURNING comparison_id
), freed AS (
    SELECT comparison_id, count(*) AS n FROM expired GROUP BY comparison_id
)
UPDATE annotation_comparison c SET remaining = c.remaining + freed.n
FROM freed WHERE c.id = freed.comparison_id AND NOT c.is_gold
"""


def leases_reclaim_expired(*, now: datetime | None = None) -> int:
    """Expire leases past their time and give their slots back. Returns the number of comparisons touched."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_LOCK_COMPARISONS_WITH_EXPIRED_SQL, {"now": now, "limit": RECLAIM_BATCH})
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return 0
        cursor.execute(_EXPIRE_AND_FREE_SQL, {"now": now, "ids": ids})
    return len(ids)


def _lease_expiry(project: Project) -> datetime:
    return timezone.now() + timedelta(seconds=project.lease_ttl_seconds)


def _refresh_live_lease(project: Project, annotator: AbstractBaseUser) -> Assignment | None:
    live = Assignment.objects.filter(project=project, annotator=annotator, state=ACTIVE).first()
    if live is None:
        return None
    expires_at = _lease_expiry(project)
    # Conditional on still being active: a concurrent reclaim may have just taken it.
    if Assignment.objects.filter(pk=live.pk, state=ACTIVE).update(expires_at=expires_at) == 0:
        return None
    live.expires_at = expires_at
    return live


def _candidate(sql: str, project: Project, annotator: AbstractBaseUser) -> int | None:
    """The first candidate in serving order: prioritised keys (< 0) first, then from a random start, wrapping."""
    start = random.random()
    ranges = ((float("-inf"), 0.0), (start, float("inf")), (0.0, start))
    with connection.cursor() as cursor:
        for low, high in ranges:
            cursor.execute(sql, {"project": project.pk, "annotator": annotator.pk, "low": low, "high": high})
            row = cursor.fetchone()
            if row is not None:
                return row[0]
    return None


def _lease(project: Project, annotator: AbstractBaseUser, comparison_id: int) -> Assignment:
    assignment, _ = Assignment.objects.update_or_create(
        comparison_id=comparison_id,
        annotator=annotator,
        defaults={
            "project": project,
            "state": ACTIVE,
            "expires_at": _lease_expiry(project),
            "left_is_a": random.random() < 0.5,
        },
    )
    return assignment


def _claim_gold(project: Project, annotator: AbstractBaseUser) -> Assignment | None:
    with transaction.atomic():
        comparison_id = _candidate(_GOLD_CANDIDATE_SQL, project, annotator)
        if comparison_id is None:
            return None
        return _lease(project, annotator, comparison_id)


def _claim_open(project: Project, annotator: AbstractBaseUser) -> Assignment | None:
    with transaction.atomic():
        comparison_id = _candidate(_OPEN_CANDIDATE_SQL, project, annotator)
        if comparison_id is None:
            return None
        # The row is locked FOR UPDATE by the candidate query, so this decrement cannot race.
        Comparison.objects.filter(pk=comparison_id).update(remaining=F("remaining") - 1)
        return _lease(project, annotator, comparison_id)


def assignment_claim(*, project: Project, annotator: AbstractBaseUser) -> Assignment | None:
    """The annotator's next assignment: their live lease if they hold one, else a newly claimed slot.

    Returns None when nothing is left for this annotator. Gold comparisons are injected at the project's rate.
    """
    for _attempt in range(3):
        live = _refresh_live_lease(project, annotator)
        if live is not None:
            return live
        leases_reclaim_expired()
        try:
            if project.gold_rate > 0 and random.random() < project.gold_rate:
                gold = _claim_gold(project, annotator)
                if gold is not None:
                    return gold
            return _claim_open(project, annotator)
        except IntegrityError:
            # Lost a race: a concurrent `next` of the same annotator took the one active lease (returned on
            # the next pass), or the slot count reached zero under us.
            logger.info("claim by annotator %s on %s lost a race; trying again", annotator.pk, project)
    return _refresh_live_lease(project, annotator)


def lock_own_assignment(assignment_id: int, annotator: AbstractBaseUser) -> tuple[Comparison, Assignment]:
    """Lock the comparison, then the assignment (the global lock order). Someone else's assignment is 404."""
    comparison_id = (
        Assignment.objects.filter(pk=assignment_id, annotator=annotator).values_list("comparison_id", flat=True).first()
    )
    if comparison_id is None:
        raise NotFound("No such assignment.")
    comparison = Comparison.objects.select_for_update().get(pk=comparison_id)
    assignment = Assignment.objects.select_for_update().get(pk=assignment_id)
    return comparison, assignment


def reacquire_expired_slot(comparison: Comparison, assignment: Assignment, *, action: str) -> None:
    """An expired lease may still be honoured if its slot was not given to anyone else.

    Callers hold the locks of `lock_own_assignment`.
    """
    if comparison.is_gold:
        return
    if comparison.remaining <= 0:
        raise Conflict(
            f"Your lease expired and this comparison went to another annotator; the {action} was not saved."
        )
    comparison.remaining -= 1
    comparison.save(update_fields=["remaining"])


def assignment_heartbeat(*, assignment_id: int, annotator: AbstractBaseUser) -> Assignment:
    """Extend a lease (and take back an expired one whose slot is still free)."""
    try:
        with transaction.atomic():
            comparison, assignment = lock_own_assignment(assignment_id, annotator)
            if assignment.state in (Assignment.State.SUBMITTED, Assignment.State.SKIPPED):
                raise Conflict(f"This assignment was already {assignment.state}.")
            if assignment.state == Assignment.State.EXPIRED:
                reacquire_expired_slot(comparison, assignment, action="heartbeat")
            assignment.state = ACTIVE
            assignment.expires_at = _lease_expiry(comparison.project)
            assignment.save(update_fields=["state", "expires_at", "updated_at"])
            return assignment
    except IntegrityError as error:
        raise Conflict("You already hold another assignment in this project.") from error


def assignment_skip(*, assignment_id: int, annotator: AbstractBaseUser) -> Assignment:
    """Give the slot back for others; this annotator is never served the comparison again."""
    with transaction.atomic():
        comparison, assignment = lock_own_assignment(assignment_id, annotator)
        if assignment.state == Assignment.State.SKIPPED:
            return assignment
        if assignment.state == Assignment.State.SUBMITTED:
            raise Conflict("This assignment was already submitted; it cannot be skipped.")
        if assignment.state == ACTIVE and not comparison.is_gold:
            comparison.remaining += 1
            comparison.save(update_fields=["remaining"])
        assignment.state = Assignment.State.SKIPPED
        assignment.save(update_fields=["state", "updated_at"])
        return assignment
