"""The weight-free reactive encoder (model/reactive.py) and the pose descriptors it steers (pose_db/descriptors.py).

Synthetic stimuli at 24 kHz: a quiet, sparse, dark section (a low hum with a soft thump a second) then a loud, busy,
bright one (hissing bursts eight times a second), normalised as one song, ranked against a bank of varied poses
posed with the bundled body.
"""

from __future__ import annotations

import numpy as np
import pytest

from common.constants import HALF_WINDOW, MODEL_SAMPLE_RATE, NUM_BETAS, NUM_JOINTS
from live.audio_file import normalise
from live.snippets import cut_windows
from model.reactive import ReactiveConfig, ReactiveRetriever, downbeat_closeness, window_sound
from pose_db.bank import PoseBank, write_bank
from pose_db.body import JOINT_NAMES, BodyModel, load_body
from pose_db.descriptors import DESCRIPTOR_NAMES, pose_descriptors, pose_joints
from pose_db.search import TopK

SECTION_S = 16.0
"""Length of each stimulus section, seconds."""
STEP = MODEL_SAMPLE_RATE // 2
"""Window centres every half second (120 BPM beats)."""
OPEN = ("arm_height", "hand_above_head", "arm_extension", "stance_width")
"""Descriptors that loud, bright, busy music should raise."""


def joint_rotation(pose: np.ndarray, joint: str, axis: int, angle: np.ndarray) -> None:
    """Set one axis-angle component (radians) of ``joint`` in (N, 72) poses, in place."""
    pose[:, 3 * JOINT_NAMES.index(joint) + axis] = angle


def varied_bank_vectors(count: int, seed: int = 7) -> np.ndarray:
    """(count, 82) float32 pose vectors (mean shape) spanning arms down..overhead, elbows, stance, knees, lean."""
    rng = np.random.default_rng(seed)
    pose = np.zeros((count, 3 * NUM_JOINTS))
    raise_ = rng.uniform(-1.3, 1.5, (count, 2))  # > 0 raises an arm above the T-pose, < 0 lowers it
    joint_rotation(pose, "L_shoulder", 2, raise_[:, 0])
    joint_rotation(pose, "R_shoulder", 2, -raise_[:, 1])
    joint_rotation(pose, "L_elbow", 1, rng.uniform(0.0, 1.5, count))
    joint_rotation(pose, "R_elbow", 1, -rng.uniform(0.0, 1.5, count))
    spread = rng.uniform(0.0, 0.6, (count, 2))
    joint_rotation(pose, "L_hip", 2, spread[:, 0])
    joint_rotation(pose, "R_hip", 2, -spread[:, 1])
    joint_rotation(pose, "L_hip", 0, -rng.uniform(-0.3, 0.8, count))
    joint_rotation(pose, "L_knee", 0, rng.uniform(0.0, 1.2, count))
    joint_rotation(pose, "R_knee", 0, rng.uniform(0.0, 1.2, count))
    joint_rotation(pose, "spine1", 0, rng.uniform(-0.15, 0.45, count))
    return np.hstack([np.zeros((count, NUM_BETAS)), pose]).astype(np.float32)


def decaying(freq_hz: float | None, seconds: float, decay_s: float, rng: np.random.Generator) -> np.ndarray:
    """A short hit: a sine at ``freq_hz`` (or white noise for None) with an exponential decay."""
    t = np.arange(int(seconds * MODEL_SAMPLE_RATE)) / MODEL_SAMPLE_RATE
    source = rng.standard_normal(t.size) if freq_hz is None else np.sin(2 * np.pi * freq_hz * t)
    return source * np.exp(-t / decay_s)


def hits(hit: np.ndarray, per_s: float, seconds: float) -> np.ndarray:
    """``hit`` repeated ``per_s`` times a second for ``seconds``."""
    track = np.zeros(int(seconds * MODEL_SAMPLE_RATE))
    for start in np.arange(0, track.size - hit.size, MODEL_SAMPLE_RATE / per_s).astype(int):
        track[start : start + hit.size] += hit
    return track


