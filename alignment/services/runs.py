"""Alignment run records: validated and queued on the `gpu` queue, then the shared run life cycle."""

from django.contrib.auth.models import AbstractBaseUser

from alignment.models import AlignmentRun
from alignment.services.run_config import AlignmentRunConfig, RunConfigError
from annotation.errors import InvalidInput
from annotation.models import Project
from annotation.services.run_lifecycle import RunLifecycle
from rewards.models import RegistryEntry

ALIGNMENT_RUNS = RunLifecycle(AlignmentRun, "alignment_run.updated", "an alignment run")


def active_reward_model(project: Project) -> RegistryEntry | None:
    return RegistryEntry.objects.filter(project=project, kind=RegistryEntry.Kind.REWARD, active=True).first()


def alignment_run_create(*, project: Project, user: AbstractBaseUser | None, config: dict,
                         split_seed: int = 0) -> AlignmentRun:
    """Validate the config (in this process: no torch), record the run and queue it after commit. Evaluation and
    re-labelling need the project's promoted reward model, so a project without one cannot align yet."""
    try:
        parsed = AlignmentRunConfig.from_dict(config)
    except (RunConfigError, ValueError) as error:
        raise InvalidInput("The alignment config is not valid.", field_errors={"config": [str(error)]}) from error
    reward = active_reward_model(project)
    if reward is None:
        raise InvalidInput("This project has no promoted reward model to judge an alignment run.",
                           field_errors={"config": ["Train and promote a reward model first."]})
    from alignment.tasks import align_generator  # the task module imports this one

    return ALIGNMENT_RUNS.create(project=project, user=user, config=parsed.to_dict(), enqueue=align_generator.delay,
                                 split_seed=split_seed, reward_entry=reward)


def alignment_run_cancel(*, run: AlignmentRun) -> AlignmentRun:
    return ALIGNMENT_RUNS.cancel(run=run)
