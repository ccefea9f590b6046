"""Importers and `bank build` / `bank info` on inputs generated in the real layouts: the reference's CLIFF database,
CLIFF demo outputs and AIST++ motion pickles (including a malicious pickle that must never run)."""

from __future__ import annotations

import argparse
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from natsort import natsorted
from PIL import Image
from scipy.spatial.transform import Rotation

from common.errors import InputError
from pose_db.bank import PoseBank
from pose_db.cli import add_bank_commands
from pose_db.importers.aist import sample_frames
from pose_db.rotations import axis_angle_to_rotmat, rotation_error, rotmat_to_axis_angle

CLIFF_FILES = {
    "train": ["img_10.npz", "img_2.npz", "img_1.npz", "clip.v2_3.npz"],
    "val": ["b_100.npz", "b_20.npz"],
    "test": ["z_9.npz"],
}


def _bank_cli(*argv: str | Path) -> int:
    """Run ``bank ...`` the way main.py wires it."""
    parser = argparse.ArgumentParser(prog="dancepose")
    add_bank_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args([str(a) for a in argv])
    return args.run(args)


def _vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=82).astype(np.float32)


@pytest.fixture()
def cliff_root(tmp_path) -> Path:
    """The reference's layout; entry ``seed`` = position in train+val+test order of natsorted names."""
    root = tmp_path / "cliff"
    (root / "image_database").mkdir(parents=True)
    order = [(split, name) for split, names in CLIFF_FILES.items() for name in natsorted(names)]
    for seed, (split, name) in enumerate(order):
        folder = root / "CLIFF_output" / split / "npz"
        folder.mkdir(parents=True, exist_ok=True)
        vector = _vector(seed)
        np.savez(folder / name, poseshape_82=vector if seed % 2 else vector[None])
        if seed != 2:
            Image.new("RGB", (4, 4)).save(root / "image_database" / f"{name.split('.')[0]}.png")
    (root / "CLIFF_output" / "train" / "npz" / "notes.txt").write_text("not an archive")
    return root


def test_cliff_reference_order_images_and_metadata(cliff_root, tmp_path, capsys):
    assert _bank_cli("bank", "build", "--from", "cliff-reference", cliff_root, "--out", tmp_path / "bank") == 0
    assert "7 poses from 3 sources, 6 with images" in capsys.readouterr().out
    bank = PoseBank.open(tmp_path / "bank")
    np.testing.assert_array_equal(bank.vectors, np.stack([_vector(i) for i in range(7)]))
    assert [bank.name(i) for i in range(7)] == ["clip.v2_3", "img_1", "img_2", "img_10", "b_20", "b_100", "z_9"]
    assert [bank.source(i) for i in range(3, 6)] == ["CLIFF_output/train", "CLIFF_output/val", "CLIFF_output/val"]
    assert bank.image_path(0) == bank.root / "images" / "0" / "clip.png"
    assert bank.image_path(2) is None and bank.frame_id(0) == -1
    assert bank.header["created"]["splits"] == {"train": 4, "val": 2, "test": 1}
    assert _bank_cli("bank", "info", tmp_path / "bank") == 0
    info = capsys.readouterr().out
    assert "entries: 7 x 82" in info and "CLIFF_output/train: 4" in info
    assert "6 of 7 entries have an image path; 6 of those files exist" in info


def _save_object_array(path: Path) -> None:
    np.savez(path, poseshape_82=np.array([{"x": 1}], dtype=object))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: np.savez(f, other=np.zeros(82)), r"no 'poseshape_82' array \(it has: other\)"),
        (lambda f: np.savez(f, poseshape_82=np.ones(72)), r"shape \(72,\), expected \(82,\) or \(1, 82\)"),
        (lambda f: np.savez(f, poseshape_82=np.full(82, np.nan)), "NaN"),
        (lambda f: np.savez(f, poseshape_82=np.zeros(82)), "all zeros"),
        (lambda f: f.write_bytes(b"PK\x03\x04 truncated"), "not a readable .npz archive"),
        (_save_object_array, "holds pickled Python objects, which are refused"),
    ],
)
def test_cliff_reference_bad_archive_is_named(cliff_root, tmp_path, damage, message):
    bad = cliff_root / "CLIFF_output" / "val" / "npz" / "b_20.npz"
    damage(bad)
    with pytest.raises(InputError, match=message) as caught:
        _bank_cli("bank", "build", "--from", "cliff-reference", cliff_root, "--out", tmp_path / "bank")
    assert caught.value.path == str(bad)
    assert not (tmp_path / "bank").exists()


