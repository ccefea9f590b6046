"""The pose bank format: round trip, memory mapping, image paths, atomic writes and every kind of broken bank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from common.errors import InputError
from pose_db.bank import PoseBank, write_bank


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 82)).astype(np.float32)


def _write(path: Path, n: int = 6, vectors: np.ndarray | None = None, **fields) -> Path:
    base = {"names": [f"pose_{i}" for i in range(n)], "sources": ["a"] * (n // 2) + ["b"] * (n - n // 2),
            "frame_ids": np.arange(n) * 10}
    return write_bank(path, _vectors(n) if vectors is None else vectors, **(base | fields))


def test_round_trip(tmp_path):
    vectors = _vectors(5)
    names = ["zero", "ünï", "two", "", "four"]
    write_bank(tmp_path / "bank", vectors.astype(np.float64), names=names, sources=["s1", "s2", "s1", "s3", "s2"],
               frame_ids=[3, -1, 7, 8, 9], info={"importer": "test", "inputs": ["x"]})
    bank = PoseBank.open(tmp_path / "bank")
    assert len(bank) == 5 and bank.vectors.dtype == np.float32
    np.testing.assert_array_equal(bank.vectors, vectors)
    assert [bank.name(i) for i in range(5)] == names
    assert [bank.source(i) for i in range(5)] == ["s1", "s2", "s1", "s3", "s2"]
    assert bank.sources == ["s1", "s2", "s3"] and bank.source_counts().tolist() == [2, 2, 1]
    assert [bank.frame_id(i) for i in range(5)] == [3, -1, 7, 8, 9]
    assert bank.image_path(0) is None and not bank.has_images
    header = json.loads((tmp_path / "bank" / "bank.json").read_text())
    assert header["format"] == "dancepose-pose-bank" and header["version"] == 1
    assert header["count"] == 5 and header["dim"] == 82 and header["has_images"] is False
    assert header["created"]["importer"] == "test" and "utc" in header["created"]
    with pytest.raises(IndexError):
        bank.name(5)


def test_arrays_are_memory_mapped(tmp_path):
    bank = PoseBank.open(_write(tmp_path / "bank"))
    assert isinstance(bank.vectors, np.memmap)
    assert not bank.vectors.flags.writeable


def test_unit_vectors_are_row_normalised_and_cached(tmp_path):
    vectors = _vectors(7)
    bank = PoseBank.open(_write(tmp_path / "bank", n=7, vectors=vectors))
    unit = bank.unit_vectors()
    assert unit.dtype == np.float32 and unit is bank.unit_vectors()
    np.testing.assert_allclose(unit, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), atol=1e-7)


def test_image_paths_inside_the_bank_are_relative(tmp_path):
    root = tmp_path / "bank"
    outside = tmp_path / "photos" / "b.PNG"
    outside.parent.mkdir()
    outside.write_bytes(b"picture")
    _write(root, n=3, image_paths=[root / "images" / "a.png", outside, None])
    header = json.loads((root / "bank.json").read_text())
    assert header["has_images"] and header["image_count"] == 2
    blob = np.load(root / "image_paths_utf8.npy").tobytes().decode()
    assert blob == "images/a.png" + "images/1/b.PNG"  # an image from outside is copied in
    moved = tmp_path / "moved"
    root.rename(moved)
    bank = PoseBank.open(moved)
    assert bank.image_path(0) == moved.resolve() / "images" / "a.png"
    assert bank.image_path(1).read_bytes() == b"picture" and bank.image_path(2) is None


def test_write_replaces_a_bank_atomically_and_refuses_foreign_folders(tmp_path):
    root = _write(tmp_path / "bank", n=4)
    _write(root, n=3)
    assert len(PoseBank.open(root)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank"]
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a pose bank; refusing"):
        _write(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pose_db.bank._save_strings", broken)
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path / "bank")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "vectors, fields, message",
    [
        (_vectors(4)[:, :80], {}, r"shape \(4, 80\), expected \(N, 82\)"),
        (np.zeros((0, 82)), {}, "N >= 1"),
        (np.where(np.arange(82) == 5, np.nan, _vectors(4)), {}, "row 0 has NaN"),
        (np.vstack([_vectors(3), [np.inf] * 82]), {}, "row 3 has NaN or infinite"),
        (np.vstack([_vectors(3), np.zeros(82)]), {}, "row 3 is all zeros"),
        (_vectors(4), {"names": ["a"]}, "names has 1 entries for 4 vectors"),
        (_vectors(4), {"frame_ids": [0.5, 1, 2, 3]}, "frame_ids must be 4 integers"),
    ],
)
def test_write_refuses_bad_data(tmp_path, vectors, fields, message):
    base = {"names": list("abcd"), "sources": ["s"] * 4, "frame_ids": range(4)}
    with pytest.raises(InputError, match=message):
        write_bank(tmp_path / "bank", vectors, **(base | fields))
    assert list(tmp_path.iterdir()) == []


def _break_dims(root: Path) -> None:
    np.save(root / "vectors.npy", _vectors(6)[:, :80])


def _break_count(root: Path) -> None:
    np.save(root / "vectors.npy", _vectors(8))


def _break_dtype(root: Path) -> None:
    np.save(root / "vectors.npy", _vectors(6).astype(np.float64))


def _truncate(root: Path) -> None:
    data = (root / "vectors.npy").read_bytes()
    (root / "vectors.npy").write_bytes(data[: len(data) // 2])


def _garbage(root: Path) -> None:
    (root / "frame_ids.npy").write_bytes(b"not an array")


def _remove_names(root: Path) -> None:
    (root / "names_utf8.npy").unlink()


def _header_dim(root: Path) -> None:
    header = json.loads((root / "bank.json").read_text())
    (root / "bank.json").write_text(json.dumps(header | {"dim": 72}))


def _header_json(root: Path) -> None:
    (root / "bank.json").write_text("{broken")


@pytest.mark.parametrize(
    "damage, file, message",
    [
        (_break_dims, "vectors.npy", r"shape \(6, 80\), expected \(6, 82\)"),
        (_break_count, "vectors.npy", r"shape \(8, 82\), expected \(6, 82\) \(bank.json count 6"),
        (_break_dtype, "vectors.npy", "dtype float64, expected float32"),
        (_truncate, "vectors.npy", "truncated"),
        (_garbage, "frame_ids.npy", "truncated or not a .npy array"),
        (_remove_names, "names_utf8.npy", "missing"),
        (lambda root: (root / "vectors.npy").unlink(), "vectors.npy", "missing"),
        (lambda root: (root / "bank.json").unlink(), "bank.json", "not a pose bank folder"),
        (_header_dim, "bank.json", "dim is 72, expected 82"),
        (_header_json, "bank.json", "not a readable JSON header"),
    ],
)
def test_open_names_the_broken_file(tmp_path, damage, file, message):
    root = _write(tmp_path / "bank")
    damage(root)
    with pytest.raises(InputError, match=message) as caught:
        PoseBank.open(root)
    assert caught.value.path == str(root / file) and "\n" not in str(caught.value)


def test_open_refuses_a_missing_folder(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        PoseBank.open(tmp_path / "nothing")


@pytest.mark.parametrize("bad_row, message", [(np.r_[np.ones(7), np.nan, np.ones(74)], "row 4 has NaN"),
                                              (np.zeros(82), "row 4 is all zeros")])
def test_unit_vectors_name_the_first_bad_row(tmp_path, bad_row, message):
    root = _write(tmp_path / "bank")
    vectors = _vectors(6)
    vectors[4] = bad_row
    vectors[5] = bad_row
    np.save(root / "vectors.npy", vectors)
    bank = PoseBank.open(root)
    with pytest.raises(InputError, match=message) as caught:
        bank.unit_vectors()
    assert caught.value.path == str(root / "vectors.npy")
