"""The ``generate`` motion mode: a causal 3D Dance Revolution model dancing to the engine's audio chunks
(:mod:`motion.generate`, :class:`model.dance_revolution.stream.AudioDancer`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pytest
import soxr
import torch
from scipy.spatial.transform import Rotation

from common.errors import InputError
from live.ring_buffer import Chunk
from model.dance_revolution.checkpoint import LoadedModel, save_dance_checkpoint
from model.dance_revolution.features import FEATURE_RATE, FeatureNorm, StreamingFeatures
from model.dance_revolution.network import DanceRevolution, DanceRevolutionConfig
from model.dance_revolution.poses import vector_to_smpl
from model.dance_revolution.stream import AudioDancer
from motion.cli_options import check_motion_options
from motion.generate import ChunkDancer, GenerateConfig, GenerateSource
from motion.ik import skeleton_of
from motion.source import MotionSetup, make_source

RATE = 24_000
LIVE = DanceRevolutionConfig(pose_kind="smpl6d", d_model=16, pose_emb=16, n_layers=2, n_head=2, d_k=8, d_v=8,
                             d_inner=16, window=3, max_seq_len=300, causal=True)


def checkpoint(path: Path, config: DanceRevolutionConfig = LIVE) -> Path:
    torch.manual_seed(0)
    save_dance_checkpoint(DanceRevolution(config), path, epoch=1)
    return path


def music(seconds: float, rate: int = RATE) -> np.ndarray:
    """A 220 Hz tone with a click every half second, mono float32."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.1 * np.sin(2 * np.pi * 220 * t) + 0.8 * (np.mod(t, 0.5) < 0.01)).astype(np.float32)