def test_cliff_reference_needs_the_layout(tmp_path):
    with pytest.raises(InputError, match="no CLIFF_output"):
        _bank_cli("bank", "build", "--from", "cliff-reference", tmp_path, "--out", tmp_path / "bank")


def test_cliff_demo_axis_angle_and_rotation_matrices(tmp_path):
    rng = np.random.default_rng(11)
    poses = Rotation.random(2 * 24, random_state=12).as_rotvec().reshape(2, 72).astype(np.float32)
    betas = rng.normal(size=(2, 10)).astype(np.float32)
    (tmp_path / "frames").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "frames" / "000120.jpg")
    names = np.array(["frames/000120.jpg", "frames/missing_7.jpg"])
    np.savez(tmp_path / "aa.npz", pose=poses, shape=betas, imgname=names)
    matrices = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(2, 24, 3, 3)
    np.savez(tmp_path / "rot.npz", pose=matrices, shape=betas, imgname=names)
    assert _bank_cli("bank", "build", "--from", "cliff-demo", tmp_path / "aa.npz", tmp_path / "rot.npz",
                     "--out", tmp_path / "bank") == 0
    bank = PoseBank.open(tmp_path / "bank")
    expected = np.hstack([betas, poses])
    np.testing.assert_array_equal(bank.vectors[:2], expected)
    np.testing.assert_allclose(bank.vectors[2:], expected, atol=1e-5)
    assert [bank.source(i) for i in range(4)] == ["aa.npz", "aa.npz", "rot.npz", "rot.npz"]
    assert [bank.frame_id(i) for i in range(4)] == [120, 7, 120, 7]
    assert bank.name(0) == "000120" and bank.image_path(0) == bank.root / "images" / "0" / "000120.jpg"
    assert bank.image_path(1) is None


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"pose": np.full((1, 24, 3, 3), 2.0)}, r"pose\[0, 0\] is not a rotation matrix"),
        ({"pose": np.zeros((1, 70))}, r"pose has shape \(1, 70\)"),
        ({"shape": np.zeros((1, 9))}, r"shape has shape \(1, 9\), expected \(1, 10\)"),
        ({"imgname": np.array([1])}, "imgname has shape"),
        ({"pose": np.zeros((0, 72))}, "no detections"),
    ],
)
def test_cliff_demo_bad_file_is_named(tmp_path, fields, message):
    file = tmp_path / "demo.npz"
    np.savez(file, **({"pose": np.ones((1, 72)), "shape": np.ones((1, 10)), "imgname": np.array(["a.jpg"])} | fields))
    with pytest.raises(InputError, match=message) as caught:
        _bank_cli("bank", "build", "--from", "cliff-demo", file, "--out", tmp_path / "bank")
    assert caught.value.path == str(file)


def test_rotation_matrices_to_axis_angle():
    quarter_turn_z = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(rotmat_to_axis_angle(quarter_turn_z), [0, 0, np.pi / 2], atol=1e-12)
    vectors = Rotation.random(50, random_state=1).as_rotvec().reshape(5, 10, 3)
    matrices = axis_angle_to_rotmat(vectors)
    assert matrices.shape == (5, 10, 3, 3) and rotation_error(matrices).max() < 1e-12
    np.testing.assert_allclose(rotmat_to_axis_angle(matrices), vectors, atol=1e-10)
    np.testing.assert_allclose(matrices @ vectors[..., None], vectors[..., None], atol=1e-12)  # the axis is fixed
    assert rotmat_to_axis_angle(np.zeros((0, 24, 3, 3))).shape == (0, 24, 3)


def _motion(frames: int, seed: int, joints_shape: tuple[int, ...] = (72,)) -> dict:
    poses = np.random.default_rng(seed).normal(scale=0.3, size=(frames, *joints_shape))
    return {"smpl_loss": np.float64(1.5), "smpl_poses": poses, "smpl_scaling": np.array([93.0]),
            "smpl_trans": np.zeros((frames, 3), np.float32)}


