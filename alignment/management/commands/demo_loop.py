"""The whole feedback loop on the demo project, on CPU: simulated annotators label through the HTTP API, the
reward model retrains every `--judgements` new judgements and is promoted when better, each promotion starts a
Flow-DPO run on the tiny generator, and the promoted generator's videos come back as comparisons that the
simulated annotators (watching through the pixel analyser) and any human in the demo accounts then judge.

Run by scripts/serve.py beside the server, worker and beat; idempotent (models are built once under var/demo).
"""

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from alignment.services.schedules import alignment_schedule_set
from annotation.models import Membership, Project, Prompt
from annotation.services.projects import membership_set
from rewards.services.schedules import training_schedule_set

ROOT = Path(__file__).resolve().parents[3]
SIMULATED = (("sim-careful", "careful"), ("sim-noisy", "noisy"))
SIM_PASSWORD = "simulate-demo"


def reward_config(base: Path) -> dict:
    """Small enough to train in well under a minute on two cores (the reward model of the demo, not a benchmark)."""
    from rewards.config import ModelConfig, RewardConfig, TrainConfig, VideoConfig

    return RewardConfig(
        video=VideoConfig(fps=4.0, min_frames=4, max_frames=8, min_pixels=784, max_pixels=3136),
        model=ModelConfig(base=str(base)),
        train=TrainConfig(loss="btt", lora_r=4, lora_alpha=8, lr_head=1e-2, lr_embeddings=1e-3, lr_lora=1e-3,
                          lr_vision=1e-3, lr_merger=1e-3, batch_size=4, epochs=2, warmup_ratio=0.1),
    ).to_dict()


def alignment_config(generator: Path) -> dict:
    return {
        "generator": str(generator), "pairs": "labels",
        "train": {"method": "flow-dpo", "beta": 2000.0, "sft_weight": 1.0, "learning_rate": 1e-3, "max_steps": 60,
                  "batch_size": 4, "checkpoint_every": 20, "lora": {"rank": 8, "alpha": 8.0},
                  "dimension_weights": {"VQ": 1.0, "MQ": 1.0, "TA": 1.0}},
        "evaluation": {"prompts": 4, "seeds": [0, 1], "steps": 10, "cfg": 4.0},
        # Every run's adapter goes to the annotators: their judgements measure it, and feed the next reward model.
        "generate": {"prompts": 4, "seeds": [0, 1, 2], "steps": 10, "cfg": 4.0, "active_selection": True,
                     "adapter": "run", "vary_seeds": True},
    }


def wait_for_server(url: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/login/", timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise CommandError(f"the server at {url} did not answer within {seconds:.0f} s")


class Command(BaseCommand):
    help = "Set up and drive the feedback loop on the demo project (simulated annotators, schedules)."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the running server, e.g. http://127.0.0.1:8000")
        # An alignment run returns ~9 comparisons (3 held-out prompts × 3), judged by two simulated annotators: a
        # threshold under 18 lets each turn of the loop start the next reward run.
        parser.add_argument("--judgements", type=int, default=16, help="new judgements that trigger a reward run")
        parser.add_argument("--align-every", type=int, default=3, metavar="MINUTES",
                            help="also align this often, so the loop turns when no reward model beats the last")
        parser.add_argument("--setup-only", action="store_true", help="configure, then exit without annotating")
        parser.add_argument("--generator", type=Path, help="a generator directory to align (default: built once)")

    def handle(self, *args, url: str, judgements: int, align_every: int, setup_only: bool, generator: Path | None,
               **options):
        project = Project.objects.filter(slug="demo").first()
        if project is None:
            raise CommandError("no demo project: run `manage.py seed_demo` first")
        work = Path(settings.BASE_DIR) / "var" / "demo"
        for username, _ in SIMULATED:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                get_user_model().objects.create_user(username=username, password=SIM_PASSWORD)
            membership_set(project=project, user=get_user_model().objects.get(username=username),
                           role=Membership.Role.ANNOTATOR)
        reward_base = self._reward_base(work / "reward-base", project)
        training_schedule_set(project=project, enabled=True, min_new_judgements=judgements, min_interval_minutes=1,
                              reward_config=reward_config(reward_base))
        annotating = None
        if not setup_only:
            wait_for_server(url)
            annotators = [a for name, kind in SIMULATED for a in ("--annotator", f"{name}:{SIM_PASSWORD}:{kind}")]
            annotating = subprocess.Popen(
                [sys.executable, "-m", "synthetic", "annotate", "--url", url, "--project", "demo",
                 "--dataset", str(Path(settings.MEDIA_ROOT) / "demo"), *annotators, "--perceive-unknown",
                 "--follow", "5"], cwd=ROOT)
        # Labelling goes on meanwhile; the first promotion since the last alignment run starts one, whenever the
        # alignment schedule appears.
        generator = generator or self._generator(work / "generator")
        alignment_schedule_set(project=project, enabled=True, after_reward_promotion=True,
                               interval_minutes=align_every, alignment_config=alignment_config(generator))
        self.stdout.write(f"demo loop: reward runs every {judgements} new judgements, a Flow-DPO run after each "
                          f"promotion and every {align_every} min; watch {url}/projects/demo/dashboard/ (manager / manage-demo)")
        if annotating is not None and annotating.wait() != 0:
            raise CommandError("the simulated annotators stopped with an error")

    def _reward_base(self, folder: Path, project: Project) -> Path:
        """A tiny Qwen2-VL with random weights and a tokenizer of the demo's prompts (instant to build)."""
        if not (folder / "config.json").is_file():
            from rewards.tiny_base import write_tiny_base

            write_tiny_base(folder, corpus=list(Prompt.objects.filter(project=project).values_list("text", flat=True)))
        return folder

    def _generator(self, folder: Path) -> Path:
        """The tiny generator: the pretrain-base recipe's model when it was built on this machine (var/alignment/
        base), else a short pretraining of the same recipe (a few CPU minutes, once)."""
        recipe = Path(settings.BASE_DIR) / "var" / "alignment" / "base"
        if (recipe / "model_index.json").is_file():
            return recipe
        if not (folder / "model_index.json").is_file():
            self.stdout.write("demo loop: pretraining a small generator on synthetic clips (a few minutes, once)…")
            subprocess.run([sys.executable, "-m", "alignment", "pretrain-base", "--out", str(folder), "--steps", "150",
                            "--clips", "800", "--cache-dir", str(folder.parent / "clips")], cwd=ROOT, check=True)
        return folder
