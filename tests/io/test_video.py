"""mp4 encode/decode with PyAV, tensor conversions and contact sheets (zoo/io/video.py)."""

from __future__ import annotations

import io
import uuid

import av
import fsspec
import numpy as np
import pytest
import torch
from PIL import Image

from zoo.io.video import (
    contact_sheet,
    decode_mp4,
    encode_mp4,
    frames_to_video,
    read_mp4,
    video_to_frames,
    write_contact_sheet,
    write_mp4,
)


def smooth_clip(frames: int, height: int, width: int) -> np.ndarray:
    """A moving colour gradient, ``(T, H, W, 3)`` uint8: easy for H.264, so errors stay small."""
    t, y, x = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
    red = 128 + 60 * np.sin(np.pi * (x / width + t / frames))
    green = 128 + 60 * np.cos(np.pi * y / height)
    blue = 96 + 64 * (x + y) / (width + height)
    return np.stack([red, green, blue], axis=-1).round().astype(np.uint8)


def mean_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_mp4_round_trip_of_smooth_16x64x64_clip_has_mean_abs_error_below_3():
    clip = smooth_clip(16, 64, 64)
    data = encode_mp4(clip, fps=24)
    assert data[4:8] == b"ftyp"  # an ISO-BMFF (mp4) file
    frames, fps = decode_mp4(data)
    assert frames.shape == (16, 64, 64, 3) and frames.dtype == np.uint8
    assert fps == pytest.approx(24.0)
    assert mean_abs_error(frames, clip) < 3.0


def test_odd_sized_15x33x47_clip_decodes_to_exact_shape_via_recorded_size():
    clip = smooth_clip(15, 33, 47)
    data = encode_mp4(torch.from_numpy(clip), fps=12.5)  # torch input too
    with av.open(io.BytesIO(data)) as container:  # the stream itself is padded to even
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (48, 34)
        assert container.metadata["comment"] == "zoo:frame_size=47x33"
    frames, fps = decode_mp4(data)
    assert frames.shape == (15, 33, 47, 3)
    assert fps == pytest.approx(12.5)
    assert mean_abs_error(frames, clip) < 3.0


def test_lower_crf_gives_larger_file_and_smaller_error():
    clip = smooth_clip(8, 32, 32)
    fine, coarse = encode_mp4(clip, fps=8, crf=10), encode_mp4(clip, fps=8, crf=40)
    assert len(fine) > len(coarse)
    assert mean_abs_error(decode_mp4(fine).frames, clip) < mean_abs_error(decode_mp4(coarse).frames, clip)


def test_encode_rejects_float_frames_and_wrong_layouts():
    with pytest.raises(ValueError, match="uint8"):
        encode_mp4(np.zeros((2, 8, 8, 3), np.float32), fps=8)
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        encode_mp4(np.zeros((3, 2, 8, 8), np.uint8), fps=8)
    with pytest.raises(ValueError, match="fps"):
        encode_mp4(np.zeros((2, 8, 8, 3), np.uint8), fps=0)


def test_decode_of_garbage_bytes_raises():
    with pytest.raises((av.error.FFmpegError, ValueError)):
        decode_mp4(b"definitely not an mp4 file" * 10)


def test_frames_to_video_maps_0_255_to_minus1_1_and_back_exactly():
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 5, 7, 3), dtype=np.uint8)
    video = frames_to_video(frames)
    assert video.shape == (3, 3, 5, 7) and video.dtype == torch.float32
    assert float(video.min()) >= -1.0 and float(video.max()) <= 1.0
    assert torch.equal(video[:, 1, 2, 3], torch.from_numpy(frames[1, 2, 3]).float() / 127.5 - 1)
    np.testing.assert_array_equal(video_to_frames(video), frames)
    np.testing.assert_array_equal(video_to_frames(torch.full((3, 1, 2, 2), 5.0))[0, 0, 0], [255, 255, 255])


def test_write_and_read_mp4_local_is_atomic_and_memory_uri_works(tmp_path):
    clip = smooth_clip(6, 32, 32)
    path = tmp_path / "sub" / "clip.mp4"
    write_mp4(clip, path, fps=6)
    assert [p.name for p in path.parent.iterdir()] == ["clip.mp4"]  # no temporary file left behind
    assert read_mp4(f"file://{path}").frames.shape == (6, 32, 32, 3)

    uri = f"memory://video-{uuid.uuid4().hex}/clip.mp4"
    write_mp4(clip, uri, fps=6)
    frames, fps = read_mp4(uri)
    assert frames.shape == (6, 32, 32, 3) and fps == pytest.approx(6.0)
    assert mean_abs_error(frames, clip) < 3.0
    fsspec.filesystem("memory").rm(uri)


def test_contact_sheet_grid_size_separators_and_frame_selection():
    frames = np.zeros((10, 8, 12, 3), np.uint8)
    frames[:] = np.arange(10, dtype=np.uint8)[:, None, None, None] * 20  # frame i has value 20 * i
    sheet = np.asarray(contact_sheet(frames, columns=4))
    assert sheet.shape == (3 * 8 + 2, 4 * 12 + 3, 3)  # 10 frames in a 3x4 grid with 1-px separators
    assert (sheet[8, :] == 255).all() and (sheet[:, 12] == 255).all()  # separator row/column are white
    assert (sheet[:8, :12] == 0).all() and (sheet[9:17, 13:25] == 100).all()  # frames 0 and 5

    picked = np.asarray(contact_sheet(frames, max_frames=4))  # frames 0, 3, 6, 9 in a 2x2 grid
    assert picked.shape == (2 * 8 + 1, 2 * 12 + 1, 3)
    assert [int(picked[r, c, 0]) for r, c in [(0, 0), (0, 13), (9, 0), (9, 13)]] == [0, 60, 120, 180]


def test_write_contact_sheet_writes_a_png_of_the_sheet_size(tmp_path):
    path = tmp_path / "sheet.png"
    write_contact_sheet(smooth_clip(5, 9, 11), path, columns=5)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (5 * 11 + 4, 9)
