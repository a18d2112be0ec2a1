"""The renderer: determinism, geometry of the encoded file, and each defect changing what it should (and
nothing else), measured with the analyser's own classical statistics."""

import numpy as np
import pytest
from scipy import ndimage

from synthetic import measure
from synthetic.defects import Defects
from synthetic.encode import EncodeError, decode_video, encode_frames
from synthetic.prompts import parse_prompt
from synthetic.render import RenderConfig, RenderError, render_frames
from synthetic.video import render_video

MOVING = "A red square moves right on a noisy background in daylight."
STILL = "A red circle stays still on a plain background in daylight."


def _float(frames):
    return frames.astype(np.float32) / 255.0


def _track(frames, count=1):
    return measure.measure_subject(_float(frames), count)


def _far_from_subjects(*clips):
    """Pixels at least 4 px away from any subject in any of the clips."""
    near = np.zeros(clips[0].shape[:3], dtype=bool)
    for clip in clips:
        near |= measure.chroma(_float(clip)) > 0.05
    return ~ndimage.binary_dilation(near, structure=np.ones((1, 9, 9), dtype=bool))


def test_same_seed_same_clip_other_seed_other_clip():
    d = Defects(noise=0.5, jitter=0.5, flicker=0.3, stutter=0.4)
    a = render_frames(MOVING, 7, d)
    assert np.array_equal(a, render_frames(MOVING, 7, d))
    assert not np.array_equal(a, render_frames(MOVING, 8, d))


@pytest.mark.parametrize(("fmt", "frames", "fps", "size"), [("mp4", 16, 8.0, 64), ("webm", 12, 10.0, 48)])
def test_decoded_video_has_declared_fps_and_frame_count(fmt, frames, fps, size):
    data = render_video(MOVING, 1, frames=frames, fps=fps, size=size, fmt=fmt)
    video = decode_video(data)
    assert video.fps == pytest.approx(fps)
    assert video.num_frames == frames
    assert video.frames.shape == (frames, size, size, 3)


def test_encoded_clip_stays_close_to_the_rendered_frames():
    frames = render_frames(MOVING, 2)
    decoded = decode_video(encode_frames(frames, 8.0)).frames
    assert np.abs(decoded.astype(int) - frames).mean() < 4.0


def test_bad_settings_are_rejected():
    with pytest.raises(RenderError, match="size"):
        RenderConfig(size=63)
    with pytest.raises(EncodeError, match="uint8"):
        encode_frames(np.zeros((2, 16, 16, 3), dtype=np.float32), 8.0)


def test_blur_lowers_edge_sharpness_and_leaves_the_track_alone():
    clean, blurred = render_frames(MOVING, 3), render_frames(MOVING, 3, Defects(blur=0.8))
    sc, sb = _track(clean), _track(blurred)
    assert measure.edge_sharpness(sb.alpha, sb.mask) < 0.8 * measure.edge_sharpness(sc.alpha, sc.mask)
    assert np.abs(sc.centroids - sb.centroids).max() * 64 < 0.5
    assert measure.circular_distance_degrees(sc.hue, sb.hue) < 3.0


def test_noise_raises_the_noise_estimate_only():
    clean, noisy = render_frames(MOVING, 3), render_frames(MOVING, 3, Defects(noise=0.6))
    # σ = 0.1·0.6 per channel; luma mixes three independent channels: σ·√(0.299² + 0.587² + 0.114²) ≈ 0.67σ.
    assert measure.noise_sigma(_float(noisy)) == pytest.approx(0.06 * 0.67, rel=0.25)
    assert measure.noise_sigma(_float(clean)) < 0.01
    assert np.abs(_track(clean).centroids - _track(noisy).centroids).max() * 64 < 0.5


def test_jitter_raises_frame_to_frame_displacement_variance():
    def step_var(defects):
        steps = np.diff(_track(render_frames(MOVING, 4, defects)).centroids, axis=0) * 64
        return float(steps.var(axis=0).sum())
    # A straight move has (almost) constant steps; jitter σ = 0.035·64·s px per axis adds 2σ² per axis.
    clean, jittery = step_var(Defects()), step_var(Defects(jitter=0.5))
    assert clean < 0.05
    assert jittery == pytest.approx(2 * 2 * (0.035 * 64 * 0.5) ** 2, rel=0.6)


def test_wrong_colour_rotates_the_subject_hue_and_nothing_else():
    clean, wrong = render_frames(MOVING, 5), render_frames(MOVING, 5, Defects(wrong_color=0.5))
    # Red (0°) rotated by 180°·0.5.
    assert _track(wrong).hue == pytest.approx(90.0, abs=4.0)
    assert _track(clean).hue == pytest.approx(0.0, abs=4.0) or _track(clean).hue > 356.0
    assert np.abs(_track(clean).centroids - _track(wrong).centroids).max() * 64 < 0.3
    far = _far_from_subjects(clean, wrong)
    assert far.mean() > 0.5
    assert np.array_equal(clean[far], wrong[far])  # the background is untouched


