"""Property: every loader a user can point at a file turns random or mutated bytes into one :class:`InputError` line
(or a successful load), never another exception, and writes nothing (issue 10).

Each target starts from a valid seed file and feeds the loader either random bytes or the seed with a few mutations
(flipped, zeroed, inserted or random bytes, truncation). CI runs a few examples per loader
(``FUZZ_EXAMPLES``, deadline off); ``bench/bench_fuzz.py`` runs many more through the same :data:`TARGETS`.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import InputError

FUZZ_EXAMPLES = 20
"""Examples per loader in CI (the benchmark runs thousands)."""


@dataclass(frozen=True)
class Target:
    """A loader to fuzz: ``seed(folder)`` writes a valid input and returns the file to mutate and the path to load
    (the same file, or the folder holding it); ``load(path)`` reads it the way the product does."""

    name: str
    seed: Callable[[Path], tuple[Path, Path]]
    load: Callable[[Path], object]


# -- seeds ------------------------------------------------------------------------------------------------------------
def _audio_seed(folder: Path) -> tuple[Path, Path]:
    t = np.arange(int(2.5 * 8000)) / 8000
    path = folder / "song.flac"
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    return path, path


def _bank_seed(folder: Path, file: str) -> tuple[Path, Path]:
    from pose_db.bank import write_bank

    vectors = np.random.default_rng(0).normal(0, 0.3, (4, 82)).astype(np.float32)
    image = folder / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    root = write_bank(folder / "bank", vectors, names=list("abcd"), sources=["s"] * 4, frame_ids=np.arange(4),
                      image_paths=[image, None, None, None])
    return root / file, root


def _load_bank(root: Path) -> object:
    from pose_db.bank import PoseBank

    bank = PoseBank.open(root)
    bank.unit_vectors()
    bank.source_counts()
    return [(bank.name(i), bank.source(i), bank.frame_id(i), bank.image_path(i)) for i in range(len(bank))]


def _tiny_body() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    v = 30
    weights = rng.random((v, 24)).astype(np.float32)
    return {
        "v_template": rng.normal(0, 0.3, (v, 3)).astype(np.float32),
        "shapedirs": rng.normal(0, 0.01, (v, 3, 10)).astype(np.float32),
        "posedirs": np.zeros((v, 3, 207), np.float32),
        "J_regressor": np.full((24, v), 1 / v, np.float32),
        "weights": weights / weights.sum(axis=1, keepdims=True),
        "kintree_table": np.array([[-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21],
                                   np.arange(24)], np.int64),
        "f": rng.integers(0, v, (20, 3)).astype(np.int64),
    }


def _body_npz_seed(folder: Path) -> tuple[Path, Path]:
    path = folder / "body.npz"
    np.savez(path, **_tiny_body())
    return path, path


def _body_pkl_seed(folder: Path) -> tuple[Path, Path]:
    path = folder / "SMPL_TEST.pkl"
    path.write_bytes(pickle.dumps(_tiny_body(), protocol=2))
    return path, path


def _load_body(path: Path) -> object:
    from pose_db.body import load_body

    return load_body(path).forward(np.zeros((1, 72), np.float32))


def _checkpoint_seed(folder: Path) -> tuple[Path, Path]:
    from model.checkpoint import save_checkpoint
    from model.network import EdsaConfig, EdsaNetwork

    tiny = EdsaConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=1, intermediate_size=64,
                      conv_dim=(8,) * 7, num_conv_pos_embeddings=16, adapter_layers=(0,), adapter_bottleneck=8,
                      step_hidden=8, feature_hidden=16)
    path = folder / "model.chkpt"
    save_checkpoint(EdsaNetwork(tiny), path)
    return path, path


def _load_checkpoint(path: Path) -> object:
    from model.checkpoint import load_model

    return load_model(path)


def _aist_seed(folder: Path) -> tuple[Path, Path]:
    path = folder / "gBR_sBM_cAll_d04_mBR0_ch01.pkl"
    motion = {"smpl_poses": np.random.default_rng(2).normal(0, 0.2, (6, 72)), "smpl_trans": np.zeros((6, 3)),
              "smpl_scaling": np.array([1.0])}
    path.write_bytes(pickle.dumps(motion, protocol=2))
    return path, path


def _load_aist(path: Path) -> object:
    from pose_db.importers.aist import read_poses

    return read_poses(path)


def _cliff_demo_seed(folder: Path) -> tuple[Path, Path]:
    path = folder / "demo.npz"
    rng = np.random.default_rng(3)
    np.savez(path, pose=rng.normal(0, 0.2, (2, 72)).astype(np.float32), shape=rng.normal(0, 1, (2, 10)),
             imgname=np.array(["frames/000001.jpg", "frames/000002.jpg"]))
    return path, path


def _load_cliff_demo(path: Path) -> object:
    from pose_db.importers.cliff_demo import read_demo_file

    return read_demo_file(path)


def _cliff_reference_seed(folder: Path) -> tuple[Path, Path]:
    path = folder / "clip.npz"
    np.savez(path, poseshape_82=np.random.default_rng(4).normal(0, 0.3, (1, 82)).astype(np.float32))
    return path, path


def _load_cliff_reference(path: Path) -> object:
    from pose_db.importers.cliff_reference import read_pose

    return read_pose(path)


def _bvh_seed(folder: Path) -> tuple[Path, Path]:
    from pose_db.mocap.bvh_source import CMU_JOINT_MAP

    names = ["Hips", *sorted(CMU_JOINT_MAP.source_joints() - {"Hips"})]
    text = io.StringIO()
    text.write("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition Zrotation "
               "Yrotation Xrotation\n")
    for depth, name in enumerate(names[1:], 1):
        text.write(f"{'  ' * depth}JOINT {name}\n{'  ' * depth}{{\n{'  ' * depth}  OFFSET 0 1 0\n"
                   f"{'  ' * depth}  CHANNELS 3 Zrotation Yrotation Xrotation\n")
    depth = len(names)
    text.write(f"{'  ' * depth}End Site\n{'  ' * depth}{{\n{'  ' * depth}  OFFSET 0 1 0\n{'  ' * depth}}}\n")
    for d in range(len(names) - 1, -1, -1):
        text.write(f"{'  ' * d}}}\n")
    channels = 6 + 3 * (len(names) - 1)
    rows = np.random.default_rng(5).normal(0, 10, (5, channels))
    text.write(f"MOTION\nFrames: {len(rows)}\nFrame Time: 0.0083333\n")
    text.writelines(" ".join(f"{v:.4f}" for v in row) + "\n" for row in rows)
    path = folder / "01_01.bvh"
    path.write_text(text.getvalue())
    return path, path


def _load_bvh(path: Path) -> object:
    from pose_db.mocap.bvh_source import load_bvh

    return load_bvh(path, name="clip", source="fuzz", target_fps=30)


def _snapshot_config_seed(folder: Path) -> tuple[Path, Path]:
    path = folder / "config.json"
    path.write_text(json.dumps({"model_type": "mert", "hidden_size": 768, "num_hidden_layers": 12}))
    return path, path


def _load_snapshot_config(path: Path) -> object:
    from model.hf_snapshot import read_json

    return read_json(path)


def _openpose_seed(folder: Path) -> tuple[Path, Path]:
    pytest.importorskip("model.dance_revolution.keypoints")
    path = folder / "frame_000000000000_keypoints.json"
    keypoints = np.random.default_rng(6).uniform(0, 500, (25, 3)).round(2).reshape(-1).tolist()
    path.write_text(json.dumps({"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": keypoints}]}))
    return path, path


def _load_openpose(path: Path) -> object:
    keypoints = pytest.importorskip("model.dance_revolution.keypoints")
    return keypoints.read_frame(path)


def _json2d_seed(folder: Path) -> tuple[Path, Path]:
    data = pytest.importorskip("model.dance_revolution.data")
    path = folder / "sample.json"
    rng = np.random.default_rng(7)
    path.write_text(json.dumps({"id": "s", "music_array": rng.normal(size=(3, data.FEATURE_DIM)).round(3).tolist(),
                                "dance_array": rng.uniform(0, 1, (3, 274)).round(3).tolist()}))
    return path, path


def _load_json2d(path: Path) -> object:
    data = pytest.importorskip("model.dance_revolution.data")
    return data.read_json2d_sample(path)


def _load_song(path: Path) -> object:
    from live.audio_file import load_song

    return load_song(path)


TARGETS: tuple[Target, ...] = (
    Target("audio", _audio_seed, _load_song),
    Target("bank.json", lambda f: _bank_seed(f, "bank.json"), _load_bank),
    Target("bank vectors.npy", lambda f: _bank_seed(f, "vectors.npy"), _load_bank),
    Target("bank names_offsets.npy", lambda f: _bank_seed(f, "names_offsets.npy"), _load_bank),
    Target("bank image_paths_utf8.npy", lambda f: _bank_seed(f, "image_paths_utf8.npy"), _load_bank),
    Target("checkpoint", _checkpoint_seed, _load_checkpoint),
    Target("body .npz", _body_npz_seed, _load_body),
    Target("body .pkl", _body_pkl_seed, _load_body),
    Target("AIST++ .pkl", _aist_seed, _load_aist),
    Target("CLIFF demo .npz", _cliff_demo_seed, _load_cliff_demo),
    Target("CLIFF reference .npz", _cliff_reference_seed, _load_cliff_reference),
    Target("BVH", _bvh_seed, _load_bvh),
    Target("MERT config.json", _snapshot_config_seed, _load_snapshot_config),
    Target("OpenPose JSON", _openpose_seed, _load_openpose),
    Target("Dance Revolution sample JSON", _json2d_seed, _load_json2d),
)


# -- mutation -------------------------------------------------------------------------------------------------------
@st.composite
def file_bytes(draw: st.DrawFn, seed: bytes) -> bytes:
    """Random bytes (1 in 4), or ``seed`` with one to four mutations."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=2048))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        op = draw(st.sampled_from(("flip", "zero", "insert", "overwrite", "truncate")))
        if op == "truncate":
            del data[where:]
        elif op == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            length = draw(st.integers(1, 16))
            if op == "flip":
                data[where] ^= draw(st.integers(1, 255))
            elif op == "zero":
                data[where : where + length] = bytes(len(data[where : where + length]))
            else:
                chunk = draw(st.binary(min_size=length, max_size=length))
                data[where : where + length] = chunk[: len(data[where : where + length])]
    return bytes(data)


