"""The motion graph as a database (orangeduck's Motion-Matching ``database.h``): flat ``.npy`` columns plus a JSON
header, its features built once, and :func:`best_segment`, a free function that returns (segment, cost).

Frames of every clip are stored one after the other at ``fps`` frames per second:

- ``rotations`` (F, 24, 4) float32: unit quaternions (x, y, z, w) of SMPL's 24 joints, root first (local rotations,
  the root's in the world);
- ``root`` (F, 3) float32: the pelvis moved from its rest place, metres (Y up), scaled to the legs of SMPL's template
  skeleton (:func:`template_leg_m`): a player scales it to its performer's legs, so strides and travel agree and the
  planted feet do not slide;
- ``segments`` (S, 2) int64: first and landing frame of each segment (the landing frame is the beat it lands on, and
  the first frame of the next segment of the same clip); a segment never spans two clips;
- ``beat_frames`` (B,) int64: every beat (the segment cuts) of every clip;
- ``features`` (F, D) float32: each frame's matching features, normalised: ``(raw - feature_offset) / feature_scale``
  with ``feature_offset``, ``feature_scale`` (D,) float32.

Raw features (:func:`raw_features`), all in the body's heading frame (the root's rotation about Y removed), metres and
metres per second: the positions of :data:`FEATURE_JOINTS` relative to the pelvis (the pose, :data:`POSE_DIMS`
values), then their velocities and the pelvis velocity. The header (``graph.json``) holds the frame rate, the clips
(name, source, first frame, frame count) and how many beats a segment spans.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from common.constants import NUM_JOINTS
from common.errors import InputError
from common.staging import OutputKind, staged_folder

FORMAT_NAME = "dancepose-motion-graph"
FORMAT_VERSION = 1
HEADER_FILE = "graph.json"
COLUMNS: tuple[str, ...] = ("rotations", "root", "segments", "beat_frames", "features", "feature_offset",
                            "feature_scale")
GRAPH_OUTPUT = OutputKind("a motion graph", HEADER_FILE, FORMAT_NAME,
                          (HEADER_FILE, *(f"{column}.npy" for column in COLUMNS)))
FEATURE_JOINTS: tuple[int, ...] = (4, 5, 7, 8, 10, 11, 15, 18, 19, 20, 21)
"""Knees, ankles, feet, head, elbows, wrists: the joints whose places and velocities are matched."""
POSE_DIMS = 3 * len(FEATURE_JOINTS)
"""Leading feature values that describe the pose alone (positions); the rest are velocities."""
FEATURE_DIMS = 2 * POSE_DIMS + 3
VELOCITY_WEIGHT = 0.5
"""Weight of the velocity features against the positions in a transition's cost (after normalisation)."""


@dataclass(frozen=True)
class GraphClip:
    """Where one source clip lies in the graph: frames ``first`` .. ``first + frames - 1``."""

    name: str
    source: str
    first: int
    frames: int


@dataclass(frozen=True)
class MotionGraph:
    """The database (see the module docstring for the columns, shapes and units)."""

    rotations: np.ndarray
    root: np.ndarray
    segments: np.ndarray
    beat_frames: np.ndarray
    features: np.ndarray
    feature_offset: np.ndarray
    feature_scale: np.ndarray
    fps: float
    clips: tuple[GraphClip, ...]
    segment_beats: int = 1
    info: dict | None = None

    def __len__(self) -> int:
        """Number of segments."""
        return len(self.segments)

    @property
    def starts(self) -> np.ndarray:
        """(S,) first frame of each segment."""
        return self.segments[:, 0]

    @property
    def ends(self) -> np.ndarray:
        """(S,) landing frame of each segment."""
        return self.segments[:, 1]

    def successor(self, segment: int) -> int | None:
        """The segment that follows ``segment`` in its clip (None at a clip's end)."""
        nxt = segment + 1
        if nxt < len(self.segments) and self.segments[nxt, 0] == self.segments[segment, 1]:
            return nxt
        return None

    def clip_of_frame(self, frame: int) -> GraphClip:
        """The clip frame ``frame`` belongs to."""
        for clip in self.clips:
            if clip.first <= frame < clip.first + clip.frames:
                return clip
        raise IndexError(f"frame {frame} is in no clip")

    def normalise(self, raw: np.ndarray) -> np.ndarray:
        """Raw features (..., D) -> the graph's normalised features."""
        return ((np.asarray(raw, np.float64) - self.feature_offset) / self.feature_scale).astype(np.float32)

    def pose_query(self, rotvecs: np.ndarray) -> np.ndarray:
        """The normalised features (D,) of a still pose ``rotvecs`` (24, 3) axis-angle radians (velocities 0): what
        :func:`best_segment` compares landing frames with."""
        quats = Rotation.from_rotvec(np.asarray(rotvecs, np.float64).reshape(NUM_JOINTS, 3)).as_quat()[None]
        return self.normalise(raw_features(quats, np.zeros((1, 3)), self.fps))[0]

    def heading(self, frames: np.ndarray | int) -> np.ndarray:
        """Heading (radians about +Y) of the root at ``frames``."""
        return heading_of(self.rotations[frames, 0])


