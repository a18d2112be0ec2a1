"""What a reward-model run does on a worker: export → train → evaluate → promote if better than the promoted
model on the SAME held-out split (the promoted model is re-scored on this run's test part, never compared on
another). Heavy imports (torch) happen inside, never in web processes."""

import logging
import math
from pathlib import Path

from django.conf import settings

from annotation.services.run_datasets import run_dataset_export
from annotation.services.run_lifecycle import TRANSIENT_ERRORS, RunCancelled
from rewards.models import RegistryEntry, RewardRun
from rewards.services.runs import (
    registry_promote,
    reward_run_fail,
    reward_run_mark_cancelled,
    reward_run_progress,
    reward_run_start,
    reward_run_succeed,
)

logger = logging.getLogger(__name__)
DIMENSIONS = ("VQ", "MQ", "TA")


def promotion_score(report: dict) -> float:
    """Held-out accuracy without ties, averaged over those of VQ, MQ and TA that are measurable (a dimension whose
    held-out pairs are all human ties has none); NaN when none is — such a run is never promoted."""
    values = [report[d]["without_ties"] for d in DIMENSIONS if not math.isnan(report[d]["without_ties"])]
    return sum(values) / len(values) if values else float("nan")


def run_folder(run: RewardRun) -> Path:
    return Path(settings.RUNS_ROOT) / f"reward-{run.pk}"


def _latest_checkpoint(train_dir: Path) -> Path | None:
    checkpoints = sorted((train_dir / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return checkpoints[-1] if checkpoints else None


def reward_run_execute(*, run_id: int) -> RewardRun | None:
    run = reward_run_start(run_id=run_id)
    if run is None:
        return None
    from rewards.config import RewardConfig
    from rewards.evaluate import evaluate
    from rewards.train import train

    folder = run_folder(run)

    def progress(record: dict) -> None:
        if reward_run_progress(run_id=run.pk, record=record):
            raise RunCancelled

    try:
        files = run_dataset_export(run=run, folder=folder)
        config = RewardConfig.from_dict(run.config)
        # A run whose worker died is taken over and continues from its last checkpoint.
        trained = train(files["train"], config, folder / "train", val_csv=files["val"], cache_dir=folder / "cache",
                        resume_from=_latest_checkpoint(folder / "train"), progress=progress)
        new = evaluate(trained.model_dir, files["test"], folder / "eval", cache_dir=folder / "cache", n_boot=200)
        score = promotion_score(new.report)
        active = RegistryEntry.objects.filter(project=run.project, kind=RegistryEntry.Kind.REWARD, active=True).first()
        previous = None
        if active is not None:
            old = evaluate(active.model_dir, files["test"], folder / "eval-promoted", cache_dir=folder / "cache",
                           n_boot=200)
            previous = promotion_score(old.report)
        # NaN compares false: an unmeasurable score never replaces a model, and a measurable one beats none.
        promoted = not math.isnan(score) and (previous is None or math.isnan(previous) or score > previous)
        if promoted:
            registry_promote(project=run.project, run=run, model_dir=str(trained.model_dir), score=score)
        result = {"test": new.report, "score": score, "promoted_score_on_same_split": previous, "promoted": promoted,
                  "global_step": trained.global_step, "skipped_pairs": trained.skipped_pairs}
        return reward_run_succeed(run_id=run.pk, result=result, artefacts=str(folder))
    except RunCancelled:
        return reward_run_mark_cancelled(run_id=run.pk)
    except TRANSIENT_ERRORS:
        raise  # the task retries; the next attempt takes the run over and resumes it
    except Exception as error:  # noqa: BLE001  (recorded on the run; the registry is untouched)
        logger.exception("reward run %s failed", run.pk)
        return reward_run_fail(run_id=run.pk, error=f"{type(error).__name__}: {error}")