@pytest.fixture()
def motions_dir(tmp_path) -> Path:
    folder = tmp_path / "motions"
    folder.mkdir()
    for protocol, (name, frames, shape) in zip(
        (0, 2, 4, 5), [("gBR_ch10", 9, (72,)), ("gBR_ch2", 7, (24, 3)), ("gHO_ch1", 4, (72,)), ("gJB_ch1", 3, (72,))]
    ):
        (folder / f"{name}.pkl").write_bytes(pickle.dumps(_motion(frames, len(name) + frames, shape), protocol))
    (folder / "readme.txt").write_text("not a motion")
    return folder


def test_aist_motions_sampled_in_natsort_order(motions_dir, tmp_path):
    assert _bank_cli("bank", "build", "--from", "aist", motions_dir, "--fps", "30", "--out", tmp_path / "bank") == 0
    bank = PoseBank.open(tmp_path / "bank")
    order = [("gBR_ch2", 7, (24, 3)), ("gBR_ch10", 9, (72,)), ("gHO_ch1", 4, (72,)), ("gJB_ch1", 3, (72,))]
    expected_names, expected = [], []
    for name, frames, shape in order:
        poses = _motion(frames, len(name) + frames, shape)["smpl_poses"].reshape(frames, 72)
        kept = np.arange(0, frames, 2)
        expected_names += [f"{name}_f{f:05d}" for f in kept]
        expected.append(np.hstack([np.zeros((len(kept), 10)), poses[kept]]))
    assert [bank.name(i) for i in range(len(bank))] == expected_names
    np.testing.assert_array_equal(bank.vectors, np.vstack(expected).astype(np.float32))
    assert bank.sources == [name for name, _, _ in order]
    assert [bank.frame_id(i) for i in range(4)] == [0, 2, 4, 6]
    assert bank.header["created"]["fps"] == 30.0 and not bank.has_images


@pytest.mark.parametrize("fps, frames", [(60, list(range(5))), (20, [0, 3]), (7, [0]), (24, [0, 2])])
def test_aist_sampling(fps, frames):
    assert sample_frames(5, fps).tolist() == frames


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Eval:
    def __reduce__(self):
        return eval, ("1 + 1",)


@pytest.mark.parametrize("payload, named", [("exploit", "system"), ("eval", "builtins.eval")])
def test_aist_refuses_pickles_that_run_code(motions_dir, tmp_path, payload, named):
    marker = tmp_path / "pwned"
    evil = {"smpl_poses": np.zeros((2, 72)), "x": _Exploit(marker) if payload == "exploit" else _Eval()}
    bad = motions_dir / "gZZ_evil.pkl"
    bad.write_bytes(pickle.dumps(evil))
    with pytest.raises(InputError, match=f"refused: the pickle asks for .*{named}") as caught:
        _bank_cli("bank", "build", "--from", "aist", motions_dir, "--fps", "10", "--out", tmp_path / "bank")
    assert caught.value.path == str(bad)
    assert not marker.exists() and not (tmp_path / "bank").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (pickle.dumps([1, 2]), "holds a list"),
        (pickle.dumps({"smpl_trans": np.zeros((2, 3))}), "no 'smpl_poses' array"),
        (pickle.dumps({"smpl_poses": np.zeros((2, 70))}), r"smpl_poses has shape \(2, 70\)"),
        (pickle.dumps({"smpl_poses": np.full((2, 72), np.inf)}), "NaN or infinite"),
        (pickle.dumps({"smpl_poses": np.zeros((2, 72))})[:40], "not a readable pickle"),
    ],
)
def test_aist_bad_motion_is_named(motions_dir, tmp_path, content, message):
    bad = motions_dir / "gZZ_bad.pkl"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        _bank_cli("bank", "build", "--from", "aist", motions_dir, "--fps", "10", "--out", tmp_path / "bank")
    assert caught.value.path == str(bad)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--from", "aist", "{motions}"], "--from aist needs --fps"),
        (["--from", "aist", "{motions}", "--fps", "120"], r"--fps must be in \(0, 60\]"),
        (["--from", "cliff-reference", "{motions}", "--fps", "10"], "--fps applies only to --from aist"),
        (["--from", "cliff-reference", "{motions}", "{motions}"], "takes one folder, got 2"),
        (["--from", "cliff-demo", "{motions}/none.npz"], "none.npz: no such file"),
    ],
)
def test_bank_build_option_errors(motions_dir, tmp_path, argv, message):
    args = [a.format(motions=motions_dir) for a in argv]
    with pytest.raises(InputError, match=message):
        _bank_cli("bank", "build", *args, "--out", tmp_path / "bank")
