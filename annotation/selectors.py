"""Reads. Views call one selector or one service; nothing here writes."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from annotation.errors import NotFound
from annotation.models import Assignment, Comparison, Judgement, Membership, Project, Video


def project_for_role(*, slug: str, user: AbstractBaseUser, roles: tuple[str, ...]) -> Project:
    """The project if the user has one of `roles` in it (staff count as managers).

    Anything else, including a project that exists but is not theirs, is "not found": existence is not leaked.
    """
    project = Project.objects.filter(slug=slug).first()
    if project is not None:
        if user.is_staff and "manager" in roles:
            return project
        if Membership.objects.filter(project=project, user=user, role__in=roles).exists():
            return project
    raise NotFound("No such project.")


def projects_for_user(*, user: AbstractBaseUser) -> list[tuple[Project, str]]:
    """The projects a user may open, with their role (staff see every project as managers)."""
    if user.is_staff:
        return [(p, "manager") for p in Project.objects.order_by("name")]
    memberships = Membership.objects.filter(user=user).select_related("project").order_by("project__name")
    return [(m.project, m.role) for m in memberships]


def assignment_for_display(*, assignment_id: int) -> Assignment:
    return Assignment.objects.select_related(
        "comparison__prompt", "comparison__video_a", "comparison__video_b", "project"
    ).get(pk=assignment_id)


def video_visible_to(*, video_id: int, user: AbstractBaseUser) -> Video:
    """A video file is served to managers of a project that uses it and to annotators holding a lease on it."""
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        raise NotFound("No such video.")
    if user.is_staff:
        return video
    uses = Q(video_a_id=video_id) | Q(video_b_id=video_id)
    managed = Comparison.objects.filter(
        uses, project__memberships__user=user, project__memberships__role=Membership.Role.MANAGER
    )
    leased = Assignment.objects.filter(annotator=user, state=Assignment.State.ACTIVE).filter(
        Q(comparison__video_a_id=video_id) | Q(comparison__video_b_id=video_id)
    )
    if leased.exists() or managed.exists():
        return video
    raise NotFound("No such video.")


def project_progress(*, project: Project) -> dict:
    k = project.overlap
    comparisons = Comparison.objects.filter(project=project, is_gold=False).aggregate(
        total=Count("id"),
        complete=Count("id", filter=Q(judgement_count__gte=k)),
        untouched=Count("id", filter=Q(judgement_count=0, remaining=k)),
    )
    comparisons["in_progress"] = comparisons["total"] - comparisons["complete"] - comparisons["untouched"]
    comparisons["gold"] = Comparison.objects.filter(project=project, is_gold=True).count()
    by_state = dict(
        Assignment.objects.filter(project=project).values_list("state").annotate(n=Count("id")).order_by()
    )
    assignments = {state: by_state.get(state, 0) for state in Assignment.State.values}
    per_annotator = list(
        Judgement.objects.filter(comparison__project=project, annotator__isnull=False)
        .values("annotator__username")
        .annotate(judgements=Count("id"))
        .order_by("-judgements", "annotator__username")
    )
    return {
        "comparisons": comparisons,
        "assignments": assignments,
        "judgements": Judgement.objects.filter(comparison__project=project).count(),
        "annotators": [{"username": r["annotator__username"], "judgements": r["judgements"]} for r in per_annotator],
    }


def managed_project_ids(*, user: AbstractBaseUser) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values_list("project_id", flat=True)
    )
