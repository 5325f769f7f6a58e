"""Video files: H.264 mp4 encode/decode with PyAV, conversions to model tensors, and contact sheets.

Frames on disk and in memory are ``(T, H, W, 3)`` uint8 RGB (numpy or torch); the models see
``(3, T, H, W)`` float in ``[-1, 1]`` (:func:`frames_to_video` / :func:`video_to_frames`).

Odd sizes: libx264 with yuv420p needs an even width and height, and H.264's own cropping works in
2-pixel steps for 4:2:0, so it cannot trim one pixel. :func:`encode_mp4` therefore pads the last row
and/or column by edge replication and records the true size in the container's ``comment`` tag as
``zoo:frame_size=<W>x<H>``; :func:`decode_mp4` crops back to it. Other players show the padded frame
(one extra edge row/column), which is harmless.

Paths: ``write_*``/``read_*`` take a local path, a ``file://`` URL or any fsspec URL (``memory://``,
``s3://`` ...). Local writes are atomic (temporary file + rename, :mod:`zoo.io.atomic`); an fsspec
write is a single ``write`` of the finished bytes, which object stores publish atomically on close.
"""

from __future__ import annotations

import io
import math
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import IO, NamedTuple, Union

import av
import fsspec
import numpy as np
import torch
from PIL import Image

from zoo.io.atomic import atomic_write
from zoo.io.uri import protocols

Frames = Union[np.ndarray, torch.Tensor]
"""``(T, H, W, 3)`` uint8 RGB frames, as a numpy array or a torch tensor."""

PathOrUri = Union[str, os.PathLike]

_SIZE_TAG = "zoo:frame_size="
_SIZE_PATTERN = re.compile(re.escape(_SIZE_TAG) + r"(\d+)x(\d+)")


class DecodedVideo(NamedTuple):
    """Frames ``(T, H, W, 3)`` uint8 RGB and the frame rate in frames per second."""

    frames: np.ndarray
    fps: float


# --- frames and tensors -------------------------------------------------------------------------------


def as_frames(frames: Frames) -> np.ndarray:
    """Validate ``(T, H, W, 3)`` uint8 frames (numpy or torch) and return them as a contiguous numpy array."""
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or min(frames.shape[:3]) < 1:
        raise ValueError(f"expected frames of shape (T, H, W, 3) with T, H, W >= 1, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames (0-255), got {frames.dtype}; see frames_to_video/video_to_frames")
    return np.ascontiguousarray(frames)


def frames_to_video(frames: Frames) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 frames -> ``(3, T, H, W)`` float32 video in ``[-1, 1]``."""
    array = torch.from_numpy(as_frames(frames))
    return array.permute(3, 0, 1, 2).float().div_(127.5).sub_(1.0)


def video_to_frames(video: torch.Tensor) -> np.ndarray:
    """``(3, T, H, W)`` float video in ``[-1, 1]`` -> ``(T, H, W, 3)`` uint8 frames (values clamped, rounded)."""
    if video.ndim != 4 or video.shape[0] != 3:
        raise ValueError(f"expected a video of shape (3, T, H, W), got {tuple(video.shape)}")
    scaled = (video.detach().float().cpu().clamp(-1.0, 1.0) + 1.0) * 127.5
    return scaled.round().to(torch.uint8).permute(1, 2, 3, 0).contiguous().numpy()


# --- mp4 bytes ----------------------------------------------------------------------------------------


def encode_mp4(frames: Frames, fps: float, crf: int = 18) -> bytes:
    """Encode ``(T, H, W, 3)`` uint8 RGB frames as an H.264 (libx264, yuv420p) mp4 at ``fps`` frames/s.

    ``crf`` is x264's constant rate factor (0 = lossless luma, 18 = visually lossless, 51 = worst).
    Odd sizes are padded to even by edge replication and cropped back by :func:`decode_mp4`.
    """
    array = as_frames(frames)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    _, height, width, _ = array.shape
    padded = np.pad(array, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        container.metadata["comment"] = f"{_SIZE_TAG}{width}x{height}"
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = padded.shape[2], padded.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in padded:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())  # flush delayed frames
    return buffer.getvalue()


def decode_mp4(data: bytes | IO[bytes]) -> DecodedVideo:
    """Decode an mp4 (bytes or a binary file object) to ``(T, H, W, 3)`` uint8 RGB frames and fps.

    Frames padded by :func:`encode_mp4` are cropped back to the recorded size. Raises PyAV's errors
    (``av.error.InvalidDataError`` ...) or ``ValueError`` for data without a decodable video stream.
    """
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    with av.open(source, "r") as container:
        if not container.streams.video:
            raise ValueError("no video stream in the mp4 data")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        match = _SIZE_PATTERN.search(container.metadata.get("comment", ""))
    if not frames:
        raise ValueError("the mp4 data has a video stream but no decodable frames")
    array = np.stack(frames)
    if match is not None:
        width, height = int(match.group(1)), int(match.group(2))
        array = np.ascontiguousarray(array[:, :height, :width])
    return DecodedVideo(array, float(rate) if rate else 0.0)


# --- files --------------------------------------------------------------------------------------------


def _local_path(path_or_uri: PathOrUri) -> Path | None:
    """The local path for a plain path or ``file://`` URL, ``None`` for other fsspec URLs."""
    text = os.fspath(path_or_uri)
    if protocols(text) != ("file",):
        return None
    return Path(text[len("file://") :] if text.startswith("file://") else text).expanduser()


