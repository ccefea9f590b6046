"""Beat positions, subdivisions and window cutting."""

import numpy as np
import pytest

from common.constants import WINDOW_SAMPLES
from common.errors import InputError
from live.snippets import bar_position, cut_windows, positions_per_beat, subdivide


def test_subdivisions_are_exact_fractions_with_consistent_labels():
    beats = np.array([24000, 36001, 48000, 60003])
    for per_beat, count in ((1, 4), (2, 7), (4, 13)):
        pos = subdivide(beats, per_beat)
        assert len(pos) == count == (len(beats) - 1) * per_beat + 1
        assert np.all(np.diff(pos.samples) > 0)
        assert pos.samples[0] == beats[0] and pos.samples[-1] == beats[-1]
        on_beat = pos.subdivision == 0
        np.testing.assert_array_equal(pos.samples[on_beat], beats)
        # the 60 fps label is derived from the centre, so they never disagree by more than half a frame
        assert np.all(np.abs(pos.frames * 400 - pos.samples) <= 200)
    sixteenth = subdivide(beats, 4)
    # 36001 - 24000 = 12001 samples: quarters at 3000.25-sample steps, each rounded once to the nearest sample
    np.testing.assert_array_equal(sixteenth.samples[:5], [24000, 27000, 30000, 33001, 36001])


def test_bar_phase_counts_beats_and_fractions():
    pos = subdivide(np.arange(6) * 12000, 2)
    np.testing.assert_allclose(pos.bar_phase[:10], [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 0, 0.5])


def test_bar_position_follows_the_trackers_bar_model_else_4_beats_from_the_first():
    assert bar_position(7, 0.5, beat_in_bar=3, beats_per_bar=3) == (2.5, 3)  # the last beat of a 3/4 bar
    assert bar_position(7, 1.0, beat_in_bar=3, beats_per_bar=3) == (0.0, 3)  # the next downbeat
    assert bar_position(7, -2.25, beat_in_bar=2, beats_per_bar=5) == (3.75, 5)  # before it, in the bar before
    assert bar_position(0, 3.5, beat_in_bar=4, beats_per_bar=5) == (1.5, 5)  # past the next downbeat
    assert bar_position(6, 0.5) == (2.5, 4) and bar_position(7, 1.0) == (0.0, 4)  # no bar model: 4/4 from beat 0
    np.testing.assert_allclose(bar_position(np.arange(6), 0.25)[0], [0.25, 1.25, 2.25, 3.25, 0.25, 1.25])


def test_unknown_resolution_is_a_clear_error():
    assert positions_per_beat("16th") == 4
    with pytest.raises(InputError, match="unknown resolution '32nd'"):
        positions_per_beat("32nd")


def test_windows_are_centred_and_flag_missing_context():
    audio = np.arange(100_000, dtype=np.float32)
    windows, full = cut_windows(audio, np.array([24240, 50_000, 100_000 - 24240, 24239, 100_000 - 24239]))
    assert windows.shape == (5, WINDOW_SAMPLES) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[1], audio[50_000 - 24240 : 50_000 + 24240])
    np.testing.assert_array_equal(full, [True, True, True, False, False])
    assert windows[3, 0] == 0 and windows[3, 1] == 0  # zero-padded before the start
    assert windows[4, -1] == 0 and windows[4, -2] == 99_999
