"""Build the bundled default pose bank (``assets/bank/``) from free human motion capture.

Sources: the CMU mocap BVH files and assimp's boxing BVH in Debian's ``assimp-testmodels`` (``make assets-sources``),
and the DeepMimic humanoid motions in the ``pybullet`` wheel (``pip download``-ed at build time only, cached under
``assets/cache/deepmimic``). Each clip is subsampled, retargeted to SMPL (zero betas, heading removed), mirrored
left/right, and near-duplicate poses are dropped (farthest-point selection on the body's joint positions).

``--images-only`` (run at set-up by the Makefile) renders a thumbnail per entry of the existing bank into
``assets/bank/images/<index>.png`` (the paths the bank already records) with :class:`pose_db.render.PoseRenderer`,
and replaces the images folder only when complete. ``--contact-sheet`` also writes a contact sheet of 24 thumbnails
to ``docs/images/bank_contact_sheet.png`` (a tracked file: set-up never rewrites it).

Run: ``.venv/bin/python tools/build_default_bank.py [--images | --images-only] [--contact-sheet]``.
"""

from __future__ import annotations

import argparse
import functools
import operator
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.constants import NUM_BETAS, NUM_JOINTS  # noqa: E402
from common.paths import DEFAULT_BANK  # noqa: E402
from common.staging import OutputKind, staged_folder  # noqa: E402
from pose_db.bank import PoseBank, write_bank  # noqa: E402
from pose_db.body import BodyModel, load_body  # noqa: E402
from pose_db.body.default_body import DEFAULT_BODY_PATH  # noqa: E402
from pose_db.mocap.bvh_source import load_bvh  # noqa: E402
from pose_db.mocap.deepmimic_source import (  # noqa: E402
    LICENSE_NAME,
    PYBULLET_REQUIREMENT,
    fetch_motions,
    load_deepmimic,
)
from pose_db.mocap.dedup import select_distinct  # noqa: E402
from pose_db.mocap.retarget import MotionClip, mirror_poses, retarget, smpl_joint_positions  # noqa: E402

BVH_DIR = Path("/usr/share/assimp/models/BVH")
CACHE_DIR = REPO / "assets" / "cache" / "deepmimic"
CONTACT_SHEET = REPO / "docs" / "images" / "bank_contact_sheet.png"
THUMBNAIL_SIZE = 256
IMAGES_DIR = "images"
THUMBNAILS_OUTPUT = OutputKind("the bank's image folder", None, None, ("*.png", ".stamp"))

CMU_LICENCE = (
    "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu), BVH conversion by B. Hahne (cgspeed.com), "
    "shipped in Debian's assimp-testmodels (/usr/share/assimp/models/BVH/01_nn.bvh.source.txt): 'CMU places no "
    "restrictions on the use of the original dataset, and I (Bruce) place no additional restrictions on the use of "
    "this particular BVH conversion.' CMU: 'This data is free for use in research and commercial projects "
    "worldwide.' Requested acknowledgement: 'The data used in this project was obtained from mocap.cs.cmu.edu. The "
    "database was created with funding from NSF EIA-0196217.'"
)
BOXING_LICENCE = (
    "assimp test model BVH/Boxing_Toes.bvh, shipped in Debian's assimp-testmodels; its Debian copyright file covers "
    "it under 'Files: *  Copyright: 2006-2022, ASSIMP Development Team  License: BSD-3-clause' (no separate "
    "motion-capture credit is given)"
)
# (file, clip name, source label, licence)
BVH_CLIPS: tuple[tuple[str, str, str, str], ...] = (
    ("01_01.bvh", "cmu_01_01", "CMU mocap 01_01 (assimp-testmodels)", CMU_LICENCE),
    ("01_03.bvh", "cmu_01_03", "CMU mocap 01_03 (assimp-testmodels)", CMU_LICENCE),
    ("Boxing_Toes.bvh", "assimp_boxing", "assimp test model Boxing_Toes (assimp-testmodels)", BOXING_LICENCE),
)


