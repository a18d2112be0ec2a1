"""Leases on comparison slots: claim the next comparison, heartbeat, skip, and reclaim expired leases.

Claims take the comparison row with `SELECT … FOR UPDATE SKIP LOCKED` inside the same statement that upserts
the lease, so two annotators never take the same slot and never wait for each other; submit, skip and heartbeat
lock the comparison and the assignment together in one statement. The slot counter `remaining` is also a
non-negative column, so even a path that forgot the lock could not hand out a slot twice.
"""

import logging
import random
import time
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation.errors import Conflict, NotFound
from annotation.models import Assignment, Comparison, Project
from annotation.rawsql import json_value

logger = logging.getLogger(__name__)

ACTIVE = Assignment.State.ACTIVE
RECLAIM_BATCH = 500
RECLAIM_INTERVAL = 2.0  # seconds

# Comparison c was not judged, skipped or is currently held by this annotator.
_NOT_SEEN_BY_ANNOTATOR = """NOT EXISTS (
      SELECT 1 FROM annotation_assignment a
      WHERE a.comparison_id = c.id AND a.annotator_id = %(annotator)s AND a.state <> 'expired')"""
# Comparisons with a free slot that this annotator has not seen.
_OPEN_FOR_ANNOTATOR = f"""c.project_id = %(project)s AND c.remaining > 0 AND NOT c.is_gold
  AND {_NOT_SEEN_BY_ANNOTATOR}"""

# Those comparisons in serving order from a start key. The partial index `comparison_open_queue` serves it as a
# range scan.
_OPEN_CANDIDATE_SQL = f"""
SELECT c.id FROM annotation_comparison c
WHERE {_OPEN_FOR_ANNOTATOR}
  AND c.queue_key >= %(low)s AND c.queue_key < %(high)s
ORDER BY c.queue_key
LIMIT 1
FOR UPDATE OF c SKIP LOCKED
"""

# Gold comparisons are served to every annotator once; they hold no slots, so nothing needs locking.
_GOLD_CANDIDATE_SQL = f"""
SELECT c.id FROM annotation_comparison c
WHERE c.project_id = %(project)s AND c.is_gold
  AND c.queue_key >= %(low)s AND c.queue_key < %(high)s
  AND {_NOT_SEEN_BY_ANNOTATOR}
ORDER BY c.queue_key
LIMIT 1
"""

# The same candidates seen without row locks: a row another transaction holds (a submit or a claim in flight
# on it) is skipped by the claim, but must not make the queue look empty to this annotator.
_OPEN_EXISTS_SQL = f"""
SELECT 1 FROM annotation_comparison c
WHERE {_OPEN_FOR_ANNOTATOR}
LIMIT 1
"""
BUSY_RETRIES = 40
BUSY_WAIT = 0.025  # seconds: row locks on the claim and submit paths last one short transaction

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


# Extend this annotator's live lease in the project, if any (served by the one-active-lease unique index).
_REFRESH_LIVE_SQL = """
UPDATE annotation_assignment SET expires_at = %(expires)s, updated_at = %(now)s
WHERE annotator_id = %(annotator)s AND project_id = %(project)s AND state = 'active'
RETURNING id
"""

# Take a slot and lease it in ONE statement (atomic on its own, no transaction round trips): the candidate's
# row lock makes the decrement race-free; one row per (comparison, annotator), an expired lease of the same
# annotator being reused. If the one-active-lease constraint fires, the whole statement, decrement included,
# is undone.
_LEASE_INSERT = """
INSERT INTO annotation_assignment
    (project_id, comparison_id, annotator_id, left_is_a, state, expires_at, created_at, updated_at)
SELECT %(project)s, slot.id, %(annotator)s, %(left_is_a)s, 'active', %(expires)s, %(now)s, %(now)s FROM slot
ON CONFLICT (comparison_id, annotator_id) DO UPDATE
    SET state = 'active', expires_at = EXCLUDED.expires_at, left_is_a = EXCLUDED.left_is_a,
        updated_at = EXCLUDED.updated_at
RETURNING id
"""
_CLAIM_OPEN_SQL = f"""
WITH slot AS (
    UPDATE annotation_comparison SET remaining = remaining - 1
    WHERE id = ({_OPEN_CANDIDATE_SQL})
    RETURNING id
)
{_LEASE_INSERT}"""
_CLAIM_GOLD_SQL = f"""
WITH slot AS ({_GOLD_CANDIDATE_SQL})
{_LEASE_INSERT}"""


_last_reclaim = 0.0