def leg_length_m(joints: np.ndarray) -> float:
    """Thigh plus shin (metres) of SMPL joint positions (..., 24, 3): the median over frames of both legs' mean."""
    j = np.asarray(joints, np.float64).reshape(-1, NUM_JOINTS, 3)
    legs = [np.linalg.norm(j[:, knee] - j[:, hip], axis=-1) + np.linalg.norm(j[:, ankle] - j[:, knee], axis=-1)
            for hip, knee, ankle in ((1, 4, 7), (2, 5, 8))]
    return float(np.median((legs[0] + legs[1]) / 2))


@functools.lru_cache(maxsize=1)
def template_leg_m() -> float:
    """Leg length (metres) of SMPL's template skeleton: the graph's root travel is stored for legs this long."""
    from pose_db.mocap.retarget import SMPL_TEMPLATE_JOINTS

    return leg_length_m(SMPL_TEMPLATE_JOINTS)


def heading_of(root_quats: np.ndarray) -> np.ndarray:
    """Rotation about world +Y (radians) of root quaternions (..., 4) (x, y, z, w): the twist about Y."""
    q = np.asarray(root_quats, np.float64)
    return 2.0 * np.arctan2(q[..., 1], q[..., 3])


def template_positions(quats: np.ndarray) -> np.ndarray:
    """(F, 24, 3) joint positions (metres, pelvis at the origin) of (F, 24, 4) local quaternions on SMPL's template
    skeleton (``pose_db.mocap.retarget.SMPL_TEMPLATE_JOINTS``), so features mean the same for every performer."""
    from pose_db.mocap.retarget import SMPL_TEMPLATE_JOINTS, smpl_joint_positions

    rotvecs = Rotation.from_quat(np.asarray(quats, np.float64).reshape(-1, 4)).as_rotvec()
    return smpl_joint_positions(rotvecs.reshape(len(quats), -1).astype(np.float32), SMPL_TEMPLATE_JOINTS)


def raw_features(quats: np.ndarray, root: np.ndarray, fps: float) -> np.ndarray:
    """Raw features (F, D) of one clip's consecutive frames: local quaternions (F, 24, 4), root (F, 3) metres at
    ``fps`` frames per second (velocities by central differences; zero for a single frame)."""
    quats, root = np.asarray(quats, np.float64), np.asarray(root, np.float64)
    positions = template_positions(quats)[:, list(FEATURE_JOINTS)]  # (F, K, 3), pelvis-relative, world axes
    unheading = Rotation.from_rotvec(np.outer(-heading_of(quats[:, 0]), [0.0, 1.0, 0.0]))
    world = positions + root[:, None]
    if len(quats) > 1:
        joint_v = np.gradient(world, 1.0 / fps, axis=0)
        root_v = np.gradient(root, 1.0 / fps, axis=0)
    else:
        joint_v, root_v = np.zeros_like(world), np.zeros_like(root)
    count = len(quats)
    turn = unheading.as_matrix()  # (F, 3, 3)
    local_pos = np.einsum("fij,fkj->fki", turn, positions)
    local_v = np.einsum("fij,fkj->fki", turn, joint_v)
    local_root_v = np.einsum("fij,fj->fi", turn, root_v)
    return np.concatenate([local_pos.reshape(count, -1), local_v.reshape(count, -1), local_root_v], axis=1)


