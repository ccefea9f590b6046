"""Writing a retrieval: ``retrieval.json``, the reference's image folders and one MP4 per rank.

Everything is written into a hidden staging folder beside the output and moved into place only when complete, so
an interrupted or failed run never leaves a folder that looks finished (``common.staging``).

Layout of ``OUT`` (``<song>`` is the file name up to its first '.', ``n`` the 1-based position, ``frame`` its 60 fps
label, ``k`` the rank)::

    retrieval.json
    segment_image/<song>_<n>_<frame>/<song>_<n>_top<k>.png
    top_k/segment_image_top<k>/<song>_<n>_top<k>_<frame>.png
    retrieval_result_<resolution>_top<k>.mp4
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from common.staging import OutputKind, staged_folder
from live.audio_file import decode_audio
from offline.pictures import PosePictures
from offline.pipeline import RetrieveOptions, SongAnalysis
from offline.video import write_video
from pose_db.bank import PoseBank
from pose_db.search import TopK

RESULT_FILE = "retrieval.json"
FORMAT_NAME = "dancepose-retrieval"
FORMAT_VERSION = 1
RETRIEVAL_OUTPUT = OutputKind(
    what="a dancepose output folder", marker=RESULT_FILE, format=FORMAT_NAME,
    entries=(RESULT_FILE, "segment_image", "segment_image/*", "segment_image/*/*", "top_k", "top_k/segment_image_top*",
             "top_k/segment_image_top*/*", "retrieval_result_*.mp4"),
)
"""What ``write_retrieval`` makes: only a folder holding nothing else (and a ``retrieval.json`` of this format) is
ever replaced."""


@dataclass(frozen=True)
class Provenance:
    """What produced a retrieval, recorded in ``retrieval.json``: encoder name and the files it used."""

    encoder: str
    checkpoint: str | None
    bank: str
    body: str | None


def song_label(path: Path) -> str:
    """The reference's song label: the file name up to its first '.'."""
    return path.name.split(".")[0]


def _copy_rank_images(root: Path, label: str, analysis: SongAnalysis, ranking: TopK, pictures: PosePictures) -> list[list[str]]:
    """Copy each position's top-k pictures into both reference folders; returns [position][rank] relative paths."""
    frames = analysis.positions.frames
    relative: list[list[str]] = []
    for n, (frame, row) in enumerate(tqdm(list(zip(frames, ranking.indices)), desc="images", unit="position"), 1):
        segment = root / "segment_image" / f"{label}_{n}_{frame}"
        segment.mkdir(parents=True)
        names = []
        for k, bank_index in enumerate(row, 1):
            source = pictures.path(int(bank_index))
            target = segment / f"{label}_{n}_top{k}{source.suffix}"
            shutil.copyfile(source, target)
            by_rank = root / "top_k" / f"segment_image_top{k}"
            by_rank.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, by_rank / f"{label}_{n}_top{k}_{frame}{source.suffix}")
            names.append(str(target.relative_to(root)))
        relative.append(names)
    return relative


def _position_records(analysis: SongAnalysis, ranking: TopK, images: list[list[str]], bank: PoseBank) -> list[dict]:
    pos = analysis.positions
    return [
        {
            "n": n + 1,
            "time_s": round(float(pos.times_s[n]), 6),
            "sample": int(pos.samples[n]),
            "frame": int(pos.frames[n]),
            "beat": int(pos.beat_index[n]),
            "subdivision": int(pos.subdivision[n]),
            "full_window": bool(analysis.full[n]),
            "top_k": [
                {
                    "rank": k + 1,
                    "bank_index": int(index),
                    "score": float(score),
                    "name": bank.name(int(index)),
                    "image": images[n][k],
                    "source_image": None if bank.image_path(int(index)) is None else str(bank.image_path(int(index))),
                }
                for k, (index, score) in enumerate(zip(ranking.indices[n], ranking.scores[n]))
            ],
        }
        for n in range(len(pos))
    ]


def _write_videos(root: Path, analysis: SongAnalysis, images: list[list[str]], options: RetrieveOptions) -> list[str]:
    if options.video is None:
        return []
    audio, rate = decode_audio(analysis.song.path)
    names = []
    for k in tqdm(range(options.top_k), desc="videos", unit="video"):
        name = f"retrieval_result_{options.resolution}_top{k + 1}.mp4"
        pictures = [root / row[k] for row in images]
        write_video(root / name, pictures, analysis.positions.times_s, audio, rate, options.video)
        names.append(name)
    return names


def write_retrieval(
    out_dir: Path,
    analysis: SongAnalysis,
    ranking: TopK,
    bank: PoseBank,
    pictures: PosePictures,
    options: RetrieveOptions,
    provenance: Provenance,
) -> Path:
    """Write the whole output folder (see the module docstring) and return the path of ``retrieval.json``."""
    label = song_label(analysis.song.path)
    with staged_folder(out_dir, RETRIEVAL_OUTPUT) as root:
        images = _copy_rank_images(root, label, analysis, ranking, pictures)
        videos = _write_videos(root, analysis, images, options)
        result = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "song": str(analysis.song.path.resolve()),
            "song_label": label,
            "duration_s": round(analysis.song.duration_s, 6),
            "sample_rate": analysis.song.sample_rate,
            "resolution": options.resolution,
            "top_k": options.top_k,
            "encoder": provenance.encoder,
            "checkpoint": provenance.checkpoint,
            "bank": provenance.bank,
            "body": provenance.body,
            "videos": videos,
            "positions": _position_records(analysis, ranking, images, bank),
        }
        (root / RESULT_FILE).write_text(json.dumps(result, indent=1))
    return out_dir.resolve() / RESULT_FILE
