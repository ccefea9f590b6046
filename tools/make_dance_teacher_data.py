"""Licensed training data for a Dance Revolution *student* of the product's own motion modes: songs with the motion
one of dancepose's modes (``graph`` by default, or ``groove``) makes for them, in the AIST++ layout that
``train-dance --layout aist`` reads.

Music: the Frets on Fire song packs in Debian (``fretsonfire-songs-muldjord``: CC BY-SA 3.0, El Senator / Muldjord;
``fretsonfire-songs-sectoid``: MIT-style, Carlos Viola Iborra; see ``/usr/share/doc/fretsonfire-songs-*/copyright``).
Each song folder's stems (``song.ogg``, ``guitar.ogg``, ``rhythm.ogg``) are mixed to one mono track.

Motion: every song is played through the real live engine (:func:`motion.evaluate.record_song`, the weight-free
``reactive`` encoder and the bundled pose bank), the chosen mode is fed its events as the render loop would
(:func:`motion.evaluate.play_log`) and sampled at 60 fps. The default graph is built from the bundled DeepMimic clips
(zlib) and assimp's boxing BVH (BSD-3-Clause); the bank from CMU clips ("no restrictions") and the same sources. So
a model trained on this learns dancepose's own motion mode from music (a teacher-student model), nothing else.

Writes under ``--out`` (default ``out/dance_teacher``, git-ignored)::

    music/mFS<k>.flac                       the mixed song (44.1 kHz mono), and songs/<name>.flac + .beats.txt
    motions/gFS_sTE_cAll_d01_mFS<k>_ch01.pkl  {'smpl_poses': (N, 72) rad, 'smpl_trans': (N, 3) m, 'smpl_scaling': [1]}
    splits/crossmodal_{train,test}.txt       the held-out songs (--test) in test, the others in train
    SOURCES.txt                              song k -> its folder, licence and the teacher mode

The beats written beside each song (``librosa.beat.beat_track``) are only what ``record_song`` reads back; the
engine tracks its own. Usage::

    nice -n 10 .venv/bin/python tools/make_dance_teacher_data.py [--motion graph] [--max-seconds 150] \
        [--test "sectoid/Metal madness"] [--out out/dance_teacher]
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SONGS = Path("/usr/share/games/fretsonfire/data/songs")
LICENCES = {"muldjord": "CC BY-SA 3.0 (El Senator / Muldjord), Debian fretsonfire-songs-muldjord",
            "sectoid": "MIT-style (Carlos Viola Iborra), Debian fretsonfire-songs-sectoid"}
STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg")
SAMPLE_RATE = 44_100
MOTION_FPS = 60.0


def song_folders(root: Path) -> list[Path]:
    """The song folders (holding ``song.ogg``) under ``root``, sorted."""
    return sorted(path.parent for path in root.glob("*/*/song.ogg"))


def mixed_song(folder: Path, max_seconds: float) -> np.ndarray:
    """The folder's stems summed to mono float32 at 44.1 kHz, peak-normalised to 0.9, cut to ``max_seconds``."""
    from live.audio_file import load_song

    stems = [load_song(folder / stem, sample_rate=SAMPLE_RATE, min_samples=1).samples
             for stem in STEMS if (folder / stem).is_file()]
    length = min(min(len(s) for s in stems), int(max_seconds * SAMPLE_RATE))
    mix = np.sum([s[:length] for s in stems], axis=0)
    return (0.9 * mix / max(float(np.abs(mix).max()), 1e-9)).astype(np.float32)


def write_song(samples: np.ndarray, path: Path) -> None:
    """``samples`` as 16-bit FLAC at ``path``, and the beats librosa finds in them as ``path.beats.txt``."""
    import librosa
    import soundfile

    soundfile.write(path, samples, SAMPLE_RATE, subtype="PCM_16")
    _, beats = librosa.beat.beat_track(y=samples, sr=SAMPLE_RATE, units="time")
    path.with_suffix(".beats.txt").write_text("".join(f"{t:.3f}\n" for t in beats), encoding="utf-8")


