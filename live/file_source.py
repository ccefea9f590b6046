"""A song file as a live source: the same ring buffer and :class:`~live.audio_input.AudioReader` as a microphone.

Three ways to feed the ring with the song's mono mix at its native rate:

* real time (``speed=1.0``, or any factor > 0): a thread writes one block whenever the monotonic clock says the
  block's last sample "has arrived", as a device would deliver it; a consumer too slow loses blocks (counted);
* real time out loud (``play=True``): a sounddevice OutputStream plays the song and its callback writes each block it
  plays into the ring, so what is analysed is exactly what is heard (``play_latency_s`` earlier) and the output
  device's clock paces both, without drift;
* as fast as the consumer reads (``speed=None``, for tests and offline runs): a thread fills whatever space the ring
  has, so no sample is ever dropped.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import numpy as np
import sounddevice as sd

from common.errors import InputError
from common.validation import existing_file
from live.audio_file import decode_audio
from live.audio_input import AudioSource, SourceStatus

FILL_POLL_S: float = 0.002
"""How long (seconds) the fast mode waits for the consumer when the ring is full."""

MAX_PLAY_CHANNELS: int = 2
"""Files with more channels than this are played as their mono mix."""

PLAY_LATENCY_S: float = 0.2
"""Seconds of audio buffered towards the speakers with ``play``: PortAudio's default (about 35 ms) underflowed
(audible gaps) on 2 busy cores. The ring receives each block this much before it is heard (see
:attr:`FileSource.play_latency_s`)."""


class FileSource(AudioSource):
    """Plays a decoded song into a ring buffer at ``speed`` times real time (None: as fast as it is read)."""

    def __init__(self, path: str | Path, speed: float | None = 1.0, play: bool = False, block_s: float = 0.01,
                 buffer_s: float = 5.0, status_queue: queue.Queue[SourceStatus] | None = None) -> None:
        """``block_s``: seconds per block written; ``buffer_s``: ring capacity in seconds.

        Raises:
            InputError: the file is missing or not audio, ``speed`` is not positive, or ``play`` is asked at a speed
                other than 1.
        """
        path = Path(path)
        if speed is not None and speed <= 0:
            raise InputError(None, f"playback speed must be positive, got {speed}")
        if play and speed != 1.0:
            raise InputError(None, "playing to the speakers needs real-time speed (1.0)")
        existing_file(path, "an audio file")
        frames, rate = decode_audio(path)
        if not frames.size:
            raise InputError(path, "contains no audio samples")
        super().__init__(str(path), rate, buffer_s, status_queue)
        self.speed = speed
        self.play = play
        self._frames = frames if frames.shape[1] <= MAX_PLAY_CHANNELS else frames.mean(axis=1, keepdims=True)
        self._mono = np.ascontiguousarray(frames.mean(axis=1, dtype=np.float32))
        self._block = max(1, round(block_s * rate))
        self._cursor = 0  # samples written to the ring; owned by the producer
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._output: sd.OutputStream | None = None

    @property
    def duration_s(self) -> float:
        """Length of the song in seconds."""
        return len(self._mono) / self.sample_rate

    @property
    def play_latency_s(self) -> float:
        """With ``play``: seconds from a block entering the ring to it being heard (PortAudio's figure); else 0."""
        return 0.0 if self._output is None else float(self._output.latency)

    @property
    def finished(self) -> bool:
        """Every sample of the song has been written to the ring."""
        return self._cursor >= len(self._mono)

    def start(self) -> None:
        """Start feeding the ring (and the speakers with ``play``).

        Raises:
            InputError: ``play`` was asked and no output stream can be opened.
        """
        if self._thread is not None or self._output is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._emit("started", f"playing {self.name!r} at {self.sample_rate} Hz, speed {self.speed or 'max'}")
        if self.play:
            self._output = self._open_output()
            return
        target = self._fill if self.speed is None else self._pace
        self._thread = threading.Thread(target=target, name=f"file-source {self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop feeding, close the output stream and emit ``stopped``."""
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join()
        if self._output is not None:
            self._output.close(ignore_errors=True)
        self._emit("stopped", f"{self.name!r} stopped at {self._cursor / self.sample_rate:.2f} s")

    def _advance(self, stop: int) -> None:
        """Write the song up to sample ``stop`` into the ring (dropped if it does not fit) and emit ``ended`` at the end."""
        self.ring.write(self._mono[self._cursor : stop])
        self._cursor = stop  # after the write, so `finished` implies everything is in the ring
        if self.finished:
            self._emit("ended", f"{self.name!r} ended after {self.duration_s:.2f} s")

    def _pace(self) -> None:
        """Thread: write block k once the monotonic clock has passed its last sample's time (divided by speed)."""
        assert self.speed is not None
        started = time.monotonic()
        while not self.finished:
            stop = min(self._cursor + self._block, len(self._mono))
            due = started + stop / (self.sample_rate * self.speed)
            if self._stop_event.wait(max(0.0, due - time.monotonic())):
                return
            self._advance(stop)

    def _fill(self) -> None:
        """Thread: write as much as the ring has room for, waiting for the consumer when it is full."""
        while not self.finished:
            room = self.ring.free
            if room:
                self._advance(min(self._cursor + room, len(self._mono)))
            elif self._stop_event.wait(FILL_POLL_S):
                return

    def _open_output(self) -> sd.OutputStream:
        """Open and start the default output device, its callback driving the ring."""
        try:
            stream = sd.OutputStream(samplerate=self.sample_rate, channels=self._frames.shape[1], dtype="float32",
                                     blocksize=self._block, latency=PLAY_LATENCY_S, callback=self._play_block)
            stream.start()
        except sd.PortAudioError as err:
            raise InputError(None, f"cannot play {self.name!r} to the speakers: {err}") from err
        return stream

    def _play_block(self, outdata: np.ndarray, frames: int, time_info: object, status: sd.CallbackFlags) -> None:
        """OutputStream callback: play the next ``frames`` samples and write their mono mix into the ring."""
        stop = min(self._cursor + frames, len(self._mono))
        played = stop - self._cursor
        outdata[:played] = self._frames[self._cursor : stop]
        outdata[played:] = 0.0
        self._advance(stop)
        if self.finished:
            raise sd.CallbackStop
