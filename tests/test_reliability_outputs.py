"""Reliability of everything that writes or reads user files (issue 10): the output-folder guard, validation before
heavy work, full and read-only disks, the render cache, damaged assets and honest messages."""

from __future__ import annotations

import errno
import json
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

import main
from common.errors import InputError
from common.staging import OutputKind, check_output_folder, staged_folder
from conftest import click_track, write_click_track
from offline.pictures import PosePictures, render_cache_dir
from offline.writer import RETRIEVAL_OUTPUT
from pose_db.bank import PoseBank, write_bank

KIND = OutputKind("a test result", "result.json", "test-result", ("result.json", "data", "data/*.txt"))


def _result(folder: Path, **extra: str) -> Path:
    """An earlier 'test result' folder, plus ``extra`` files (relative path -> text)."""
    (folder / "data").mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"format": "test-result"}))
    (folder / "data" / "a.txt").write_text("a")
    for name, text in extra.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def _run(capsys, *args: str) -> tuple[int, str]:
    code = main.main(list(args))
    return code, capsys.readouterr().err.strip()


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    """A 6 s 120 BPM click track."""
    return write_click_track(tmp_path_factory.mktemp("song") / "clicks.wav", 120, 6.0)


@pytest.fixture(scope="module")
def small_bank(tmp_path_factory) -> Path:
    vectors = np.random.default_rng(3).normal(0, 0.3, (12, 82)).astype(np.float32)
    root = tmp_path_factory.mktemp("bank") / "bank"
    return write_bank(root, vectors, names=[str(i) for i in range(12)], sources=["t"] * 12, frame_ids=np.arange(12))


# -- 1. the output-folder guard -------------------------------------------------------------------------------------
def test_a_folder_that_merely_holds_a_marker_file_is_not_replaced(tmp_path):
    folder = _result(tmp_path / "out", **{"holiday/photo.txt": "irreplaceable"})
    with pytest.raises(InputError, match="holiday.*not part of a test result"):
        check_output_folder(folder, KIND)
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "result.json").write_text("anything")  # the name alone is not enough
    with pytest.raises(InputError, match="not a test result"):
        check_output_folder(tmp_path / "fake", KIND)
    assert (folder / "holiday" / "photo.txt").read_text() == "irreplaceable"


def test_an_earlier_result_is_replaced_whole(tmp_path):
    folder = _result(tmp_path / "out")
    with staged_folder(folder, KIND) as staging:
        (staging / "result.json").write_text(json.dumps({"format": "test-result", "n": 2}))
    assert json.loads((folder / "result.json").read_text())["n"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_retrieve_refuses_a_folder_with_a_retrieval_json_and_foreign_files_before_any_work(tmp_path, capsys, song,
                                                                                           monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "retrieval.json").write_text(json.dumps({"format": "dancepose-retrieval"}))
    (out / "thesis").mkdir()
    (out / "thesis" / "chapter1.tex").write_text("keep")
    monkeypatch.setattr("model.cli_options.open_ranking_setup", _forbidden)
    code, err = _run(capsys, "retrieve", str(song), "--out", str(out), "--no-video")
    assert code == 2 and "thesis" in err and "refusing to replace it" in err and "\n" not in err
    assert (out / "thesis" / "chapter1.tex").read_text() == "keep"


def test_a_result_folder_pattern_covers_what_the_writer_makes():
    for made in ("retrieval.json", "segment_image/s_1_30/s_1_top1.png", "top_k/segment_image_top2/s_1_top2_30.png",
                 "retrieval_result_8th_top1.mp4"):
        assert RETRIEVAL_OUTPUT.owns(made), made
    for foreign in ("notes.txt", "segment_image/a/b/c.png", "top_k/other/x.png"):
        assert not RETRIEVAL_OUTPUT.owns(foreign), foreign


def test_bank_build_refuses_a_bank_folder_holding_foreign_files(tmp_path, small_bank):
    root = tmp_path / "mine"
    shutil.copytree(small_bank, root)
    (root / "my_notes.md").write_text("keep")
    with pytest.raises(InputError, match="my_notes.md"):
        write_bank(root, np.ones((2, 82), np.float32), names=["a", "b"], sources=["s", "s"], frame_ids=[0, 1])
    assert (root / "my_notes.md").read_text() == "keep"


# -- 9. validation before heavy work ---------------------------------------------------------------------------------
def _forbidden(*_args, **_kwargs):
    raise AssertionError("heavy work started before the user's input was checked")


@pytest.mark.parametrize("args, message", [
    (["{missing}"], "no such file"),
    (["{song}", "--resolution", "5th"], "unknown resolution '5th'"),
    (["{song}", "--out", "{file}"], "exists and is not a folder"),
    (["{song}", "--top-k", "0"], "--top-k"),
    (["{song}", "--fps", "0"], "--fps"),
    (["{song}", "--bank", "{file}"], "is a file, expected a pose bank folder"),
    (["{song}", "--body", "{tmp}"], "is a directory, expected a body model"),
    (["{song}", "--checkpoint", "{missing}"], "no such file"),
])
def test_retrieve_checks_everything_typed_before_loading_anything(tmp_path, capsys, monkeypatch, song, args, message):
    monkeypatch.setattr("model.cli_options.open_ranking_setup", _forbidden)
    monkeypatch.setattr("main.open_ranking_setup", _forbidden)
    monkeypatch.setattr("offline.pipeline.analyse_song", _forbidden)
    (tmp_path / "a_file").write_text("x")
    names = {"missing": tmp_path / "missing.wav", "song": song, "file": tmp_path / "a_file", "tmp": tmp_path}
    code, err = _run(capsys, "retrieve", *[a.format(**names) for a in args])
    assert code == 2 and message in err and "\n" not in err, err


# -- 7. read-only and full disks --------------------------------------------------------------------------------------
def _mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); needs root")


