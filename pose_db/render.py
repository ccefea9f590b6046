"""Render posed bodies to RGB images off screen with pyrender: ``PoseRenderer(body).render(vector82)``.

OpenGL platform: PyOpenGL picks its platform when it is first imported, from ``PYOPENGL_PLATFORM``. Unless the caller
set it, this module chooses ``egl`` on a machine with an NVIDIA GPU (``/dev/nvidia0``) and ``osmesa`` (Mesa's
software renderer, no display needed) otherwise, before pyrender (and so OpenGL) is imported. Import this module
before anything else imports OpenGL, or set ``PYOPENGL_PLATFORM`` yourself.

numpy 2 compatibility: pyrender 0.1.45 uses ``np.infty``, which numpy 2 removed; ``_restore_np_infty`` puts the alias
back (``np.infty = np.inf``) before pyrender is imported.

Framing: the body is placed with its pelvis joint above the origin and its lowest vertex on the floor (y = 0); the
camera is fixed per renderer (it frames a standing body of the model's rest height with room for raised arms), so
consecutive poses do not jump. Units: metres, Y up, the body faces +Z, the camera looks from +Z.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse

from common.constants import NUM_BETAS, NUM_JOINTS, POSE_DIM


def _choose_gl_platform() -> None:
    """Set ``PYOPENGL_PLATFORM`` (egl with an NVIDIA GPU, else osmesa) unless the caller already did."""
    if "PYOPENGL_PLATFORM" not in os.environ:
        os.environ["PYOPENGL_PLATFORM"] = "egl" if Path("/dev/nvidia0").exists() else "osmesa"


def _restore_np_infty() -> None:
    """pyrender 0.1.45 reads ``np.infty`` (removed in numpy 2.0): alias it to ``np.inf``."""
    if "infty" not in np.__dict__:
        np.infty = np.inf  # type: ignore[attr-defined]


_choose_gl_platform()
_restore_np_infty()

import pyrender  # noqa: E402  (needs the two fixes above first)

from pose_db.body import BodyModel  # noqa: E402
from pyrender.shader_program import ShaderProgramCache  # noqa: E402

Color = tuple[float, float, float]


@dataclass(frozen=True)
class RenderStyle:
    """Colours (linear RGB 0..1) and lights of a rendering."""

    background: Color = (0.93, 0.93, 0.94)
    floor: Color = (0.62, 0.63, 0.66)
    body: Color = (0.72, 0.56, 0.46)
    shadow_opacity: float = 0.5
    key_light: float = 2.2
    fill_light: float = 0.8
    rim_light: float = 0.6
    ambient: float = 0.22


@dataclass(frozen=True)
class Framing:
    """The camera's view of the scene: vertical field of view (radians) and its pose (4,4) camera-to-world."""

    yfov: float
    camera_pose: np.ndarray


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world pose (4,4) for a camera at ``eye`` looking at ``target`` with +Y up (OpenGL: looks down -Z)."""
    back = (eye - target) / np.linalg.norm(eye - target)
    right = np.cross([0.0, 1.0, 0.0], back)
    right /= np.linalg.norm(right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, np.cross(back, right), back], axis=1)
    pose[:3, 3] = eye
    return pose


def standing_framing(height: float, aspect: float, yfov: float = np.radians(30.0)) -> Framing:
    """A fixed front view that holds a body ``height`` metres tall standing on y = 0, arms raised or spread.

    The visible window spans about -0.08..1.32 ``height`` vertically and +-0.62 ``height`` horizontally; ``aspect``
    is width / height of the image.
    """
    centre_y, half_h, half_w = 0.62 * height, 0.70 * height, 0.62 * height
    half = max(half_h, half_w / aspect)
    distance = half / np.tan(yfov / 2)
    eye = np.array([0.0, centre_y + 0.12 * distance, distance])
    return Framing(yfov=yfov, camera_pose=look_at(eye, np.array([0.0, centre_y, 0.0])))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray, incidence: scipy.sparse.csr_matrix) -> np.ndarray:
    """Smooth unit normals (V,3): area-weighted sums of the face normals; ``incidence`` is the (V,F) 0/1 matrix."""
    tri = vertices[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = incidence @ face_n
    return (normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def face_incidence(faces: np.ndarray, n_vertices: int) -> scipy.sparse.csr_matrix:
    """(V,F) matrix with a 1 where vertex v is a corner of face f."""
    rows = faces.reshape(-1)
    cols = np.repeat(np.arange(len(faces)), 3)
    return scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, len(faces)))


def ground(vertices: np.ndarray, pelvis: np.ndarray) -> np.ndarray:
    """Vertices (V,3) moved so the pelvis is above the origin and the lowest vertex touches y = 0."""
    return vertices - np.array([pelvis[0], vertices[:, 1].min(), pelvis[2]], dtype=vertices.dtype)


def floor_mesh(color: Color, half_size: float = 20.0) -> pyrender.Mesh:
    """A large square at y = 0 facing up."""
    s = half_size
    positions = np.array([[-s, 0, -s], [-s, 0, s], [s, 0, s], [s, 0, -s]], np.float32)
    material = pyrender.MetallicRoughnessMaterial(baseColorFactor=(*color, 1.0), metallicFactor=0.0, roughnessFactor=1.0)
    primitive = pyrender.Primitive(
        positions=positions, normals=np.tile([0.0, 1.0, 0.0], (4, 1)).astype(np.float32),
        indices=np.array([[0, 1, 2], [0, 2, 3]], np.uint32), material=material,
    )
    return pyrender.Mesh([primitive])


def contact_shadow_mesh(opacity: float, layers: int = 4, segments: int = 40) -> pyrender.Mesh:
    """A soft unit-radius shadow just above the floor: ``layers`` shrinking, stacked, alpha-blended disks whose
    overlap reaches ``opacity`` at the centre. (pyrender ignores per-vertex alpha, hence layers, not a gradient.)"""
    angles = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    disk = np.vstack([[0.0, 0.0, 0.0], np.stack([np.cos(angles), np.zeros(segments), np.sin(angles)], axis=1)])
    fan = np.stack([np.zeros(segments), 1 + (np.arange(segments) + 1) % segments, 1 + np.arange(segments)], axis=1)
    alpha = 1.0 - (1.0 - opacity) ** (1.0 / layers)
    material = pyrender.MetallicRoughnessMaterial(baseColorFactor=(0, 0, 0, alpha), alphaMode="BLEND", metallicFactor=0.0)
    primitives = [
        pyrender.Primitive(
            positions=(disk * [1.0 - 0.2 * k, 0.0, 1.0 - 0.2 * k] + [0.0, 2e-3 * (k + 1), 0.0]).astype(np.float32),
            normals=np.tile([0.0, 1.0, 0.0], (segments + 1, 1)).astype(np.float32),
            indices=fan.astype(np.uint32), material=material,
        )
        for k in range(layers)
    ]
    return pyrender.Mesh(primitives)


def shadow_pose(vertices: np.ndarray) -> np.ndarray:
    """Pose (4,4) scaling the unit shadow disk to an ellipse under the body's footprint (vertices (V,3), grounded)."""
    low = vertices[vertices[:, 1] < 0.2 * vertices[:, 1].max()]
    lo, hi = low[:, [0, 2]].min(axis=0), low[:, [0, 2]].max(axis=0)
    centre, radii = (lo + hi) / 2, np.maximum((hi - lo) / 2 * 1.15, 0.12)
    pose = np.diag([radii[0], 1.0, radii[1], 1.0])
    pose[[0, 2], 3] = centre
    return pose


