"""Reading VideoAlign CSVs and validating configs: labels, masks, clear errors, prompt-level splits."""
import json
import shutil
from pathlib import Path

import pytest

from rewards.config import ConfigError, ModelConfig, RewardConfig, TrainConfig, VideoConfig
from rewards.data import DatasetFormatError, parse_label, read_pairs, split_by_prompt

EXAMPLE = Path("/work/shared/data/videoalign/train-example.csv")


def test_labels_map_to_plus_minus_zero_and_anything_else_is_masked():
    assert [parse_label(v) for v in ("A", "B", "same", " A ", "", None, "tie", "a")] == [1, -1, 0, 1, None, None,
                                                                                        None, None]


def test_reads_the_videoalign_example_unchanged(tmp_path):
    csv_path = tmp_path / "example.csv"
    shutil.copy(EXAMPLE, csv_path)
    records = read_pairs(csv_path, media_dir=tmp_path / "media")
    assert len(records) == 12
    first = records[0]
    # Row 1: B,B,A with fps 24/30; no Overall column → masked.
    assert first.labels == {"VQ": -1, "MQ": -1, "TA": 1, "Overall": None}
    assert (first.declared_fps_a, first.declared_fps_b) == (24.0, 30.0)
    assert first.path_a == tmp_path / "media" / "videos/example_1_A.mp4"
    assert first.path_b == tmp_path / "media" / "videos/example_1_B.mp4"  # "./" prefix resolves the same
    assert records[1].labels["VQ"] == 0  # "same"


def test_missing_column_and_missing_file_name_the_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("path_A,path_B,prompt,VQ,MQ\na.mp4,b.mp4,p,A,B\n")
    with pytest.raises(DatasetFormatError, match=r"bad.csv: missing column\(s\) \['TA'\]"):
        read_pairs(bad)
    with pytest.raises(DatasetFormatError, match="not found: .*nope.csv"):
        read_pairs(tmp_path / "nope.csv")


def test_optional_columns_overall_models_and_mos(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("path_A,path_B,prompt,VQ,MQ,TA,Overall,A_model,B_model,VQ_mos_A,VQ_mos_B\n"
                    "a.mp4,b.mp4,p,A,n/a,same,B,gen1,gen2,4.5,2\n")
    (record,) = read_pairs(path)
    assert record.labels == {"VQ": 1, "MQ": None, "TA": 0, "Overall": -1}
    assert (record.model_a, record.model_b) == ("gen1", "gen2")
    assert record.mos == {"VQ": (4.5, 2.0)}


def test_split_by_prompt_never_shares_a_prompt(tmp_path):
    path = tmp_path / "p.csv"
    rows = [f"a{i}.mp4,b{i}.mp4,prompt {i % 7},A,B,same" for i in range(40)]
    path.write_text("path_A,path_B,prompt,VQ,MQ,TA\n" + "\n".join(rows) + "\n")
    train, val = split_by_prompt(read_pairs(path), val_fraction=0.3, seed=1)
    assert len(train) + len(val) == 40
    assert not {r.prompt for r in train} & {r.prompt for r in val}
    assert len({r.prompt for r in val}) == 2  # round(7 × 0.3)
    assert split_by_prompt(read_pairs(path), 0.3, seed=1)[1] == val  # deterministic


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TrainConfig(loss="hinge"), "train.loss must be one of"),
        (lambda: TrainConfig(theta=1.0), "train.theta must be > 1"),
        (lambda: TrainConfig(precision="fp8"), "train.precision"),
        (lambda: TrainConfig(lr_lora=0), "train.lr_lora must be > 0"),
        (lambda: ModelConfig(token_mode="pooled"), "model.token_mode"),
        (lambda: ModelConfig(token_mode="shared"), "needs model.vq_mq_see_prompt"),
        (lambda: ModelConfig(reward_token_init="zero"), "model.reward_token_init must be"),
        (lambda: VideoConfig(min_frames=3), "video.min_frames must be even"),
        (lambda: VideoConfig(max_pixels=100), "video.max_pixels"),
    ],
)
def test_invalid_config_values_are_errors_naming_the_field(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_config_files_reject_unknown_keys_and_round_trip(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"loss": "bt", "lora_targets": ["q_proj"]}, "model": {"base": "/m"}}))
    cfg = RewardConfig.from_file(path)
    assert cfg.train.loss == "bt" and cfg.train.lora_targets == ("q_proj",) and cfg.model.base == "/m"
    assert RewardConfig.from_dict(cfg.to_dict()) == cfg
    toml = tmp_path / "c.toml"
    toml.write_text('[train]\nlos = "bt"\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['los'\] in section 'train'"):
        RewardConfig.from_file(toml)
    with pytest.raises(ConfigError, match="config file not found"):
        RewardConfig.from_file(tmp_path / "none.json")