def _reclaim_now_and_then() -> None:
    """Reclaim at most every RECLAIM_INTERVAL seconds per process; beat and empty queues do the rest."""
    global _last_reclaim
    now = time.monotonic()
    if now - _last_reclaim >= RECLAIM_INTERVAL:
        _last_reclaim = now
        leases_reclaim_expired()


def _first_row(sql: str, params: dict) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else row[0]


def _claim(project: Project, annotator: AbstractBaseUser, sql: str) -> int | None:
    """Take the first candidate in serving order and lease it; prioritised keys (< 0) first, then from a
    random start, wrapping around. Returns the assignment id."""
    start = random.random()
    now = timezone.now()
    params = {
        "project": project.pk,
        "annotator": annotator.pk,
        "left_is_a": random.random() < 0.5,
        "expires": now + timedelta(seconds=project.lease_ttl_seconds),
        "now": now,
    }
    for low, high in ((float("-inf"), 0.0), (start, float("inf")), (0.0, start)):
        assignment_id = _first_row(sql, params | {"low": low, "high": high})
        if assignment_id is not None:
            return assignment_id
    return None


def _claim_any(project: Project, annotator: AbstractBaseUser) -> int | None:
    if project.gold_rate > 0 and random.random() < project.gold_rate:
        gold = _claim(project, annotator, _CLAIM_GOLD_SQL)
        if gold is not None:
            return gold
    return _claim(project, annotator, _CLAIM_OPEN_SQL)


def assignment_claim(*, project: Project, annotator: AbstractBaseUser) -> int | None:
    """The id of the annotator's next assignment: their live lease if they hold one (extended), else a newly
    claimed slot. None when nothing is left for this annotator. Gold comparisons are injected at the project's
    rate.
    """
    for _attempt in range(3):
        now = timezone.now()
        refresh = {"project": project.pk, "annotator": annotator.pk, "now": now, "expires": _lease_expiry(project)}
        assignment_id = _first_row(_REFRESH_LIVE_SQL, refresh)
        if assignment_id is not None:
            return assignment_id
        _reclaim_now_and_then()
        try:
            assignment_id = _claim_any(project, annotator)
            if assignment_id is None and leases_reclaim_expired() > 0:
                assignment_id = _claim_any(project, annotator)
            busy = 0
            while assignment_id is None and busy < BUSY_RETRIES and _first_row(
                    _OPEN_EXISTS_SQL, {"project": project.pk, "annotator": annotator.pk}) is not None:
                # Work is left but locked by someone else's transaction right now: wait it out rather than
                # tell this annotator the queue is empty.
                busy += 1
                time.sleep(BUSY_WAIT)
                assignment_id = _claim_any(project, annotator)
            return assignment_id
        except IntegrityError:
            # Lost a race: a concurrent `next` of the same annotator took the one active lease (returned on
            # the next pass), or the slot count reached zero under us.
            logger.info("claim by annotator %s on %s lost a race; trying again", annotator.pk, project)
    return None


# Raw SQL on the hot path: building these through the ORM cost more than running them.
_LOCK_OWN_SQL = """
SELECT c.id, c.project_id, c.is_gold, c.remaining, c.judgement_count, a.state, a.left_is_a,
       p.slug, p.checklist, p.asks_overall, p.asks_mos, p.lease_ttl_seconds, p.overlap
FROM annotation_comparison c
JOIN annotation_assignment a ON a.comparison_id = c.id
JOIN annotation_project p ON p.id = c.project_id
WHERE a.id = %s AND a.annotator_id = %s
FOR UPDATE OF c, a
"""


def lock_own_assignment(assignment_id: int, annotator: AbstractBaseUser) -> tuple[Comparison, Assignment]:
    """Lock the comparison and the assignment in one statement. Someone else's assignment is 404."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_OWN_SQL, [assignment_id, annotator.pk])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No such assignment.")
    comparison_id, project_id, is_gold, remaining, judgement_count, state, left_is_a = row[:7]
    slug, checklist, asks_overall, asks_mos, lease_ttl_seconds, overlap = row[7:]
    # Partial instances of the locked rows (and their project): callers read these fields and save with
    # update_fields, so one statement replaces three lookups on the submit path.
    project = Project(id=project_id, slug=slug, checklist=json_value(checklist), asks_overall=asks_overall,
                      asks_mos=asks_mos, lease_ttl_seconds=lease_ttl_seconds, overlap=overlap)
    comparison = Comparison(id=comparison_id, project=project, is_gold=is_gold, remaining=remaining,
                            judgement_count=judgement_count)
    assignment = Assignment(id=assignment_id, comparison_id=comparison_id, annotator_id=annotator.pk,
                            project_id=project_id, state=state, left_is_a=left_is_a)
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
