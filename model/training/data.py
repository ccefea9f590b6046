"""Training pairs (a 2.02 s music window centred on a position, the 82-d pose at that instant), the decoded-audio
cache and the deterministic, resumable data loader.

Songs are decoded once (:func:`live.audio_file.load_song`, 24 kHz mono), normalised over the whole song as the
reference does (:func:`live.audio_file.normalise`) and stored with their beats in a cache folder; workers read them
as memory maps, so a loader worker never decodes audio.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from common.constants import HALF_WINDOW, POSE_DIM
from common.errors import InputError
from live.audio_file import load_song, normalise
from live.snippets import cut_windows, positions_per_beat, subdivide
from offline.beats import track_beats_offline

AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac")
"""Music file types looked for by id."""


@dataclass(frozen=True)
class CachedSong:
    """A decoded, normalised song in the cache.

    Attributes:
        audio_path: the ``.npy`` file of (L,) float32 normalised samples at 24 kHz.
        beats: (N,) int64 beat positions in samples (librosa's tracker, as the reference).
        length: L, samples.
    """

    audio_path: Path
    beats: np.ndarray
    length: int


class SongCache:
    """Decodes each song once into ``folder`` (keyed by path, size and modification time)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def get(self, song: Path) -> CachedSong:
        """The cached song, decoding it and tracking its beats on first use.

        Raises:
            InputError: the song is missing or not readable audio (from :func:`load_song`).
        """
        song = Path(song)
        if not song.is_file():
            raise InputError(song, "music file not found")
        stat = song.stat()
        key = hashlib.sha1(f"{song.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
        audio_path, beats_path = self.folder / f"{song.stem}-{key}.npy", self.folder / f"{song.stem}-{key}.beats.npy"
        if not (audio_path.is_file() and beats_path.is_file()):
            self.folder.mkdir(parents=True, exist_ok=True)
            samples = normalise(load_song(song).samples)
            atomic_save(audio_path, samples)
            atomic_save(beats_path, track_beats_offline(samples))
        return CachedSong(audio_path, np.load(beats_path), int(np.load(audio_path, mmap_mode="r").shape[0]))


def atomic_save(path: Path, array: np.ndarray) -> None:
    """``np.save`` through a temporary sibling and a rename (concurrent DDP ranks may write the same file)."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial.npy")
    np.save(partial, array)
    partial.replace(path)


def beat_centres(song: CachedSong, resolution: str) -> np.ndarray:
    """(P,) int64 window centres in samples: the song's beats subdivided at ``resolution``, full windows only."""
    centres = subdivide(song.beats, positions_per_beat(resolution)).samples
    return centres[full_window(centres, song.length)]


def full_window(centres: np.ndarray, length: int) -> np.ndarray:
    """(P,) bool: the whole window ``[c - 24240, c + 24240)`` lies inside a song of ``length`` samples."""
    return (centres - HALF_WINDOW >= 0) & (length - centres >= HALF_WINDOW)


@dataclass(frozen=True)
class PairSet:
    """Training or evaluation pairs of one split.

    Attributes:
        songs: the cached songs the pairs index.
        song_index: (M,) int64, which song each pair's window comes from.
        centres: (M,) int64 window centres in samples at 24 kHz.
        targets: (M, 82) float32 pose vectors (10 betas, 72 axis-angle).
        sources: M labels (sequence or archive names) for reports.
    """

    songs: tuple[CachedSong, ...]
    song_index: np.ndarray
    centres: np.ndarray
    targets: np.ndarray
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.centres)

    def gallery(self) -> tuple[np.ndarray, np.ndarray]:
        """(G, 82) float32 distinct target poses and (M,) int64 the gallery index of each pair's target."""
        poses, inverse = np.unique(self.targets, axis=0, return_inverse=True)
        return poses.astype(np.float32), inverse.reshape(-1).astype(np.int64)


def join_pairs(parts: list[PairSet], where: Path) -> PairSet:
    """Concatenate per-sequence pair sets (their songs merged); InputError naming ``where`` when there are none."""
    parts = [part for part in parts if len(part)]
    if not parts:
        raise InputError(where, "no training pairs: no sequence has a full 2.02 s window at a beat")
    songs: dict[Path, tuple[int, CachedSong]] = {}
    indices = []
    for part in parts:
        remap = [songs.setdefault(song.audio_path, (len(songs), song))[0] for song in part.songs]
        indices.append(np.asarray(remap, np.int64)[part.song_index])
    return PairSet(
        songs=tuple(song for _, song in songs.values()),
        song_index=np.concatenate(indices),
        centres=np.concatenate([part.centres for part in parts]),
        targets=np.concatenate([part.targets for part in parts]).astype(np.float32),
        sources=tuple(source for part in parts for source in part.sources),
    )


def single_song_pairs(song: CachedSong, centres: np.ndarray, targets: np.ndarray, source: str) -> PairSet:
    """Pairs whose windows all come from one song."""
    targets = np.asarray(targets, np.float32).reshape(-1, POSE_DIM)
    return PairSet((song,), np.zeros(len(centres), np.int64), np.asarray(centres, np.int64), targets,
                   (source,) * len(centres))


class WindowDataset(Dataset):
    """Item ``i`` of a :class:`PairSet`: (window (48480,) float32, target (82,) float32, gallery index int64)."""

    def __init__(self, pairs: PairSet) -> None:
        self.pairs = pairs
        self.gallery_index = pairs.gallery()[1]
        self._audio: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        song = int(self.pairs.song_index[i])
        if song not in self._audio:  # opened lazily, so each worker maps its own
            self._audio[song] = np.load(self.pairs.songs[song].audio_path, mmap_mode="r")
        window, _ = cut_windows(self._audio[song], self.pairs.centres[i : i + 1])
        return (torch.from_numpy(window[0]), torch.from_numpy(self.pairs.targets[i]),
                torch.tensor(self.gallery_index[i]))


class EpochSampler(Sampler[int]):
    """An endless, resumable index stream: epoch ``e`` is a permutation seeded by ``seed + e``, dealt round-robin to
    ``world`` ranks; the stream starts after ``skip`` indices of this rank, so a resumed run sees the same batches."""

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1, skip: int = 0) -> None:
        self.size, self.seed, self.rank, self.world, self.skip = size, seed, rank, world, skip

    def __iter__(self) -> Iterator[int]:
        per_rank = -(-self.size // self.world)
        epoch, offset = divmod(self.skip, per_rank)
        while True:
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + epoch))
            padded = torch.cat([order, order[: per_rank * self.world - self.size]])
            yield from padded[self.rank :: self.world][offset:].tolist()
            epoch, offset = epoch + 1, 0


def training_loader(pairs: PairSet, batch_size: int, seed: int, workers: int, skip_batches: int = 0,
                    rank: int = 0, world: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Endless shuffled batches (windows (B, 48480), targets (B, 82), gallery indices (B,)), loaded by
    ``workers`` background processes; deterministic for a seed and resumable after ``skip_batches`` batches."""
    sampler = EpochSampler(len(pairs), seed, rank, world, skip_batches * batch_size)
    loader = DataLoader(WindowDataset(pairs), batch_size=batch_size, sampler=sampler, num_workers=workers,
                        drop_last=True, persistent_workers=workers > 0, pin_memory=torch.cuda.is_available(),
                        worker_init_fn=limit_worker_threads, generator=torch.Generator().manual_seed(seed))
    return iter(loader)


def evaluation_loader(pairs: PairSet, batch_size: int, workers: int) -> DataLoader:
    """Batches of the pairs in order (the last one may be short)."""
    return DataLoader(WindowDataset(pairs), batch_size=batch_size, shuffle=False, num_workers=workers,
                      worker_init_fn=limit_worker_threads)


def limit_worker_threads(_: int) -> None:
    """Loader workers only slice memory maps: one thread each, leaving the cores to the model."""
    torch.set_num_threads(1)