def teacher_motion(song: Path, mode: str, ranking, setup) -> tuple[np.ndarray, np.ndarray]:
    """``mode``'s motion for ``song``: (N, 72) axis-angle radians and (N, 3) root metres at 60 fps."""
    from motion.evaluate import PlayedSource, play_log, record_song
    from motion.player import MotionPlayer

    run = record_song(song, ranking.retriever, speed=3.0)
    frames = play_log(PlayedSource(lambda: MotionPlayer(setup, mode)), run.log, run.duration_s, MOTION_FPS)
    return (np.stack([f.rotvecs().reshape(72) for f in frames]).astype(np.float32),
            np.stack([f.root_m for f in frames]).astype(np.float32))


def write_motion(path: Path, pose: np.ndarray, trans: np.ndarray) -> None:
    """One motion file of the AIST++ layout: pose (N, 72) radians and root (N, 3) metres at 60 fps, scaling 1."""
    with path.open("wb") as handle:
        pickle.dump({"smpl_poses": pose, "smpl_trans": trans, "smpl_scaling": np.ones(1, np.float32)}, handle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=Path, default=SONGS, help="folder of <pack>/<song>/song.ogg")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "dance_teacher")
    parser.add_argument("--motion", choices=("graph", "groove"), default="graph", help="the teacher mode")
    parser.add_argument("--max-seconds", type=float, default=150.0, help="seconds of each song used")
    parser.add_argument("--test", action="append", default=None,
                        help="<pack>/<song> held out of training (repeatable; default: sectoid/Metal madness)")
    args = parser.parse_args(argv)

    from argparse import Namespace

    from model.cli_options import open_ranking_setup
    from motion.frame import bank_rotvecs
    from motion.ik import skeleton_of
    from motion.source import MotionSetup

    folders = song_folders(args.songs)
    if not folders:
        print(f"error: {args.songs}: no <pack>/<song>/song.ogg (apt-get install fretsonfire-songs-muldjord "
              f"fretsonfire-songs-sectoid)", file=sys.stderr)
        return 2
    held_out = set(args.test or ["sectoid/Metal madness"])
    ranking = open_ranking_setup(Namespace(encoder="reactive", checkpoint=None, bank=REPO / "assets" / "bank",
                                           body=None, device="cpu"), 5)
    setup = MotionSetup(bank_rotvecs(ranking.bank.vectors), skeleton_of(ranking.body))
    for sub in ("music", "motions", "splits", "songs"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[str]] = {"train": [], "test": []}
    sources = []
    for k, folder in enumerate(folders):
        started = time.perf_counter()
        name = f"{folder.parent.name}/{folder.name}"
        song = args.out / "songs" / f"{folder.parent.name}_{folder.name.replace(' ', '_')}.flac"
        write_song(mixed_song(folder, args.max_seconds), song)
        (args.out / "music" / f"mFS{k}.flac").write_bytes(song.read_bytes())
        pose, trans = teacher_motion(song, args.motion, ranking, setup)
        sequence = f"gFS_sTE_cAll_d01_mFS{k}_ch01"
        write_motion(args.out / "motions" / f"{sequence}.pkl", pose, trans)
        splits["test" if name in held_out else "train"].append(sequence)
        sources.append(f"mFS{k}\t{name}\t{LICENCES.get(folder.parent.name, 'see its copyright file')}\t"
                       f"teacher: {args.motion}\n")
        print(f"{name}: {len(pose) / MOTION_FPS:.0f} s of {args.motion} motion ({time.perf_counter() - started:.0f} s)",
              flush=True)
    for split, names in splits.items():
        (args.out / "splits" / f"crossmodal_{split}.txt").write_text("".join(n + "\n" for n in names), "utf-8")
    (args.out / "SOURCES.txt").write_text("".join(sources), encoding="utf-8")
    print(f"wrote {args.out}: {len(splits['train'])} training and {len(splits['test'])} held-out songs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