def test_stutter_repeats_frames_and_frozen_shrinks_the_motion():
    stuttered = render_frames(MOVING, 6, Defects(stutter=1.0))
    repeats = sum(np.array_equal(stuttered[k], stuttered[k - 1]) for k in range(1, 16))
    assert repeats >= 4  # each frame repeats with probability 0.6
    smooth = render_frames(MOVING, 6)
    assert not any(np.array_equal(smooth[k], smooth[k - 1]) for k in range(1, 16))
    net = {}
    for s in (0.0, 0.5):
        c = _track(render_frames(MOVING, 6, Defects(frozen=s))).centroids
        net[s] = (c[-1, 0] - c[0, 0]) * 64
    # The subject travels 0.36 of the frame (23 px at 64 px), ×(1 − 0.5) when half frozen.
    assert net[0.0] == pytest.approx(0.36 * 64, abs=1.0)
    assert net[0.5] == pytest.approx(0.5 * 0.36 * 64, abs=1.0)


def test_missing_subject_leaves_only_the_background():
    gone = render_frames(STILL, 2, Defects(missing_subject=1.0))
    assert measure.chroma(_float(gone)).max() < 0.05
    assert _track(render_frames(STILL, 2, Defects(missing_subject=0.5))).counts.max() == 1


def test_wrong_count_adds_a_faint_extra_subject():
    assert _track(render_frames(STILL, 3, Defects(wrong_count=1.0))).counts.min() == 2
    assert _track(render_frames(STILL, 3)).counts.max() == 1


def test_visual_defects_do_not_move_the_subject():
    clean = _track(render_frames(MOVING, 9)).centroids
    for defects in (Defects(pixelation=0.4), Defects(blockiness=0.8), Defects(low_contrast=0.8)):
        assert np.abs(_track(render_frames(MOVING, 9, defects)).centroids - clean).max() * 64 < 1.0


def test_changing_one_defect_keeps_the_others_random_draws():
    # Noise is drawn from its own stream: adding jitter does not change the noise pattern on the background.
    a = render_frames(STILL, 4, Defects(noise=0.5))
    b = render_frames(STILL, 4, Defects(noise=0.5, jitter=0.8))
    far = _far_from_subjects(render_frames(STILL, 4), render_frames(STILL, 4, Defects(jitter=0.8)))
    assert far.mean() > 0.5
    assert np.array_equal(a[far], b[far])


def _features(prompt, seed, defects):
    from synthetic.features import extract

    return extract(render_frames(prompt, seed, defects), parse_prompt(prompt)).features


def test_block_coding_shows_on_its_grid():
    # Quantised 8×8 DCT blocks lose detail (and small coefficients) inside the coding grid, not across it.
    clean, blocky = _features(MOVING, 3, Defects()), _features(MOVING, 3, Defects(blockiness=0.5))
    assert abs(clean["coding_ratio_high"]) < 0.2
    assert blocky["coding_ratio_high"] < clean["coding_ratio_high"] - 0.5
    # On a plain wall only the subject's outline has detail to lose: the zeroed coefficients still show.
    for features in (clean, _features(STILL, 3, Defects())):
        assert abs(features["coding_zero_gap"]) < 0.05
    assert blocky["coding_zero_gap"] > 0.1
    assert _features(STILL, 3, Defects(blockiness=0.3))["coding_zero_gap"] > 0.06


def test_stutter_shows_as_still_steps():
    frames = render_frames(MOVING, 6, Defects(stutter=1.0))
    held = np.mean([np.array_equal(frames[k], frames[k - 1]) for k in range(1, 16)])
    features = _features(MOVING, 6, Defects(stutter=1.0))
    assert features["track_still_steps"] == pytest.approx(held, abs=1 / 15)
    assert features["still_steps"] == pytest.approx(held, abs=1 / 15)
    assert _features(MOVING, 6, Defects())["still_steps"] == 0.0


def test_robust_jitter_estimates_the_rendered_jitter():
    # σ = 0.035·64·s px per axis.
    for s in (0.3, 0.8):
        assert _features(MOVING, 4, Defects(jitter=s))["jitter_robust"] * 64 == pytest.approx(0.035 * 64 * s, rel=0.35)
    assert _features(MOVING, 4, Defects())["jitter_robust"] * 64 < 0.2


def test_flicker_spreads_the_two_fold_moment():
    assert _features(MOVING, 7, Defects(flicker=0.8))["moment2_spread"] > 5 * _features(MOVING, 7, Defects())["moment2_spread"]


def test_centre_jitter_spreads_where_the_path_is_centred_and_nothing_else():
    from synthetic.render import subject_tracks

    attrs = parse_prompt("A red circle moves left on a plain background in daylight.")
    mid = {jitter: np.array([[t.cx.mean(), t.cy.mean()] for seed in range(60)
                             for t in subject_tracks(attrs, Defects(), seed, 9, jitter)])
           for jitter in (0.03, 0.15)}
    # the mean of a path centred at mid-clip is its centre, drawn uniformly within ± jitter of (0.5, 0.5)
    assert np.abs(mid[0.03] - 0.5).max() <= 0.03 and np.abs(mid[0.15] - 0.5).max() <= 0.15
    assert np.abs(mid[0.15] - 0.5).max() > 0.1
    track = subject_tracks(attrs, Defects(), 7, 9, 0.15)[0]  # the path itself keeps its length and direction
    assert track.cx[0] - track.cx[-1] == pytest.approx(0.36) and np.ptp(track.cy) == pytest.approx(0.0)
    with pytest.raises(RenderError, match="centre_jitter"):
        RenderConfig(centre_jitter=0.3)
