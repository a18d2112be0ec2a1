"""The renderer's fast paths reproduce the numpy operations they replace to the last bit (rendered clips are
cached by settings elsewhere, so they must not drift), and CABAC encoding decodes to the same pictures."""

import io
import math
from fractions import Fraction

import av
import numpy as np
import pytest

from synthetic import render
from synthetic.encode import decode_video, encode_frames
from synthetic.render import RenderConfig, render_frames

MOVING = "Two red stars move right on a noisy background in daylight, the camera pans left."


def test_block_sums_equal_reduceat_bit_for_bit():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = (rng.random((4, 64, 64, 3)) * 3.0).astype(dtype)
        for block in (1.3, 2.05, 3.7, 8.0, 11.5):  # runs of up to 8 take the fast path, longer ones reduceat
            ids = (np.arange(64) / block).astype(np.int64)
            starts = np.flatnonzero(np.r_[True, np.diff(ids) > 0])
            counts = np.diff(np.r_[starts, 64])
            for axis in (1, 2):
                expected = np.add.reduceat(x, starts, axis=axis)
                assert np.array_equal(render._block_sums(x, starts, counts, axis), expected), (dtype, block, axis)


def test_angle_folding_equals_numpy_bit_for_bit():
    rng = np.random.default_rng(1)
    period = np.float32(2.0 * math.pi)
    phi = ((rng.random(200_000) * 4.0 - 2.0) * period).astype(np.float32)
    edges = np.array([0.0, -0.0, period, -period, np.nextafter(period, 0), np.nextafter(-period, -10), -1e-30],
                     dtype=np.float32)
    phi = np.concatenate([phi[np.abs(phi) < 2 * period], edges])
    folded = render._mod_2pi(phi)
    assert np.array_equal(folded.view(np.int32), np.mod(phi, 2.0 * math.pi).view(np.int32))
    for m in (3, 4, 10):
        step = 2.0 * math.pi / m
        assert np.array_equal(render._floor_div(folded, step), (folded // step).astype(np.int64))


def _encode_cavlc(frames: np.ndarray, fps: float) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "12", "threads": "1"}  # ultrafast's own coder: CAVLC
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


@pytest.mark.parametrize("size", [32, 64])
def test_cabac_decodes_to_the_same_pictures_as_cavlc(size):
    frames = render_frames(MOVING, 5, render.Defects(noise=0.4, blockiness=0.3, jitter=0.5), RenderConfig(size=size))
    cabac, cavlc = encode_frames(frames, 8.0), _encode_cavlc(frames, 8.0)
    assert cabac != cavlc  # really a different entropy coder
    assert np.array_equal(decode_video(cabac).frames, decode_video(cavlc).frames)