def _write_bytes(data: bytes, path_or_uri: PathOrUri) -> None:
    local = _local_path(path_or_uri)
    if local is not None:
        with atomic_write(local) as handle:
            handle.write(data)
        return
    with fsspec.open(os.fspath(path_or_uri), "wb") as handle:
        handle.write(data)


def _read_bytes(path_or_uri: PathOrUri) -> bytes:
    local = _local_path(path_or_uri)
    if local is not None:
        return local.read_bytes()
    with fsspec.open(os.fspath(path_or_uri), "rb") as handle:
        return handle.read()


def write_mp4(frames: Frames, path_or_uri: PathOrUri, fps: float, crf: int = 18) -> None:
    """Encode ``(T, H, W, 3)`` uint8 frames (:func:`encode_mp4`) and write them to a path or fsspec URL."""
    _write_bytes(encode_mp4(frames, fps, crf=crf), path_or_uri)


def read_mp4(path_or_uri: PathOrUri) -> DecodedVideo:
    """Read and decode an mp4 from a path or fsspec URL (:func:`decode_mp4`)."""
    return decode_mp4(_read_bytes(path_or_uri))


# --- contact sheets -----------------------------------------------------------------------------------


def contact_sheet(frames: Frames, columns: int | None = None, max_frames: int = 16) -> Image.Image:
    """A grid of frames separated by 1-pixel white lines, as an RGB image.

    ``frames`` is ``(T, H, W, 3)`` uint8. At most ``max_frames`` frames are shown, evenly spaced in
    time and always including the first and last. ``columns`` defaults to ``ceil(sqrt(n))``. The
    sheet is ``columns * W + columns - 1`` pixels wide and ``rows * H + rows - 1`` high.
    """
    array = as_frames(frames)
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    count = min(len(array), max_frames)
    picked = array[np.linspace(0, len(array) - 1, count).round().astype(int)]
    columns = min(columns or math.ceil(math.sqrt(count)), count)
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    rows = math.ceil(count / columns)
    _, height, width, _ = picked.shape
    sheet = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1, 3), 255, dtype=np.uint8)
    for index, frame in enumerate(picked):
        top, left = (index // columns) * (height + 1), (index % columns) * (width + 1)
        sheet[top : top + height, left : left + width] = frame
    return Image.fromarray(sheet)


def write_contact_sheet(
    frames: Frames, path_or_uri: PathOrUri, columns: int | None = None, max_frames: int = 16
) -> None:
    """Write :func:`contact_sheet` of ``(T, H, W, 3)`` uint8 frames as a PNG to a path or fsspec URL."""
    buffer = io.BytesIO()
    contact_sheet(frames, columns=columns, max_frames=max_frames).save(buffer, format="PNG")
    _write_bytes(buffer.getvalue(), path_or_uri)