def stimulus() -> np.ndarray:
    """(L,) float32 at 24 kHz: ``SECTION_S`` quiet-sparse-dark seconds, then as many loud-busy-bright ones."""
    rng = np.random.default_rng(0)
    t = np.arange(int(SECTION_S * MODEL_SAMPLE_RATE)) / MODEL_SAMPLE_RATE
    quiet = 0.02 * np.sin(2 * np.pi * 110 * t) + hits(0.05 * decaying(60, 0.3, 0.08, rng), 1, SECTION_S)
    hiss = np.diff(decaying(None, 0.08, 0.02, rng), prepend=0.0)  # differenced noise: most energy up high
    ping = 0.3 * decaying(3000, 0.05, 0.01, rng)
    loud = 0.02 * rng.standard_normal(t.size) + hits(hiss, 8, SECTION_S) + hits(ping, 4, SECTION_S)
    return np.concatenate([quiet, loud]).astype(np.float32)


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body()


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> PoseBank:
    vectors = varied_bank_vectors(240)
    path = write_bank(tmp_path_factory.mktemp("bank") / "varied", vectors, names=[f"p{i}" for i in range(240)],
                      sources=["synthetic"] * 240, frame_ids=np.arange(240))
    return PoseBank.open(path)


@pytest.fixture(scope="module")
def bank_joints(bank: PoseBank, body: BodyModel) -> np.ndarray:
    return pose_joints(bank.vectors, body)


@pytest.fixture(scope="module")
def retriever(bank: PoseBank, body: BodyModel) -> ReactiveRetriever:
    return ReactiveRetriever(bank, body)


@pytest.fixture(scope="module")
def song() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(windows (P, 48480), bar phases (P,), centres (P,) in samples) of the normalised stimulus."""
    audio = normalise(stimulus())
    centres = np.arange(HALF_WINDOW, len(audio) - HALF_WINDOW, STEP)
    windows, _ = cut_windows(audio, centres)
    return windows, (np.arange(len(centres)) % 4).astype(np.float64), centres


@pytest.fixture(scope="module")
def picks(retriever: ReactiveRetriever, song: tuple[np.ndarray, np.ndarray, np.ndarray]) -> TopK:
    """TopK of the whole stimulus, k = 5, from a fresh state."""
    windows, phase, _ = song
    retriever.reset()
    return retriever.rank(windows, phase, 5)


def section_masks(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windows lying wholly in the quiet section, and wholly in the loud one."""
    boundary = SECTION_S * MODEL_SAMPLE_RATE
    return centres + HALF_WINDOW <= boundary, centres - HALF_WINDOW >= boundary


def column(name: str) -> int:
    return DESCRIPTOR_NAMES.index(name)


# --- descriptors -------------------------------------------------------------------------------------------------

def test_pose_joints_match_the_body_model(body: BodyModel) -> None:
    rng = np.random.default_rng(1)
    vectors = np.hstack([rng.normal(0, 1, (16, NUM_BETAS)), rng.normal(0, 0.4, (16, 3 * NUM_JOINTS))])
    vectors = vectors.astype(np.float32)
    expected = body.forward(vectors[:, NUM_BETAS:], vectors[:, :NUM_BETAS]).joints
    np.testing.assert_allclose(pose_joints(vectors, body), expected, atol=1e-5)


def test_descriptors_read_the_pose(body: BodyModel) -> None:
    """Arms overhead vs down, wide vs narrow stance, bent vs straight knees, lean, one-sided poses."""
    rest, arms_up, wide, squat, lean, one_arm = np.zeros((6, 3 * NUM_JOINTS))[:, None]
    for pose, joint, axis, angle in [
        (arms_up, "L_shoulder", 2, 1.3), (arms_up, "R_shoulder", 2, -1.3), (wide, "L_hip", 2, 0.5),
        (wide, "R_hip", 2, -0.5), (squat, "L_knee", 0, 1.2), (squat, "R_knee", 0, 1.2), (lean, "spine1", 0, 0.5),
        (one_arm, "L_shoulder", 2, 1.3),
    ]:
        joint_rotation(pose, joint, axis, angle)
    poses = np.vstack([rest, arms_up, wide, squat, lean, one_arm])
    d = dict(zip(DESCRIPTOR_NAMES, pose_descriptors(body.forward(poses).joints).T))
    assert d["arm_height"][1] > d["arm_height"][0] + 0.3 and d["hand_above_head"][1] > 0 > d["hand_above_head"][0]
    assert d["stance_width"][2] > d["stance_width"][0] + 0.2
    assert d["knee_bend"][3] > d["knee_bend"][0] + 1.0 and d["knee_bend"][0] < 0.2
    assert d["torso_lean"][4] > d["torso_lean"][0] + 0.3
    assert d["asymmetry"][5] > 0.05 > d["asymmetry"][1]


