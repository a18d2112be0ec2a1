"""Reads. Views call one selector or one service; nothing here writes."""

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Trunc
from django.urls import reverse
from django.utils import timezone

from annotation.errors import InvalidInput, NotFound
from annotation.models import Assignment, Comparison, Judgement, Membership, Project, Video
from annotation.rawsql import json_value


def project_for_role(*, slug: str, user: AbstractBaseUser, roles: tuple[str, ...]) -> Project:
    """The project if the user has one of `roles` in it (staff count as managers).

    Anything else, including a project that exists but is not theirs, is "not found": existence is not leaked.
    """
    if user.is_staff and "manager" in roles:
        project = Project.objects.filter(slug=slug).first()
    else:
        project = next(iter(Project.objects.raw(_PROJECT_FOR_ROLE_SQL, [slug, user.pk, list(roles)])), None)
    if project is None:
        raise NotFound("No such project.")
    return project


def project_by_id_for_role(*, project_id: int, user: AbstractBaseUser, roles: tuple[str, ...]) -> Project:
    slug = Project.objects.filter(pk=project_id).values_list("slug", flat=True).first()
    if slug is None:
        raise NotFound("No such project.")
    return project_for_role(slug=slug, user=user, roles=roles)


def managed_object(*, queryset: QuerySet, pk: int, user: AbstractBaseUser, what: str):
    """A row of a project (job, run…) for a manager of that project; anything else is "not found"."""
    obj = queryset.select_related("project").filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"No such {what}.")
    project_for_role(slug=obj.project.slug, user=user, roles=(Membership.Role.MANAGER,))
    return obj


def projects_for_user(*, user: AbstractBaseUser) -> list[tuple[Project, str]]:
    """The projects a user may open, with their role (staff see every project as managers)."""
    if user.is_staff:
        return [(p, "manager") for p in Project.objects.order_by("name")]
    memberships = Membership.objects.filter(user=user).select_related("project").order_by("project__name")
    return [(m.project, m.role) for m in memberships]


_ASSIGNMENT_PAYLOAD_SQL = """
SELECT a.id, a.left_is_a, a.expires_at, p.slug, p.checklist, p.asks_overall, p.asks_mos, pr.text,
       va.id, va.file, va.url, va.fps, va.num_frames, va.width, va.height, va.duration,
       vb.id, vb.file, vb.url, vb.fps, vb.num_frames, vb.width, vb.height, vb.duration
FROM annotation_assignment a
JOIN annotation_project p ON p.id = a.project_id
JOIN annotation_comparison c ON c.id = a.comparison_id
JOIN annotation_prompt pr ON pr.id = c.prompt_id
JOIN annotation_video va ON va.id = c.video_a_id
JOIN annotation_video vb ON vb.id = c.video_b_id
WHERE a.id = %s
"""


def _video(row: tuple) -> dict:
    video_id, file, url, fps, num_frames, width, height, duration = row
    return {
        "url": reverse("api:video-file", kwargs={"video_id": video_id}) if file else url,
        "fps": fps,
        "num_frames": num_frames,
        "width": width,
        "height": height,
        "duration": duration,
    }


def assignment_payload(*, assignment_id: int) -> dict:
    """What the annotator is shown: the prompt, the two videos as left/right, the checklist. Never the
    generator, which video is A, or whether it is gold."""
    with connection.cursor() as cursor:
        cursor.execute(_ASSIGNMENT_PAYLOAD_SQL, [assignment_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No such assignment.")
    (assignment_id, left_is_a, expires_at, slug, checklist, asks_overall, asks_mos, prompt) = row[:8]
    video_a, video_b = _video(row[8:16]), _video(row[16:24])
    left, right = (video_a, video_b) if left_is_a else (video_b, video_a)
    return {
        "id": assignment_id,
        "project": slug,
        "prompt": {"text": prompt},
        "left": left,
        "right": right,
        "dimensions": ["VQ", "MQ", "TA", "Overall"] if asks_overall else ["VQ", "MQ", "TA"],
        "checklist": json_value(checklist),
        "asks_mos": asks_mos,
        "expires_at": expires_at,
    }


_PROJECT_FOR_ROLE_SQL = """
SELECT p.* FROM annotation_project p
WHERE p.slug = %s AND EXISTS (
    SELECT 1 FROM annotation_membership m WHERE m.project_id = p.id AND m.user_id = %s AND m.role = ANY(%s))
"""


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
        "throughput": project_throughput(project=project),
        "judgements": Judgement.objects.filter(comparison__project=project).count(),
        "annotators": [{"username": r["annotator__username"], "judgements": r["judgements"]} for r in per_annotator],
    }


def managed_project_ids(*, user: AbstractBaseUser) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values_list("project_id", flat=True)
    )


def project_throughput(*, project: Project) -> dict:
    """Judgements per minute over the last hour and per hour over the last two days (for the dashboard chart)."""
    now = timezone.now()
    series = {}
    for name, unit, span in (("per_minute", "minute", timedelta(hours=1)), ("per_hour", "hour", timedelta(days=2))):
        rows = (
            Judgement.objects.filter(comparison__project=project, created_at__gte=now - span)
            .annotate(bucket=Trunc("created_at", unit))
            .values("bucket")
            .annotate(n=Count("id"))
            .order_by("bucket")
        )
        series[name] = [{"t": row["bucket"].isoformat(), "judgements": row["n"]} for row in rows]
    return series


def annotator_ids(*, project: Project, usernames: list[str]) -> tuple[int, ...]:
    """Ids of the named members of the project; an unknown name is a field error, not an empty filter."""
    if not usernames:
        return ()
    found = dict(
        Membership.objects.filter(project=project, user__username__in=usernames).values_list("user__username", "user_id")
    )
    unknown = sorted(set(usernames) - set(found))
    if unknown:
        raise InvalidInput("Unknown annotators.", field_errors={"annotators": [f"Not in this project: {', '.join(unknown)}."]})
    return tuple(found.values())
