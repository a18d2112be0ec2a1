"""Creating prompts, videos and comparisons (the import issue builds manifests on top of these)."""

import hashlib

from django.db import transaction
from django.db.models.functions import MD5

from annotation.errors import InvalidInput
from annotation.models import Comparison, Project, Prompt, Video


def prompt_digest(text: str) -> str:
    """md5 of a prompt's text, as PostgreSQL's md5() computes it for the unique index on (project, md5(text))."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def prompt_get_or_create(*, project: Project, text: str, category: str = "") -> Prompt:
    text = text.strip()
    if not text:
        raise InvalidInput("The prompt is empty.", field_errors={"prompt": ["This field may not be blank."]})
    # Filtering on md5(text) lets PostgreSQL use the unique index on (project, md5(text)).
    existing = Prompt.objects.annotate(text_md5=MD5("text")).filter(project=project, text_md5=prompt_digest(text)).first()
    if existing is not None:
        return existing
    return Prompt.objects.create(project=project, text=text, category=category)


@transaction.atomic
def comparison_create(
    *,
    project: Project,
    prompt: Prompt,
    video_a: Video,
    video_b: Video,
    is_gold: bool = False,
    gold_labels: dict | None = None,
) -> Comparison:
    if video_a.pk == video_b.pk:
        raise InvalidInput("A comparison needs two different videos.", field_errors={"video_b": ["Same as video A."]})
    if is_gold and not gold_labels:
        raise InvalidInput("Gold comparisons need their labels.", field_errors={"gold_labels": ["Required."]})
    return Comparison.objects.create(
        project=project,
        prompt=prompt,
        video_a=video_a,
        video_b=video_b,
        is_gold=is_gold,
        gold_labels=gold_labels,
        remaining=0 if is_gold else project.overlap,
    )