def best_segment(graph: MotionGraph, query: np.ndarray, current: int, *, novelty: float,
                 recent: Sequence[int] = (), transition_weight: float = 1.0,
                 extra_cost: np.ndarray | None = None) -> tuple[int, float]:
    """The segment to play after ``current`` (-1: none yet) whose landing pose is nearest ``query``.

    Cost of segment s (all terms are mean squared distances of normalised features):

    - landing: its landing frame's pose features against ``query`` (D,) (:meth:`MotionGraph.pose_query`);
    - transition: ``transition_weight`` times its first frame's features (pose, and velocities weighted by
      :data:`VELOCITY_WEIGHT`) against ``current``'s landing frame (0 for ``current``'s successor in its clip);
    - novelty: ``novelty`` for ``current`` itself and for each time s appears in ``recent`` (segments played
      lately), so a loop costs more the more it repeats;
    - ``extra_cost`` (S,) when given (e.g. keeping the dancer near the centre of the floor).

    Returns (segment index, its cost).
    """
    features = graph.features
    landing = np.mean((features[graph.ends, :POSE_DIMS] - query[:POSE_DIMS]) ** 2, axis=1)
    cost = landing.astype(np.float64)
    if current >= 0:
        weights = np.ones(features.shape[1])
        weights[POSE_DIMS:] = VELOCITY_WEIGHT
        gap = features[graph.starts] - features[graph.ends[current]]
        cost += transition_weight * np.mean(weights * gap * gap, axis=1)
        cost[current] += novelty
    if len(recent):
        cost += novelty * np.bincount(np.asarray(recent, np.int64), minlength=len(graph))[: len(graph)]
    if extra_cost is not None:
        cost += extra_cost
    best = int(np.argmin(cost))
    return best, float(cost[best])


def write_graph(path: str | Path, graph: MotionGraph) -> Path:
    """Write ``graph`` to the folder ``path`` atomically (an earlier graph there is replaced; any other non-empty
    folder is refused); returns the absolute folder."""
    root = Path(path).resolve()
    header = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "fps": graph.fps, "segment_beats": graph.segment_beats,
        "frames": len(graph.rotations), "segments": len(graph.segments), "feature_dims": int(graph.features.shape[1]),
        "feature_joints": list(FEATURE_JOINTS),
        "clips": [{"name": c.name, "source": c.source, "first": c.first, "frames": c.frames} for c in graph.clips],
        "created": graph.info or {},
    }
    with staged_folder(root, GRAPH_OUTPUT) as staging:
        for column in COLUMNS:
            np.save(staging / f"{column}.npy", getattr(graph, column))
        (staging / HEADER_FILE).write_text(json.dumps(header, indent=1), encoding="utf-8")
    return root


def read_graph(path: str | Path) -> MotionGraph:
    """The graph in folder ``path``; InputError naming the folder when it is missing or not a readable graph."""
    root = Path(path)
    header_file = root / HEADER_FILE
    if not header_file.is_file():
        raise InputError(root, f"no motion graph here (no {HEADER_FILE}); build one with `python main.py motion "
                               f"build SOURCE... --out {root}`")
    try:
        header = json.loads(header_file.read_text(encoding="utf-8"))
        columns = {c: np.load(root / f"{c}.npy", allow_pickle=False) for c in COLUMNS}
    except (OSError, ValueError) as err:
        raise InputError(root, f"not a readable motion graph ({type(err).__name__}: {err})") from None
    if header.get("format") != FORMAT_NAME or header.get("version") != FORMAT_VERSION:
        raise InputError(header_file, f"not a {FORMAT_NAME} version {FORMAT_VERSION} header")
    frames = len(columns["rotations"])
    if (columns["rotations"].shape != (frames, NUM_JOINTS, 4) or columns["root"].shape != (frames, 3)
            or columns["features"].shape != (frames, FEATURE_DIMS) or columns["segments"].ndim != 2
            or len(columns["segments"]) == 0 or columns["segments"].max() >= frames):
        raise InputError(root, "motion graph columns have inconsistent shapes")
    clips = tuple(GraphClip(c["name"], c["source"], int(c["first"]), int(c["frames"])) for c in header["clips"])
    return MotionGraph(**columns, fps=float(header["fps"]), clips=clips, segment_beats=int(header["segment_beats"]),
                       info=header.get("created"))
