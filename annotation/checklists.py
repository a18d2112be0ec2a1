"""The guideline checklists a project can start from.

A ticked item means "this video shows a problem with this key point"; annotators tick items per side and per
dimension. The default is the guideline of the VideoReward paper (Table 8); the VisionReward preset maps its
selected yes/no questions to items (a tick = the answer is "no").
"""

import re
from pathlib import Path
from typing import TypedDict

DIMENSIONS: tuple[str, ...] = ("VQ", "MQ", "TA")
DIMENSION_NAMES = {"VQ": "Visual quality", "MQ": "Motion quality", "TA": "Text alignment", "Overall": "Overall"}


class ChecklistItem(TypedDict):
    key: str
    label: str
    help: str


Checklist = dict[str, list[ChecklistItem]]


def _item(key: str, label: str, help_text: str) -> ChecklistItem:
    return {"key": key, "label": label, "help": help_text}


DEFAULT_CHECKLIST: Checklist = {
    "VQ": [
        _item("image_reasonableness", "Image reasonableness", "Objects look plausible; no broken or impossible structures."),
        _item("clarity", "Clarity", "The image is sharp, not blurry or noisy."),
        _item("detail_richness", "Detail richness", "Fine detail is present; no blocky, pixelated or smeared areas."),
        _item("aesthetic_creativity", "Aesthetic creativity", "Colours, contrast and composition are pleasing."),
        _item("safety", "Safety", "Nothing disturbing or unsafe is shown."),
    ],
    "MQ": [
        _item("dynamic_stability", "Dynamic stability", "Frames follow each other continuously: no jitter, stutter or flicker."),
        _item("dynamic_reasonableness", "Dynamic reasonableness", "Motion obeys physics: no teleports or impossible jumps."),
        _item("motion_aesthetics", "Motion aesthetics", "Motion is harmonious, not stiff or mechanical."),
        _item("dynamic_fusion", "Naturalness of dynamic fusion", "Edges stay clean while moving; shapes do not deform."),
        _item("motion_clarity", "Motion clarity", "The motion is easy to identify."),
        _item("dynamic_degree", "Dynamic degree", "There is clear movement where the prompt asks for it, not a still scene."),
    ],
    "TA": [
        _item("subject_relevance", "Subject relevance", "The subject (kind, colour, number) matches the prompt."),
        _item("dynamic_relevance", "Dynamic information relevance", "Actions and postures match the prompt."),
        _item("environment_relevance", "Environmental relevance", "The background and setting match the prompt."),
        _item("style_relevance", "Style relevance", "The style matches, if the prompt names one."),
        _item("camera_relevance", "Camera movement relevance", "The camera moves as described, if the prompt says how."),
    ],
}

_VISIONREWARD_DIMENSION_HINTS = (
    ("TA", ("requirements", "text")),
    ("MQ", ("motion", "movement", "dynamic", "maintained throughout", "smooth", "stable", "physical")),
)


def visionreward_checklist(select_file: Path) -> Checklist:
    """Turn VisionReward's selected questions (one per line) into a checklist grouped by dimension.

    The grouping by keyword is a convenience for annotators; the questions themselves are kept verbatim.
    """
    checklist: Checklist = {d: [] for d in DIMENSIONS}
    for index, line in enumerate(select_file.read_text(encoding="utf-8").splitlines()):
        question = line.strip()
        if not question:
            continue
        lowered = question.lower()
        dimension = "VQ"
        for candidate, words in _VISIONREWARD_DIMENSION_HINTS:
            if any(w in lowered for w in words):
                dimension = candidate
                break
        slug = re.sub(r"[^a-z0-9]+", "_", lowered.replace("[[prompt]]", "prompt")).strip("_")[:40]
        checklist[dimension].append(_item(f"vr{index:02d}_{slug}", question, "Tick when the answer is no."))
    return checklist


def checklist_keys(checklist: Checklist) -> dict[str, set[str]]:
    return {dimension: {item["key"] for item in items} for dimension, items in checklist.items()}


def validate_checklist(checklist: object) -> list[str]:
    """Errors in a checklist definition (empty list when it is well formed)."""
    if not isinstance(checklist, dict):
        return ["checklist must be an object keyed by dimension"]
    errors = []
    for dimension, items in checklist.items():
        if dimension not in DIMENSIONS:
            errors.append(f"unknown dimension {dimension!r}")
            continue
        if not isinstance(items, list):
            errors.append(f"{dimension}: items must be a list")
            continue
        seen: set[str] = set()
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
                errors.append(f"{dimension}: every item needs a non-empty string key")
                continue
            if item["key"] in seen:
                errors.append(f"{dimension}: duplicate key {item['key']!r}")
            seen.add(item["key"])
    return errors
