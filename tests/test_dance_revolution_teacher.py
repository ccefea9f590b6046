"""``tools/make_dance_teacher_data.py``: the licensed songs' stems mixed, and the teacher's motion written in the AIST++
layout ``train-dance --layout aist`` reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import soundfile

from common.paths import REPO_ROOT


def teacher_tool():
    spec = importlib.util.spec_from_file_location("make_dance_teacher_data",
                                                  REPO_ROOT / "tools" / "make_dance_teacher_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_song_folders_are_found_and_their_stems_mixed_to_one_normalised_track(tmp_path) -> None:
    tool = teacher_tool()
    folder = tmp_path / "pack" / "a song"
    folder.mkdir(parents=True)
    rate = tool.SAMPLE_RATE
    t = np.arange(3 * rate) / rate
    soundfile.write(folder / "song.ogg", (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)
    soundfile.write(folder / "guitar.ogg", (0.2 * np.sin(2 * np.pi * 330 * t[: 2 * rate])).astype(np.float32), rate)
    (tmp_path / "pack" / "not a song").mkdir()
    assert tool.song_folders(tmp_path) == [folder]
    mix = tool.mixed_song(folder, max_seconds=10.0)
    assert len(mix) == 2 * rate and np.abs(mix).max() == np.float32(0.9)  # the shorter stem, peak-normalised
    spectrum = np.abs(np.fft.rfft(mix))
    assert spectrum[440] > 0.3 * spectrum.max() and spectrum[660] > 0.3 * spectrum.max()  # both stems (Hz x 2 s)
    assert len(tool.mixed_song(folder, max_seconds=1.5)) == int(1.5 * rate)


def test_a_written_teacher_motion_reads_back_through_the_aist_reader(tmp_path) -> None:
    from model.dance_revolution.aist import motion_arrays

    pose = np.random.default_rng(0).normal(0, 0.3, (120, 72)).astype(np.float32)
    trans = np.random.default_rng(1).normal(0, 0.1, (120, 3)).astype(np.float32)
    path = tmp_path / "gFS_sTE_cAll_d01_mFS0_ch01.pkl"
    teacher_tool().write_motion(path, pose, trans)
    read_pose, read_trans = motion_arrays(path)
    np.testing.assert_array_equal(read_pose, pose)
    np.testing.assert_allclose(read_trans, trans)
