"""Start-up imports only what a command needs: building the command line, ``--help``, ``devices`` and ``beats`` load
none of the heavy libraries (torch, transformers, Qt, OpenGL, librosa). Each case runs in a fresh interpreter, since
``sys.modules`` is per process and the test process has imported everything already. Times live in
``bench/bench_startup.py``; here only the module sets are asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import click_track

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "PySide6", "moderngl", "pyrender", "OpenGL", "librosa", "av", "faiss", "smplx")
"""Libraries no light command may import (seconds to load here, or a display library)."""

CHILD = """
import json, sys
argv, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["main.py", *argv]
sys.path.insert(0, ".")
import main
code = None
try:
    code = main.main(argv) if {run} else main.build_parser().parse_args(argv) and 0
except SystemExit as exit:
    code = exit.code
heavy = sorted(name for name in watched if name in sys.modules)
print("RESULT " + json.dumps({{"code": code, "heavy": heavy}}))
"""


def loaded_heavy(argv: list[str], *, run: bool) -> tuple[int | None, list[str]]:
    """(exit status, heavy modules loaded) after parsing ``argv`` (or, with ``run``, running it) in a new process."""
    result = subprocess.run([sys.executable, "-c", CHILD.format(run=run), json.dumps(argv), json.dumps(HEAVY)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the child printed no result for {argv}:\n{result.stdout}\n{result.stderr}"
    found = json.loads(lines[-1].removeprefix("RESULT "))
    return found["code"], found["heavy"]


@pytest.mark.parametrize("argv", [[], ["--help"], ["show", "--help"], ["devices"], ["beats", "song.flac"],
                                  ["live", "--input", "song.flac"], ["retrieve", "song.flac"],
                                  ["train", "--help"], ["bank", "info", "bank"]],
                         ids=lambda argv: " ".join(argv) or "(none)")
def test_building_and_parsing_the_command_line_loads_no_heavy_library(argv):
    code, heavy = loaded_heavy(argv, run=False)
    assert heavy == [], f"parsing {argv} imported {heavy}"
    assert code in (0, None), f"parsing {argv} exited with {code}"


def test_help_runs_without_heavy_libraries():
    code, heavy = loaded_heavy(["--help"], run=True)
    assert (code, heavy) == (0, [])


def test_devices_runs_without_heavy_libraries():
    code, heavy = loaded_heavy(["devices"], run=True)
    assert code in (0, 1), "devices exits 0 with a device table, 1 without any input"
    assert heavy == []


def test_beats_tracks_a_file_without_heavy_libraries(tmp_path):
    audio, _ = click_track(120.0, 4.0, 22_050)
    song = tmp_path / "clicks.wav"
    soundfile.write(song, audio, 22_050)
    code, heavy = loaded_heavy(["beats", str(song)], run=True)
    assert (code, heavy) == (0, [])


def test_bad_input_still_gives_one_error_line_without_heavy_libraries(tmp_path):
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(4_410, np.float32), 44_100)
    code, heavy = loaded_heavy(["beats", str(silent)], run=True)
    assert (code, heavy) == (2, [])


def test_the_window_module_loads_no_engine_library():
    """The window opens before torch, the renderer or librosa load (they load on the show's loader thread)."""
    code = ("import json, sys; import ui.app; "
            f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == ["PySide6"]


def test_the_body_is_drawn_without_torch():
    """The window's loader draws the body as soon as the bank and the body are open: that path (bank, body model,
    motion, renderer, one frame) imports neither torch nor smplx (they load with the encoder, after it)."""
    code = """
import json, sys
import numpy as np
from model.cli_options import open_bank_and_body
from ui.cli import show_defaults
from ui.stage import Stage, stage_renderer
bank, body = open_bank_and_body(show_defaults(), 5)
stage = Stage(bank, body)
renderer = stage_renderer(body, 64, 48)
frame = stage.render.render_once(renderer, 0.0)
renderer.close()
print("RESULT " + json.dumps({"lit": int((frame.rgb > 40).sum()), "heavy": [m for m in ("torch", "smplx", "transformers")
                                                                      if m in sys.modules]}))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=240)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the child printed no result:\n{result.stdout}\n{result.stderr}"
    found = json.loads(lines[-1].removeprefix("RESULT "))
    assert found["heavy"] == [], f"drawing the body imported {found['heavy']}"
    assert found["lit"] > 50, "the body was not drawn"
