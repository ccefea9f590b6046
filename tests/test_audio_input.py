"""Audio in, with real components: a private PulseAudio daemon's null sink stands in for the sound card.

A known signal (a 440 Hz tone, then clicks at known times) is played into the sink and captured from its monitor
through AudioInput -> RingBuffer -> AudioReader (24 kHz).
"""

from __future__ import annotations

import argparse
import queue
import signal
import subprocess
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sounddevice as sd
import soundfile
import soxr

from common.constants import MODEL_SAMPLE_RATE
from common.errors import InputError
from live.audio_input import (AudioInput, AudioReader, InputCallback, InputConfig, SourceStatus, SourceStatusKind,
                              find_input_device)
from live.devices_cli import add_devices_command
from live.file_source import FileSource
from live.ring_buffer import RingBuffer
from pulse_audio import PulseServer, no_audio_devices, pulse_server  # noqa: F401  (pytest fixtures)

RATE = 44_100
"""Native rate of the test files, in Hz (the null sink's rate too)."""
TONE_HZ = 440.0
TONE_S = 0.5
CLICK_TIMES_S = (0.9, 1.1, 1.4)
"""Click onsets in the test signal, in seconds: spacings 200 ms and 300 ms."""
SIGNAL_S = 1.8
FIRST_BLOCK_TIMEOUT_S = 60.0
"""Deadline for the first audio block (0.4 to 1.9 s on an idle machine), generous for a busy one."""
DEADLINE_S = 60.0
"""Deadline of any other wait for a status event or for audio; the waits poll and end as soon as it comes."""
"""Seconds a pulse stream may take to deliver its first block (about 20 ms seen; 2 s without the helper's
low-latency keep-alive)."""
PAPLAY_LATENCY_MS = 200
"""paplay's buffer: with 20 ms, one run in about six underflowed on 2 busy cores (a 43 ms gap between clicks)."""


def tone_and_clicks() -> np.ndarray:
    """The test signal at RATE: a quiet 440 Hz tone for 0.5 s, then loud 5 ms 3 kHz clicks; float32 (L,)."""
    t = np.arange(round(SIGNAL_S * RATE)) / RATE
    audio = np.where(t < TONE_S, 0.2 * np.sin(2 * np.pi * TONE_HZ * t), 0.0)
    burst = np.arange(round(0.005 * RATE))
    for onset_s in CLICK_TIMES_S:
        start = round(onset_s * RATE)
        audio[start : start + len(burst)] = 0.9 * np.sin(2 * np.pi * 3000 * burst / RATE + np.pi / 2)
    return audio.astype(np.float32)


@pytest.fixture(scope="module")
def signal_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test signal as a stereo 16-bit wav."""
    path = tmp_path_factory.mktemp("signal") / "tone_and_clicks.wav"
    mono = tone_and_clicks()
    soundfile.write(path, np.stack([mono, mono], axis=1), RATE, subtype="PCM_16")
    return path


def write_tone(path: Path, seconds: float) -> Path:
    """A stereo 440 Hz tone of ``seconds`` at RATE."""
    t = np.arange(round(seconds * RATE)) / RATE
    tone = (0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    soundfile.write(path, np.stack([tone, tone], axis=1), RATE)
    return path


def wait_event(events: queue.Queue[SourceStatus], kind: SourceStatusKind, timeout_s: float) -> SourceStatus:
    """The first event of ``kind`` within ``timeout_s`` seconds (other events are skipped)."""
    deadline = time.monotonic() + timeout_s
    seen: list[SourceStatus] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = events.get(timeout=left)
        except queue.Empty:
            break
        if event.kind == kind:
            return event
        seen.append(event)
    raise AssertionError(f"no {kind!r} status event within {timeout_s} s; got {seen}")


def read_all(reader: AudioReader, timeout_s: float) -> np.ndarray:
    """Read until the source is done (within ``timeout_s``), checking that chunks follow each other on the clock."""
    deadline = time.monotonic() + timeout_s
    parts = []
    while not reader.done:
        assert time.monotonic() < deadline, "the source did not finish in time"
        position = reader.position
        chunk = reader.read(timeout_s=0.05)
        assert chunk.start == position
        parts.append(chunk.samples)
    return np.concatenate(parts)


def wait_first_block(source: AudioInput, timeout_s: float) -> float:
    """Seconds until the stream's first block reaches the ring."""
    started = time.monotonic()
    while not source.ring.total_written:
        assert time.monotonic() - started < timeout_s, f"no audio within {timeout_s} s"
        time.sleep(0.001)
    return time.monotonic() - started


class Paplay:
    """Plays a wav into the null sink with ``paplay``; the same start/finished/stop surface as a FileSource."""

    def __init__(self, server: PulseServer, wav: Path) -> None:
        self._server, self._wav = server, wav
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = self._server.play(self._wav, latency_ms=PAPLAY_LATENCY_MS)

    @property
    def finished(self) -> bool:
        return self._process is not None and self._process.poll() is not None

    def stop(self) -> None:
        assert self._process is not None
        self._process.wait(timeout=DEADLINE_S)