@dataclass(frozen=True)
class Entries:
    """Bank entries before writing: (N, 72) poses and per-entry names, source labels, source frame numbers."""

    poses: np.ndarray
    names: list[str]
    sources: list[str]
    frame_ids: np.ndarray

    def take(self, indices: np.ndarray) -> Entries:
        return Entries(
            self.poses[indices], [self.names[i] for i in indices], [self.sources[i] for i in indices],
            self.frame_ids[indices],
        )

    def __add__(self, other: Entries) -> Entries:
        return Entries(
            np.concatenate([self.poses, other.poses]), self.names + other.names, self.sources + other.sources,
            np.concatenate([self.frame_ids, other.frame_ids]),
        )


def load_clips(cache_dir: Path, target_fps: float) -> tuple[list[MotionClip], dict[str, dict[str, str]]]:
    """All source clips subsampled to about ``target_fps``, and provenance per source label."""
    clips, provenance = [], {}
    for file, name, source, licence in BVH_CLIPS:
        clips.append(load_bvh(BVH_DIR / file, name=name, source=source, target_fps=target_fps))
        provenance[source] = {"file": str(BVH_DIR / file), "licence": licence}
    motions = fetch_motions(cache_dir)
    deepmimic_licence = deepmimic_licence_text(cache_dir)
    for path in motions:
        motion = path.stem.removeprefix("humanoid3d_")
        source = f"DeepMimic {motion} (pybullet_data)"
        clips.append(load_deepmimic(path, name=f"deepmimic_{motion}", source=source, target_fps=target_fps))
        provenance[source] = {
            "file": f"{PYBULLET_REQUIREMENT} wheel: pybullet_data/data/motions/{path.name}",
            "licence": deepmimic_licence,
        }
    return clips, provenance


def deepmimic_licence_text(cache_dir: Path) -> str:
    """The pybullet wheel's licence text (its ``*.dist-info/LICENSE.txt``; the wheel has no licence file of its own
    for ``pybullet_data/data/motions``), prefixed with where it comes from."""
    licence = " ".join((cache_dir / LICENSE_NAME).read_text().split())
    return (f"{PYBULLET_REQUIREMENT} wheel (no licence file of its own under pybullet_data/data/motions); the wheel's "
            f"pybullet-*.dist-info/LICENSE.txt (zlib): {licence}")


def clip_entries(clip: MotionClip) -> Entries:
    """A clip retargeted to SMPL, one entry per kept frame, named ``<clip>:f<frame>``."""
    return Entries(
        retarget(clip), [f"{clip.name}:f{f:04d}" for f in clip.frame_ids], [clip.source] * len(clip.frame_ids),
        clip.frame_ids.astype(np.int64),
    )


def mirrored(entries: Entries) -> Entries:
    """The left/right mirror images of ``entries``, named ``<name>:mirror``."""
    names = [f"{n}:mirror" for n in entries.names]
    return Entries(mirror_poses(entries.poses), names, entries.sources, entries.frame_ids)


def body_rest_joints(body: BodyModel) -> np.ndarray:
    """(24, 3) rest joint positions of ``body`` in metres, pelvis at the origin."""
    joints = body.forward(np.zeros((1, 3 * NUM_JOINTS), np.float32)).joints[0].astype(np.float64)
    return joints - joints[0]


