"""Reliability of the live engine and the ``live`` command (issue 10): the events file on bad and full disks, device
names with dots, ``--seconds`` when the device is gone, non-finite samples, Ctrl-C, and options checked up front."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

import main
from common.errors import InputError
from conftest import REPO, click_track, write_click_track
from live import engine as engine_module
from live.audio_input import AudioSource, finite_audio
from live.engine import EngineConfig, LiveEngine
from live.event_log import EventLog
from live.events import PoseEvent, StatusEvent
from live.file_source import FileSource
from live.live_cli import names_a_file, open_source
from live.queues import drain
from pulse_audio import no_audio_devices  # noqa: F401  (pytest fixture)
from test_engine import CountingRetriever


class FiniteCheckingRetriever(CountingRetriever):
    """Fails the test (through the engine's error events) if a window is not finite."""

    def rank(self, windows, bar_phase, k):
        assert np.isfinite(windows).all(), "a non-finite window reached the encoder"
        return super().rank(windows, bar_phase, k)


@pytest.fixture(scope="module")
def clicks(tmp_path_factory) -> Path:
    return write_click_track(tmp_path_factory.mktemp("clicks") / "clicks.wav", 120, 12.0)


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def _forbidden(*_args, **_kwargs):
    raise AssertionError("heavy work started before the user's input was checked")


# -- 2. the events file ---------------------------------------------------------------------------------------------
def test_events_in_a_new_folder_are_written(tmp_path, capsys, clicks):
    events = tmp_path / "some" / "new" / "dir" / "e.jsonl"
    code, out, err = _run(capsys, "live", "--input", str(clicks), "--speed", "8", "--seconds", "3", "--events",
                          str(events), "--encoder", "reactive")
    assert code == 0, err
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert records[-1]["type"] == "StatusEvent" and records[-1]["kind"] == "stopped"
    assert f"wrote {events}" in out


@pytest.mark.parametrize("where, message", [("ro", "not writable"), ("dir", "is a directory")])
def test_an_unwritable_events_file_is_refused_before_any_work(tmp_path, capsys, monkeypatch, clicks, where, message):
    monkeypatch.setattr("model.cli_options.open_ranking_setup", _forbidden)
    if where == "ro":
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: not mode & os.W_OK)  # a read-only disk
        events = tmp_path / "e.jsonl"
    else:
        events = tmp_path
    code, _, err = _run(capsys, "live", "--input", str(clicks), "--events", str(events))
    assert code == 2 and message in err and "\n" not in err, err


class _FullDisk:
    """A raw file that takes ``room`` bytes, then raises ENOSPC like a full disk."""

    def __init__(self, real, room: int) -> None:
        self.real, self.room = real, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            import errno

            self.real.write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def fileno(self) -> int:
        return self.real.fileno()

    def close(self) -> None:
        self.real.close()


def test_a_full_disk_keeps_complete_lines_and_counts_what_was_lost(tmp_path):
    log = EventLog(tmp_path / "e.jsonl")
    log._file = _FullDisk(log._file, room=300)
    for i in range(10):
        log.write(StatusEvent(float(i), "music", "x" * 40))
    log.close()
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    assert 0 < log.written == len(lines) < 10 and log.lost == 10 - len(lines)
    assert all(json.loads(line)["kind"] == "music" for line in lines)  # no half line at the end
    assert "no space left on device" in log.summary()


def test_a_disk_full_from_the_start_leaves_no_empty_file(tmp_path):
    log = EventLog(tmp_path / "e.jsonl")
    log._file = _FullDisk(log._file, room=0)
    log.write(StatusEvent(0.0, "started", "x"))
    log.close()
    assert not (tmp_path / "e.jsonl").exists() and log.lost == 1


def test_live_with_a_full_events_disk_prints_the_summary_then_one_error_line(tmp_path, capsys, monkeypatch, clicks):
    real_init = EventLog.__init__

    def small_disk(self, path):
        real_init(self, path)
        self._file = _FullDisk(self._file, room=500)

    monkeypatch.setattr(EventLog, "__init__", small_disk)
    code, out, err = _run(capsys, "live", "--input", str(clicks), "--speed", "8", "--seconds", "3", "--events",
                          str(tmp_path / "e.jsonl"), "--encoder", "reactive")
    assert code == 2 and "pose events" in out
    assert err.startswith("error: ") and "no space left on device" in err and "\n" not in err, err
    assert "Traceback" not in out + err


# -- 4. device names with dots ----------------------------------------------------------------------------------------
def test_a_device_name_with_a_dot_is_not_taken_for_a_file(no_audio_devices):  # noqa: F811
    assert not names_a_file("USB Audio 2.0") and not names_a_file("hw:1,0")
    assert names_a_file("song.flac") and names_a_file("music/song") and names_a_file(__file__)
    with pytest.raises(InputError) as err:
        open_source("USB Audio 2.0", 1.0, False)
    assert "no such file" not in str(err.value) and "no audio input device" in str(err.value)


