"""Body models: the bundled CC0 body moves like SMPL; SMPL pickles load safely without chumpy."""

from __future__ import annotations

import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from common.errors import InputError
from pose_db.body import JOINT_NAMES, SMPL_PARENTS, BodyModel, load_body
from pose_db.body import smpl_pickle
from pose_db.body.default_body import DEFAULT_BODY_PATH, default_body_path

J = {name: i for i, name in enumerate(JOINT_NAMES)}


def pose_with(**rotations: tuple[float, float, float]) -> np.ndarray:
    """A (1,72) SMPL pose: zero except the named joints' axis-angle rotations (radians)."""
    pose = np.zeros((1, 72), np.float32)
    for name, axis_angle in rotations.items():
        pose[0, 3 * J[name] : 3 * J[name] + 3] = axis_angle
    return pose


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body(DEFAULT_BODY_PATH)


@pytest.fixture(scope="module")
def rest(body: BodyModel):
    return body.forward(np.zeros((1, 72), np.float32))


def test_default_body_file_is_small_cc0_smpl_layout() -> None:
    assert DEFAULT_BODY_PATH.stat().st_size < 4e6
    with np.load(DEFAULT_BODY_PATH) as data:
        assert str(data["licence"]) == "CC0-1.0"
        assert tuple(data["joint_names"]) == JOINT_NAMES
        assert data["shapedirs"].shape[1:] == (3, 10) and data["shapedirs"].dtype == np.float32
        assert not data["posedirs"].any()
        assert tuple(data["kintree_table"][0]) == SMPL_PARENTS


def test_zero_pose_reproduces_the_template(body: BodyModel, rest) -> None:
    with np.load(DEFAULT_BODY_PATH) as data:
        template, regressor = data["v_template"], data["J_regressor"]
    assert body.name == "dancepose-cc0" and body.parents == SMPL_PARENTS
    assert rest.vertices.shape == (1, len(template), 3) and rest.vertices.dtype == np.float32
    assert body.faces.shape[1] == 3 and body.faces.max() < len(template)
    np.testing.assert_allclose(rest.vertices[0], template, atol=1e-6)
    np.testing.assert_allclose(rest.joints[0], regressor @ template, atol=1e-5)


def test_rest_pose_is_an_smpl_t_pose(rest) -> None:
    """Metres, Y up, arms along +-X (left at +X), legs hanging, about 1.5-2 m tall."""
    joints, vertices = rest.joints[0], rest.vertices[0]
    assert 1.5 < np.ptp(vertices[:, 1]) < 2.0
    assert joints[J["L_wrist"], 0] > 0.5 and joints[J["R_wrist"], 0] < -0.5
    assert abs(joints[J["L_wrist"], 1] - joints[J["L_shoulder"], 1]) < 0.03
    assert joints[J["head"], 1] > joints[J["neck"], 1] > joints[J["pelvis"], 1] > joints[J["L_knee"], 1]
    assert abs(joints[J["L_ankle"], 0] - joints[J["L_hip"], 0]) < 0.03
    assert joints[J["L_foot"], 2] > joints[J["L_ankle"], 2] + 0.05  # toes point forward (+Z)


def test_left_arm_raises_about_the_forward_axis(body: BodyModel, rest) -> None:
    out = body.forward(pose_with(L_shoulder=(0.0, 0.0, 1.2)))
    rise = out.joints[0, J["L_wrist"], 1] - rest.joints[0, J["L_wrist"], 1]
    assert rise > 0.35
    np.testing.assert_allclose(out.joints[0, J["R_wrist"]], rest.joints[0, J["R_wrist"]], atol=1e-5)


def test_right_knee_bends_backwards_and_up(body: BodyModel, rest) -> None:
    out = body.forward(pose_with(R_knee=(1.2, 0.0, 0.0)))
    moved = out.joints[0, J["R_ankle"]] - rest.joints[0, J["R_ankle"]]
    assert moved[2] < -0.2 and moved[1] > 0.15


def test_head_turns_the_face_sideways(body: BodyModel, rest) -> None:
    head = rest.joints[0, J["head"]]
    near_head = np.linalg.norm(rest.vertices[0] - head, axis=1) < 0.15
    nose = np.flatnonzero(near_head)[np.argmax(rest.vertices[0, near_head, 2])]
    out = body.forward(pose_with(neck=(0.0, 0.4, 0.0), head=(0.0, 0.4, 0.0)))
    assert out.vertices[0, nose, 0] - rest.vertices[0, nose, 0] > 0.05  # +Y turns the face toward the left (+X)


def test_batch_and_betas_change_height_and_girth(body: BodyModel, rest) -> None:
    betas = np.zeros((3, 10), np.float32)
    betas[1, 0] = 2.0
    betas[2, 1] = 2.0
    out = body.forward(np.zeros((3, 72), np.float32), betas)
    assert out.vertices.shape[0] == 3 and out.joints.shape == (3, 24, 3)
    np.testing.assert_allclose(out.vertices[0], rest.vertices[0], atol=1e-6)
    height = np.ptp(out.vertices[:, :, 1], axis=1)
    assert height[1] - height[0] > 0.08
    waist = np.abs(rest.vertices[0, :, 1] - rest.joints[0, J["spine2"], 1]) < 0.03
    waist &= np.abs(rest.vertices[0, :, 0]) < 0.2
    girth = np.linalg.norm(out.vertices[:, waist][:, :, [0, 2]] - out.joints[:, None, J["spine2"]][:, :, [0, 2]], axis=2).mean(1)
    assert girth[2] > 1.08 * girth[0]