def capture_while(player: Paplay | FileSource, tail_s: float = 0.3) -> np.ndarray:
    """Capture the default input at 24 kHz from just before ``player`` starts until ``tail_s`` seconds of audio
    after it finished."""
    source = AudioInput(InputConfig())
    reader = source.reader(MODEL_SAMPLE_RATE)
    with source:
        latency_s = wait_first_block(source, FIRST_BLOCK_TIMEOUT_S)
        reader.read()  # drop the pre-roll
        played_at = time.monotonic()
        player.start()
        parts = []
        while not player.finished:
            parts.append(reader.read(timeout_s=0.05).samples)
        player.stop()
        # until the captured audio covers the playing time and the tail: the device's clock, not the CPU, decides
        needed = round((time.monotonic() - played_at + tail_s) * MODEL_SAMPLE_RATE)
        deadline = time.monotonic() + DEADLINE_S
        while sum(map(len, parts)) < needed:
            assert time.monotonic() < deadline, f"waited {DEADLINE_S:.0f} s for the last {tail_s} s of the capture"
            parts.append(reader.read(timeout_s=0.05).samples)
        assert source.ring.overflows == 0
    print(f"first callback after {latency_s * 1000:.0f} ms; input overflows {source.input_overflows}")
    return np.concatenate(parts)


def assert_tone_and_clicks(audio: np.ndarray, rate: int) -> None:
    """The 440 Hz tone is the spectral peak and the clicks are there, with their spacings within 5 ms."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    peak_hz = np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)]
    assert abs(peak_hz - TONE_HZ) < 2.0, f"spectral peak at {peak_hz:.1f} Hz"
    loud = np.flatnonzero(np.abs(audio) > 0.5)
    onsets = loud[np.diff(loud, prepend=-rate) > 0.05 * rate]
    assert len(onsets) == len(CLICK_TIMES_S), f"click onsets at {onsets / rate} s"
    spacing_error_s = np.diff(onsets) / rate - np.diff(CLICK_TIMES_S)
    assert np.all(np.abs(spacing_error_s) < 0.005), f"click spacings off by {spacing_error_s} s"


def test_ring_buffer_counts_overflows_and_wraps() -> None:
    ring = RingBuffer(8)
    assert ring.write(np.arange(5, dtype=np.float32))
    assert not ring.write(np.arange(5, dtype=np.float32))  # 3 free: dropped whole, nothing overwritten
    assert (ring.overflows, ring.dropped_samples, ring.total_written) == (1, 5, 5)
    first = ring.read(max_samples=3)
    assert first.start == 0 and first.samples.tolist() == [0, 1, 2]
    assert ring.write(np.arange(10, 16, dtype=np.float32))  # wraps around the end of the storage
    rest = ring.read()
    assert rest.start == 3 and rest.samples.tolist() == [3, 4, 10, 11, 12, 13, 14, 15]
    assert (ring.available, ring.free, ring.total_written, ring.overflows) == (0, 8, 11, 1)


def test_callback_mixes_to_mono_without_allocating() -> None:
    frames, blocks = 480, 2000
    ring = RingBuffer(frames * (blocks + 1))
    callback = InputCallback(ring, frames)
    callback.gain = 0.5
    indata = np.random.default_rng(0).standard_normal((frames, 2)).astype(np.float32)
    no_flags, overflow_flag = sd.CallbackFlags(), sd.CallbackFlags(0x2)  # paInputOverflow
    callback(indata, frames, None, overflow_flag)  # warm-up (first-call caches)
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    for _ in range(blocks):
        callback(indata, frames, None, no_flags)
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # 2000 blocks carry 3.8 MB of audio; the callback path keeps nothing and its transient peak stays tiny.
    assert after - before < 512, f"{after - before} bytes retained"
    assert peak - before < 4096, f"transient peak {peak - before} bytes"
    assert (callback.blocks, callback.input_overflows, ring.overflows) == (blocks + 1, 1, 0)
    np.testing.assert_allclose(ring.read(frames).samples, indata.mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_file_source_real_time_pacing(tmp_path: Path, speed: float) -> None:
    source = FileSource(write_tone(tmp_path / "one_second.wav", 1.0), speed=speed)
    reader = source.reader(MODEL_SAMPLE_RATE)
    with source:
        first = reader.read(timeout_s=DEADLINE_S)  # paced from its first sample: start-up costs are not pacing
        started = time.monotonic()
        audio = np.concatenate([first.samples, read_all(reader, timeout_s=DEADLINE_S)])
    ratio = (time.monotonic() - started) * speed / source.duration_s
    assert 0.9 < ratio < 2.0, f"elapsed / duration = {ratio:.2f} at speed {speed}"
    assert abs(len(audio) - MODEL_SAMPLE_RATE) <= 2
    assert source.ring.overflows == 0


def test_file_source_fast_mode_delivers_every_sample(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "twenty_seconds.wav", 20.0)
    events: queue.Queue[SourceStatus] = queue.Queue()
    source = FileSource(path, speed=None, buffer_s=0.25, status_queue=events)  # the ring fills up many times
    reader = source.reader(MODEL_SAMPLE_RATE)
    started = time.monotonic()
    with source:
        audio = read_all(reader, timeout_s=DEADLINE_S)
    assert time.monotonic() - started < 0.5 * source.duration_s  # not paced: far faster than real time
    expected = soxr.resample(soundfile.read(path, dtype="float32")[0].mean(axis=1), RATE, MODEL_SAMPLE_RATE)
    assert abs(len(audio) - len(expected)) <= 2
    n = min(len(audio), len(expected))
    np.testing.assert_allclose(audio[:n], expected[:n], atol=1e-3)
    assert source.ring.overflows == 0
    assert [events.get_nowait().kind for _ in range(3)] == ["started", "ended", "stopped"]


def test_full_status_queue_drops_events(tmp_path: Path) -> None:
    source = FileSource(write_tone(tmp_path / "short.wav", 0.1), speed=None, status_queue=queue.Queue(maxsize=1))
    with source:
        read_all(source.reader(), timeout_s=DEADLINE_S)
    assert source.status.get_nowait().kind == "started"
    assert source.events_dropped == 2  # ended, stopped


def test_file_source_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        FileSource(tmp_path / "missing.wav")


def test_no_device_at_all_is_a_clear_error(no_audio_devices: None) -> None:
    with pytest.raises(InputError, match="no audio input device found; available devices: none; .*song file"):
        AudioInput()


def test_unknown_device_lists_the_inputs(pulse_server: PulseServer) -> None:
    with pytest.raises(InputError) as caught:
        AudioInput(InputConfig(device="no-such-microphone"))
    message = str(caught.value)
    assert message.startswith("no audio input device matches 'no-such-microphone'; available inputs: ")
    assert " pulse (" in message and " default (" in message
    pulse = find_input_device("pulse")
    assert find_input_device(str(pulse.index)) == pulse


def test_devices_command_lists_inputs(pulse_server: PulseServer, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_devices_command(parser.add_subparsers())
    args = parser.parse_args(["devices"])
    assert args.run(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["index", "name", "channels", "rate", "(Hz)"]
    rows = {line[1:].split()[1]: line for line in lines[1:]}
    assert rows["default"].startswith("*") and rows["pulse"].startswith(" ")
    assert rows["pulse"].split()[2:] == ["32", "44100"]


@pytest.mark.parametrize("player", ["paplay", "file_source"])
def test_capture_tone_and_clicks(pulse_server: PulseServer, signal_wav: Path, player: str) -> None:
    audio = capture_while(Paplay(pulse_server, signal_wav) if player == "paplay" else FileSource(signal_wav, play=True))
    assert_tone_and_clicks(audio, MODEL_SAMPLE_RATE)


def test_lost_device_is_reported_and_resumes(pulse_server: PulseServer) -> None:
    events: queue.Queue[SourceStatus] = queue.Queue(maxsize=16)
    config = InputConfig(device="pulse", silence_timeout_s=1.0, retry_interval_s=0.2)
    source = AudioInput(config, status_queue=events)
    with source:
        wait_event(events, "started", FIRST_BLOCK_TIMEOUT_S)
        killed_s = time.monotonic()
        pulse_server.kill()
        lost = wait_event(events, "lost", DEADLINE_S)
        assert "'pulse' lost" in lost.detail
        restarted_s = time.monotonic()
        pulse_server.start()
        resumed = wait_event(events, "resumed", FIRST_BLOCK_TIMEOUT_S)
        assert resumed.clock >= lost.clock
        print(f"lost reported {lost.time_s - killed_s:.2f} s after the kill, resumed "
              f"{resumed.time_s - restarted_s:.2f} s after the restart: {lost.detail}")
        written = source.ring.total_written
        deadline = time.monotonic() + DEADLINE_S
        while source.ring.total_written < written + source.sample_rate // 10:
            assert time.monotonic() < deadline, "audio did not keep flowing after the device returned"
            time.sleep(0.01)
    assert wait_event(events, "stopped", DEADLINE_S).source == "pulse"


def test_silent_device_is_reported_lost_and_resumes(pulse_server: PulseServer) -> None:
    events: queue.Queue[SourceStatus] = queue.Queue(maxsize=16)
    source = AudioInput(InputConfig(device="pulse", silence_timeout_s=0.5, retry_interval_s=0.2), events)
    with source:
        wait_event(events, "started", FIRST_BLOCK_TIMEOUT_S)
        pulse_server.send_signal(signal.SIGSTOP)  # a hung device: the stream stays open but no audio comes
        try:
            lost = wait_event(events, "lost", DEADLINE_S)
        finally:
            pulse_server.send_signal(signal.SIGCONT)
        assert "no audio from the device for 0.5 s" in lost.detail
        wait_event(events, "resumed", FIRST_BLOCK_TIMEOUT_S)
