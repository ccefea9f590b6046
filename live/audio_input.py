"""Live audio in: device listing, the microphone / line-in source, and the consumer-side reader.

Data path (the same for devices and files, see :mod:`live.file_source`)::

    PortAudio callback --(mix to mono, native rate)--> RingBuffer --> AudioReader --(soxr stream)--> consumer rate

The callback runs on PortAudio's thread. It only mixes the block to mono into a preallocated array and writes it to
the lock-free ring (:mod:`live.ring_buffer`); it never blocks, never takes a lock and never calls the model.
Everything else happens on other threads: a watchdog thread notices a device that disappears (the stream stops with a
PortAudio error, or no callback arrives for a while), reports it as a :class:`SourceStatus` and reopens the device
periodically until it returns; the consumer resamples what it reads to the rate it needs (24 kHz for the model).
"""

from __future__ import annotations

import queue
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

import numpy as np
import sounddevice as sd
import soxr

from common.constants import MAX_SAMPLE_ABS, MODEL_SAMPLE_RATE
from common.errors import InputError
from live.ring_buffer import Chunk, RingBuffer

SourceStatusKind = Literal["started", "lost", "resumed", "ended", "stopped", "non-finite"]
"""started: audio flows; lost: the device vanished or went silent; resumed: audio flows again after a loss;
ended: a file source played its last sample; stopped: the source was stopped by its owner; non-finite: NaN, inf or
absurdly large samples arrived and were replaced (reported once per source)."""

STATUS_QUEUE_SIZE: int = 64
"""Default bound of a source's status queue; events that do not fit are dropped (and counted)."""

READ_POLL_S: float = 0.002
"""How often (seconds) :meth:`AudioReader.read` looks at the ring while it waits for samples."""

_PORTAUDIO_LOCK = threading.RLock()
"""Serialises PortAudio (re)initialisation, device queries and stream open/close across threads."""


@dataclass(frozen=True)
class SourceStatus:
    """Something a UI should tell the user about a source.

    Attributes:
        kind: what happened (see :data:`SourceStatusKind`).
        source: the device name or file path.
        detail: one human-readable line.
        clock: the source's audio clock when it happened, in samples at the source's native rate.
        time_s: ``time.monotonic()`` when it happened, in seconds.
    """

    kind: SourceStatusKind
    source: str
    detail: str
    clock: int
    time_s: float


@dataclass(frozen=True)
class DeviceInfo:
    """An audio input device as PortAudio lists it.

    Attributes:
        index: PortAudio device index (may change when devices come and go).
        name: device name.
        channels: maximum input channels.
        default_rate: the device's default (native) sample rate in Hz.
        is_default: whether it is the system's default input.
    """

    index: int
    name: str
    channels: int
    default_rate: int
    is_default: bool

    def describe(self) -> str:
        """One line: ``index name (channels ch, rate Hz[, default])``."""
        default = ", default" if self.is_default else ""
        return f"{self.index} {self.name} ({self.channels} ch, {self.default_rate} Hz{default})"


def reinitialise_portaudio() -> None:
    """Restart PortAudio so that it enumerates devices afresh (hot-plugged devices, changed environment).

    PortAudio lists devices once, when it initialises; sounddevice has no public call for a rescan, so this uses its
    ``_terminate``/``_initialize`` pair. It closes every stream of the process, so call it only with none open.
    """
    with _PORTAUDIO_LOCK:
        sd._terminate()
        sd._initialize()


def list_input_devices() -> list[DeviceInfo]:
    """The devices that have at least one input channel, in PortAudio's order."""
    with _PORTAUDIO_LOCK:
        devices = sd.query_devices()
        default_index = _default_input_index()
    return [
        DeviceInfo(
            index=int(device["index"]),
            name=str(device["name"]),
            channels=int(device["max_input_channels"]),
            default_rate=round(device["default_samplerate"]),
            is_default=int(device["index"]) == default_index,
        )
        for device in devices
        if device["max_input_channels"] > 0
    ]