def build_bank(out: Path, cache_dir: Path, body: BodyModel, target_fps: float, threshold_m: float) -> PoseBank:
    """Retarget, mirror and deduplicate every clip, write the bank to ``out`` and print the counts."""
    clips, provenance = load_clips(cache_dir, target_fps)
    originals = functools.reduce(operator.add, map(clip_entries, clips))
    candidates = originals + mirrored(originals)
    joints = smpl_joint_positions(candidates.poses, body_rest_joints(body))
    kept = candidates.take(select_distinct(joints, threshold_m))
    counts = {s: kept.sources.count(s) for s in provenance}
    vectors = np.concatenate([np.zeros((len(kept.poses), NUM_BETAS), np.float32), kept.poses], axis=1)
    info = {
        "importer": "tools/build_default_bank.py",
        "options": {"target_fps": target_fps, "mirrored": True, "dedup_threshold_m": threshold_m,
                    "dedup_body": body.name, "betas": "zero"},
        "candidates": len(candidates.names),
        "counts": counts,
        "provenance": provenance,
    }
    write_bank(
        out, vectors, names=kept.names, sources=kept.sources, frame_ids=kept.frame_ids,
        image_paths=[out.resolve() / IMAGES_DIR / f"{i:05d}.png" for i in range(len(kept.names))], info=info,
    )
    print(f"{len(candidates.names)} candidate poses ({len(originals.names)} frames + mirrors) -> "
          f"{len(kept.names)} distinct (mean per-joint distance >= {threshold_m * 100:.0f} cm)")
    for source, count in counts.items():
        print(f"  {count:5d}  {source}")
    return PoseBank.open(out)


def render_images(bank: PoseBank, body: BodyModel) -> float:
    """Render every entry's thumbnail (``THUMBNAIL_SIZE`` square PNG) at its recorded path; returns seconds taken.

    The images folder is rendered into a temporary sibling and swapped in when complete (so re-running is safe).
    """
    from pose_db.render import PoseRenderer  # moderngl: only when rendering

    start = time.perf_counter()
    with staged_folder(bank.root / IMAGES_DIR, THUMBNAILS_OUTPUT) as staging:
        with PoseRenderer(body, THUMBNAIL_SIZE, THUMBNAIL_SIZE) as renderer:
            for i in range(len(bank)):
                Image.fromarray(renderer.render(np.array(bank.vectors[i]))).save(staging / bank.image_path(i).name)
    return time.perf_counter() - start


def write_contact_sheet(bank: PoseBank, path: Path, seed: int = 0, columns: int = 6, rows: int = 4) -> None:
    """A ``columns`` x ``rows`` grid of random thumbnails (fixed seed), each captioned with its entry name."""
    picks = np.sort(np.random.default_rng(seed).choice(len(bank), size=columns * rows, replace=False))
    sheet = Image.new("RGB", (columns * THUMBNAIL_SIZE, rows * THUMBNAIL_SIZE), "white")
    draw = ImageDraw.Draw(sheet)
    for k, i in enumerate(picks):
        x, y = (k % columns) * THUMBNAIL_SIZE, (k // columns) * THUMBNAIL_SIZE
        sheet.paste(Image.open(bank.image_path(i)), (x, y))
        draw.text((x + 4, y + 4), bank.name(i), fill=(40, 40, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_BANK, help="bank folder (default: assets/bank)")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="DeepMimic motion cache")
    parser.add_argument("--fps", type=float, default=20.0, help="frames per second kept from each clip")
    parser.add_argument("--threshold-cm", type=float, default=6.0,
                        help="poses closer than this mean per-joint distance count as duplicates")
    images = parser.add_mutually_exclusive_group()
    images.add_argument("--images", action="store_true", help="also render the thumbnails")
    images.add_argument("--images-only", action="store_true", help="only render thumbnails of the existing bank")
    parser.add_argument("--contact-sheet", action="store_true",
                        help=f"also write the contact sheet {CONTACT_SHEET.relative_to(REPO)} (tracked in git)")
    args = parser.parse_args(argv)
    body = load_body(DEFAULT_BODY_PATH)
    if args.images_only:
        bank = PoseBank.open(args.out)
    else:
        bank = build_bank(args.out, args.cache, body, args.fps, args.threshold_cm / 100.0)
    if args.images or args.images_only:
        seconds = render_images(bank, body)
        print(f"rendered {len(bank)} thumbnails in {seconds:.1f} s")
    if args.contact_sheet:
        write_contact_sheet(bank, CONTACT_SHEET)
        print(f"contact sheet: {CONTACT_SHEET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