class OneContextProgramCache(ShaderProgramCache):
    """pyrender's shader cache keyed without the OpenGL context object.

    pyrender keys compiled programs by ``OpenGL.contextdata.getContext()``, which under OSMesa is a new pointer object
    on every call: every frame recompiled every shader (about 15 ms at 640x480) and the cache grew without bound.
    One renderer has one context, so the shader names and defines are key enough.
    """

    def __init__(self) -> None:
        super().__init__()
        self._by_shaders: dict[tuple, object] = {}

    def get_program(self, vertex_shader: str, fragment_shader: str, geometry_shader: str | None = None,
                    defines: dict | None = None):
        key = (vertex_shader, fragment_shader, geometry_shader, tuple(sorted((defines or {}).items())))
        if key not in self._by_shaders:
            self._by_shaders[key] = super().get_program(vertex_shader, fragment_shader, geometry_shader, defines)
        return self._by_shaders[key]

    def clear(self) -> None:
        super().clear()
        self._by_shaders = {}


class PoseRenderer:
    """Draws a body model in SMPL poses: lit, shaded, on a floor with a soft contact shadow, fixed camera.

    ``render(vector82)`` and ``render_pose(pose72, betas10)`` return (height, width, 3) uint8 RGB images. Holds an
    OpenGL context: call ``close()`` (or use it as a context manager) when done.
    """

    def __init__(self, body: BodyModel, width: int = 256, height: int = 256, style: RenderStyle = RenderStyle()) -> None:
        self.body, self.width, self.height, self.style = body, width, height, style
        rest = body.forward(np.zeros((1, NUM_JOINTS * 3), np.float32)).vertices[0]
        framing = standing_framing(float(np.ptp(rest[:, 1])), width / height)
        self._faces = body.faces.astype(np.uint32)
        self._incidence = face_incidence(body.faces, len(rest))
        self._material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=(*style.body, 1.0), metallicFactor=0.0, roughnessFactor=0.65
        )
        self._scene = pyrender.Scene(bg_color=(*style.background, 1.0), ambient_light=(style.ambient,) * 3)
        self._scene.add(pyrender.PerspectiveCamera(yfov=framing.yfov, aspectRatio=width / height), pose=framing.camera_pose)
        self._add_lights(framing.camera_pose[:3, 3])
        self._scene.add(floor_mesh(style.floor))
        self._shadow = self._scene.add(contact_shadow_mesh(style.shadow_opacity))
        self._body_node: pyrender.Node | None = None
        self._renderer = pyrender.OffscreenRenderer(width, height)
        self._renderer._renderer._program_cache = OneContextProgramCache()  # pyrender offers no hook for this

    def _add_lights(self, eye: np.ndarray) -> None:
        """A key light from the front-left above, a softer fill from the right and a rim light from behind."""
        for direction_from, intensity in (
            ((0.5, 1.0, 0.8), self.style.key_light),
            ((-0.8, 0.3, 0.5), self.style.fill_light),
            ((0.0, 0.6, -1.0), self.style.rim_light),
        ):
            pose = look_at(np.asarray(direction_from) * 10.0, np.zeros(3))
            self._scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=intensity), pose=pose)

    def render(self, vector: np.ndarray) -> np.ndarray:
        """Render a pose vector (82,) = 10 betas then 72 axis-angle values: (H,W,3) uint8."""
        vector = np.asarray(vector, np.float32).reshape(POSE_DIM)
        return self.render_pose(vector[NUM_BETAS:], vector[:NUM_BETAS])

    def render_pose(self, pose: np.ndarray, betas: np.ndarray | None = None) -> np.ndarray:
        """Render SMPL pose (72,) axis-angle radians with shape (10,) (None: the mean shape): (H,W,3) uint8."""
        out = self.body.forward(
            np.asarray(pose, np.float32).reshape(1, -1), None if betas is None else np.asarray(betas).reshape(1, -1)
        )
        vertices = ground(out.vertices[0], out.joints[0, 0])
        self._set_body(vertices)
        self._scene.set_pose(self._shadow, shadow_pose(vertices))
        color, _ = self._renderer.render(self._scene)
        return np.ascontiguousarray(color[:, :, :3])

    def _set_body(self, vertices: np.ndarray) -> None:
        """Replace the body mesh in the scene by one with these vertices (V,3)."""
        primitive = pyrender.Primitive(
            positions=vertices, normals=vertex_normals(vertices, self.body.faces, self._incidence),
            indices=self._faces, material=self._material,
        )
        if self._body_node is not None:
            self._scene.remove_node(self._body_node)
        self._body_node = self._scene.add(pyrender.Mesh([primitive]))

    def close(self) -> None:
        """Release the OpenGL context."""
        self._renderer.delete()

    def __enter__(self) -> PoseRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
