"""An SMPL-layout body model driven by ``smplx.SMPL``: pose (N,72) axis-angle + betas (N,10) -> mesh and joints."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import smplx
import torch

from common.constants import NUM_BETAS, NUM_JOINTS

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "L_hip", "R_hip", "spine1", "L_knee", "R_knee", "spine2", "L_ankle", "R_ankle", "spine3",
    "L_foot", "R_foot", "neck", "L_collar", "R_collar", "head", "L_shoulder", "R_shoulder", "L_elbow", "R_elbow",
    "L_wrist", "R_wrist", "L_hand", "R_hand",
)
"""SMPL's 24 joints in pose-vector order (joint i owns pose values 3i..3i+2)."""

SMPL_PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
"""SMPL's kinematic tree: the parent of each joint (-1 for the pelvis, the root)."""

_NO_EXTRA_JOINTS = {
    "vertex_ids": dict.fromkeys(("nose", "reye", "leye", "rear", "lear"), 0),
    "use_hands": False,
    "use_feet_keypoints": False,
}
"""smplx appends landmark "joints" picked by SMPL vertex ids; we only use the 24 skeleton joints, so ask for the
fewest (vertex 0), which also works for meshes with fewer vertices than SMPL's 6890."""

REQUIRED_KEYS: tuple[str, ...] = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
"""Arrays every SMPL-layout body file holds (shapes as in SMPL, with V vertices)."""


@dataclass(frozen=True)
class BodyOutput:
    """A batch of posed bodies: vertices (N,V,3) float32 metres, joints (N,24,3) float32 metres."""

    vertices: np.ndarray
    joints: np.ndarray


def check_arrays(arrays: Mapping[str, np.ndarray]) -> str | None:
    """The first problem with a body model's arrays (missing key, wrong shape), or None when they are usable."""
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        return f"not an SMPL body model: missing {', '.join(missing)}"
    n = np.shape(arrays["v_template"])[0]
    expected = {
        "v_template": (n, 3), "shapedirs": (n, 3, None), "posedirs": (n, 3, 9 * (NUM_JOINTS - 1)),
        "J_regressor": (NUM_JOINTS, n), "weights": (n, NUM_JOINTS), "kintree_table": (2, NUM_JOINTS), "f": (None, 3),
    }
    for key, shape in expected.items():
        actual = np.shape(arrays[key])
        if len(actual) != len(shape) or any(e is not None and e != a for e, a in zip(shape, actual)):
            return f"{key} has shape {actual}, expected {tuple('*' if e is None else e for e in shape)}"
    if np.shape(arrays["shapedirs"])[2] < NUM_BETAS:
        return f"shapedirs has {np.shape(arrays['shapedirs'])[2]} shape components, expected at least {NUM_BETAS}"
    return None


class BodyModel:
    """A body mesh posed with SMPL parameters (linear blend skinning through ``smplx.SMPL``, CPU, no gradients).

    ``arrays`` holds the SMPL file layout (``REQUIRED_KEYS``, already checked by ``check_arrays``); ``name`` says
    which model it is ("dancepose-cc0", "smpl:<file>").
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], name: str) -> None:
        struct = smplx.utils.Struct(**{k: np.asarray(arrays[k]) for k in REQUIRED_KEYS})
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for 10-component shape spaces
            self._smpl = smplx.SMPL(
                model_path=name, data_struct=struct, num_betas=NUM_BETAS, create_betas=False,
                create_global_orient=False, create_body_pose=False, create_transl=False, **_NO_EXTRA_JOINTS,
            ).eval()
        self.name = name
        self.faces: np.ndarray = np.asarray(arrays["f"], dtype=np.int64)
        """Triangles (F,3), indices into the vertices."""
        self.parents: tuple[int, ...] = SMPL_PARENTS
        """Parent joint of each of the 24 joints (-1 for the root)."""

    @property
    def num_vertices(self) -> int:
        """V, the number of mesh vertices."""
        return int(self._smpl.v_template.shape[0])

    def forward(self, pose: np.ndarray, betas: np.ndarray | None = None) -> BodyOutput:
        """Pose the body.

        pose: (N,72) axis-angle radians (global orientation then 23 joints, SMPL order); betas: (N,10) or None (the
        mean shape). Returns vertices (N,V,3) and joints (N,24,3), float32 metres, root joint not translated.
        """
        pose_t = torch.as_tensor(np.asarray(pose, dtype=np.float32).reshape(-1, 3 * NUM_JOINTS))
        n = pose_t.shape[0]
        betas_t = (
            torch.zeros((n, NUM_BETAS)) if betas is None
            else torch.as_tensor(np.asarray(betas, dtype=np.float32).reshape(n, NUM_BETAS))
        )
        with torch.no_grad():
            out = self._smpl(betas=betas_t, global_orient=pose_t[:, :3], body_pose=pose_t[:, 3:])
        return BodyOutput(vertices=out.vertices.numpy(), joints=out.joints[:, :NUM_JOINTS].numpy())

    def __repr__(self) -> str:
        return f"BodyModel({self.name!r}, {self.num_vertices} vertices, {len(self.faces)} faces)"
