"""The config of an alignment run as the platform stores it: which generator, where the pairs come from, the
training config of the ML library, and how much to sample for evaluation and for the annotation queue.

Plain Python (no torch), so web processes validate a run before queueing it."""

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

PAIR_SOURCES = ("labels", "reward-model")
ADAPTERS = ("promoted", "run")


class RunConfigError(ValueError):
    pass


@dataclass
class Sampling:
    """Prompts × seeds sampled from the generator, with the sampler's settings."""

    prompts: int = 8
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    steps: int = 20
    cfg: float = 4.0

    def __post_init__(self) -> None:
        if self.prompts < 1 or not self.seeds or self.steps < 1 or self.cfg < 1:
            raise RunConfigError(f"sampling needs ≥ 1 prompt, ≥ 1 seed, ≥ 1 step and cfg ≥ 1, got {asdict(self)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise RunConfigError(f"seeds repeat: {self.seeds}")


@dataclass
class Generation(Sampling):
    """Videos that return to the annotation queue: per prompt, the promoted adapter with every seed and the
    pretrained generator with the first; comparisons aligned vs pretrained and aligned vs aligned."""

    prompt_list: list[str] = field(default_factory=list)  # a prompt suite; empty: held-out prompts of the export
    active_selection: bool = True  # serve first the pairs the promoted reward model is least certain about
    # "promoted": the project's promoted adapter (nothing is generated while none is); "run": this run's adapter,
    # promoted or not — the humans' verdict on it is the measurement the reward model cannot give.
    adapter: str = "promoted"
    # Offset the seeds by 1000 × the run's id, so that each run asks about new samples rather than ones an earlier
    # run already returned (a pair already in the queue is never imported twice).
    vary_seeds: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.seeds) < 2:
            raise RunConfigError("generation needs ≥ 2 seeds (aligned vs aligned pairs)")
        if self.adapter not in ADAPTERS:
            raise RunConfigError(f"adapter: {self.adapter!r} is not one of {', '.join(ADAPTERS)}")


@dataclass
class AlignmentRunConfig:
    generator: str  # the pretrained generator's local directory
    train: dict[str, Any]  # alignment.config.TrainConfig fields (method included)
    pairs: str = "labels"
    relabel: Sampling = field(default_factory=lambda: Sampling(prompts=16, seeds=[0, 1, 2, 3]))
    evaluation: Sampling = field(default_factory=Sampling)
    generate: Generation | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "AlignmentRunConfig":
        if not isinstance(values, dict):
            raise RunConfigError("the config must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise RunConfigError(f"unknown field(s): {', '.join(unknown)}")
        for required in ("generator", "train"):
            if required not in values:
                raise RunConfigError(f"{required}: required")
        try:
            config = cls(
                generator=str(values["generator"]), train=dict(values["train"]), pairs=values.get("pairs", "labels"),
                relabel=_section(Sampling, values, "relabel", Sampling(prompts=16, seeds=[0, 1, 2, 3])),
                evaluation=_section(Sampling, values, "evaluation", Sampling()),
                generate=_section(Generation, values, "generate", None),
            )
        except (TypeError, ValueError) as error:
            raise RunConfigError(str(error)) from error
        config.validate()
        return config

    def validate(self) -> None:
        if self.pairs not in PAIR_SOURCES:
            raise RunConfigError(f"pairs: {self.pairs!r} is not one of {', '.join(PAIR_SOURCES)}")
        if not Path(self.generator).is_dir():
            raise RunConfigError(f"generator: {self.generator!r} is not a local directory")
        from alignment.config import TrainConfig  # plain dataclasses, no torch

        train = TrainConfig.from_dict(self.train)
        if self.pairs == "labels" and train.method == "flow-rwr":
            raise RunConfigError("train.method flow-rwr trains on scored samples: use pairs 'reward-model'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _section(cls: type, values: dict, name: str, default: Any) -> Any:
    raw = values.get(name)
    if raw is None:
        return default
    if not isinstance(raw, dict):
        raise RunConfigError(f"{name}: expected an object")
    try:
        return cls(**raw)
    except TypeError as error:
        raise RunConfigError(f"{name}: {error}") from error
    except RunConfigError as error:
        raise RunConfigError(f"{name}: {error}") from error
