"""The dataset a training run uses: the project's judgements exported with a prompt-level split, recorded on the
run by file and checksum so that what a model was trained and judged on can always be named."""

import hashlib
from pathlib import Path

from annotation.run_records import RunRecord
from annotation.services.exports import ExportOptions, dataset_export

PARTS = ("train", "val", "test")


class NotEnoughData(ValueError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_dataset_export(*, run: RunRecord, folder: Path) -> dict[str, str]:
    """Export the run's project split by prompt with the run's seed into `folder/data`; returns part → CSV path.
    The split is a pure function of (prompts, seed), so a run resumed on another worker sees the same parts."""
    result = dataset_export(project=run.project, output=folder / "data" / "pairs.csv",
                            options=ExportOptions(split=True, seed=run.split_seed, paths="absolute"))
    files = {Path(f).stem.rsplit("_", 1)[-1]: f for f in result.files}
    for part in PARTS:
        if result.per_split.get(part, 0) == 0:
            raise NotEnoughData(f"the {part} part of the split is empty ({result.per_split}); more prompts are needed")
    type(run).objects.filter(pk=run.pk).update(dataset={
        "files": files, "sha256": {part: _sha256(Path(f)) for part, f in files.items()},
        "comparisons": result.per_split, "judgements": result.judgements, "seed": run.split_seed,
    })
    return files
