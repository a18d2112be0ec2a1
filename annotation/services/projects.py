"""Projects and memberships."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotation.checklists import Checklist, validate_checklist
from annotation.errors import InvalidInput
from annotation.models import Membership, Project, default_checklist


def project_create(
    *,
    name: str,
    slug: str,
    guidelines: str = "",
    checklist: Checklist | None = None,
    overlap: int = 1,
    lease_ttl_seconds: int = 600,
    gold_rate: float = 0.0,
    asks_overall: bool = False,
    asks_mos: bool = False,
) -> Project:
    checklist = default_checklist() if checklist is None else checklist
    problems = validate_checklist(checklist)
    if problems:
        raise InvalidInput("The checklist is not valid.", field_errors={"checklist": problems})
    return Project.objects.create(
        name=name,
        slug=slug,
        guidelines=guidelines,
        checklist=checklist,
        overlap=overlap,
        lease_ttl_seconds=lease_ttl_seconds,
        gold_rate=gold_rate,
        asks_overall=asks_overall,
        asks_mos=asks_mos,
    )


@transaction.atomic
def membership_set(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise InvalidInput("Unknown role.", field_errors={"role": [f"{role!r} is not manager or annotator."]})
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership
