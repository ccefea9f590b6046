"""The live engine with real components: songs played as live through the file source, a real PulseAudio sink
captured like a microphone, and the faults a show meets (a slow or failing encoder, silence)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from common.constants import WINDOW_SAMPLES
from conftest import BEATS_DIR, click_track
from live.audio_input import AudioInput, InputConfig
from live.engine import EngineConfig, LiveEngine
from live.events import BeatTick, PoseEvent, StatusEvent
from live.file_source import FileSource
from live.queues import drain
from pose_db.search import TopK
from pulse_audio import PulseServer, pulse_server  # noqa: F401  (pytest fixture)

SONG = BEATS_DIR / "hydrogen_tutorial_georgyporgy.flac"  # drums, steady 98 BPM
DEADLINE_S = 120.0
"""Longest any wait here may take (they poll, and end as soon as what they await happens)."""


class CountingRetriever:
    """A fast stand-in encoder: ranks by a hash of the window, optionally slow or failing on some calls."""

    encoder_name = "test"

    def __init__(self, delay_s: float = 0.0, fail_every: int = 0) -> None:
        self.delay_s, self.fail_every, self.calls = delay_s, fail_every, 0

    def rank(self, windows: np.ndarray, bar_phase: np.ndarray, k: int) -> TopK:
        assert windows.shape == (1, WINDOW_SAMPLES) and windows.dtype == np.float32
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise RuntimeError("encoder blew up")
        time.sleep(self.delay_s)
        first = int(abs(float(windows[0, ::997].sum())) * 1000) % 100
        return TopK(indices=np.arange(first, first + k)[None, :], scores=np.zeros((1, k), np.float32))

    def reset(self) -> None:
        """Stateless."""


def run_engine(source, retriever, seconds: float | None, **config) -> list:
    engine = LiveEngine(source, retriever, EngineConfig(**config))
    engine.start(seconds=seconds)
    assert engine.wait(DEADLINE_S), f"waited {DEADLINE_S:.0f} s for the engine to finish"
    return drain(engine.events)


def poses(events: list) -> list[PoseEvent]:
    return [e for e in events if isinstance(e, PoseEvent)]


def test_predictive_poses_are_shown_on_the_songs_8th_notes(shared_dir):
    events = run_engine(FileSource(SONG, speed=4.0), CountingRetriever(), seconds=20.0, resolution="8th")
    shown = np.array([e.show_at_s for e in poses(events)])
    truth = np.loadtxt(SONG.with_suffix("").with_suffix(".beats.txt"))
    grid = np.sort(np.concatenate([truth, (truth[:-1] + truth[1:]) / 2]))
    offsets = shown - grid[np.abs(shown[:, None] - grid[None, :]).argmin(axis=1)]
    assert len(shown) > 0.8 * np.sum((grid > 3) & (grid < 20))  # nearly every 8th after the tracker locked
    assert np.median(np.abs(offsets)) < 0.03 and np.mean(np.abs(offsets) < 0.07) > 0.9
    assert all(e.mode == "predictive" and e.latency.context_s == 0 for e in poses(events))
    assert {e.subdivision for e in poses(events)} == {0, 1}
    ticks = [e for e in events if isinstance(e, BeatTick)]
    assert np.median(np.diff([t.beat_s for t in ticks])) == pytest.approx(60 / 98, rel=0.02)
    assert [e.kind for e in events if isinstance(e, StatusEvent)][0] == "started"


def test_centred_windows_wait_for_their_context(shared_dir):
    events = run_engine(FileSource(SONG, speed=4.0), CountingRetriever(), seconds=10.0, mode="centred")
    for event in poses(events):
        assert event.window_end_s == pytest.approx(event.position_s + 1.01, abs=1e-6)
        assert event.ready_at_s >= event.window_end_s


def test_slow_encoder_drops_positions_without_building_lag(shared_dir):
    # 16ths at 98 BPM come every 0.15 s; the encoder needs 0.4 s: most positions must be dropped, none queued up
    events = run_engine(FileSource(SONG), CountingRetriever(delay_s=0.4), seconds=7.0, resolution="16th")
    shown = poses(events)
    assert sum(e.dropped_before for e in shown) >= len(shown)
    assert max(e.latency.queue_s for e in shown) < 0.2  # newest wins: a window never waits behind another
    assert max(e.ready_at_s - e.window_end_s for e in shown) < 0.4 + 0.3


def test_encoder_errors_are_reported_and_the_stream_goes_on(shared_dir):
    events = run_engine(FileSource(SONG, speed=4.0), CountingRetriever(fail_every=3), seconds=12.0)
    errors = [e for e in events if isinstance(e, StatusEvent) and e.kind == "encoder-error"]
    assert errors and "RuntimeError: encoder blew up" in errors[0].message
    assert poses(events)[-1].show_at_s > errors[-1].at_s - 1.0  # poses keep coming after the failures


def test_silence_holds_the_last_pose_and_music_brings_it_back(tmp_path):
    rate = 24_000
    clicks, _ = click_track(120, 8.0, rate)
    audio = np.concatenate([clicks, np.zeros(5 * rate, np.float32), clicks])
    path = tmp_path / "gap.wav"
    soundfile.write(path, audio, rate)
    events = run_engine(FileSource(path, speed=4.0), CountingRetriever(), seconds=None)
    kinds = [(e.kind, e.at_s) for e in events if isinstance(e, StatusEvent) and e.kind in ("silence", "music")]
    assert [k for k, _ in kinds][:3] == ["music", "silence", "music"]
    silence_at = kinds[1][1]
    assert 8.0 < silence_at < 11.0
    assert not [e for e in poses(events) if silence_at < e.show_at_s < 13.0]  # nothing new during the gap


def test_engine_hears_a_song_played_into_a_real_sound_server(pulse_server: PulseServer, tmp_path: Path):  # noqa: F811
    if not SONG.exists():
        pytest.skip(f"{SONG} is not present")
    audio, rate = soundfile.read(SONG, dtype="float32")
    wav = tmp_path / "excerpt.wav"
    soundfile.write(wav, audio[: 10 * rate], rate)
    source = AudioInput(InputConfig())
    engine = LiveEngine(source, CountingRetriever(), EngineConfig(resolution="4th"))
    engine.start()
    player = pulse_server.play(wav, latency_ms=200)
    player.wait(timeout=DEADLINE_S)
    tail_end_s = source.ring.total_written / source.sample_rate + 0.5  # captured by the song's end, and a tail
    deadline = time.monotonic() + DEADLINE_S
    while engine.reader.clock_s < tail_end_s:  # the engine has read the whole excerpt
        assert time.monotonic() < deadline, f"waited {DEADLINE_S:.0f} s for the engine to read the played excerpt"
        time.sleep(0.05)
    engine.stop()
    events = drain(engine.events)
    ticks = [e.beat_s for e in events if isinstance(e, BeatTick)]
    assert len(ticks) >= 8, f"only {len(ticks)} beats heard"
    assert np.median(np.diff(ticks)) == pytest.approx(60 / 98, rel=0.03)
    assert len(poses(events)) >= 6


def test_clipped_input_with_dc_offset_still_gives_beat_locked_poses(shared_dir, tmp_path):
    audio, rate = soundfile.read(SONG, dtype="float32")
    abused = np.clip(8.0 * audio[: 20 * rate] + 0.4, -1.0, 1.0)  # 18 dB too hot, DC offset, hard clipping
    assert np.mean(np.abs(abused) >= 0.999) > 0.05
    path = tmp_path / "clipped.wav"
    soundfile.write(path, abused, rate)
    events = run_engine(FileSource(path, speed=4.0), CountingRetriever(), seconds=None, resolution="4th")
    shown = np.array([e.show_at_s for e in poses(events)])
    truth = np.loadtxt(SONG.with_suffix("").with_suffix(".beats.txt"))
    nearest = np.abs(shown[:, None] - truth[None, :]).min(axis=1)
    assert len(shown) > 0.8 * np.sum((truth > 3) & (truth < 20))
    assert np.mean(nearest < 0.07) > 0.9