def chunks(samples: np.ndarray, start: int = 0, seed: int = 0) -> list[Chunk]:
    """``samples`` cut into chunks of random sizes (40-600 samples), starting at sample ``start`` of the clock."""
    sizes = np.random.default_rng(seed).integers(40, 600, size=len(samples) // 40 + 1)
    edges = np.minimum(np.concatenate([[0], np.cumsum(sizes)]), len(samples))
    return [Chunk(start + a, samples[a:b]) for a, b in zip(edges[:-1], edges[1:]) if b > a]


@pytest.fixture(scope="module")
def live_checkpoint(tmp_path_factory) -> Path:
    return checkpoint(tmp_path_factory.mktemp("generate") / "live.pt")


def setup_with(path: Path | None) -> MotionSetup:
    from pose_db.body import load_body

    return MotionSetup(np.zeros((0, 24, 3)), skeleton_of(load_body()), checkpoint=path)


def geodesic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (radians) between (..., 3) axis-angle rotations."""
    return (Rotation.from_rotvec(a.reshape(-1, 3)).inv() * Rotation.from_rotvec(b.reshape(-1, 3))).magnitude()


def test_live_keyframes_in_any_chunking_equal_whole_sequence_generation() -> None:
    torch.manual_seed(0)
    network = DanceRevolution(LIVE).eval()
    loaded = LoadedModel(network, FeatureNorm.identity(), 0)
    audio = music(7.0)
    dancer = AudioDancer(loaded, RATE)
    live = [frame for chunk in chunks(audio) for frame in dancer.push(chunk.samples)]
    rows = StreamingFeatures().push(soxr.resample(audio, RATE, FEATURE_RATE, quality="HQ"))[0::2]
    with torch.no_grad():
        whole = network.generate(torch.from_numpy(rows.astype(np.float32))[None],
                                 network.initial_state(1, torch.Generator().manual_seed(0)))[0].numpy()
    pose, transl = vector_to_smpl(whole)
    assert len(live) == len(rows) > 80
    assert [f.t_s for f in live] == pytest.approx(np.arange(len(rows)) * 2 / 30)
    assert max(geodesic(f.rotvecs(), p).max() for f, p in zip(live, pose)) < 1e-3
    np.testing.assert_allclose(np.stack([f.root_m for f in live]), transl, atol=1e-4)


def test_chunk_dancer_puts_keyframes_on_the_audio_clock_and_fills_holes(live_checkpoint) -> None:
    from motion.generate import load_live_model

    loaded, config = load_live_model(live_checkpoint), GenerateConfig(smooth_hz=0.0, threaded=False)
    audio = music(4.0)
    whole = [f for c in [Chunk(48_000, audio)] for f in ChunkDancer(loaded, RATE, config).feed(c)]
    dancer = ChunkDancer(loaded, RATE, config)
    pieces = chunks(audio, start=48_000)
    holed = [f for c in pieces[:40] + pieces[41:] for f in dancer.feed(c)]  # one chunk lost: silence in its place
    assert whole[0].t_s == pytest.approx(2.0) and np.diff([f.t_s for f in whole]) == pytest.approx(1 / 15)
    assert [f.t_s for f in holed] == pytest.approx([f.t_s for f in whole])


def run_source(source: GenerateSource, audio: np.ndarray, hold: tuple[float, float] | None = None,
               fps: float = 30.0) -> list:
    """Show ``audio`` at ``fps`` on a simulated clock, posting the chunks heard by each frame; chunks heard during
    ``hold`` (seconds) are posted only at its end (the model falls behind)."""
    pieces, frames, i, held = chunks(audio), [], 0, []
    for t in np.arange(int(len(audio) / RATE * fps)) / fps:
        while i < len(pieces) and pieces[i].end / RATE <= t:
            held.append(pieces[i])
            i += 1
        if hold is None or not hold[0] <= t < hold[1]:
            for chunk in held:
                source.on_event(chunk, t)
            held = []
        source.advance(float(t))
        frames.append(source.frame_at(float(t)))
    return frames


def joint_speeds(frames: list, fps: float = 30.0) -> np.ndarray:
    """(T - 1, 24) angular speed of every joint between consecutive frames, radians per second."""
    return np.stack([geodesic(a.rotvecs(), b.rotvecs()) for a, b in zip(frames[:-1], frames[1:])]) * fps


def test_source_dances_continuously_on_the_audio_clock(live_checkpoint) -> None:
    source = GenerateSource(setup_with(live_checkpoint), GenerateConfig(threaded=False))
    frames = run_source(source, music(6.0))
    assert source.stats.late_frames == 0  # every keyframe was there when its frame was shown
    assert 15 * (6.0 - 0.9) <= source.stats.keyframes <= 15 * 6  # all but the audio's last, unfinished rows
    assert all(f.t_s == pytest.approx(i / 30) for i, f in enumerate(frames))
    assert np.median(joint_speeds(frames)[30:].max(1)) > 0.05  # the body dances once the first keyframes are due
    assert source.frame_at(3.0).body_pose.tobytes() == source.frame_at(3.0).body_pose.tobytes()  # a pure read
    raw = run_source(GenerateSource(setup_with(live_checkpoint), GenerateConfig(smooth_hz=0.0, threaded=False)),
                     music(6.0))
    accel, raw_accel = (np.abs(np.diff(joint_speeds(f)[45:], axis=0)).mean() for f in (frames, raw))
    assert accel < 0.8 * raw_accel  # the pose filter takes out the model's frame-to-frame jitter


def keyframes_of(loaded, audio: np.ndarray, smooth_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A direct :class:`AudioDancer` run on ``audio`` pushed in :func:`chunks`: keyframe times (K,) seconds,
    rotations (K, 24, 3) axis-angle and roots (K, 3)."""
    dancer = AudioDancer(loaded, RATE, smooth_hz=smooth_hz)
    frames = [f for chunk in chunks(audio) for f in dancer.push(chunk.samples)]
    return (np.array([f.t_s for f in frames]), np.stack([f.rotvecs() for f in frames]),
            np.stack([f.root_m for f in frames]))


def test_export_of_the_generate_mode_is_exactly_what_the_model_generates(live_checkpoint, tmp_path) -> None:
    from scipy.spatial.transform import Slerp

    from motion.export import export_log
    from motion.generate import load_live_model

    audio, config = music(6.0), GenerateConfig()
    log = [(chunk.end / RATE, chunk) for chunk in chunks(audio)]  # as the session logs the audio it posts
    started = time.perf_counter()
    count = export_log(tmp_path / "dance.npz", setup_with(live_checkpoint), "generate", log, 6.0)
    assert time.perf_counter() - started < 120  # a replay does not wait for the audio clock
    times, rotations, roots = keyframes_of(load_live_model(live_checkpoint), audio, config.smooth_hz)
    with np.load(tmp_path / "dance.npz") as exported:
        shown_t = exported["t_s"] - config.delay_s
        inside = (shown_t >= times[0] + 1.0) & (shown_t <= times[-1])  # after the blend in from rest (8 half-lives)
        pose, root = exported["pose"].reshape(-1, 24, 3)[inside], exported["root"][inside]
    expected = np.stack([Slerp(times, Rotation.from_rotvec(rotations[:, j]))(shown_t[inside]).as_rotvec()
                         for j in range(24)], axis=1)
    assert count == 181 and inside.sum() > 60
    assert geodesic(pose, expected).max() < 1e-4
    np.testing.assert_allclose(root, np.stack([np.interp(shown_t[inside], times, roots[:, a]) for a in range(3)], 1),
                               atol=1e-5)
    assert np.ptp(pose, axis=0).max() > 0.05  # it dances: not the rest pose a lagging worker would have left


def test_live_filter_is_the_offline_filter_run_causally_and_its_delay_is_taken_off_the_times(live_checkpoint) -> None:
    from model.dance_revolution.smoothing import CausalSmoother, smooth_offline
    from motion.generate import load_live_model

    loaded, audio = load_live_model(live_checkpoint), music(7.0)
    raw_t, raw, _ = keyframes_of(loaded, audio, 0.0)
    times, smooth, _ = keyframes_of(loaded, audio, 1.0)
    delay = CausalSmoother(1.0, 15).delay_s
    assert delay == pytest.approx(0.225, abs=0.01)  # sqrt(2) / (2 pi f): a 2nd-order Butterworth at 0 Hz
    np.testing.assert_allclose(times, raw_t - delay)
    step = lambda r: np.median(geodesic(r[1:], r[:-1]))  # noqa: E731
    assert step(smooth) < 0.5 * step(raw)
    ramp = np.linspace(0, 1, 90)[:, None] * np.ones((1, 5))
    assert np.abs(smooth_offline(ramp, 15.0, 1.0) - ramp)[15:-15].max() < 1e-4  # zero phase: a line is not delayed


class SmoothDancer:
    """Stands in for the model: every joint swings 0.5 rad at 1 Hz; keyframes at 15 fps, each final 0.5 s after
    its time has been heard."""

    def __init__(self, loaded, sample_rate: int, config: GenerateConfig) -> None:
        self.sample_rate, self.made = sample_rate, 0

    def release(self) -> None:
        pass

    def feed(self, chunk: Chunk) -> list:
        from motion.frame import frame_from_rotvecs

        frames = []
        while self.made / 15 + 0.5 <= chunk.end / self.sample_rate:
            t = self.made / 15
            frames.append(frame_from_rotvecs(t, np.tile([0.5 * np.sin(2 * np.pi * t), 0.0, 0.0], (24, 1))))
            self.made += 1
        return frames


def test_source_blends_in_with_bounded_acceleration_after_falling_behind(monkeypatch, live_checkpoint) -> None:
    import motion.generate

    monkeypatch.setattr(motion.generate, "ChunkDancer", SmoothDancer)
    setup, audio = setup_with(live_checkpoint), music(8.0)
    shown = {}
    for name, config, hold in [("steady", GenerateConfig(delay_s=0.9, smooth_hz=0.0, threaded=False), None),
                               ("behind", GenerateConfig(delay_s=0.9, smooth_hz=0.0, threaded=False), (4.0, 5.5)),
                               ("snapped", GenerateConfig(delay_s=0.9, smooth_hz=0.0, threaded=False, halflife_s=1e-6),
                                (4.0, 5.5))]:
        source = GenerateSource(setup, config)
        frames = run_source(source, audio, hold)
        speed = joint_speeds(frames)[40:]  # from the first keyframes on
        shown[name] = (source.stats.late_frames, speed.max(), (np.abs(np.diff(speed, axis=0)) * 30).max())
    (late, speed, accel), (late_behind, speed_behind, accel_behind) = shown["steady"], shown["behind"]
    assert late == 0 and 30 <= late_behind <= 36  # the hold: 1.5 s less the 0.4 s of slack (0.9 s delay, 0.5 s lag)
    assert speed == pytest.approx(np.pi, rel=0.05)
    assert accel_behind <= 3 * accel and shown["snapped"][2] > 10 * accel  # measured: 1.7x, a snap 16x
    assert speed_behind <= 1.5 * speed


def test_threaded_source_makes_the_same_keyframes_as_the_inline_one(live_checkpoint) -> None:
    setup, audio = setup_with(live_checkpoint), music(3.0)
    inline = GenerateSource(setup, GenerateConfig(threaded=False))
    threaded = make_source("generate", setup)
    for chunk in chunks(audio):
        inline.on_event(chunk, chunk.end / RATE)
        threaded.on_event(chunk, chunk.end / RATE)
    inline.advance(3.0)
    deadline = time.monotonic() + 60.0
    while threaded.stats.keyframes < inline.stats.keyframes:
        assert time.monotonic() < deadline, f"awaited {inline.stats.keyframes} keyframes from the worker thread"
        threaded.advance(3.0)
        time.sleep(0.01)
    threaded.close()
    assert threaded.stats.keyframes == inline.stats.keyframes > 10
    np.testing.assert_allclose(threaded.frame_at(2.0).rotvecs(), inline.frame_at(2.0).rotvecs(), atol=1e-6)
    assert torch.get_num_threads() >= 1 and threaded.stats.dropped_chunks == 0


def test_generate_without_a_usable_checkpoint_is_one_line(tmp_path, live_checkpoint) -> None:
    with pytest.raises(InputError, match="needs --dance-checkpoint"):
        make_source("generate", setup_with(None))
    flat = checkpoint(tmp_path / "2d.pt", DanceRevolutionConfig(d_model=16, pose_emb=8, n_layers=1, n_head=2, d_k=8,
                                                                d_v=8, d_inner=16, window=3, max_seq_len=40,
                                                                causal=True))
    with pytest.raises(InputError, match="2D .* cannot drive the 3D body"):
        make_source("generate", setup_with(flat))
    ahead = checkpoint(tmp_path / "ahead.pt", DanceRevolutionConfig(**{**LIVE.__dict__, "causal": False}))
    with pytest.raises(InputError, match="not --causal"):
        make_source("generate", setup_with(ahead))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        make_source("generate", setup_with(tmp_path / "junk.pt"))
    for args, problem in [(dict(motion="generate", dance_checkpoint=None), "needs --dance-checkpoint"),
                          (dict(motion="generate", dance_checkpoint=tmp_path / "none.pt"), "no such file"),
                          (dict(motion="groove", dance_checkpoint=tmp_path), "is a directory")]:
        with pytest.raises(InputError, match=problem) as err:
            check_motion_options(argparse.Namespace(**args))
        assert "\n" not in str(err.value)
    check_motion_options(argparse.Namespace(motion="generate", dance_checkpoint=live_checkpoint))


def test_evaluate_dance_scores_one_generate_row_per_filter_cutoff(live_checkpoint) -> None:
    from motion.cli import generate_factories, smooth_cutoffs

    assert smooth_cutoffs(None) is None and smooth_cutoffs("0, 0.75") == [0.0, 0.75]
    for bad in ("7.5", "-1", "fast", ","):
        with pytest.raises(InputError, match="--dance-smooth-hz"):
            smooth_cutoffs(bad)
    setup = setup_with(live_checkpoint)
    rows = generate_factories(setup, live_checkpoint, "0,0.75")
    assert list(rows) == ["generate@0Hz", "generate@0.75Hz"]
    sources = [make() for make in rows.values()]
    assert [s.config.smooth_hz for s in sources] == [0.0, 0.75] and not any(s.config.threaded for s in sources)
    (default,) = generate_factories(setup, live_checkpoint, None).values()
    assert default().config == GenerateConfig(threaded=False)