def test_default_body_path_prefers_an_official_smpl_file(tmp_path: Path) -> None:
    assert default_body_path(tmp_path) == DEFAULT_BODY_PATH
    (tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl").write_bytes(b"")
    assert default_body_path(tmp_path).name == "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(b"")
    assert default_body_path(tmp_path).name == "SMPL_NEUTRAL.pkl"


def test_bad_body_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_body(tmp_path / "missing.npz")
    np.savez(tmp_path / "partial.npz", v_template=np.zeros((5, 3)))
    with pytest.raises(InputError, match="missing shapedirs"):
        load_body(tmp_path / "partial.npz")
    (tmp_path / "model.obj").write_text("v 0 0 0\n")
    with pytest.raises(InputError, match=r"\.npz .* \.pkl"):
        load_body(tmp_path / "model.obj")


# ---- official SMPL pickles, imitated: chumpy objects, a scipy sparse regressor, protocol 2 ----


class Ch:
    """Imitates chumpy.ch.Ch for pickling: the value lives in ``x`` (plus chumpy's bookkeeping)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._dirty_vars = set()


class Select:
    """Imitates a chumpy reordering object that does not carry a value."""


@pytest.fixture
def fake_chumpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register Ch / Select under chumpy's module names so pickle writes ``chumpy.ch.Ch`` like the real files."""
    for module_name, cls in (("chumpy.ch", Ch), ("chumpy.reordering", Select)):
        module = types.ModuleType(module_name)
        setattr(module, cls.__name__, cls)
        monkeypatch.setattr(cls, "__module__", module_name)
        monkeypatch.setitem(sys.modules, module_name, module)
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))


def tiny_smpl(n_vertices: int = 40, seed: int = 0) -> dict[str, object]:
    """An SMPL-like dict with chumpy values and a csc J_regressor (random but valid geometry)."""
    rng = np.random.default_rng(seed)
    weights = rng.random((n_vertices, 24))
    regressor = rng.random((24, n_vertices)) * (rng.random((24, n_vertices)) < 0.3)
    regressor[:, 0] += 1e-3
    return {
        "v_template": Ch(rng.normal(size=(n_vertices, 3))),
        "shapedirs": Ch(rng.normal(scale=0.01, size=(n_vertices, 3, 10))),
        "posedirs": rng.normal(scale=0.01, size=(n_vertices, 3, 207)),
        "J_regressor": scipy.sparse.csc_matrix(regressor / regressor.sum(1, keepdims=True)),
        "weights": Ch(weights / weights.sum(1, keepdims=True)),
        "kintree_table": np.array([[4294967295, *SMPL_PARENTS[1:]], range(24)], dtype=np.int64),
        "f": rng.integers(0, n_vertices, size=(60, 3)).astype(np.uint32),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(smpl_pickle, "CACHE_DIR", tmp_path / "cache")
    return tmp_path / "cache"


def test_smpl_pickle_with_chumpy_objects_loads_and_is_cached(fake_chumpy, cache_dir: Path, tmp_path: Path) -> None:
    model = tiny_smpl()
    path = tmp_path / "SMPL_FEMALE.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    assert b"chumpy.ch" in path.read_bytes()
    body = load_body(path)
    assert body.name == "smpl:SMPL_FEMALE.pkl"
    out = body.forward(np.zeros((2, 72), np.float32))
    np.testing.assert_allclose(out.vertices[0], model["v_template"].x, atol=1e-5)
    np.testing.assert_allclose(out.joints[0], model["J_regressor"] @ model["v_template"].x, atol=1e-5)
    assert len(list(cache_dir.glob("SMPL_FEMALE-*.npz"))) == 1
    assert load_body(path).name == "smpl:SMPL_FEMALE.pkl"  # second load from the cache


def test_chumpy_object_without_value_is_an_input_error(fake_chumpy, cache_dir: Path, tmp_path: Path) -> None:
    model = tiny_smpl()
    model["shapedirs"] = Select()
    path = tmp_path / "odd.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    with pytest.raises(InputError, match="unsupported chumpy object chumpy.reordering.Select"):
        load_body(path)


class Exploit:
    """Unpickling this runs a shell command (when unpickled by a plain pickle.load)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running_it(cache_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps({"v_template": Exploit(marker)}, protocol=2))
    with pytest.raises(InputError, match=r"refusing to load .*unexpected global (posix|os)\.system"):
        load_body(path)
    assert not marker.exists()
    assert not cache_dir.exists()


def test_rest_joints_and_mesh_match_forward_at_the_zero_pose(body: BodyModel) -> None:
    """The numpy rest pose (what the renderer and the motion use, without torch) is smplx's zero pose, any shape."""
    betas = np.random.default_rng(3).normal(size=(2, 10)).astype(np.float32)
    out = body.forward(np.zeros((2, 72), np.float32), betas)
    for shape, joints, vertices in zip(betas, out.joints, out.vertices):
        np.testing.assert_allclose(body.rest_joints(shape), joints, atol=1e-5)
        np.testing.assert_allclose(body.rest_mesh(shape).vertices, vertices, atol=1e-5)