@pytest.fixture
def mounts(tmp_path):
    mounted: list[Path] = []

    def mount(folder: Path, options: str) -> Path:
        _mount_tmpfs(folder, options)
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _stage_a_result(target: Path) -> None:
    with staged_folder(target, KIND) as staging:
        (staging / "result.json").write_text(json.dumps({"format": "test-result"}))
        (staging / "data").mkdir()
        (staging / "data" / "big.txt").write_bytes(b"x" * 200_000)


def test_read_only_parent_is_one_line_and_leaves_nothing(tmp_path, mounts):
    parent = mounts(tmp_path / "ro", "ro,size=1m")
    with pytest.raises(InputError, match="not writable"):
        _stage_a_result(parent / "out")


def test_a_mount_point_is_refused_before_anything_is_written(tmp_path, mounts):
    target = mounts(tmp_path / "mnt", "size=1m")
    with pytest.raises(InputError, match="mount point"):
        _stage_a_result(target)
    assert [p.name for p in tmp_path.iterdir()] == ["mnt"]  # no complete-looking hidden .partial beside it


def test_full_disk_is_one_line_and_leaves_no_partial_folder(tmp_path, mounts):
    disk = mounts(tmp_path / "small", "size=64k")
    with pytest.raises(InputError, match="no space left on device"):
        _stage_a_result(disk / "out")
    assert list(disk.iterdir()) == []


def test_an_oserror_while_swapping_in_removes_the_staging_folder(tmp_path, monkeypatch):
    def busy(self, target):
        raise OSError(errno.EBUSY, "Device or resource busy")

    _result(tmp_path / "out")
    monkeypatch.setattr(Path, "rename", busy)
    with pytest.raises(InputError, match="busy"):
        _stage_a_result(tmp_path / "out")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (tmp_path / "out" / "data" / "a.txt").read_text() == "a"


