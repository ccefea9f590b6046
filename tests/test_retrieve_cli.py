"""`python main.py retrieve` end to end: a real song, the tiny EDSA checkpoint, a bank imported from the reference's
CLIFF layout; plus every kind of bad input, each one clear line with nothing half-written left behind."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

import main
from common.constants import WINDOW_SAMPLES
from live.audio_file import load_song, normalise
from pose_db.bank import PoseBank

COLOURS = 7  # bank images are flat colours, so a video frame tells which entry it shows


def _entry_colour(i: int) -> tuple[int, int, int]:
    return ((i * 37) % 256, (i * 91) % 256, (i * 53 + 40) % 256)


@pytest.fixture(scope="module")
def cliff_bank(tmp_path_factory, shared_dir) -> Path:
    """A bank built with the CLI from the reference's CLIFF_output layout (db rows of the parity fixture)."""
    db = np.load(shared_dir / "reference" / "tiny_edsa_io.npz")["db"]
    root = tmp_path_factory.mktemp("cliff")
    (root / "image_database").mkdir()
    for i, row in enumerate(db):
        split = "train" if i < 150 else "val" if i < 180 else "test"
        folder = root / "CLIFF_output" / split / "npz"
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"clip_{i:03d}"
        np.savez(folder / f"{stem}.npz", poseshape_82=row)
        Image.new("RGB", (48, 64), _entry_colour(i)).save(root / "image_database" / f"{stem}.png")
    out = root / "bank"
    assert main.main(["bank", "build", "--from", "cliff-reference", str(root), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def retrieval(tmp_path_factory, cliff_bank, tiny_checkpoint, dev_song) -> dict:
    out = tmp_path_factory.mktemp("run") / "result"
    code = main.main(["retrieve", str(dev_song), "--checkpoint", str(tiny_checkpoint), "--bank", str(cliff_bank),
                      "--out", str(out), "--top-k", "2", "--resolution", "8th", "--fps", "30", "--video-size", "64"])
    assert code == 0
    return json.loads((out / "retrieval.json").read_text()) | {"out": out}


def test_positions_follow_the_songs_beats(retrieval, dev_song):
    positions = retrieval["positions"]
    assert retrieval["encoder"] == "edsa" and retrieval["resolution"] == "8th"
    on_beat = np.array([p["time_s"] for p in positions if p["subdivision"] == 0])
    assert len(positions) == 2 * len(on_beat) - 1
    truth = np.loadtxt(dev_song.with_suffix("").with_suffix(".beats.txt"))
    truth = truth[truth > 5.0]
    nearest = np.abs(on_beat[:, None] - truth[None, :]).min(axis=0)
    assert np.mean(nearest < 0.07) > 0.9  # librosa finds this steady 120 BPM song's beats
    halfway = np.array([p["time_s"] for p in positions if p["subdivision"] == 1])
    np.testing.assert_allclose(halfway, (on_beat[:-1] + on_beat[1:]) / 2, atol=1 / 24000)
    assert not positions[0]["full_window"] or positions[0]["time_s"] >= 1.01
    assert all(p["full_window"] for p in positions if 1.02 < p["time_s"] < 28.9)


def test_ranking_is_the_reference_rule(retrieval, tiny_checkpoint, cliff_bank, dev_song):
    from model import load_model

    model = load_model(tiny_checkpoint)
    song = load_song(dev_song)
    audio = normalise(song.samples[: (len(song.samples) // 400) * 400 - 1])
    picks = [p for p in retrieval["positions"] if p["full_window"]][::9]
    windows = np.stack([audio[p["sample"] - WINDOW_SAMPLES // 2 : p["sample"] + WINDOW_SAMPLES // 2] for p in picks])
    q = torch.from_numpy(model.embed(windows)).double()
    db = torch.from_numpy(np.array(PoseBank.open(cliff_bank).vectors)).double()
    logits = model.logit_scale * q @ torch.nn.functional.normalize(db, dim=1).T
    expected = torch.argsort(logits, dim=1, descending=True)[:, :2].numpy()
    got = np.array([[e["bank_index"] for e in p["top_k"]] for p in picks])
    np.testing.assert_array_equal(got, expected)


def test_reference_image_folders(retrieval):
    out, positions = retrieval["out"], retrieval["positions"]
    label = retrieval["song_label"]
    assert len(list((out / "segment_image").iterdir())) == len(positions)
    first = positions[0]
    folder = out / "segment_image" / f"{label}_1_{first['frame']}"
    assert sorted(p.name for p in folder.iterdir()) == [f"{label}_1_top1.png", f"{label}_1_top2.png"]
    for k in (1, 2):
        assert len(list((out / "top_k" / f"segment_image_top{k}").iterdir())) == len(positions)
    entry = first["top_k"][0]
    copied = np.asarray(Image.open(out / entry["image"]).convert("RGB"))
    assert tuple(copied[0, 0]) == _entry_colour(entry["bank_index"])
    assert Path(entry["source_image"]).name == f"clip_{entry['bank_index']:03d}.png"


def test_videos_show_each_pose_on_its_beat_with_the_whole_song(retrieval):
    out, positions = retrieval["out"], retrieval["positions"]
    assert retrieval["videos"] == ["retrieval_result_8th_top1.mp4", "retrieval_result_8th_top2.mp4"]
    with av.open(str(out / retrieval["videos"][0])) as container:
        frames = [f.to_ndarray(format="rgb24")[32, 32].astype(int) for f in container.decode(video=0)]
    assert len(frames) / 30 == pytest.approx(retrieval["duration_s"], abs=1 / 30)
    checked = 0
    for before, p in zip(positions, positions[1:]):
        a, b = before["top_k"][0]["bank_index"], p["top_k"][0]["bank_index"]
        if a == b:
            continue
        first_after, last_before = int(np.ceil(p["time_s"] * 30)), int(np.floor(p["time_s"] * 30)) - 1
        assert np.abs(frames[first_after] - _entry_colour(b)).max() < 24, f"position {p['n']} not on its beat"
        assert np.abs(frames[last_before] - _entry_colour(a)).max() < 24, f"position {p['n']} shown early"
        checked += 1
    assert checked > 10


def _run(*argv: str) -> int:
    return main.main(["retrieve", *argv])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda t: ["--resolution", "32nd"], "unknown resolution '32nd'"),
        (lambda t: [str(t)], "is a directory"),
        (lambda t: [str(_short_song(t))], "at least 2.02 s"),
        (lambda t: ["--bank", str(_bad_bank(t, "dims"))], "82"),
        (lambda t: ["--bank", str(_bad_bank(t, "nan"))], "NaN"),
        (lambda t: ["--checkpoint", str(_bytes(t / "cut.chkpt", b"PK\x03\x04 truncated"))], "cut.chkpt"),
        (lambda t: ["--checkpoint", str(_foreign_checkpoint(t))], "foreign.chkpt"),
        (lambda t: ["--encoder", "edsa", "--checkpoint", str(t / "none.chkpt")], "none.chkpt"),
        (lambda t: ["--top-k", "0"], "--top-k"),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(tmp_path, capsys, dev_song, cliff_bank, build, message):
    out = tmp_path / "out"
    extra = build(tmp_path)
    song = [] if extra and not extra[0].startswith("--") else [str(dev_song)]
    bank = [] if "--bank" in extra else ["--bank", str(cliff_bank)]
    code = _run(*song, *extra, *bank, "--out", str(out), "--no-video")
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and message in err and "\n" not in err, err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_failure_midway_leaves_no_output_and_keeps_the_previous_one(tmp_path, monkeypatch, dev_song, cliff_bank,
                                                                     tiny_checkpoint):
    out = tmp_path / "out"
    args = [str(dev_song), "--checkpoint", str(tiny_checkpoint), "--bank", str(cliff_bank), "--out", str(out),
            "--top-k", "1"]
    assert _run(*args, "--no-video") == 0
    before = (out / "retrieval.json").read_text()

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("offline.writer.write_video", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _run(*args, "--fps", "10", "--video-size", "32")
    assert (out / "retrieval.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path, capsys, dev_song, cliff_bank, tiny_checkpoint):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code = _run(str(dev_song), "--checkpoint", str(tiny_checkpoint), "--bank", str(cliff_bank), "--out", str(out))
    assert code == 2 and "not a dancepose output folder" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "keep me"


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _short_song(folder: Path) -> Path:
    import soundfile

    path = folder / "short.wav"
    soundfile.write(path, np.random.default_rng(0).normal(0, 0.1, 24_000).astype(np.float32), 24_000)
    return path


def _bad_bank(folder: Path, kind: str) -> Path:
    from pose_db.bank import write_bank

    bank = folder / f"bank_{kind}"
    vectors = np.random.default_rng(1).normal(size=(10, 82)).astype(np.float32)
    write_bank(bank, vectors, names=[str(i) for i in range(10)], sources=["test"] * 10, frame_ids=np.arange(10))
    if kind == "dims":
        np.save(bank / "vectors.npy", vectors[:, :80])
    else:
        vectors[3, 5] = np.nan
        np.save(bank / "vectors.npy", vectors)
    return bank


def _foreign_checkpoint(folder: Path) -> Path:
    path = folder / "foreign.chkpt"
    torch.save({"model": {"encoder.weight": torch.zeros(3, 3)}}, path)
    return path
