"""Training-data generation for the learned beat tracker (model/beat_data): exact beats, aligned audio, contract."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from model.beat_data import augment, drums, mma_songs, render
from model.beat_data.annotations import BeatGrid, format_beats, midi_beats, read_beats

RATE = render.SAMPLE_RATE
needs_fluidsynth = pytest.mark.skipif(not render.fluidsynth_available(),
                                      reason="fluidsynth or a General MIDI SoundFont is not installed")


def _tiny_midi() -> mido.MidiFile:
    """Two bars of 3/4 (120 then 60 quarter notes a minute from bar 2), then two bars of 4/4."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor, notes = mido.MidiTrack(), mido.MidiTrack()
    mid.tracks += [conductor, notes]
    conductor += [mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
                  mido.MetaMessage("set_tempo", tempo=500_000, time=0),
                  mido.MetaMessage("set_tempo", tempo=1_000_000, time=1440),
                  mido.MetaMessage("time_signature", numerator=4, denominator=4, time=1440)]
    for _ in range(14):  # one note a beat: 6 beats of 3/4 and 8 of 4/4
        notes += [mido.Message("note_on", note=60, velocity=90, time=0),
                  mido.Message("note_off", note=60, velocity=0, time=480)]
    return mid


def test_annotations_follow_tempo_changes_and_metre_changes() -> None:
    grid = midi_beats(_tiny_midi())
    expected_t = [0.0, 0.5, 1.0, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5]
    np.testing.assert_allclose(grid.times_s, expected_t, atol=1e-9)
    assert grid.positions.tolist() == [1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 1, 2, 3, 4]


def test_compound_metre_counts_dotted_quarters(tmp_path: Path) -> None:
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track += [mido.MetaMessage("time_signature", numerator=6, denominator=8, time=0),
              mido.MetaMessage("set_tempo", tempo=400_000, time=0),
              mido.MetaMessage("end_of_track", time=480 * 3 * 2)]  # two bars of 6/8
    grid = midi_beats(mid)
    np.testing.assert_allclose(grid.times_s, [0.0, 0.6, 1.2, 1.8], atol=1e-9)
    assert grid.positions.tolist() == [1, 2, 1, 2]
    path = tmp_path / "x.beats"
    path.write_text(format_beats(grid))
    assert path.read_text().splitlines()[1] == "0.6000\t2"
    np.testing.assert_array_equal(read_beats(path).positions, grid.positions)


@pytest.mark.parametrize("metre", [m for m, _ in drums.METRES], ids=lambda m: f"{m.numerator}-{m.denominator}")
def test_drum_hits_land_on_every_beat(metre: drums.Metre) -> None:
    rng = np.random.default_rng(3)
    style = drums.DrumStyle(subdivision=3 if metre.compound else 2, swing=0.62, kit=0, four_on_floor=False,
                            ride=False, bass_program=None, jitter_ms=0.0)
    mid = drums.drum_midi(rng, metre, style, beat_bpm=97.0, bars=4)
    grid = midi_beats(mid)
    assert len(grid.times_s) == 4 * metre.beats_per_bar
    assert grid.positions[:metre.beats_per_bar].tolist() == list(range(1, metre.beats_per_bar + 1))
    np.testing.assert_allclose(np.diff(grid.times_s), 60.0 / 97.0, atol=1e-5)
    hits = np.array([t for t, m in render.timed_events(mid) if m[0] == 0x99 and m[2] > 0 and m[1] in (36, 38, 45)])
    nearest = np.min(np.abs(hits[None, :] - grid.times_s[:, None]), axis=1)
    assert nearest.max() < 1e-3, f"beats without a kick/snare within 1 ms: {grid.times_s[nearest >= 1e-3]}"


def _impulses(beats_s: np.ndarray, n: int) -> np.ndarray:
    x = np.zeros(n, dtype=np.float32)
    x[np.round(beats_s * RATE).astype(int)] = 1.0
    return x


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_keeps_length_and_beat_onsets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    beats = np.arange(0.5, 9.5, 0.5)
    x = _impulses(beats, 10 * RATE)
    chain = augment.random_chain(rng) + (augment.Effect("reverb", (("rt60", 1.2), ("wet", 0.5))),
                                         augment.Effect("band", (("low_hz", 300.0), ("high_hz", 3000.0))),
                                         augment.Effect("tilt", (("db_oct", -4.0),)))
    y = augment.apply_chain(x, chain, rng, RATE)
    assert y.shape == x.shape and y.dtype == np.float32 and np.max(np.abs(y)) <= 1.0
    if any(fx.kind == "noise" for fx in chain):  # noise hides no impulse, but keep the check about timing
        y = augment.apply_chain(x, tuple(fx for fx in chain if fx.kind != "noise"), rng, RATE)
    half = int(0.1 * RATE)
    for t in beats:  # the loudest sample near each beat is within 1 ms of it
        i = int(round(t * RATE))
        peak = i - half + int(np.argmax(np.abs(y[i - half:i + half])))
        assert abs(peak - i) <= RATE // 1000, f"{augment.describe_chain(chain)}: beat {t} s peaks at {peak / RATE} s"