def test_descriptors_ignore_heading_and_position(body: BodyModel) -> None:
    poses = varied_bank_vectors(8)[:, NUM_BETAS:].copy()
    joints = body.forward(poses).joints
    joint_rotation(poses, "pelvis", 1, 2.0)  # turn every body 2 rad about the vertical
    turned = body.forward(poses).joints + np.array([0.3, 0.0, -1.0], np.float32)
    np.testing.assert_allclose(pose_descriptors(turned), pose_descriptors(joints), atol=1e-4)


# --- the reactive encoder ----------------------------------------------------------------------------------------

def test_encoder_name(retriever: ReactiveRetriever) -> None:
    assert retriever.encoder_name == "reactive"


def test_window_sound_tells_the_sections_apart(song, retriever: ReactiveRetriever) -> None:
    windows, _, centres = song
    quiet, loud = section_masks(centres)
    soft, hard = window_sound(windows[quiet][0], retriever.config), window_sound(windows[loud][-1], retriever.config)
    assert hard.level_db > soft.level_db + 10
    assert hard.centroid_hz > 2 * soft.centroid_hz
    assert hard.onsets_per_s > 2 * soft.onsets_per_s
    assert soft.bass_share > hard.bass_share


def test_loud_bright_busy_music_opens_the_pose(picks, song, bank_joints: np.ndarray) -> None:
    _, _, centres = song
    quiet, loud = section_masks(centres)
    descriptors = pose_descriptors(bank_joints)
    z = (descriptors - descriptors.mean(axis=0)) / descriptors.std(axis=0)
    top = picks.indices[:, 0]
    for name in OPEN:
        assert z[top[loud], column(name)].mean() > z[top[quiet], column(name)].mean() + 0.5, name
    assert descriptors[top[loud], column("arm_height")].mean() > descriptors[top[quiet], column("arm_height")].mean()


def test_consecutive_picks_vary(picks, retriever: ReactiveRetriever) -> None:
    top = picks.indices[:, 0]
    n = retriever.config.novelty_window
    assert all(top[i] not in top[max(0, i - n) : i] for i in range(len(top)))


def test_continuity_keeps_jumps_smaller_than_random(picks, bank_joints: np.ndarray) -> None:
    relative = bank_joints - bank_joints[:, :1]
    top = picks.indices[:, 0]
    jump = np.linalg.norm(relative[top[1:]] - relative[top[:-1]], axis=-1).mean()
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, len(relative), (2, 2000))
    random_jump = np.linalg.norm(relative[a] - relative[b], axis=-1).mean()
    assert jump < 0.8 * random_jump


def test_ranking_is_deterministic_and_sequential(picks, song, bank: PoseBank, body: BodyModel) -> None:
    """A fresh retriever, fed the same windows in two calls, gives the same ranking, scores and all."""
    windows, phase, _ = song
    fresh = ReactiveRetriever(bank, body)
    half = len(windows) // 2
    parts = [fresh.rank(windows[:half], phase[:half], 5), fresh.rank(windows[half:], phase[half:], 5)]
    np.testing.assert_array_equal(np.vstack([p.indices for p in parts]), picks.indices)
    np.testing.assert_array_equal(np.vstack([p.scores for p in parts]), picks.scores)
    fresh.reset()
    again = fresh.rank(windows[:4], phase[:4], 5)
    np.testing.assert_array_equal(again.indices, picks.indices[:4])


def test_top_k_is_ranked(picks, song) -> None:
    windows, _, _ = song
    assert picks.indices.shape == picks.scores.shape == (len(windows), 5)
    assert picks.indices.dtype == np.int64 and picks.scores.dtype == np.float32
    assert np.all(np.diff(picks.scores, axis=1) <= 0)
    assert all(len(set(row)) == 5 for row in picks.indices)


def test_downbeat_closeness() -> None:
    assert [downbeat_closeness(p, 4) for p in (0.0, 0.25, 0.5, 1.0, 3.75, 4.0)] == [1.0, 0.5, 0.0, 0.0, 0.5, 1.0]


def test_config_rejects_unknown_descriptors(bank: PoseBank, body: BodyModel) -> None:
    with pytest.raises(ValueError, match="unknown descriptors"):
        ReactiveRetriever(bank, body, config=ReactiveConfig(energy_direction={"wingspan": 1.0}))
