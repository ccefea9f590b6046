"""The idle layer (:mod:`motion.idle`) through the player in groove mode: the body breathes before the first beat and
after silence, never the same pose twice in a row at 30 fps, and it gives way to the groove while beats come.
Synthetic events at explicit times: no threads, no sleeps."""

from __future__ import annotations

import numpy as np

from live.events import StatusEvent
from motion.idle import IdleConfig, IdleGate, apply_idle
from motion.frame import rest_frame
from motion.player import MotionPlayer
from test_motion_layer import play, setup_of, skeleton, song_log  # noqa: F401  (skeleton: a fixture)


def test_before_the_first_beat_the_body_breathes_a_little_and_never_stands_still(skeleton):  # noqa: F811
    frames = play(skeleton, "groove", [], 0.0, 10.0, fps=30.0)
    rotvecs = np.stack([frame.rotvecs() for frame in frames])
    steps = np.abs(np.diff(rotvecs, axis=0)).max(axis=(1, 2))
    assert steps.min() > 2e-5, "two frames in a row show the same pose"
    assert np.abs(rotvecs).max() < 0.06, "the idle motion is not subtle"
    again = play(skeleton, "groove", [], 0.0, 10.0, fps=30.0)
    np.testing.assert_array_equal(rotvecs, np.stack([frame.rotvecs() for frame in again]))  # deterministic


def test_the_idle_layer_gives_way_to_the_groove_and_comes_back_after_silence(skeleton):  # noqa: F811
    log = song_log(12) + [(6.0, StatusEvent(6.0, "silence", "no beats"))]
    player = MotionPlayer(setup_of(skeleton), "groove")
    for now_s, event in sorted(log, key=lambda entry: entry[0]):
        player.apply(event, now_s)
    gate = player._idle
    assert gate.weight_at(0.0) == 1.0 and gate.weight_at(0.05) == 1.0  # the first tick comes at 0.05 s
    assert gate.weight_at(0.05 + IdleConfig().fade_s) == 0.0  # dancing: no idle layer
    assert 0.0 < gate.weight_at(6.5) < 1.0 and gate.weight_at(6.0 + IdleConfig().fade_s) == 1.0  # silence: back


def test_the_gate_fades_smoothly_and_the_layer_is_nothing_at_weight_zero():
    gate, config = IdleGate(), IdleConfig()
    from live.events import BeatTick

    gate.on_event(BeatTick(1.0, 1.0, 120.0), 1.0)
    weights = np.array([gate.weight_at(t) for t in np.linspace(1.0, 1.0 + config.fade_s, 31)])
    assert weights[0] == 1.0 and weights[-1] == 0.0 and np.all(np.diff(weights) <= 0)
    frame = rest_frame(2.0)
    assert apply_idle(frame, 0.0) is frame
    assert np.abs(apply_idle(frame, 1.0).rotvecs()).max() > 0.01