def _default_input_index() -> int:
    """PortAudio's default input device index, or -1 when there is none."""
    try:
        return int(sd.query_devices(kind="input")["index"])
    except sd.PortAudioError:
        return -1


def find_input_device(spec: str | int | None = None) -> DeviceInfo:
    """Resolve ``--input NAME|INDEX``: None is the default input; digits are an index; else an exact name, else a
    case-insensitive part of one name.

    Raises:
        InputError: there is no input device at all, nothing matches, or a name part matches several devices.
    """
    inputs = list_input_devices()
    if not inputs:
        raise InputError(
            None,
            f"no audio input device found; available devices: {_describe_all_devices()}; "
            "connect a microphone or line-in, or use a song file as the input",
        )
    if spec is None:
        return next((device for device in inputs if device.is_default), inputs[0])
    matches = _match_devices(inputs, str(spec).strip())
    if len(matches) == 1:
        return matches[0]
    if matches:
        listing = "; ".join(device.describe() for device in matches)
        raise InputError(None, f"audio input {spec!r} is ambiguous, it matches: {listing}; give its index")
    listing = "; ".join(device.describe() for device in inputs)
    raise InputError(None, f"no audio input device matches {spec!r}; available inputs: {listing}")


def _match_devices(inputs: list[DeviceInfo], spec: str) -> list[DeviceInfo]:
    """The inputs that ``spec`` (an index, a full name or part of a name) designates."""
    if spec.isdigit():
        return [device for device in inputs if device.index == int(spec)]
    exact = [device for device in inputs if device.name == spec]
    return exact or [device for device in inputs if spec.lower() in device.name.lower()]


def _describe_all_devices() -> str:
    """Every device PortAudio lists (outputs included), or ``none``."""
    with _PORTAUDIO_LOCK:
        devices = sd.query_devices()
    names = [
        f"{device['index']} {device['name']} ({device['max_input_channels']} in, {device['max_output_channels']} out)"
        for device in devices
    ]
    return "; ".join(names) or "none"


class InputCallback:
    """The PortAudio input callback: mix each block to mono into a preallocated array and write it to the ring.

    Per block it allocates no sample storage (only the transient slice view of the preallocated mono array) and
    never blocks. ``gain`` is 1 / channels of the stream being opened; it is set before the stream starts.
    """

    def __init__(self, ring: RingBuffer, blocksize: int) -> None:
        """``blocksize``: frames per callback (the stream's fixed block size, in samples)."""
        self._ring = ring
        self._mono = np.zeros(blocksize, dtype=np.float32)
        self.gain = 1.0
        self.blocks = 0
        """Callbacks so far (the watchdog's sign of life)."""
        self.input_overflows = 0
        """Blocks PortAudio flagged with an input overflow (audio lost before it reached us)."""

    def __call__(self, indata: np.ndarray, frames: int, time_info: object, status: sd.CallbackFlags) -> None:
        """Called by PortAudio with ``indata`` float32 (frames, channels)."""
        if status.input_overflow:
            self.input_overflows += 1
        mono = self._mono[:frames]
        np.sum(indata, axis=1, out=mono)
        mono *= self.gain
        self._ring.write(mono)
        self.blocks += 1


