"""Reads the frontend pages need beyond the API's: who a user is in a project, and an annotator's own progress.

Read-only, like every selector; the pages call these and nothing here writes.
"""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from annotation.models import Assignment, Comparison, Judgement, Membership, Project


def project_and_role(*, slug: str, user: AbstractBaseUser) -> tuple[Project, str] | None:
    """The project and the user's role in it ("manager" for staff), or None when they have no part in it."""
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        return None
    if user.is_staff:
        return project, Membership.Role.MANAGER
    role = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    return None if role is None else (project, role)


def annotator_progress(*, project: Project, user: AbstractBaseUser, since: datetime) -> dict:
    """The annotator's judgements since `since` (their local midnight) and in all, and what is left for them.

    "Remaining" counts comparisons that still need judgements and that this annotator has neither judged nor
    skipped, the one in front of them included; gold comparisons are not counted (they are not announced).
    """
    mine = Judgement.objects.filter(comparison__project=project, annotator=user).aggregate(
        done=Count("id"), today=Count("id", filter=Q(created_at__gte=since))
    )
    handled = Assignment.objects.filter(
        project=project, annotator=user, state__in=(Assignment.State.SUBMITTED, Assignment.State.SKIPPED)
    ).values("comparison_id")
    remaining = (
        Comparison.objects.filter(project=project, is_gold=False, judgement_count__lt=project.overlap)
        .exclude(id__in=handled)
        .count()
    )
    return {"today": mine["today"], "done": mine["done"], "remaining": remaining}