@needs_fluidsynth
def test_fluidsynth_render_is_aligned_with_midi_time() -> None:
    """A note at item time t starts sounding within 2 ms of sample t * rate (render offset compensated)."""
    items, times = [], []
    for k in range(8):
        t = 0.1 + k * 0.00041  # sub-block phases
        ch, note = (9, 37) if k % 2 else (0, 60)
        items.append([(t, (0x90 | ch, note, 127)), (t + 0.05, (0x80 | ch, note, 0))])
        times.append(t)
    font = render.available_soundfonts()[-1]
    for t, audio in zip(times, render.render_batch(items, [0.4] * len(items), font, reverb=False), strict=True):
        first = int(np.flatnonzero(np.abs(audio) > 1e-6)[0])
        assert abs(first - t * RATE) <= 0.002 * RATE, f"{font.name}: note at {t:.4f} s sounds from {first / RATE:.4f} s"


def _check_contract(out: Path) -> list[list[str]]:
    rows = [line.split("\t") for line in (out / "MANIFEST.tsv").read_text().splitlines()]
    header, rows = rows[0], rows[1:]
    assert header[:3] == ["name", "source", "duration_s"] and "augmentation" in header and "licence" in header
    assert rows, "empty manifest"
    for row in rows:
        info = sf.info(out / f"{row[0]}.flac")
        assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
        assert abs(info.duration - float(row[2])) < 0.01 and 20.0 - 0.01 <= info.duration <= 60.0
        grid: BeatGrid = read_beats(out / f"{row[0]}.beats")
        assert len(grid.times_s) >= 8 and np.all(np.diff(grid.times_s) > 0.2)
        assert grid.times_s[0] >= 0 and grid.times_s[-1] < info.duration and grid.positions.min() >= 1
    assert not list(out.glob("*.tmp")), "temporary files left behind"
    return rows


@needs_fluidsynth
def test_tiny_build_writes_the_data_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model.beat_data.build import BuildConfig, build

    fonts = render.available_soundfonts()
    small = tuple(f for f in fonts if f.name == "timgm6mb") or fonts[:1]  # the quickest to load
    monkeypatch.setattr(render, "available_soundfonts", lambda: small)
    out = tmp_path / "beat_data"
    build(BuildConfig(out_dir=out, hours=0.01, seed=5, jobs=1, sources=("drums",)), log=lambda _: None)
    rows = _check_contract(out)
    assert {r[1] for r in rows} == {"drums"}
    first = out / f"{rows[0][0]}.flac"
    audio, stamp = first.read_bytes(), first.stat().st_mtime_ns
    logs: list[str] = []
    build(BuildConfig(out_dir=out, hours=0.01, seed=5, jobs=1, sources=("drums",)), log=logs.append)
    assert first.stat().st_mtime_ns == stamp and f"{len(rows)} already made" in logs[0], "a rebuild keeps what is made"
    first.unlink()
    build(BuildConfig(out_dir=out, hours=0.01, seed=5, jobs=1, sources=("drums",)), log=lambda _: None)
    assert first.read_bytes() == audio, "the same seed must give the same audio"
    assert _check_contract(out) == rows
    other: list[str] = []
    build(BuildConfig(out_dir=out, hours=0.01, seed=6, jobs=1, sources=("drums",)), log=other.append)
    assert "; 0 already made" in other[0], "another seed's items are made afresh"


def test_music21_beats_skip_the_pickup() -> None:
    pytest.importorskip("music21")
    from music21 import meter, note, stream

    from model.beat_data.midi_corpus import score_beats_quarters

    part = stream.Part()
    pickup = stream.Measure(number=0)
    pickup.append(meter.TimeSignature("3/4"))
    pickup.append(note.Note("C4", quarterLength=1.0))
    pickup.paddingLeft = 2.0
    part.append(pickup)
    for n in range(1, 3):
        m = stream.Measure(number=n)
        m.append(note.Note("D4", quarterLength=3.0))
        part.append(m)
    offsets, positions = score_beats_quarters(stream.Score([part]))
    assert positions.tolist() == [3, 1, 2, 3, 1, 2, 3]
    np.testing.assert_allclose(offsets, [0, 1, 2, 3, 4, 5, 6])