# -- 3. the render cache -----------------------------------------------------------------------------------------------
class _Renderer:
    """Renders a pose as a flat colour from its first value, so a picture tells which pose it shows."""

    def __init__(self) -> None:
        self.calls = 0

    def render(self, vector: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.full((8, 8, 3), int(abs(vector[0]) * 100) % 256, np.uint8)


class _Body:
    def __init__(self, name: str, scale: float = 1.0) -> None:
        self.name, self.scale, self.faces = name, scale, np.zeros((1, 3), np.int64)

    def forward(self, pose):
        from pose_db.body import BodyOutput

        return BodyOutput(vertices=np.full((1, 4, 3), self.scale, np.float32), joints=np.zeros((1, 24, 3)))


def _bank(folder: Path, first: float) -> PoseBank:
    vectors = np.full((3, 82), 0.5, np.float32)
    vectors[:, 0] = first + np.arange(3) * 0.1
    return PoseBank.open(write_bank(folder, vectors, names=list("abc"), sources=["s"] * 3, frame_ids=[0, 1, 2]))


def test_render_cache_is_keyed_by_content_not_folder_name(tmp_path):
    one, other = _bank(tmp_path / "a" / "bank", 0.2), _bank(tmp_path / "b" / "bank", 0.7)
    body = _Body("smpl:x.pkl")
    keys = {render_cache_dir(one, body, 64, tmp_path / "cache"), render_cache_dir(other, body, 64, tmp_path / "cache"),
            render_cache_dir(one, _Body("smpl:x.pkl", 2.0), 64, tmp_path / "cache"),
            render_cache_dir(one, body, 128, tmp_path / "cache")}
    assert len(keys) == 4  # same folder name, other poses / body / size: never the same pictures
    assert render_cache_dir(one, body, 64, tmp_path / "cache") == render_cache_dir(
        PoseBank.open(one.root), _Body("smpl:x.pkl"), 64, tmp_path / "cache")
    pictures = [PosePictures(bank, render_cache_dir(bank, body, 64, tmp_path / "cache"), _Renderer)
                for bank in (one, other)]
    first, second = (np.asarray(Image.open(p.path(0))) for p in pictures)
    assert first[0, 0, 0] == 20 and second[0, 0, 0] == 70


def test_a_cut_short_cached_png_is_rendered_again(tmp_path):
    bank = _bank(tmp_path / "bank", 0.2)
    renderer = _Renderer()
    cache = tmp_path / "cache"
    path = PosePictures(bank, cache, lambda: renderer).path(1)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    again = PosePictures(bank, cache, lambda: renderer).path(1)
    assert again.read_bytes() == whole and renderer.calls == 2
    assert sorted(p.name for p in cache.iterdir()) == ["1.png"]  # written atomically: no temporary left


# -- 10. damaged assets ---------------------------------------------------------------------------------------------
def test_checkpoint_with_nan_weights_is_one_line(tmp_path, shared_dir):
    from model.checkpoint import read_state_dict

    payload = torch.load(shared_dir / "reference" / "tiny_edsa.chkpt", weights_only=True)
    key = next(iter(payload["model"]))
    payload["model"][key] = payload["model"][key].clone().fill_(float("nan"))
    torch.save(payload, tmp_path / "nan.chkpt")
    with pytest.raises(InputError, match="NaN or infinite"):
        read_state_dict(tmp_path / "nan.chkpt")


def test_body_with_nan_vertices_is_one_line(tmp_path):
    from pose_db.body import DEFAULT_BODY_PATH, load_body

    with np.load(DEFAULT_BODY_PATH) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["v_template"][5, 1] = np.nan
    np.savez(tmp_path / "nan_body.npz", **arrays)
    with pytest.raises(InputError, match="v_template holds NaN"):
        load_body(tmp_path / "nan_body.npz")


def test_a_bank_picture_that_is_not_an_image_is_one_line(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_text("this is not a picture")
    root = write_bank(tmp_path / "bank", np.ones((1, 82), np.float32), names=["a"], sources=["s"], frame_ids=[0],
                      image_paths=[photo])
    with pytest.raises(InputError, match="not a readable image"):
        PosePictures(PoseBank.open(root), tmp_path / "cache", None).path(0)


# -- 11. honest messages --------------------------------------------------------------------------------------------
def test_a_renamed_conv_key_is_named_as_such(tmp_path, shared_dir):
    from model.checkpoint import load_model

    payload = torch.load(shared_dir / "reference" / "tiny_edsa.chkpt", weights_only=True)
    state = payload["model"]
    old = "model_hubert.feature_extractor.conv_layers.1.conv.weight"
    state["model_hubert.feature_extractor.conv_layers.1.convolution.weight"] = state.pop(old)
    torch.save(payload, tmp_path / "renamed.chkpt")
    with pytest.raises(InputError) as err:
        load_model(tmp_path / "renamed.chkpt")
    message = str(err.value)
    assert "conv_layers.1.conv.weight" in message and "convolution.weight" in message
    assert "conv encoder layers" not in message


def test_missing_keys_are_not_listed_from_the_full_size_model(tmp_path, shared_dir):
    from model.checkpoint import load_model

    payload = torch.load(shared_dir / "reference" / "tiny_edsa.chkpt", weights_only=True)
    del payload["model"]["model_hubert.audio_feature_mlp.2.weight"]
    torch.save(payload, tmp_path / "cut.chkpt")
    with pytest.raises(InputError) as err:
        load_model(tmp_path / "cut.chkpt")
    assert "missing key 'audio_feature_mlp.2.weight'" in str(err.value)
    assert "encoder.layers.11" not in str(err.value)  # the tiny model has 2 layers; the published one 12


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_a_refused_malicious_checkpoint_is_called_refused(tmp_path):
    from model.checkpoint import read_state_dict

    torch.save({"model": {"model_hubert.x": _Evil()}}, tmp_path / "evil.chkpt")
    with pytest.raises(InputError) as err:
        read_state_dict(tmp_path / "evil.chkpt")
    assert "refused" in str(err.value) and "corrupt" not in str(err.value)


def test_a_pickled_npz_is_refused_without_suggesting_allow_pickle(tmp_path):
    from pose_db.body import load_body
    from pose_db.importers import read_npz

    np.savez(tmp_path / "objects.npz", pose=np.array([{"a": 1}], dtype=object))
    for load in (lambda: read_npz(tmp_path / "objects.npz", ("pose",)), lambda: load_body(tmp_path / "objects.npz")):
        with pytest.raises(InputError) as err:
            load()
        assert "allow_pickle" not in str(err.value) and "pickled Python objects" in str(err.value)


def test_huge_amplitude_audio_is_named_as_such_not_no_beats(tmp_path):
    from live.audio_file import load_song

    audio, _ = click_track(120, 4.0, 24_000)
    soundfile.write(tmp_path / "loud.wav", audio.astype(np.float32) * np.float32(1e30), 24_000, subtype="FLOAT")
    with pytest.raises(InputError, match="in magnitude"):
        load_song(tmp_path / "loud.wav")


def test_a_file_given_as_a_folder_and_a_folder_as_a_file(tmp_path):
    from pose_db.body import load_body

    (tmp_path / "file.npz").write_bytes(b"x")
    with pytest.raises(InputError, match="is a file, expected a pose bank folder"):
        PoseBank.open(tmp_path / "file.npz")
    (tmp_path / "body.npz").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        load_body(tmp_path / "body.npz")


# -- 12. small gaps ---------------------------------------------------------------------------------------------------
def test_bank_info_calls_a_bank_with_nan_rows_broken(tmp_path, capsys, small_bank):
    root = tmp_path / "bank"
    shutil.copytree(small_bank, root)
    vectors = np.load(root / "vectors.npy")
    vectors[4, 7] = np.nan
    np.save(root / "vectors.npy", vectors)
    code, err = _run(capsys, "bank", "info", str(root))
    assert code == 2 and "row 4 has NaN" in err


def test_a_bank_image_path_outside_the_bank_is_refused(tmp_path, small_bank):
    root = tmp_path / "bank"
    shutil.copytree(small_bank, root)
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    header = json.loads((root / "bank.json").read_text())
    header["has_images"] = True
    (root / "bank.json").write_text(json.dumps(header))
    stored = ["../secret.txt", str(secret)] + [""] * 10
    blob = "".join(stored).encode()
    np.save(root / "image_paths_utf8.npy", np.frombuffer(blob, np.uint8))
    np.save(root / "image_paths_offsets.npy", np.concatenate([[0], np.cumsum([len(s.encode()) for s in stored])]))
    bank = PoseBank.open(root)
    for i in (0, 1):
        with pytest.raises(InputError, match="outside the bank folder"):
            bank.image_path(i)


def test_the_safe_pickle_check_is_still_in_place(tmp_path):
    from pose_db.importers.aist import load_motion

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(InputError, match="refused"):
        load_motion(tmp_path / "evil.pkl")


def test_an_unknown_option_prints_the_sub_commands_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main.main(["bank", "info", "--colour", "DIR"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "usage: dancepose bank info" in err and "unrecognized arguments: --colour" in err
