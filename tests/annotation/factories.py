"""factory_boy factories for the annotation models."""

import hashlib
import itertools
import uuid

import factory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from annotation.models import Assignment, Comparison, Membership, Project, Prompt, Video
from annotation.services.comparisons import comparison_create
from annotation.services.leases import assignment_claim
from annotation.services.projects import membership_set, project_create
from tests.annotation.clips import write_clip

PASSWORD = "correct-horse-battery"
_colours = itertools.count()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


def make_project(**kwargs) -> Project:
    n = next(_colours)
    token = uuid.uuid4().hex[:6]  # unique across sessions too, should an earlier run have left rows behind
    kwargs.setdefault("name", f"Project {n}")
    kwargs.setdefault("slug", f"project-{n}-{token}")
    return project_create(**kwargs)


def make_member(project: Project, role: str = Membership.Role.ANNOTATOR, **user_kwargs):
    user = UserFactory(**user_kwargs)
    membership_set(project=project, user=user, role=role)
    return user


def make_video(*, generator: str = "gen-a", with_file: bool = True) -> Video:
    n = next(_colours)
    if with_file:
        relative = f"videos/clip-{n}.mp4"
        path = write_clip(settings.MEDIA_ROOT / relative, colour=n)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        return Video.objects.create(
            file=relative, generator=generator, fps=8, num_frames=8, width=32, height=32, duration=1.0, sha256=sha
        )
    sha = hashlib.sha256(f"virtual-{n}".encode()).hexdigest()
    return Video.objects.create(
        url=f"https://videos.example/{n}.mp4", generator=generator, fps=8, num_frames=8, width=32, height=32,
        duration=1.0, sha256=sha,
    )


def make_comparisons(project: Project, count: int, *, with_files: bool = False, **kwargs) -> list[Comparison]:
    """`count` comparisons, each with its own prompt and two fresh videos."""
    comparisons = []
    for _ in range(count):
        prompt = Prompt.objects.create(project=project, text=f"a red circle moves left #{next(_colours)}")
        video_a = make_video(generator="gen-a", with_file=with_files)
        video_b = make_video(generator="gen-b", with_file=with_files)
        comparisons.append(
            comparison_create(project=project, prompt=prompt, video_a=video_a, video_b=video_b, **kwargs)
        )
    return comparisons


def claim(project: Project, annotator) -> Assignment | None:
    """The annotator's next lease as a model instance (None when nothing is left)."""
    assignment_id = assignment_claim(project=project, annotator=annotator)
    return None if assignment_id is None else Assignment.objects.get(pk=assignment_id)


def set_form_password(user, password: str) -> None:
    """A password the server can check quickly: PBKDF2 (which the server knows) with few iterations.

    The test settings hash with MD5, which the server does not accept.
    """
    user.password = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt(), iterations=1000)
    user.save(update_fields=["password"])