class AudioReader:
    """Consumer side of a source: drains its ring and resamples to ``sample_rate`` with a streaming soxr resampler.

    The audio clock here is in samples at ``sample_rate``: :attr:`position` is the index of the next sample
    :meth:`read` returns. soxr's streaming output is aligned with its input (the filter delay only postpones when
    samples come out), so output index ``i`` is at ``i / sample_rate`` seconds on the source's clock.
    """

    def __init__(self, source: AudioSource, sample_rate: int, quality: str = "HQ") -> None:
        self._source = source
        self.sample_rate = sample_rate
        self._resampler = (
            None if source.sample_rate == sample_rate
            else soxr.ResampleStream(source.sample_rate, sample_rate, 1, dtype="float32", quality=quality)
        )
        self._position = 0
        self._flushed = False
        self.replaced_samples = 0
        """Samples that were NaN, inf or beyond :data:`MAX_SAMPLE_ABS`, replaced by :func:`finite_audio`."""

    @property
    def position(self) -> int:
        """Samples (at ``sample_rate``) returned so far: the audio clock of the next sample."""
        return self._position

    @property
    def clock_s(self) -> float:
        """:attr:`position` in seconds."""
        return self._position / self.sample_rate

    @property
    def done(self) -> bool:
        """The source has ended and every sample has been returned (never true for a live device)."""
        return self._flushed

    def read(self, timeout_s: float = 0.0) -> Chunk:
        """Return the samples that arrived since the last call (possibly none), waiting up to ``timeout_s`` seconds
        for at least one input sample."""
        deadline = time.monotonic() + timeout_s
        while not self._source.ring.available and not self._source.finished and time.monotonic() < deadline:
            time.sleep(READ_POLL_S)
        ended = self._source.finished  # checked before reading: then this read empties the ring for good
        raw = self._guard(self._source.ring.read().samples)
        last = ended and not self._flushed
        self._flushed = self._flushed or ended
        if self._resampler is not None and (len(raw) or last):
            raw = self._resampler.resample_chunk(raw, last=last)
        chunk = Chunk(start=self._position, samples=raw)
        self._position = chunk.end
        return chunk

    def _guard(self, raw: np.ndarray) -> np.ndarray:
        """The one finite-audio guard: every consumer sees finite, bounded samples; the source reports the first
        replacement as a ``non-finite`` status (the total is :attr:`replaced_samples`)."""
        replaced = finite_audio(raw)
        if replaced and not self.replaced_samples:
            self._source._emit("non-finite", f"{replaced} NaN, infinite or out-of-range samples replaced "
                                             f"(NaN/inf by silence, others clipped to +-{MAX_SAMPLE_ABS:g}); "
                                             "the input is faulty")
        self.replaced_samples += replaced
        return raw


