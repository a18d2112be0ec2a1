"""Create the demo project: synthetic videos with known defects, an annotator and a manager account.

Idempotent: a second run finds everything in place and only prints the credentials again.
"""

import csv
import logging
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.models import Comparison, Membership, Project
from annotation.services.comparisons import comparison_create, prompt_get_or_create
from annotation.services.projects import membership_set, project_create
from annotation.services.videos import video_register_file

logger = logging.getLogger(__name__)

DEMO_SLUG = "demo"
DEMO_USERS = (
    ("annotator", "annotate-demo", Membership.Role.ANNOTATOR),
    ("manager", "manage-demo", Membership.Role.MANAGER),
)
GUIDELINES = """# Compare the two videos
For each dimension pick the better video, or *Tie* when you cannot tell them apart.

- **Visual quality**: sharpness, noise, blockiness, colour — judge single frames.
- **Motion quality**: smooth, continuous, physically plausible motion; no jitter, stutter or teleports.
- **Text alignment**: does the video show what the prompt asks for (subject, colour, count, action, scene)?

Tick the checklist items where a video shows a problem.
"""


class Command(BaseCommand):
    help = "Create the demo project with synthetic videos and demo accounts."

    def add_arguments(self, parser):
        parser.add_argument("--prompts", type=int, default=24, help="number of synthetic prompts")
        parser.add_argument("--pairs-per-prompt", type=int, default=4)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, prompts: int, pairs_per_prompt: int, seed: int, **options):
        project = Project.objects.filter(slug=DEMO_SLUG).first()
        if project is None:
            # Three judgements per comparison: the demo's simulated annotators leave work for a human too.
            project = project_create(name="Demo: synthetic world", slug=DEMO_SLUG, guidelines=GUIDELINES, overlap=3)
        for username, password, role in DEMO_USERS:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                user = get_user_model().objects.create_user(username=username, password=password)
            membership_set(project=project, user=user, role=role)
        if not Comparison.objects.filter(project=project).exists():
            self._add_synthetic_comparisons(project, prompts, pairs_per_prompt, seed)
        count = Comparison.objects.filter(project=project).count()
        self.stdout.write(f"demo project '{DEMO_SLUG}': {count} comparisons")
        for username, password, role in DEMO_USERS:
            self.stdout.write(f"  {role:<9} login: {username} / {password}")

    def _add_synthetic_comparisons(self, project: Project, prompts: int, pairs_per_prompt: int, seed: int) -> None:
        from synthetic.dataset import DatasetConfig, make_dataset

        out_dir = Path(settings.MEDIA_ROOT) / "demo"
        config = DatasetConfig(n_prompts=prompts, seed=seed, labels=False, pairs_per_prompt=pairs_per_prompt)
        make_dataset(out_dir, config)
        with transaction.atomic():
            for split in ("train", "val", "test"):
                with open(out_dir / f"{split}.csv", newline="") as handle:
                    for row in csv.DictReader(handle):
                        prompt = prompt_get_or_create(project=project, text=row["prompt"])
                        video_a = video_register_file(path=out_dir / row["path_A"], generator=row["A_model"])
                        video_b = video_register_file(path=out_dir / row["path_B"], generator=row["B_model"])
                        comparison_create(project=project, prompt=prompt, video_a=video_a, video_b=video_b)
