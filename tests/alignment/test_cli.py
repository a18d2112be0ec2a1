import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from alignment.cli import main
from alignment.video_io import read_video, write_video

HEADER = ["path_A", "path_B", "prompt", "VQ", "MQ", "TA", "fps_A", "num_frames_A", "fps_B", "num_frames_B"]


def _export(folder, rows):
    path = folder / "export.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_videos")
    for name, level in (("sharp", 200), ("dull", 60), ("mid", 130)):
        frames = np.full((9, 32, 32, 3), level, np.uint8)
        frames[:, 8:24, 8:24, 0] = 255 - level
        write_video(folder / f"{name}.mp4", frames, fps=8)
    return folder


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_then_generate_with_the_lora(videos, tiny_model_dir, tmp_path, capsys):
    rows = [["sharp.mp4", "dull.mp4", "a red square", "A", "A", "A", 8, 9, 8, 9],
            ["mid.mp4", "sharp.mp4", "a red square", "B", "same", "B", 8, 9, 8, 9]]
    export = _export(videos, rows)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"max_steps": 3, "learning_rate": 1e-3, "lora": {"rank": 2, "alpha": 2},
                                  "progress_bar": False}))
    code, out, err = _run(["train", "--method", "flow-dpo", "--pairs", export, "--model", tiny_model_dir,
                           "--config", config, "--out", tmp_path / "run"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["steps"] == 3 and summary["lora_dir"].endswith("lora")

    code, out, err = _run(["generate", "--model", tiny_model_dir, "--lora", tmp_path / "run" / "lora",
                           "--prompt", "a red square", "--seeds", "1,2", "--steps", "2",
                           "--out", tmp_path / "gen"], capsys)
    assert code == 0, err
    manifest = json.loads((tmp_path / "gen" / "samples.json").read_text())
    assert [(m["seed"], m["num_frames"]) for m in manifest] == [(1, 9), (2, 9)]
    decoded = read_video(tmp_path / "gen" / manifest[0]["path"])
    assert decoded.frames.shape == (9, 32, 32, 3)


def test_train_reward_then_guided_generation(videos, tiny_model_dir, tmp_path, capsys):
    rows = [["sharp.mp4", "dull.mp4", "p", "A", "same", "B", 8, 9, 8, 9],
            ["dull.mp4", "mid.mp4", "p", "B", "A", "same", 8, 9, 8, 9]]
    config = tmp_path / "lrm.json"
    config.write_text(json.dumps({"max_steps": 3, "batch_size": 2, "head_hidden": 4, "progress_bar": False}))
    code, out, err = _run(["train-reward", "--pairs", _export(videos, rows), "--model", tiny_model_dir,
                           "--config", config, "--out", tmp_path / "lrm"], capsys)
    assert code == 0, err
    common = ["generate", "--model", tiny_model_dir, "--prompt", "p", "--steps", "2"]
    code, _, err = _run([*common, "--guidance", "VQ=1,MQ=0,TA=0", "--reward-model", tmp_path / "lrm",
                         "--out", tmp_path / "g"], capsys)
    assert code == 0, err
    assert (tmp_path / "g" / "p0000_s0.mp4").is_file()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["sharp.mp4", "gone.mp4", "p", "A", "A", "A", 8, 9, 8, 9]], "path_B video file not found: .*gone.mp4"),
        ([["sharp.mp4", "dull.mp4", "p", "A", "A", "A", 8, 12, 8, 9]],
         "sharp.mp4: the export declares 12 frames, the file has 9"),
        ([["sharp.mp4", "dull.mp4", "p", "same", "same", "same", 8, 9, 8, 9]], "no decided preference pair"),
    ],
)
def test_bad_pairs_exit_with_a_one_line_reason(videos, tiny_model_dir, tmp_path, capsys, rows, message):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("sharp", "dull"):
        (folder / f"{name}.mp4").write_bytes((videos / f"{name}.mp4").read_bytes())
    code, out, err = _run(["train", "--method", "sft", "--pairs", _export(folder, rows), "--model", tiny_model_dir,
                           "--out", tmp_path / "run"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(message, err)


def test_other_bad_input(tiny_model_dir, tmp_path, capsys):
    bad_config = tmp_path / "c.json"
    bad_config.write_text(json.dumps({"method": "sft", "lerning_rate": 1}))
    cases = [
        (["train", "--pairs", "x.csv", "--model", tiny_model_dir, "--out", tmp_path], "no method"),
        (["train", "--config", bad_config, "--pairs", "x.csv", "--model", tiny_model_dir, "--out", tmp_path],
         "unknown field\\(s\\) lerning_rate"),
        (["train", "--method", "flow-rwr", "--pairs", "x.csv", "--model", tiny_model_dir, "--out", tmp_path],
         "flow-rwr needs --samples"),
        (["train", "--method", "sft", "--pairs", tmp_path / "none.csv", "--model", tiny_model_dir, "--out", tmp_path],
         "pairs file not found"),
        (["generate", "--model", tmp_path, "--prompt", "p", "--out", tmp_path], "no model_index.json"),
        (["generate", "--model", tiny_model_dir, "--prompt", "p", "--guidance", "VQ=1", "--out", tmp_path],
         "--guidance needs --reward-model"),
        (["generate", "--model", tiny_model_dir, "--prompt", "p", "--seeds", "1,x", "--out", tmp_path],
         "expected comma-separated integers"),
    ]
    for argv, message in cases:
        code, _, err = _run(argv, capsys)
        assert code == 2, argv
        assert re.search(message, err), (argv, err)


def test_unknown_method_through_the_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "alignment", "train", "--method", "ppo", "--model", "m",
                           "--out", "o"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "invalid choice: 'ppo'" in proc.stderr


def test_a_method_for_another_family_is_refused_before_any_video_is_encoded(videos, tiny_model_dir, tmp_path,
                                                                             capsys, monkeypatch):
    import alignment.dataset

    def never(*args, **kwargs):
        raise AssertionError("prepare_pairs ran before the method was checked against the model")

    monkeypatch.setattr(alignment.dataset, "prepare_pairs", never)
    export = _export(videos, [["sharp.mp4", "dull.mp4", "a red square", "A", "A", "A", 8, 9, 8, 9]])
    code, _, err = _run(["train", "--method", "diffusion-dpo", "--pairs", export, "--model", tiny_model_dir,
                         "--out", tmp_path / "run"], capsys)
    assert code == 2
    assert "diffusion-dpo trains diffusion models; wan is a flow_matching model" in err
    assert not (tmp_path / "run" / "latent_cache").exists()


def test_generate_reads_a_prompts_file_as_the_suites_are_read(tiny_model_dir, tmp_path, capsys):
    prompts = tmp_path / "prompts.csv"
    prompts.write_text("\ufeffprompt\n  a red square  \n\n   \na blue circle\na green line\n", encoding="utf-8")
    code, _, err = _run(["generate", "--model", tiny_model_dir, "--prompts-file", prompts, "--limit", "2",
                         "--steps", "1", "--out", tmp_path / "gen"], capsys)
    assert code == 0, err
    manifest = json.loads((tmp_path / "gen" / "samples.json").read_text())
    assert [m["prompt"] for m in manifest] == ["a red square", "a blue circle"]


@pytest.mark.parametrize("family", ["ltx", "cogvideox"])
def test_build_tiny_refuses_a_codec_for_a_non_wan_family(family, tmp_path, capsys):
    code, _, err = _run(["build-tiny", "--family", family, "--codec", "pixel_unshuffle", "--out", tmp_path / "m"],
                        capsys)
    assert code == 2 and f"--codec is for the wan family only; {family}" in err and not (tmp_path / "m").exists()