@pytest.mark.skipif(not mma_songs.mma_available(), reason="Debian's mma is not installed")
def test_mma_song_beats_match_its_grooves() -> None:
    family = next(f for f in mma_songs.groove_families() if f.style == "waltz")
    song = mma_songs.make_song(np.random.default_rng(0), family, beat_bpm=150.0, bars=6, tempo_change_p=0.0)
    mid = mma_songs.song_to_midi(song)
    grid = mma_songs.song_beats(mid, song)
    assert grid.positions.tolist() == [1, 2, 3] * 6
    np.testing.assert_allclose(np.diff(grid.times_s), 0.4, atol=1e-4)
    onsets = np.array([t for t, m in render.timed_events(mid) if m[0] & 0xF0 == 0x90 and m[2] > 0])
    nearest = np.min(np.abs(onsets[None, :] - grid.times_s[:, None]), axis=1)
    assert np.mean(nearest < 0.02) > 0.9, "most beats of an MMA waltz have a note within 20 ms"


def test_music21_beats_of_a_one_beat_metre_count_eighths() -> None:
    pytest.importorskip("music21")
    from music21 import meter, note, stream

    from model.beat_data.midi_corpus import score_beats_quarters

    part = stream.Part()
    for n in range(2):
        m = stream.Measure(number=n + 1)
        if n == 0:
            m.append(meter.TimeSignature("3/8"))
        m.append(note.Note("E4", quarterLength=1.5))
        part.append(m)
    offsets, positions = score_beats_quarters(stream.Score([part]))
    assert positions.tolist() == [1, 2, 3, 1, 2, 3]
    np.testing.assert_allclose(offsets, [0, 0.5, 1.0, 1.5, 2.0, 2.5])


@pytest.mark.skipif(not mma_songs.mma_available(), reason="Debian's mma is not installed")
def test_mma_output_is_deterministic() -> None:
    family = next(f for f in mma_songs.groove_families() if f.style == "swing")
    midis = []
    for _ in range(2):
        song = mma_songs.make_song(np.random.default_rng(7), family, beat_bpm=120.0, bars=4)
        midis.append([(round(t, 6), m) for t, m in render.timed_events(mma_songs.song_to_midi(song))])
    assert midis[0] == midis[1], "mma randomises timing and velocity unless seeded"


@pytest.mark.skipif(not mma_songs.mma_available(), reason="Debian's mma is not installed")
@pytest.mark.parametrize("seed", range(4))
def test_mix_drums_follow_the_mma_beats(seed: int) -> None:
    from model.beat_data.build import MAX_CROP_S, ItemPlan, make_midi_item

    plan = ItemPlan("mix_test", "mix", seed, 30.0, "timgm6mb")
    item = make_midi_item(plan, np.random.default_rng(seed))
    beats = item.grid.times_s[item.grid.times_s < plan.duration_s + MAX_CROP_S]  # the most an item can use
    hits = np.array([t for t, m in item.events if m[0] == 0x99 and m[2] > 0 and m[1] in (36, 38, 45)])
    nearest = np.min(np.abs(hits[None, :] - beats[:, None]), axis=1)
    assert np.mean(nearest < 0.03) > 0.95 and np.median(nearest) < 0.006, f"{item.fields['generator']}: drums off the beats"


def test_electronic_grooves_keep_the_beat_grid_under_off_beat_parts() -> None:
    from model.beat_data import electronic
    from model.beat_data.annotations import midi_beats

    for seed in range(6):
        mid, fields = electronic.random_groove_midi(np.random.default_rng(seed), 30.0)
        grid = midi_beats(mid)
        bpm = float(fields["tempo_bpm"])
        beats_per_bar = int(fields["metre"].split("/")[0])
        assert 85 <= bpm <= 180 and grid.times_s[-1] >= 30.0
        np.testing.assert_allclose(np.diff(grid.times_s), 60.0 / bpm, atol=1e-3)
        assert np.all(grid.positions[grid.positions == 1] == 1) and grid.positions.max() == beats_per_bar
        ons = [t for t, msg in render.timed_events(mid) if msg[0] & 0xF0 == 0x90 and msg[2] > 0]
        sixteenths = np.array(ons) / (np.median(np.diff(grid.times_s)) / 4)
        off_grid = np.abs(sixteenths - np.round(sixteenths))
        if "swing=0.50" in fields["generator"]:
            assert off_grid.max() < 0.01, "straight grooves put every note on a 16th"
        assert np.mean(off_grid < 0.01) > 0.5, "notes on the grid (swing moves only every other 16th)"
