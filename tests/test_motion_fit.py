"""Fitting SMPL to joint positions (motion/fit.py) and reading joint files and mappings (motion/joint_files.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from common.errors import InputError
from motion.fit import FitConfig, SkeletonFK, fit_markers, fit_sequence
from motion.joint_files import BALLROOM_MAPPING, identity_mapping, load_mapping, mapping_for, read_joint_file
from pose_db.body import JOINT_NAMES, load_body

BALLROOM = Path(__file__).resolve().parents[2] / "shared" / "data" / "ballroom"
BALLROOM_MEAN_ERROR_MM = 15.0
"""Bound on the mean marker error of a ballroom fit (surface markers; measured about 8 mm, docs/MOTION_FITTING.md)."""


@pytest.fixture(scope="module")
def body():
    return load_body()


@pytest.fixture(scope="module")
def skeleton(body) -> SkeletonFK:
    return SkeletonFK.from_body(body)


def known_motion(frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth poses (frames, 72) inside the joint limits, a root path (frames, 3) and betas (10,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / 25.0
    pose = 0.3 * rng.uniform(-1, 1, (1, 72)) * np.sin(2 * np.pi * rng.uniform(0.3, 1.0, (1, 72)) * t)
    pose = pose.reshape(frames, 24, 3)
    for name in ("L_knee", "R_knee"):
        pose[:, JOINT_NAMES.index(name)] = [0.6, 0.0, 0.0] + 0.5 * np.sin(2 * np.pi * t) * [1, 0, 0]
    for name, sign in (("L_elbow", -1), ("R_elbow", 1)):
        pose[:, JOINT_NAMES.index(name)] = sign * (np.array([0.0, 0.8, 0.0]) + 0.5 * np.cos(3 * t) * [0, 1, 0])
    pose[:, 0] = [0.1, 2.5, 0.0] + 0.4 * np.sin(t) * [0, 1, 0]  # heading turns
    transl = np.concatenate([np.sin(t), 0.05 * np.cos(4 * t), 0.5 * t], axis=1)
    return pose.reshape(frames, 72).astype(np.float32), transl.astype(np.float32), rng.normal(0, 1, 10).astype(
        np.float32)


def known_joints(body, frames: int, seed: int = 0) -> np.ndarray:
    """The (frames, 24, 3) joint positions in metres of :func:`known_motion` posed on ``body``."""
    pose, transl, betas = known_motion(frames, seed)
    return body.forward(pose, np.tile(betas, (frames, 1))).joints + transl[:, None]


def test_skeleton_matches_the_body_model_forward(body, skeleton: SkeletonFK) -> None:
    pose, transl, betas = known_motion(12)
    expected = body.forward(pose, np.tile(betas, (12, 1))).joints
    with torch.no_grad():
        joints, _ = skeleton.forward(torch.as_tensor(pose).reshape(12, 24, 3), torch.as_tensor(betas))
    np.testing.assert_allclose(joints.numpy(), expected, atol=1e-5)


def test_fitting_body_joints_recovers_them_within_a_centimetre(body, skeleton: SkeletonFK) -> None:
    observed = known_joints(body, 80)
    exact = FitConfig(fit_offsets=False, polish_iterations=60)  # L-BFGS polish: exact data, millimetre answers
    fit = fit_markers(observed, identity_mapping(), skeleton, fps=25.0, config=exact)
    error = np.linalg.norm(fit.joints - observed, axis=-1)
    assert error.max() < 0.01, f"max joint error {error.max() * 1000:.1f} mm"
    assert fit.pose.shape == (80, 72) and fit.transl.shape == (80, 3) and fit.betas.shape == (10,)
    np.testing.assert_allclose(body.forward(fit.pose, np.tile(fit.betas, (80, 1))).joints + fit.transl[:, None],
                               fit.joints, atol=1e-4)  # the fitted parameters pose the body where it was fitted


def write_joints(path: Path, joints: np.ndarray, names: list[str], fps: float = 25.0) -> Path:
    np.savez(path, joints=joints, joint_names=np.array(names), fps=np.array(fps))
    return path


def one_line_error(call) -> str:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_nan_joints_give_one_line_naming_the_file_and_point(tmp_path: Path) -> None:
    joints = np.zeros((10, 24, 3), np.float32)
    joints[4, 7, 1] = np.nan
    path = write_joints(tmp_path / "bad.npz", joints, list(JOINT_NAMES))
    message = one_line_error(lambda: read_joint_file(path))
    assert str(path) in message and "NaN" in message and "frame 4" in message and "L_ankle" in message


def test_wrong_shapes_give_one_line(tmp_path: Path) -> None:
    path = write_joints(tmp_path / "flat.npz", np.zeros((10, 72), np.float32), list(JOINT_NAMES))
    assert "shape (10, 72)" in one_line_error(lambda: read_joint_file(path))
    path = write_joints(tmp_path / "fewer.npz", np.zeros((10, 23, 3), np.float32), list(JOINT_NAMES))
    assert "expected (T, 24, 3)" in one_line_error(lambda: read_joint_file(path))


def test_unknown_names_in_a_mapping_give_one_line(tmp_path: Path) -> None:
    mapping = {"format": "dancepose-joint-mapping", "version": 1,
               "markers": {"knee": {"joints": {"L_kneecap": 1.0}}}}
    bad_joint = tmp_path / "bad_joint.json"
    bad_joint.write_text(json.dumps(mapping))
    message = one_line_error(lambda: load_mapping(bad_joint))
    assert str(bad_joint) in message and "'L_kneecap'" in message

    mapping["markers"] = {"kneecap": {"joints": {"L_knee": 1.0}}}
    bad_marker = tmp_path / "bad_marker.json"
    bad_marker.write_text(json.dumps(mapping))
    sequence = read_joint_file(write_joints(tmp_path / "ok.npz", np.zeros((5, 2, 3)), ["knee", "ankle"]))
    message = one_line_error(lambda: load_mapping(bad_marker).select(sequence))
    assert str(bad_marker) in message and "'kneecap'" in message and "ok.npz" in message


def test_mapping_defaults_to_identity_for_smpl_names_and_ballroom_otherwise() -> None:
    assert mapping_for(JOINT_NAMES).names == JOINT_NAMES
    assert mapping_for(("head_left", "torso")).path == BALLROOM_MAPPING


@pytest.mark.skipif(not (BALLROOM / "DANCE_W_22.npz").is_file(), reason="../shared/data/ballroom is not here")
def test_a_ballroom_dance_fits_within_the_stated_error(skeleton: SkeletonFK) -> None:
    sequence = read_joint_file(BALLROOM / "DANCE_W_22.npz")
    sequence = type(sequence)(sequence.name, sequence.path, sequence.positions[:400], sequence.names, sequence.fps)
    fit = fit_sequence(sequence, load_mapping(BALLROOM_MAPPING), skeleton)
    mean_mm = float(fit.marker_error_m.mean()) * 1000
    assert mean_mm < BALLROOM_MEAN_ERROR_MM, f"mean marker error {mean_mm:.1f} mm"
    feet_y = fit.joints[:, [JOINT_NAMES.index("L_foot"), JOINT_NAMES.index("R_foot")], 1]
    assert -0.03 < np.percentile(feet_y, 5) < 0.10  # toe joints at floor level (markers sit ~5 cm above them)


def bank_cli(*argv: str | Path) -> int:
    """Run ``bank ...`` the way main.py wires it."""
    import argparse

    from pose_db.cli import add_bank_commands

    parser = argparse.ArgumentParser(prog="dancepose")
    add_bank_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args([str(a) for a in argv])
    return args.run(args)


def test_bank_build_from_joints_writes_a_bank_with_thumbnails(body, tmp_path: Path) -> None:
    from pose_db.bank import PoseBank

    folder = tmp_path / "dances"
    folder.mkdir()
    write_joints(folder / "spin.npz", known_joints(body, 40, seed=3), list(JOINT_NAMES))
    assert bank_cli("bank", "build", "--from", "joints", folder, "--fps", "5", "--out", tmp_path / "bank") == 0
    bank = PoseBank.open(tmp_path / "bank")
    assert 1 <= len(bank) <= 8 and bank.source(0) == "spin"  # 40 frames at 25 fps sampled at 5 fps, deduplicated
    assert all(bank.image_path(i).is_file() for i in range(len(bank)))
    assert bank.header["created"]["importer"] == "joints"
    orient = np.asarray(bank.vectors[:, 10:13])
    assert np.abs(orient[:, 1]).max() < 0.5  # heading removed: the 2.5 rad turn about Y is gone


def test_bank_build_from_joints_names_a_bad_file_before_fitting(tmp_path: Path) -> None:
    folder = tmp_path / "dances"
    folder.mkdir()
    write_joints(folder / "a_good.npz", np.zeros((5, 24, 3)), list(JOINT_NAMES))
    write_joints(folder / "b_bad.npz", np.full((5, 24, 3), np.nan), list(JOINT_NAMES))
    with pytest.raises(InputError, match="b_bad.npz: joints has NaN"):
        bank_cli("bank", "build", "--from", "joints", folder, "--out", tmp_path / "bank")
    assert not (tmp_path / "bank").exists()


def test_load_dances_reads_beats_and_manifest_and_caches_fits(body, tmp_path: Path) -> None:
    from motion.dances import load_dances

    folder = tmp_path / "dances"
    folder.mkdir()
    write_joints(folder / "D_1.npz", known_joints(body, 40, seed=5), list(JOINT_NAMES))
    (folder / "D_1.beats.txt").write_text("0.250\n0.750\n1.250\n")
    (folder / "MANIFEST.tsv").write_text("name\tstyle\tsync_status\nD_1\twaltz\tin-sync\n")
    cache = tmp_path / "cache"
    first = load_dances(folder, cache_dir=cache)[0]
    assert (first.name, first.style, first.sync_status, first.music) == ("D_1", "waltz", "in-sync", None)
    np.testing.assert_allclose(first.beats_s, [0.25, 0.75, 1.25])
    assert len(list(cache.glob("D_1-*.npz"))) == 1
    again = load_dances(folder, cache_dir=cache)[0]  # read back from the cache
    np.testing.assert_array_equal(again.motion.joints, first.motion.joints)
    assert first.clip().joints.shape == (40, 24, 3) and first.clip().fps == 25.0
