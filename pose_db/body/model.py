"""An SMPL-layout body model: its arrays in numpy, for the renderer's rest mesh (no torch); ``forward`` poses it through
``smplx.SMPL``: pose (N,72) axis-angle + betas (N,10) -> mesh and joints.

smplx and torch are imported by the first :meth:`BodyModel.forward` only (about 3.5 s on a 2-core machine), so the
body can be loaded and drawn (:meth:`BodyModel.rest_mesh`, :func:`pose_db.body.skinning.joint_transforms`) without
them.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from common.constants import NUM_BETAS, NUM_JOINTS

if TYPE_CHECKING:
    import smplx

    from pose_db.body.skinning import RestMesh

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
    which model it is ("dancepose-cc0", "smpl:<file>"). The arrays are kept in numpy (float32, as smplx keeps them);
    the ``smplx.SMPL`` layer is built by the first :meth:`forward`.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], name: str) -> None:
        self._arrays = {k: np.asarray(arrays[k]) for k in REQUIRED_KEYS}
        self.name = name
        self.faces: np.ndarray = np.asarray(arrays["f"], dtype=np.int64)
        """Triangles (F,3), indices into the vertices."""
        self.parents: tuple[int, ...] = SMPL_PARENTS
        """Parent joint of each of the 24 joints (-1 for the root)."""
        self.v_template: np.ndarray = self._arrays["v_template"].astype(np.float32)
        """Mean-shape rest vertices (V,3) float32 metres."""
        self.shapedirs: np.ndarray = self._arrays["shapedirs"][:, :, :NUM_BETAS].astype(np.float32)
        """Shape blend shapes (V,3,10) float32 metres per unit of each beta."""
        self.j_regressor: np.ndarray = self._arrays["J_regressor"].astype(np.float32)
        """Joint regressor (24,V) float32: rest joints = ``j_regressor @ vertices``."""
        self.lbs_weights: np.ndarray = self._arrays["weights"].astype(np.float32)
        """Skin weights (V,24) float32, summing to 1 per vertex."""
        self._smpl: smplx.SMPL | None = None
        self._smpl_lock = threading.Lock()

    @property
    def num_vertices(self) -> int:
        """V, the number of mesh vertices."""
        return int(self.v_template.shape[0])

    def rest_vertices(self, betas: np.ndarray | None = None) -> np.ndarray:
        """Rest-pose vertices (V,3) float64 metres with shape ``betas`` (10,) applied (None: the mean shape)."""
        shape = np.zeros(NUM_BETAS) if betas is None else np.asarray(betas, np.float64).reshape(NUM_BETAS)
        return self.v_template.astype(np.float64) + self.shapedirs.astype(np.float64) @ shape  # (V,3,10) @ (10,)

    def rest_joints(self, betas: np.ndarray | None = None) -> np.ndarray:
        """Rest-pose joint positions (24,3) float64 metres with shape ``betas`` (10,) applied (None: the mean shape);
        what :meth:`forward` gives for the zero pose, without torch."""
        return self.j_regressor.astype(np.float64) @ self.rest_vertices(betas)  # (24,V) @ (V,3)

    def rest_mesh(self, betas: np.ndarray | None = None) -> RestMesh:
        """The rest-pose mesh with shape ``betas`` (10,) applied (None: the mean shape), its rest joints and its skin
        weights, for GPU skinning (see :mod:`pose_db.body.skinning`); numpy only."""
        from pose_db.body.skinning import RestMesh, top_weights, vertex_normals  # imports this module

        vertices = self.rest_vertices(betas)
        joints = self.j_regressor.astype(np.float64) @ vertices  # (24,V) @ (V,3)
        skin_joints, skin_weights = top_weights(self.lbs_weights)
        faces = self.faces[np.argsort(self.faces.min(axis=1), kind="stable")]  # vertex-cache friendly order
        return RestMesh(vertices=vertices.astype(np.float32), normals=vertex_normals(vertices, self.faces),
                        faces=faces.astype(np.uint32), joints=joints.astype(np.float32),
                        skin_joints=skin_joints, skin_weights=skin_weights)

    def _layer(self) -> smplx.SMPL:
        """The ``smplx.SMPL`` layer of these arrays, built (importing smplx and torch) on first use."""
        with self._smpl_lock:
            if self._smpl is None:
                import smplx

                struct = smplx.utils.Struct(**self._arrays)
                with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for 10-component shapes
                    self._smpl = smplx.SMPL(
                        model_path=self.name, data_struct=struct, num_betas=NUM_BETAS, create_betas=False,
                        create_global_orient=False, create_body_pose=False, create_transl=False, **_NO_EXTRA_JOINTS,
                    ).eval()
            return self._smpl

    def forward(self, pose: np.ndarray, betas: np.ndarray | None = None) -> BodyOutput:
        """Pose the body.

        pose: (N,72) axis-angle radians (global orientation then 23 joints, SMPL order); betas: (N,10) or None (the
        mean shape). Returns vertices (N,V,3) and joints (N,24,3), float32 metres, root joint not translated.
        """
        import torch

        smpl = self._layer()
        pose_t = torch.as_tensor(np.asarray(pose, dtype=np.float32).reshape(-1, 3 * NUM_JOINTS))
        n = pose_t.shape[0]
        betas_t = (
            torch.zeros((n, NUM_BETAS)) if betas is None
            else torch.as_tensor(np.asarray(betas, dtype=np.float32).reshape(n, NUM_BETAS))
        )
        with torch.no_grad():
            out = smpl(betas=betas_t, global_orient=pose_t[:, :3], body_pose=pose_t[:, 3:])
        return BodyOutput(vertices=out.vertices.numpy(), joints=out.joints[:, :NUM_JOINTS].numpy())

    def __repr__(self) -> str:
        return f"BodyModel({self.name!r}, {self.num_vertices} vertices, {len(self.faces)} faces)"
