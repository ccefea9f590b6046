"""The beat benchmark's scores (bench/bench_beats.py): the diagnostics used to explain the failing songs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_beats", REPO / "bench" / "bench_beats.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_beats"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


REFERENCE = np.arange(0.5, 30.0, 0.5)  # 120 BPM
DOWNBEATS = REFERENCE[::4]


def tracked(bench: ModuleType, beats: np.ndarray, downbeats: np.ndarray | None = None, delay_s: float = 0.0,
            cpu_s: float = 0.3):
    return bench.Tracked(beats, beats + delay_s, downbeats, (4,) * len(beats), cpu_s, 30.0)


def test_exact_beats_and_downbeats_score_one(bench: ModuleType) -> None:
    row = bench.score(REFERENCE, DOWNBEATS, tracked(bench, REFERENCE + 0.01, DOWNBEATS + 0.01, delay_s=0.004))
    assert (row["F"], row["CMLt"], row["AMLt"], row["downbeat_F"]) == (1.0, 1.0, 1.0, 1.0)
    assert row["delay_s"] == pytest.approx(0.004)
    assert row["err_s"] == pytest.approx(0.01)
    assert row["tempo_ratio"] == pytest.approx(1.0)
    assert row["phase"] == pytest.approx(0.02)
    assert row["cpu_share"] == pytest.approx(1.0)  # 0.3 s of CPU for 30 s of audio: 1 % of a core
    assert row["metre"] == 4


def test_off_beat_tracking_scores_zero_f_but_full_amlt(bench: ModuleType) -> None:
    row = bench.score(REFERENCE, None, tracked(bench, REFERENCE[:-1] + 0.25))
    assert row["F"] == 0.0 and row["CMLt"] == 0.0
    assert row["AMLt"] == pytest.approx(1.0)
    assert abs(row["phase"]) == pytest.approx(0.5)
    assert row["downbeat_F"] is None  # no downbeats from the tracker: '-' in the table


def test_double_tempo_shows_in_the_tempo_ratio(bench: ModuleType) -> None:
    double = np.arange(0.5, 30.0, 0.25)
    row = bench.score(REFERENCE, DOWNBEATS, tracked(bench, double, downbeats=np.zeros(0)))
    assert row["tempo_ratio"] == pytest.approx(2.0)
    assert row["F"] == pytest.approx(2 / 3, abs=0.01)  # precision 1/2, recall 1
    assert row["downbeat_F"] == 0.0


def test_summary_means_clips_and_skips_missing_downbeats(bench: ModuleType) -> None:
    rows = [bench.score(REFERENCE, DOWNBEATS, tracked(bench, REFERENCE, DOWNBEATS)),
            bench.score(REFERENCE, None, tracked(bench, REFERENCE[:-1] + 0.25))]
    summary = bench.summarise(rows)
    assert summary["F"] == pytest.approx(0.5)
    assert summary["downbeat_F"] == pytest.approx(1.0)
