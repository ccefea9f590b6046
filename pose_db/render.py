"""Render posed bodies to RGB images off screen: ``PoseRenderer(body).render(vector82)``.

GPU skinning with moderngl (:class:`pose_db.gl_body.SkinnedBodyRenderer`) in a headless context of its own
(:func:`pose_db.gl_context.headless_context`: EGL, else OSMesa; Mesa's llvmpipe without a GPU). Per frame the CPU only
walks the 24-joint kinematic chain and finds the lowest point of the posed mesh; the vertices are skinned on the GPU.
Pose-corrective blend shapes are left out (the bundled body has none; see :mod:`pose_db.body.skinning`).

Framing: the body is placed with its pelvis joint above the origin and its lowest vertex on the floor (y = 0), then
moved by ``root_m`` when given; the camera (:func:`pose_db.scene.standing_framing` for a standing body of the model's
rest height with room for raised arms) stays put while the root does, and eases after a moving root
(:class:`pose_db.scene.CameraFollow`), so consecutive poses do not jump and a travelling body stays in the picture.
Units: metres, Y up, the body faces +Z, the camera looks from +Z. A renderer's context belongs to the thread that
made it: create and use a renderer on one thread.
"""

from __future__ import annotations

import numpy as np

from common.constants import NUM_BETAS, NUM_JOINTS, POSE_DIM
from pose_db.body import BodyModel
from pose_db.body.skinning import RestMesh, joint_transforms, lowest_point
from pose_db.gl_body import SAMPLES, SkinnedBodyRenderer
from pose_db.gl_context import context_description, headless_context, is_software
from pose_db.scene import CameraFollow, Framing, RenderStyle, look_at, standing_framing

__all__ = ["PoseRenderer", "RenderStyle", "Framing", "look_at", "standing_framing"]

MAX_CAMERA_LAG = 0.25
"""How far (in body heights) the camera may trail a moving root: keeps the body inside the picture."""


def grounded(transforms: np.ndarray, rest: RestMesh, root_m: np.ndarray | None) -> np.ndarray:
    """``transforms`` (24,4,4) moved so the pelvis is above the origin and the lowest posed vertex touches y = 0,
    then by ``root_m`` (3,) metres when given."""
    shift = np.array([-rest.joints[0, 0], -lowest_point(rest, transforms), -rest.joints[0, 2]])
    if root_m is not None:
        shift += np.asarray(root_m, np.float64).reshape(3)
    moved = transforms.copy()
    moved[:, :3, 3] += shift
    return moved


class PoseRenderer:
    """Draws a body model in SMPL poses: lit, shaded, on a floor with a soft contact shadow, seen from the front.

    ``render(vector82)`` and ``render_pose(pose72, betas10, root_m)`` return (height, width, 3) uint8 RGB images.
    Holds an OpenGL context (``backend``: see :func:`pose_db.gl_context.headless_context`): call ``close()`` (or use
    it as a context manager) when done. ``samples``: MSAA samples per pixel (0: none; None: :data:`SAMPLES` on a
    GPU, none on a CPU rasterizer, where multisampling doubles the frame time; for live pictures).
    """

    def __init__(self, body: BodyModel, width: int = 256, height: int = 256, style: RenderStyle = RenderStyle(),
                 backend: str = "auto", samples: int | None = SAMPLES) -> None:
        self.body, self.width, self.height, self.style = body, width, height, style
        self._rest = body.rest_mesh()
        self._rest_betas = np.zeros(NUM_BETAS, np.float32)
        framing = standing_framing(self._rest.height, width / height)
        self._follow = CameraFollow(MAX_CAMERA_LAG * self._rest.height)
        self._ctx = headless_context(backend)
        if samples is None:
            samples = 0 if is_software(self._ctx) else SAMPLES
        self._gl = SkinnedBodyRenderer(self._ctx, self._rest, style, (width, height), framing, samples)

    @property
    def gl_description(self) -> str:
        """The OpenGL renderer and version of this renderer's context, and its MSAA samples."""
        return f"{context_description(self._ctx)}, {self._gl.samples}x MSAA"

    @property
    def framing(self) -> Framing:
        """The camera's standing framing (before it follows a moving root)."""
        return self._gl.framing

    def render(self, vector: np.ndarray) -> np.ndarray:
        """Render a pose vector (82,) = 10 betas then 72 axis-angle values: (H,W,3) uint8."""
        vector = np.asarray(vector, np.float32).reshape(POSE_DIM)
        return self.render_pose(vector[NUM_BETAS:], vector[:NUM_BETAS])

    def render_pose(self, pose: np.ndarray, betas: np.ndarray | None = None,
                    root_m: np.ndarray | None = None) -> np.ndarray:
        """Render SMPL pose (72,) axis-angle radians with shape (10,) (None: the mean shape), the grounded pelvis
        moved by ``root_m`` (3,) metres (None: not moved): (H,W,3) uint8."""
        self.draw(pose, betas, root_m)
        return self._gl.read_rgb()

    def body_mask(self, pose: np.ndarray, betas: np.ndarray | None = None,
                  root_m: np.ndarray | None = None) -> np.ndarray:
        """The body's silhouette (H,W) bool in the picture :meth:`render_pose` would make."""
        self.draw(pose, betas, root_m)
        return self._gl.read_mask()

    def draw(self, pose: np.ndarray, betas: np.ndarray | None, root_m: np.ndarray | None) -> None:
        """Draw the frame :meth:`render_pose` reads back (see there for the arguments)."""
        self._use_betas(betas)
        pose = np.asarray(pose, np.float64).reshape(NUM_JOINTS, 3)
        transforms = grounded(joint_transforms(pose[:1], pose[1:], self._rest.joints)[0], self._rest, root_m)
        offset = self._follow.update(np.zeros(3) if root_m is None else np.asarray(root_m, np.float64).reshape(3))
        self._gl.draw(transforms, offset)

    def _use_betas(self, betas: np.ndarray | None) -> None:
        """Rebuild and re-upload the rest mesh when the shape changes."""
        betas = np.zeros(NUM_BETAS, np.float32) if betas is None else np.asarray(betas, np.float32).reshape(NUM_BETAS)
        if np.array_equal(betas, self._rest_betas):
            return
        self._rest, self._rest_betas = self.body.rest_mesh(betas), betas.copy()
        self._gl.set_rest(self._rest)

    def close(self) -> None:
        """Release the GPU objects and the OpenGL context."""
        self._gl.release()
        self._ctx.release()

    def __enter__(self) -> PoseRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
