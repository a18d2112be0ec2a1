import csv

from synthetic.cli import main
from synthetic.encode import decode_video


def test_render_writes_the_requested_clip(tmp_path):
    out = tmp_path / "clip.webm"
    assert main(["render", "--prompt", "A red circle grows on a plain background at night.", "--defect", "blur=0.5",
                 "--frames", "8", "--fps", "4", "--size", "32", "--out", str(out)]) == 0
    video = decode_video(out)
    assert (video.num_frames, video.fps, video.frames.shape[1]) == (8, 4.0, 32)


def test_bad_input_exits_non_zero_with_one_line(tmp_path, capsys):
    code = main(["render", "--prompt", "A cat jumps.", "--out", str(tmp_path / "x.mp4")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error:") and "\n" not in err and "grammar" in err
    code = main(["render", "--prompt", "A red circle grows on a plain background at night.", "--defect", "glare=1",
                 "--out", str(tmp_path / "x.mp4")])
    assert code == 2 and "glare" in capsys.readouterr().err


def test_make_dataset_cli(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["make-dataset", "--out", str(out), "--prompts", "3", "--generators", "atlas-pro,legacy-gan",
                 "--annotators", "careful,left_biased", "--workers", "1"]) == 0
    assert capsys.readouterr().out.startswith("6 videos")  # 3 prompts × 2 generators
    with (out / "annotations.csv").open() as handle:
        assert {row["annotator"] for row in csv.DictReader(handle)} == {"careful", "left_biased"}
