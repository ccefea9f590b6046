"""Record the performance picture with the audio the engine heard, in sync, to an MP4 (H.264 + AAC via PyAV).

Both streams are placed on the audio clock: video frame ``n`` shows the latest rendered frame whose time is at or
before ``t0 + n / fps`` (a frame is repeated when rendering was slower than ``fps``, skipped when faster), and an
audio sample at clock time ``t`` lands at ``t - t0`` in the file, where ``t0`` is the clock when recording started.
So picture and sound stay in sync however the render thread's timing wobbles. Encoding runs on its own thread.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from common.constants import MODEL_SAMPLE_RATE
from live.ring_buffer import Chunk
from offline.video import AAC_FRAME_SAMPLES, audio_frames
from ui.stage import StageFrame


@dataclass(frozen=True)
class RecordingInfo:
    """What was written: ``path``, ``frames`` video frames at ``fps``, ``audio_s`` seconds of audio,
    ``distinct_frames``: how many video frames differ from the one before (the first counts as distinct), and
    ``rendered_frames``: how many show a picture rendered for that frame (the others repeat an earlier picture)."""

    path: Path
    frames: int
    fps: int
    audio_s: float
    distinct_frames: int = 0
    rendered_frames: int = 0

    @property
    def distinct_share(self) -> float:
        """The fraction of video frames that differ from the one before (0 for an empty recording)."""
        return self.distinct_frames / self.frames if self.frames else 0.0


class Recorder:
    """Writes :class:`~ui.stage.StageFrame` pictures and audio :class:`~live.ring_buffer.Chunk` s to ``path``.

    Call :meth:`add_frame` and :meth:`add_audio` from any thread (they only queue), :meth:`close` once at the end.
    All frames must have the same size (both even).
    """

    def __init__(self, path: Path, start_s: float, fps: int = 30, audio_rate: int = MODEL_SAMPLE_RATE,
                 crf: int = 23) -> None:
        """``start_s``: audio-clock time (seconds) that becomes t = 0 of the file."""
        self.path, self.start_s, self.fps, self.audio_rate, self.crf = Path(path), start_s, fps, audio_rate, crf
        self._inbox: queue.Queue[StageFrame | Chunk | None] = queue.Queue(maxsize=256)
        self._frames = 0
        self._audio_written = 0
        self._pending_audio = np.zeros(0, np.float32)
        self._last_rgb: np.ndarray | None = None
        self._encoded_rgb: np.ndarray | None = None
        self._distinct = 0
        self._rendered = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dancepose-recorder", daemon=True)
        self._thread.start()

    def add_frame(self, frame: StageFrame) -> None:
        """Queue a rendered picture (blocks briefly if the encoder is behind, never drops)."""
        self._inbox.put(frame)

    def add_audio(self, chunk: Chunk) -> None:
        """Queue audio samples at ``audio_rate`` Hz; ``chunk.start`` is their place on the audio clock (samples)."""
        self._inbox.put(chunk)

    def close(self) -> RecordingInfo:
        """Finish the file and return what it holds.

        Raises:
            RuntimeError: encoding failed (the cause is chained).
        """
        self._inbox.put(None)
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f"recording {self.path} failed: {self._error}") from self._error
        return RecordingInfo(self.path, self._frames, self.fps, self._audio_written / self.audio_rate, self._distinct,
                             self._rendered)

    # -- the encoding thread ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        container: av.container.OutputContainer | None = None
        try:
            item = self._inbox.get()
            while item is not None:
                if isinstance(item, StageFrame):
                    container = container or self._open(item.rgb.shape)
                    self._write_frames(container, item)
                else:
                    self._queue_audio(item)
                if container is not None:
                    self._flush_audio(container)
                item = self._inbox.get()
            if container is not None:
                self._finish(container)
        except BaseException as err:  # reported by close()
            self._error = err
            while self._inbox.get() is not None:  # keep producers from blocking until close()
                pass
        finally:
            if container is not None:
                container.close()

    def _open(self, shape: tuple[int, ...]) -> av.container.OutputContainer:
        container = av.open(str(self.path), "w")
        video = container.add_stream("libx264", rate=self.fps, options={"crf": str(self.crf), "preset": "veryfast"})
        video.height, video.width = shape[0], shape[1]
        video.pix_fmt = "yuv420p"
        container.add_stream("aac", rate=self.audio_rate, layout="mono")
        return container

    def _write_frames(self, container: av.container.OutputContainer, frame: StageFrame) -> None:
        """Write video frames up to the one this picture falls on (repeating the previous picture over a gap)."""
        index = round((frame.t_s - self.start_s) * self.fps)
        video = container.streams.video[0]
        while self._frames <= index:
            rendered = self._frames == index
            self._rendered += rendered
            self._encode_video(container, video, frame.rgb if rendered or self._last_rgb is None else self._last_rgb)
        self._last_rgb = frame.rgb

    def _encode_video(self, container: av.container.OutputContainer, video: av.VideoStream, rgb: np.ndarray) -> None:
        if self._encoded_rgb is None or (rgb is not self._encoded_rgb and not np.array_equal(rgb, self._encoded_rgb)):
            self._distinct += 1
        self._encoded_rgb = rgb
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        picture.pts = self._frames
        container.mux(video.encode(picture))
        self._frames += 1

    def _queue_audio(self, chunk: Chunk) -> None:
        """Keep the chunk's samples from the recording's start on."""
        skip = max(0, round(self.start_s * self.audio_rate) - chunk.start)
        self._pending_audio = np.concatenate([self._pending_audio, chunk.samples[skip:]])

    def _flush_audio(self, container: av.container.OutputContainer) -> None:
        """Encode the whole AAC frames of the queued audio."""
        whole = len(self._pending_audio) // AAC_FRAME_SAMPLES * AAC_FRAME_SAMPLES
        self._encode_audio(container, self._pending_audio[:whole])
        self._pending_audio = self._pending_audio[whole:]

    def _encode_audio(self, container: av.container.OutputContainer, samples: np.ndarray) -> None:
        sound = container.streams.audio[0]
        for frame in audio_frames(samples[:, None], self.audio_rate, "mono"):
            frame.pts += self._audio_written
            container.mux(sound.encode(frame))
        self._audio_written += len(samples)

    def _finish(self, container: av.container.OutputContainer) -> None:
        """Flush the audio tail and both encoders; pad the video to the audio's length."""
        self._encode_audio(container, self._pending_audio)
        video = container.streams.video[0]
        while self._last_rgb is not None and self._frames < round(self._audio_written / self.audio_rate * self.fps):
            self._encode_video(container, video, self._last_rgb)
        container.mux(video.encode(None))
        container.mux(container.streams.audio[0].encode(None))