def check_one(target: Target, seed_folder: Path, payload: bytes) -> str:
    """Load ``payload`` in place of ``target``'s seed file in a fresh copy of the seed; return "loaded" or
    "refused". Fails when the loader raises anything but one-line InputError, or writes anything."""
    work = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        shutil.copytree(seed_folder, work, dirs_exist_ok=True)
        mutated_file, load_path = (work / p.relative_to(seed_folder) for p in _seed_paths(seed_folder))
        mutated_file.write_bytes(payload)
        before = sorted(p.relative_to(work).as_posix() for p in work.rglob("*"))
        try:
            target.load(load_path)
            outcome = "loaded"
        except InputError as err:
            assert "\n" not in str(err) and str(err), f"{target.name}: not one line: {err!r}"
            outcome = "refused"
        after = sorted(p.relative_to(work).as_posix() for p in work.rglob("*"))
        assert before == after, f"{target.name}: the loader wrote {set(after) - set(before)}"
        return outcome
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _seed_paths(seed_folder: Path) -> tuple[Path, Path]:
    recorded = json.loads((seed_folder / ".seed.json").read_text())
    return seed_folder / recorded["file"], seed_folder / recorded["load"]


def make_seed(target: Target, folder: Path) -> Path:
    """Write ``target``'s valid seed into ``folder`` (checked to load) and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    file, load = target.seed(folder)
    (folder / ".seed.json").write_text(json.dumps({"file": file.relative_to(folder).as_posix(),
                                                   "load": load.relative_to(folder).as_posix()}))
    target.load(load)  # the seed itself must load, or mutations prove nothing
    return folder


@pytest.fixture(autouse=True)
def _no_body_cache(tmp_path, monkeypatch):
    """SMPL .pkl loads cache a converted copy; keep it out of the repository's cache during fuzzing."""
    monkeypatch.setattr("pose_db.body.smpl_pickle.CACHE_DIR", tmp_path / "body-cache")


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_random_and_mutated_bytes_give_one_line_or_load(target: Target, tmp_path_factory) -> None:
    seed_folder = make_seed(target, tmp_path_factory.mktemp("seed"))
    seed = _seed_paths(seed_folder)[0].read_bytes()

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(payload=file_bytes(seed))
    def property_holds(payload: bytes) -> None:
        check_one(target, seed_folder, payload)

    property_holds()


def test_bank_info_on_a_damaged_bank_exits_2_with_one_line(tmp_path, capsys) -> None:
    import main

    target = next(t for t in TARGETS if t.name == "bank vectors.npy")
    seed_folder = make_seed(target, tmp_path / "seed")
    vectors = seed_folder / "bank" / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-40])
    assert main.main(["bank", "info", str(seed_folder / "bank")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "vectors.npy" in err