# -- 5. --seconds ends even when the audio stops coming ---------------------------------------------------------------
class _VanishedDevice(AudioSource):
    """A device that was unplugged right after it opened: no sample ever arrives."""

    def __init__(self) -> None:
        super().__init__("gone", 48_000, 1.0, None)

    def start(self) -> None:
        self._emit("started", "opened")

    def stop(self) -> None:
        self._emit("stopped", "closed")


def test_seconds_ends_on_the_wall_clock_when_the_device_is_gone(monkeypatch):
    monkeypatch.setattr(engine_module, "WALL_GRACE_S", 0.5)
    engine = LiveEngine(_VanishedDevice(), CountingRetriever(), EngineConfig())
    started = time.monotonic()
    engine.start(seconds=1.0)
    assert engine.wait(30), "the engine did not end although its time was up"
    kinds = [e.kind for e in drain(engine.events) if isinstance(e, StatusEvent)]
    assert "input-timeout" in kinds and kinds[-1] == "stopped"
    assert time.monotonic() - started >= 1.5


# -- 6. one finite-audio guard at the source --------------------------------------------------------------------------
def test_the_guard_replaces_non_finite_and_absurd_samples_in_place():
    samples = np.array([0.1, np.nan, np.inf, -np.inf, 1e30, -0.2], np.float32)
    assert finite_audio(samples) == 4
    np.testing.assert_array_equal(samples, np.array([0.1, 0, 0, 0, 1e4, -0.2], np.float32))
    clean = np.linspace(-1, 1, 100, dtype=np.float32)
    assert finite_audio(clean) == 0


def test_a_burst_of_nan_samples_does_not_stop_the_poses(tmp_path):
    audio, _ = click_track(120, 12.0, 24_000)
    audio[int(4.0 * 24_000) : int(4.2 * 24_000)] = np.nan
    audio[int(5.0 * 24_000)] = np.inf
    soundfile.write(tmp_path / "nan.wav", audio, 24_000, subtype="FLOAT")
    retriever = FiniteCheckingRetriever()
    engine = LiveEngine(FileSource(tmp_path / "nan.wav", speed=4.0), retriever, EngineConfig(resolution="4th"))
    engine.start()
    assert engine.wait(120), "engine did not finish"
    events = drain(engine.events)
    statuses = [e for e in events if isinstance(e, StatusEvent)]
    assert [e.kind for e in statuses].count("input-non-finite") == 1
    assert not [e for e in statuses if e.kind == "encoder-error"]
    after = [e for e in events if isinstance(e, PoseEvent) and e.show_at_s > 7.0]
    assert len(after) >= 6, "poses stopped after the NaN burst"
    assert 110 <= np.median([e.tempo_bpm for e in after]) <= 130  # not locked at 80 BPM
    assert engine.reader.replaced_samples == int(0.2 * 24_000) + 1


# -- 8. Ctrl-C and the --play error -----------------------------------------------------------------------------------
def _live_process(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "main.py", "live", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


def test_ctrl_c_writes_the_final_events_and_prints_no_library_noise(tmp_path, clicks):
    events = tmp_path / "e.jsonl"
    process = _live_process(["--input", str(clicks), "--events", str(events), "--encoder", "reactive"])
    deadline = time.monotonic() + 120
    while '"PoseEvent"' not in (events.read_text() if events.exists() else ""):
        assert process.poll() is None and time.monotonic() < deadline, "no pose event before the deadline"
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    records = [json.loads(line) for line in events.read_text().splitlines()]
    kinds = [r.get("kind") for r in records if r["type"] == "StatusEvent"]
    assert "input-stopped" in kinds and kinds[-1] == "stopped"
    assert len(err.strip().splitlines()) <= 1 and "Traceback" not in err, err
    assert "pose events" in out


def test_the_play_error_is_one_line_with_the_engine_stopped(tmp_path, clicks):
    env = {"PULSE_SERVER": f"unix:{tmp_path / 'no-server'}", "AUDIODEV": "null"}
    process = _live_process(["--input", str(clicks), "--play", "--encoder", "reactive"], env)
    out, err = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("this machine can play audio, so the --play error cannot be provoked")
    assert process.returncode == 2 and err.strip().startswith("error: ") and len(err.strip().splitlines()) == 1, err


# -- 12. options checked like show checks them ------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--seconds", "-1"], "--seconds"),
    (["--seconds", "nan"], "--seconds"),
    (["--top-k", "0"], "--top-k"),
    (["--speed", "0"], "--speed"),
    (["--input", "missing.wav"], "no such file"),
    (["--bank", "{clicks}"], "is a file, expected a pose bank folder"),
])
def test_live_checks_its_options_before_any_work(capsys, monkeypatch, clicks, args, message):
    monkeypatch.setattr("model.cli_options.open_ranking_setup", _forbidden)
    code, _, err = _run(capsys, "live", *[a.format(clicks=clicks) for a in args])
    assert code == 2 and message in err and "\n" not in err, err
