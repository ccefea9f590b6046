"""The training-data build: plan items from a seed, render them in batches on worker processes, augment, write.

Output (the data contract of issue 13): ``OUT/NAME.flac`` (mono, 22,050 Hz, 16-bit) + ``OUT/NAME.beats``
(``time_s<TAB>position``) per item, and ``OUT/MANIFEST.tsv``. Each item is written atomically (``.beats`` first,
then the ``.flac`` renamed into place), so a reader may list the folder while a build runs. The plan (which items,
their seeds, sources, SoundFonts and lengths) depends only on the seed and the hours, so a build is deterministic.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from common.manifest import read_manifest
from model.beat_data import augment, drums, electronic, mma_songs, render
from model.beat_data.annotations import BeatGrid, format_beats, midi_beats

SOURCES: tuple[str, ...] = ("mma", "drums", "mix", "corpus", "fof", "electronic")
SOURCE_SHARES: dict[str, float] = {"mma": 0.42, "drums": 0.15, "mix": 0.12, "corpus": 0.17, "fof": 0.14,
                                   "electronic": 0.25}
"""Relative hours of each source (a source added last, with the hours grown to match, leaves the others' plans as
they were)."""
MIN_ITEM_S: float = 20.0
MAX_ITEM_S: float = 60.0
MAX_CROP_S: float = 6.0  # items start up to this far into the rendered song, so they rarely start on a downbeat
MANIFEST_COLUMNS: tuple[str, ...] = ("name", "source", "duration_s", "n_beats", "tempo_bpm", "metre", "soundfont",
                                     "midi_edit", "augmentation", "licence", "generator", "plan")
_BATCH_SIZE = {"musescore": 16}  # SoundFonts that are slow to load get bigger batches
_DEFAULT_BATCH = 6


@dataclass(frozen=True)
class BuildConfig:
    """``out_dir``; ``hours`` of audio in total; ``seed``; ``jobs`` worker processes; ``sources`` to draw from."""

    out_dir: Path
    hours: float = 7.5
    seed: int = 0
    jobs: int = 2
    sources: tuple[str, ...] = SOURCES


@dataclass(frozen=True)
class ItemPlan:
    """One item to make: ``name``, ``source``, its own ``seed``, ``duration_s`` and ``soundfont`` name ("" for
    recordings)."""

    name: str
    source: str
    seed: int
    duration_s: float
    soundfont: str

    @property
    def key(self) -> str:
        """What makes the item: an item written under the same name and key is the same and need not be remade."""
        return f"seed={self.seed} duration={self.duration_s:.3f} soundfont={self.soundfont or '-'}"


@dataclass(frozen=True)
class MidiItem:
    """A generated song before rendering: events in seconds, its beats, manifest fields."""

    events: render.TimedEvents
    grid: BeatGrid
    fields: dict[str, str]


def plan_items(config: BuildConfig) -> list[ItemPlan]:
    """Items whose lengths add up to ``config.hours``, split between ``config.sources`` by :data:`SOURCE_SHARES`."""
    rng = np.random.default_rng(config.seed)
    fonts = [f.name for f in render.available_soundfonts()]
    shares = np.array([SOURCE_SHARES[s] for s in config.sources])
    shares /= shares.sum()
    items: list[ItemPlan] = []
    for source, share in zip(config.sources, shares, strict=True):
        budget = config.hours * 3600.0 * share
        if source == "fof":
            from model.beat_data import fretsonfire

            items += fretsonfire.plan_items(rng, budget)
            continue
        total = 0.0
        n = 0
        while total < budget:
            dur = float(rng.uniform(MIN_ITEM_S, MAX_ITEM_S))
            items.append(ItemPlan(f"{source}_{n:05d}", source, int(rng.integers(2**31)), dur,
                                  fonts[int(rng.integers(len(fonts)))]))
            total += dur
            n += 1
    return items


def plan_batches(items: list[ItemPlan]) -> list[list[ItemPlan]]:
    """Items grouped by SoundFont into render batches (recordings one by one), in a fixed order."""
    by_font: dict[str, list[ItemPlan]] = {}
    for item in items:
        by_font.setdefault(item.soundfont, []).append(item)
    batches = []
    for font, group in sorted(by_font.items()):
        size = 1 if not font else _BATCH_SIZE.get(font, _DEFAULT_BATCH)
        batches += [group[i:i + size] for i in range(0, len(group), size)]
    return batches


def _midi_edit(rng: np.random.Generator, source: str) -> tuple[int, bool, float]:
    """MIDI-level augmentation: (transpose semitones, drop drums, velocity scale)."""
    transpose = int(rng.integers(-5, 7)) if rng.random() < 0.5 else 0
    drop = source in ("mma", "corpus") and rng.random() < 0.15
    return transpose, drop, float(rng.uniform(0.75, 1.1))


def make_midi_item(plan: ItemPlan, rng: np.random.Generator) -> MidiItem:
    """Generate the song of a MIDI-source item (mma, drums, mix, corpus) with its beats."""
    need_s = plan.duration_s + MAX_CROP_S
    if plan.source == "mma":
        mid, grid, _, fields = mma_songs.random_song(rng, need_s)
        events = render.timed_events(mid)
        fields["licence"] = mma_songs.LICENCE
    elif plan.source == "drums":
        mid, fields = drums.random_drums(rng, need_s)
        grid, events = midi_beats(mid), render.timed_events(mid)
        fields["licence"] = drums.LICENCE
    elif plan.source == "mix":
        mid, grid, song, fields = mma_songs.random_song(rng, need_s, tempo_change_p=0.0)
        metre = drums.metre_for(song.family.beats_per_bar, song.family.quarters_per_beat == 3)
        kit, kit_fields = drums.random_drums(rng, need_s, beat_bpm=song.tempo_qpm / song.family.quarters_per_beat,
                                              metre=metre, bass=False)
        events = render.edit_events(render.timed_events(mid), drop_drums=True) + render.timed_events(kit)
        events.sort(key=lambda e: e[0])
        fields["generator"] += " + " + kit_fields["generator"]
        fields["licence"] = mma_songs.LICENCE
    elif plan.source == "electronic":
        mid, fields = electronic.random_groove_midi(rng, need_s)
        grid, events = midi_beats(mid), render.timed_events(mid)
    elif plan.source == "corpus":
        from model.beat_data import midi_corpus

        mid, grid, fields = midi_corpus.random_piece(rng, need_s)
        events = render.timed_events(mid)
    else:
        raise ValueError(f"not a MIDI source: {plan.source!r}")
    transpose, drop, vel = _midi_edit(rng, plan.source)
    events = render.edit_events(events, transpose=transpose, drop_drums=drop, velocity_scale=vel)
    fields["midi_edit"] = f"transpose={transpose} drop_drums={int(drop)} velocity={vel:.2f}"
    return MidiItem(events, grid, fields)


def write_item(out_dir: Path, name: str, audio: np.ndarray, grid: BeatGrid, sample_rate: int) -> None:
    """Write ``NAME.beats`` then ``NAME.flac`` (16-bit mono), each through a temporary name and a rename."""
    beats_tmp = out_dir / f"{name}.beats.tmp"
    beats_tmp.write_text(format_beats(grid))
    os.replace(beats_tmp, out_dir / f"{name}.beats")
    flac_tmp = out_dir / f"{name}.flac.tmp"
    sf.write(flac_tmp, audio, sample_rate, format="FLAC", subtype="PCM_16")
    os.replace(flac_tmp, out_dir / f"{name}.flac")


def _finish(out_dir: Path, plan: ItemPlan, audio: np.ndarray, grid: BeatGrid, fields: dict[str, str],
            rng: np.random.Generator) -> dict[str, str]:
    """Augment, write and describe one item."""
    chain = augment.random_chain(rng)
    audio = augment.apply_chain(audio, chain, rng, render.SAMPLE_RATE)
    write_item(out_dir, plan.name, audio, grid, render.SAMPLE_RATE)
    row = {"name": plan.name, "source": plan.source, "duration_s": f"{len(audio) / render.SAMPLE_RATE:.3f}",
           "n_beats": str(len(grid.times_s)), "soundfont": plan.soundfont or "-",
           "augmentation": augment.describe_chain(chain), "plan": plan.key}
    row.update(fields)
    return {c: row.get(c, "-") for c in MANIFEST_COLUMNS}


def build_batch(batch: list[ItemPlan], out_dir: Path) -> list[dict[str, str]]:
    """Make, render, augment and write one batch (one SoundFont, or one recording); returns manifest rows."""
    if not batch[0].soundfont:
        from model.beat_data import fretsonfire

        plan = batch[0]
        rng = np.random.default_rng(plan.seed)
        audio, grid, fields = fretsonfire.make_item(plan, rng)
        return [_finish(out_dir, plan, audio, grid, fields, rng)]
    font = next(f for f in render.SOUNDFONTS if f.name == batch[0].soundfont)
    rngs = [np.random.default_rng(p.seed) for p in batch]
    made = [make_midi_item(p, r) for p, r in zip(batch, rngs, strict=True)]
    crops = []
    for plan, item, rng in zip(batch, made, rngs, strict=True):
        beats = item.grid.times_s
        song_s = float(beats[-1] + (beats[-1] - beats[-2])) if len(beats) > 1 else plan.duration_s
        crop = float(rng.uniform(0.0, max(0.0, min(MAX_CROP_S, song_s - plan.duration_s))))
        crops.append((crop, min(plan.duration_s, song_s - crop)))
    reverb = bool(np.random.default_rng(batch[0].seed + 1).random() < 0.7)
    audios = render.render_batch([it.events for it in made], [c + d for c, d in crops], font, reverb=reverb)
    rows = []
    for plan, item, rng, (crop, dur), audio in zip(batch, made, rngs, crops, audios, strict=True):
        a = round(crop * render.SAMPLE_RATE)
        piece = audio[a:a + round(dur * render.SAMPLE_RATE)]
        fields = dict(item.fields, soundfont=f"{font.name} ({font.package}, {font.licence}) reverb={int(reverb)}")
        fields["generator"] += f" crop={crop:.2f}s"
        rows.append(_finish(out_dir, plan, piece, item.grid.window(crop, crop + dur), fields, rng))
    return rows


def write_manifest(out_dir: Path, rows: list[dict[str, str]]) -> Path:
    """Write ``MANIFEST.tsv`` (sorted by name) atomically; returns its path."""
    path = out_dir / "MANIFEST.tsv"
    tmp = out_dir / "MANIFEST.tsv.tmp"
    lines = ["\t".join(MANIFEST_COLUMNS)]
    for row in sorted(rows, key=lambda r: r["name"]):
        lines.append("\t".join(row[c].replace("\t", " ") for c in MANIFEST_COLUMNS))
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def remove_stale(out_dir: Path, keep: set[str]) -> int:
    """Delete item files (``*.flac``, ``*.beats``) whose name is not in ``keep``, and temporary files left by an
    interrupted build; returns how many items."""
    for tmp in out_dir.glob("*.tmp"):
        tmp.unlink(missing_ok=True)
    stale = {p.stem for p in out_dir.glob("*.flac")} | {p.stem for p in out_dir.glob("*.beats")}
    stale -= keep
    for name in stale:
        for suffix in (".flac", ".beats"):
            (out_dir / f"{name}{suffix}").unlink(missing_ok=True)
    return len(stale)


def made_rows(out_dir: Path, items: list[ItemPlan]) -> list[dict[str, str]]:
    """Manifest rows of the planned ``items`` that ``out_dir`` already holds as planned (same name and
    :attr:`ItemPlan.key` in its ``MANIFEST.tsv``, both files present): a build resumes rather than remakes them."""
    keys = {item.name: item.key for item in items}
    return [{c: row.get(c) or "-" for c in MANIFEST_COLUMNS} for row in read_manifest(out_dir).values()
            if keys.get(row.get("name", "")) == row.get("plan")
            and all((out_dir / f"{row['name']}{suffix}").is_file() for suffix in (".flac", ".beats"))]


def build(config: BuildConfig, log: Callable[[str], None] = print) -> Path:
    """Run the whole build (items already made by the same plan are kept); returns the manifest path."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    items = plan_items(config)
    rows = made_rows(config.out_dir, items)
    made = {r["name"] for r in rows}
    batches = plan_batches([i for i in items if i.name not in made])
    planned = sum(i.duration_s for i in items) / 3600.0
    log(f"{len(items)} items, about {planned:.2f} h of audio; {len(made)} already made; {len(batches)} batches to "
        f"render, {config.jobs} jobs")
    failed: list[str] = []
    start = time.monotonic()

    def collect(batch: list[ItemPlan], result: Callable[[], list[dict[str, str]]]) -> None:
        try:
            rows.extend(result())
        except Exception as err:  # noqa: BLE001 (one bad batch must not lose the others; reported below)
            failed.extend(p.name for p in batch)
            log(f"  batch {batch[0].name}..{batch[-1].name} failed: {type(err).__name__}: {err}")
        log(f"  {len(rows)}/{len(items)} items, {time.monotonic() - start:.0f} s")

    if config.jobs <= 1:
        for batch in batches:
            collect(batch, lambda b=batch: build_batch(b, config.out_dir))
    else:
        with ProcessPoolExecutor(max_workers=config.jobs) as pool:
            futures = {pool.submit(build_batch, b, config.out_dir): b for b in batches}
            for future in as_completed(futures):
                collect(futures[future], future.result)
    removed = remove_stale(config.out_dir, {r["name"] for r in rows})
    path = write_manifest(config.out_dir, rows)
    hours = sum(float(r["duration_s"]) for r in rows) / 3600.0
    log(f"wrote {len(rows)} items ({hours:.2f} h) to {config.out_dir} in {time.monotonic() - start:.0f} s"
        + (f", removed {removed} stale items" if removed else "") + (f", {len(failed)} items FAILED" if failed else ""))
    return path
