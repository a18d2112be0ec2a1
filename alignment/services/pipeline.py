"""What an alignment run does on a worker: export → preference pairs (the annotators' labels, or samples of the
pretrained generator re-labelled by the promoted reward model) → LoRA training (resumed from its last checkpoint
after a takeover) → win rates of the new adapter and of the promoted one against the pretrained generator, on
the SAME held-out prompts and seeds, judged by the promoted reward model → promote if better → optionally
generate videos that return to the annotation queue. Heavy imports happen inside, never in web processes."""

import csv
import logging
from functools import cached_property
from pathlib import Path

from django.conf import settings

from alignment.models import AlignmentRun
from alignment.services.run_config import AlignmentRunConfig
from alignment.services.runs import ALIGNMENT_RUNS
from annotation.services.run_datasets import NotEnoughData, run_dataset_export
from annotation.services.run_lifecycle import TRANSIENT_ERRORS, RunCancelled
from rewards.models import RegistryEntry
from rewards.services.runs import registry_promote

logger = logging.getLogger(__name__)
DIMENSIONS = ("VQ", "MQ", "TA")


def run_folder(run: AlignmentRun) -> Path:
    return Path(settings.RUNS_ROOT) / f"alignment-{run.pk}"


def heldout_prompts(test_csv: str, limit: int) -> list[str]:
    """Distinct prompts of the held-out (test) part, in file order."""
    with open(test_csv, newline="") as handle:
        prompts = list(dict.fromkeys(row["prompt"] for row in csv.DictReader(handle)))
    if not prompts:
        raise NotEnoughData("the held-out part has no prompt")
    return prompts[:limit]


def mean_win_rate(table: dict) -> float:
    return sum(table[d].rate for d in DIMENSIONS) / len(DIMENSIONS)


class _Run:
    """One execution of one run row: its folder, config and the progress / cancel plumbing."""

    def __init__(self, run: AlignmentRun) -> None:
        self.run, self.folder = run, run_folder(run)
        self.config = AlignmentRunConfig.from_dict(run.config)

    def progress(self, step: int, total: int, stats: dict) -> None:
        if ALIGNMENT_RUNS.progress(run_id=self.run.pk, record={"step": step, "total_steps": total, **stats}):
            raise RunCancelled

    def tick(self) -> None:
        if ALIGNMENT_RUNS.heartbeat(run_id=self.run.pk):
            raise RunCancelled

    @cached_property
    def clip(self) -> tuple[int, int, int]:
        """The clip the generator was made for (its generator.json), else the training config's."""
        from alignment.config import TrainConfig
        from alignment.generator import model_clip

        train = TrainConfig.from_dict(self.config.train).clip
        return model_clip(self.config.generator) or (train.num_frames, train.height, train.width)

    def sample(self, generator, items: list[tuple[str, int]], sampling):
        """uint8 frames of (prompt, seed) items, sampled at the generator's clip with `sampling`'s settings."""
        from alignment.evaluate import sample_frames

        self.tick()
        return sample_frames(generator, [p for p, _ in items], [s for _, s in items], self.sample_settings(sampling))

    def sample_settings(self, sampling):
        from alignment.evaluate import SampleSettings

        return SampleSettings(*self.clip, steps=sampling.steps, cfg=sampling.cfg)


def _training_data(job: _Run, files: dict, reward_dir: str):
    from alignment.config import TrainConfig
    from alignment.dataset import prepare_pairs, prepare_samples
    from alignment.generator import load_generator
    from alignment.latents import ClipSpec
    from alignment.pairs import load_export_pairs, pairs_from_scored_samples

    config = TrainConfig.from_dict({**job.config.train, "progress_bar": False})
    generator = load_generator(job.config.generator)
    # The clip the generator was made for (its generator.json), so pairs are encoded at the size it samples.
    spec = ClipSpec(*job.clip, config.clip.fps)
    cache = job.folder / "latent_cache"
    heldout = None
    if job.config.pairs == "labels":
        pair_set = load_export_pairs(files["train"], config.dimension_weights)
        if not pair_set.pairs:
            raise NotEnoughData(f"no decided preference pair in the training part ({pair_set.rows} rows)")
        data = prepare_pairs(generator, pair_set.pairs, spec, cache)
        if config.eval_every:
            val = load_export_pairs(files["val"], config.dimension_weights).pairs
            if not val:
                raise NotEnoughData("no decided preference pair in the validation part for early stopping")
            heldout = prepare_pairs(generator, val, spec, cache)
    else:
        from alignment.services.relabel import relabel_samples

        prompts = heldout_prompts(files["train"], job.config.relabel.prompts)
        samples = relabel_samples(job, generator, prompts, reward_dir)
        if config.method == "flow-rwr":
            data = prepare_samples(generator, samples, config.dimension_weights, spec, cache,
                                   config.rwr_center_per_prompt)
        else:
            pairs = pairs_from_scored_samples(samples, config.dimension_weights)
            if not pairs:
                raise NotEnoughData("the reward model ranked no prompt's samples apart")
            data = prepare_pairs(generator, pairs, spec, cache)
        if config.eval_every:
            raise NotEnoughData("early stopping needs labelled validation pairs: use pairs 'labels'")
    return config, generator, data, heldout


