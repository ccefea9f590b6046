"""What a body picture shows, without OpenGL: the look (:class:`RenderStyle`), the camera (:class:`Framing`,
:func:`standing_framing`, :class:`CameraFollow`) and the contact shadow under the feet (:func:`shadow_blob`).

Units: metres, Y up, the body faces +Z, the camera looks from +Z (OpenGL conventions: a camera looks down its -Z).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_db.body import JOINT_NAMES

Color = tuple[float, float, float]


@dataclass(frozen=True)
class RenderStyle:
    """Colours (linear RGB 0..1) and light intensities of a rendering. The default is the thumbnail look: a light
    grey background and floor, a skin-toned body. ``floor_falloff_m``: the floor's light halves this far (metres)
    from the body, like a spotlight (0: evenly lit)."""

    background: Color = (0.93, 0.93, 0.94)
    floor: Color = (0.62, 0.63, 0.66)
    body: Color = (0.72, 0.56, 0.46)
    shadow_opacity: float = 0.5
    key_light: float = 2.2
    fill_light: float = 0.8
    rim_light: float = 0.6
    ambient: float = 0.22
    floor_falloff_m: float = 0.0


LIGHT_DIRECTIONS = np.array([(0.5, 1.0, 0.8), (-0.8, 0.3, 0.5), (0.0, 0.6, -1.0)])
"""Where the key (front-left above), fill (right) and rim (behind) lights shine from (unnormalised world vectors)."""


@dataclass(frozen=True)
class Framing:
    """The camera's view of the scene: vertical field of view ``yfov`` (radians) and its pose (4,4) camera-to-world."""

    yfov: float
    camera_pose: np.ndarray

    def view_projection(self, aspect: float, offset: np.ndarray | None = None, near: float = 0.05,
                        far: float = 100.0) -> np.ndarray:
        """World-to-clip matrix (4,4) for images of width/height ``aspect``, the camera moved by ``offset`` (3,)
        metres. Clip y points down the image, so rows read back from OpenGL come out top row first."""
        pose = self.camera_pose.copy()
        if offset is not None:
            pose[:3, 3] += offset
        f = 1.0 / np.tan(self.yfov / 2)
        projection = np.array([[f / aspect, 0, 0, 0], [0, -f, 0, 0],
                               [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)], [0, 0, -1, 0]])
        return projection @ np.linalg.inv(pose)


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


class CameraFollow:
    """Where the camera sits over the floor as the body's root moves: it eases towards the root's floor position
    (x, z) by ``rate`` of the remaining distance per rendered frame and never lags more than ``max_lag_m`` behind,
    so a moving body stays in the picture. Height is not followed (the framing has room for jumps)."""

    def __init__(self, max_lag_m: float, rate: float = 0.12) -> None:
        self.max_lag_m, self.rate = max_lag_m, rate
        self.offset = np.zeros(3)
        """The camera's current offset from its standing framing, metres (y always 0)."""

    def update(self, root_m: np.ndarray) -> np.ndarray:
        """Move one frame towards ``root_m`` (3,) metres; returns the new camera offset (3,)."""
        target = np.array([root_m[0], 0.0, root_m[2]])
        offset = self.offset + self.rate * (target - self.offset)
        lag = np.linalg.norm(target - offset)
        if lag > self.max_lag_m:
            offset = target + (offset - target) * (self.max_lag_m / lag)
        self.offset = offset
        return offset


FOOT_JOINTS = tuple(JOINT_NAMES.index(n) for n in ("L_ankle", "R_ankle", "L_foot", "R_foot"))
PELVIS = JOINT_NAMES.index("pelvis")
SHADOW_FADE_M = 0.6
"""Feet this high (metres) above the floor cast no body shadow; it fades linearly up to there."""
FOOT_FADE_M = 0.3
"""A foot this high (metres) above the floor casts no shadow of its own."""


@dataclass(frozen=True)
class ShadowBlob:
    """A soft shadow on the floor: an ellipse (``centre`` (x, z), ``radii`` (x, z) metres) under the body, darkened
    by ``strength`` in 0..1, and a small disk under each foot (``feet`` (2, 2): x, z of left and right) darkened by
    ``foot_strength`` (2,) (a raised foot's shadow fades)."""

    centre: np.ndarray
    radii: np.ndarray
    feet: np.ndarray
    strength: float
    foot_strength: np.ndarray


def shadow_blob(joints: np.ndarray, opacity: float) -> ShadowBlob:
    """The shadow of a body whose posed joint positions are ``joints`` (24,3) metres (grounded: floor at y = 0)."""
    feet = joints[list(FOOT_JOINTS)]
    support = np.vstack([feet, joints[PELVIS]])[:, [0, 2]]
    lo, hi = support.min(axis=0), support.max(axis=0)
    left_right = (feet[:2] + feet[2:]) / 2  # ankle-to-toe midpoints, left then right
    return ShadowBlob(centre=(lo + hi) / 2, radii=np.maximum((hi - lo) / 2 + 0.12, 0.18), feet=left_right[:, [0, 2]],
                      strength=float(opacity * fade(feet[:, 1].min(), SHADOW_FADE_M)),
                      foot_strength=opacity * fade(feet[2:, 1], FOOT_FADE_M))


def fade(height_m: np.ndarray | float, over_m: float) -> np.ndarray:
    """1 on the floor, falling linearly to 0 at ``over_m`` metres above it."""
    return np.clip(1.0 - np.asarray(height_m) / over_m, 0.0, 1.0)
