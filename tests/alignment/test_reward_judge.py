"""The reward-model judge's tie rule and the prompt-suite reader, on literal inputs."""
import json

import pytest

from alignment.prompt_suite import read_prompts
from alignment.reward_judge import MIN_TIE_MARGIN, read_tie_calibration, tie_margins


def test_tie_margins_take_the_calibrated_epsilon_above_the_floor(tmp_path):
    # `python -m rewards evaluate` writes {"report": {dim: {"epsilon": …}}}; None: "no model ties" was best
    path = tmp_path / "evaluation.json"
    path.write_text(json.dumps({"report": {"VQ": {"epsilon": 0.3}, "MQ": {"epsilon": None},
                                           "TA": {"epsilon": 0.001}, "Overall": {"epsilon": 2.0}}}))
    calibration = read_tie_calibration(path)
    assert tie_margins(calibration) == {"VQ": 0.3, "MQ": MIN_TIE_MARGIN, "TA": MIN_TIE_MARGIN}
    assert tie_margins(calibration, floor=0.0) == {"VQ": 0.3, "MQ": 0.0, "TA": 0.001}
    assert tie_margins(None, floor=0.0) == {"VQ": 0.0, "MQ": 0.0, "TA": 0.0}
    with pytest.raises(ValueError, match="floor"):
        tie_margins(None, floor=-0.1)


def test_a_tie_calibration_file_without_a_report_is_refused(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"n_pairs": 3}))
    with pytest.raises(ValueError, match="no per-dimension report"):
        read_tie_calibration(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_tie_calibration(tmp_path / "missing.json")


def test_prompt_suites_keep_multi_sentence_prompts_whole(tmp_path):
    path = tmp_path / "suite.csv"
    # the shared suites' layout: quoted prompts with commas and line breaks, a Chinese column, maybe a BOM
    path.write_text('\ufeffprompt,prompt_shorter,prompt_zh\n"A cat, then a dog.\nThey bake.",cat,猫\n'
                    '"  ",blank,空\nA squirrel,squirrel,松鼠\n', encoding="utf-8")
    assert read_prompts(path) == ["A cat, then a dog.\nThey bake.", "A squirrel"]
    assert read_prompts(path, "prompt_shorter", limit=1) == ["cat"]
    with pytest.raises(ValueError, match="no column 'text'"):
        read_prompts(path, "text")