def _evaluate(job: _Run, files: dict, reward_dir: str, lora: Path, promoted: RegistryEntry | None):
    from alignment.evaluate import Arm, evaluate
    from alignment.services.judge import reward_model_judge, tie_margins

    arms = [Arm("aligned", lora=lora)]
    # The promoted adapter is judged in the same call: same prompts, seeds and judge, so the comparison is fair.
    if promoted is not None and promoted.details.get("base") == job.config.generator:
        arms.append(Arm("promoted", lora=Path(promoted.model_dir)))
    ev = job.config.evaluation
    reward_run = job.run.reward_entry.reward_run if job.run.reward_entry else None
    margins = tie_margins(reward_run.result if reward_run else None)
    judge, _ = reward_model_judge(reward_dir, job.folder / "eval" / "videos", margins, tick=job.tick)
    report = evaluate(job.config.generator, arms, heldout_prompts(files["test"], ev.prompts), ev.seeds,
                      job.sample_settings(ev), judge, job.folder / "eval")
    return {arm.name: arm for arm in report.arms}


def alignment_run_execute(*, run_id: int) -> AlignmentRun | None:
    run = ALIGNMENT_RUNS.start(run_id=run_id)
    if run is None:
        return None
    try:
        job = _Run(run)
        if run.reward_entry is None:
            raise NotEnoughData("the reward model this run was to be judged by is gone")
        reward_dir = run.reward_entry.model_dir
        files = run_dataset_export(run=run, folder=job.folder)
        from alignment.train import latest_checkpoint, train

        config, generator, data, heldout = _training_data(job, files, reward_dir)
        out = job.folder / "train"
        trained = train(config, data, generator, out, resume=latest_checkpoint(out) is not None,
                        progress=job.progress, heldout=heldout)
        lora = trained.best_lora_dir or trained.lora_dir
        promoted_entry = RegistryEntry.objects.filter(project=run.project, kind=RegistryEntry.Kind.GENERATOR,
                                                      active=True).first()
        arms = _evaluate(job, files, reward_dir, lora, promoted_entry)
        win_rates = {name: {d: arm.table[d].rate for d in DIMENSIONS} for name, arm in arms.items()}
        score = mean_win_rate(arms["aligned"].table)
        previous = mean_win_rate(arms["promoted"].table) if "promoted" in arms else None
        # Better than the pretrained generator (> 50%) and than the promoted adapter on the same samples.
        promote = score > 0.5 and (previous is None or score > previous)
        if promote:
            registry_promote(project=run.project, run=run, model_dir=str(lora), score=score,
                             kind=RegistryEntry.Kind.GENERATOR,
                             details={"base": job.config.generator, "win_rates": win_rates["aligned"]})
        result = {"win_rates": win_rates, "score": score, "promoted_score_on_same_samples": previous,
                  "promoted": promote, "global_step": trained.steps, "lora": str(lora),
                  "best_heldout_accuracy": trained.best_heldout_accuracy}
        if job.config.generate is not None:
            from alignment.services.generated import generated_comparisons_import

            result["generated"] = generated_comparisons_import(job=job, files=files, reward_dir=reward_dir,
                                                               run_lora=lora)
        return ALIGNMENT_RUNS.succeed(run_id=run.pk, result=result, artefacts=str(job.folder))
    except RunCancelled:
        return ALIGNMENT_RUNS.mark_cancelled(run_id=run.pk)
    except TRANSIENT_ERRORS:
        raise  # the task retries; the next attempt takes the run over and resumes it
    except Exception as error:  # noqa: BLE001  (recorded on the run; the registry is untouched)
        logger.exception("alignment run %s failed", run.pk)
        return ALIGNMENT_RUNS.fail(run_id=run.pk, error=f"{type(error).__name__}: {error}")