def finite_audio(samples: np.ndarray) -> int:
    """Make ``samples`` (float32 (n,), modified in place) finite and bounded: NaN and inf become 0, magnitudes
    above :data:`MAX_SAMPLE_ABS` are clipped to it. Returns how many samples were replaced. Clean audio costs a min
    and a max, no allocation (NaN makes both comparisons false)."""
    if len(samples) == 0 or (-MAX_SAMPLE_ABS <= samples.min() and samples.max() <= MAX_SAMPLE_ABS):
        return 0
    bad = ~np.isfinite(samples) | (np.abs(samples) > MAX_SAMPLE_ABS)
    np.nan_to_num(samples, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(samples, -MAX_SAMPLE_ABS, MAX_SAMPLE_ABS, out=samples)
    return int(bad.sum())


class AudioSource(ABC):
    """What devices and files share: a mono ring at the native rate, a status queue, one reader, start/stop."""

    speed: float | None = 1.0
    """Seconds of audio delivered per wall-clock second (None: as fast as it is read). A device runs at 1."""

    def __init__(self, name: str, sample_rate: int, buffer_s: float,
                 status_queue: queue.Queue[SourceStatus] | None) -> None:
        """``sample_rate``: native rate in Hz; ``buffer_s``: ring capacity in seconds."""
        self.name = name
        self.sample_rate = sample_rate
        self.ring = RingBuffer(max(1, round(buffer_s * sample_rate)))
        self.status: queue.Queue[SourceStatus] = (
            queue.Queue(maxsize=STATUS_QUEUE_SIZE) if status_queue is None else status_queue)
        self.events_dropped = 0
        """Status events dropped because the queue was full."""
        self._reader: AudioReader | None = None

    @property
    def finished(self) -> bool:
        """No sample will be written any more (a file at its end); a device never finishes."""
        return False

    def reader(self, sample_rate: int = MODEL_SAMPLE_RATE, quality: str = "HQ") -> AudioReader:
        """The single consumer of this source, resampling to ``sample_rate`` Hz (soxr quality ``quality``)."""
        if self._reader is not None:
            raise RuntimeError(f"{self.name}: a source has exactly one reader (the ring is single-consumer)")
        self._reader = AudioReader(self, sample_rate, quality)
        return self._reader

    @abstractmethod
    def start(self) -> None:
        """Begin producing samples into :attr:`ring`."""

    @abstractmethod
    def stop(self) -> None:
        """Stop producing and release the device; emits a ``stopped`` event."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _emit(self, kind: SourceStatusKind, detail: str) -> None:
        """Queue a status event without blocking; drop it (and count it) if the queue is full."""
        event = SourceStatus(kind=kind, source=self.name, detail=detail, clock=self.ring.total_written,
                            time_s=time.monotonic())
        try:
            self.status.put_nowait(event)
        except queue.Full:
            self.events_dropped += 1


@dataclass(frozen=True)
class InputConfig:
    """How to open and watch an input device.

    Attributes:
        device: ``--input``: a device index, a name or part of one; None for the default input.
        max_channels: at most this many device channels are opened and mixed (virtual ALSA devices report 32).
        block_s: callback block duration in seconds (the block size in samples is this times the native rate).
        buffer_s: ring capacity in seconds; a consumer that falls further behind loses blocks (counted).
        start_timeout_s: seconds a freshly opened stream may take to deliver its first block.
        silence_timeout_s: seconds without a callback, once audio flowed, after which the device counts as lost.
        retry_interval_s: seconds between attempts to reopen a lost device.
        watch_interval_s: seconds between the watchdog's looks at the stream.
        stop_timeout_s: seconds :meth:`AudioInput.stop` waits for the watchdog to close the stream.
    """

    device: str | int | None = None
    max_channels: int = 2
    block_s: float = 0.01
    buffer_s: float = 5.0
    start_timeout_s: float = 5.0
    silence_timeout_s: float = 2.0
    retry_interval_s: float = 1.0
    watch_interval_s: float = 0.05
    stop_timeout_s: float = 2.0


class AudioInput(AudioSource):
    """A microphone or line-in at the device's native rate, mixed to mono, watched and reopened when it vanishes.

    The device is resolved on construction (raising :class:`InputError` when there is none or the name is unknown);
    :meth:`start` opens it. Status events: ``started`` (first block), ``lost`` (with the reason), ``resumed``,
    ``stopped``. The sample rate stays the one first opened for the source's lifetime, so a returning device is
    reopened at that rate. Reopening rescans the devices with :func:`reinitialise_portaudio`, which closes every other
    sounddevice stream of the process.
    """

    def __init__(self, config: InputConfig = InputConfig(),
                 status_queue: queue.Queue[SourceStatus] | None = None) -> None:
        self.config = config
        self.device = find_input_device(config.device)
        super().__init__(self.device.name, self.device.default_rate, config.buffer_s, status_queue)
        self.blocksize = max(1, round(config.block_s * self.sample_rate))
        """Frames per callback, in samples at the native rate."""
        self._callback = InputCallback(self.ring, self.blocksize)
        self._stream: sd.InputStream | None = None
        self._stop_event = threading.Event()
        self._watchdog: threading.Thread | None = None
        # Watchdog state, touched only by the watchdog thread once started.
        self._flowing = False
        self._was_lost = False
        self._seen_blocks = 0
        self._progress_s = 0.0
        self._next_retry_s = 0.0

    @property
    def input_overflows(self) -> int:
        """Blocks PortAudio flagged as overflowed (the device had more audio than we took)."""
        return self._callback.input_overflows

    def start(self) -> None:
        """Open the device and start the watchdog.

        Raises:
            InputError: the device cannot be opened.
        """
        if self._watchdog is not None:
            raise RuntimeError(f"{self.name}: already started")
        try:
            self._stream = self._open(self.device)
        except sd.PortAudioError as err:
            raise InputError(None, f"cannot open audio input {self.device.describe()}: {err}") from err
        self._progress_s = time.monotonic()
        self._watchdog = threading.Thread(target=self._watch, name=f"audio-input-watchdog {self.name}", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        """Stop the watchdog (which closes the stream) and emit ``stopped``.

        Waits at most ``config.stop_timeout_s``: closing a hung device blocks until it answers, and the watchdog then
        finishes on its own.
        """
        self._stop_event.set()
        if self._watchdog is None:
            self._close()
        else:
            self._watchdog.join(self.config.stop_timeout_s)
        self._emit("stopped", f"audio input {self.name!r} stopped")

    def _open(self, device: DeviceInfo) -> sd.InputStream:
        """Open and start a stream on ``device`` at the source's rate, with up to ``max_channels`` channels."""
        channels = min(device.channels, self.config.max_channels)
        self._callback.gain = 1.0 / channels
        with _PORTAUDIO_LOCK:
            stream = sd.InputStream(device=device.index, samplerate=self.sample_rate, channels=channels,
                                    dtype="float32", blocksize=self.blocksize, callback=self._callback)
            stream.start()
        return stream

    def _close(self) -> None:
        """Close the current stream, if any, ignoring PortAudio errors of a vanished device. No lock is held: closing
        a hung device blocks until it answers."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close(ignore_errors=True)

    def _watch(self) -> None:
        """Watchdog loop: report the first block, detect losses, reopen lost devices; close the stream on stop."""
        while not self._stop_event.wait(self.config.watch_interval_s):
            now = time.monotonic()
            if self._stream is None:
                if now >= self._next_retry_s:
                    self._reopen(now)
                continue
            reason = self._check_stream(now)
            if reason is not None:
                self._lose(reason)
        self._close()

    def _check_stream(self, now: float) -> str | None:
        """Note progress (emitting ``started``/``resumed`` on the first block); return why the stream is lost, or None."""
        blocks = self._callback.blocks
        if blocks != self._seen_blocks:
            self._seen_blocks = blocks
            self._progress_s = now
            if not self._flowing:
                self._flowing = True
                kind: SourceStatusKind = "resumed" if self._was_lost else "started"
                self._emit(kind, f"audio input {self.name!r} {kind} at {self.sample_rate} Hz")
        assert self._stream is not None
        try:
            if not self._stream.active:
                return "the stream stopped (device error or disconnection)"
        except sd.PortAudioError as err:
            return f"PortAudio error: {err}"
        timeout = self.config.silence_timeout_s if self._flowing else self.config.start_timeout_s
        if now - self._progress_s > timeout:
            return f"no audio from the device for {timeout:g} s"
        return None

    def _lose(self, reason: str) -> None:
        """Report ``lost``, drop the stream and schedule a reopening."""
        self._emit("lost", f"audio input {self.name!r} lost: {reason}; retrying every "
                           f"{self.config.retry_interval_s:g} s")
        self._flowing = False
        self._was_lost = True
        self._close()
        self._next_retry_s = time.monotonic() + self.config.retry_interval_s

    def _reopen(self, now: float) -> None:
        """Rescan devices and reopen the input (by name: indices change); on failure try again later."""
        spec = None if self.config.device is None else self.device.name
        with _PORTAUDIO_LOCK:
            try:
                reinitialise_portaudio()
                self._stream = self._open(find_input_device(spec))
            except (sd.PortAudioError, InputError):
                self._next_retry_s = now + self.config.retry_interval_s
                return
        self._progress_s = time.monotonic()
