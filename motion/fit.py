"""Fit SMPL motion (pose (T,72) axis-angle, root translation (T,3), betas (10,) per sequence) to 3D joint or marker
positions, batched over all frames of a sequence in torch on the CPU.

Model. A :class:`motion.joint_files.MarkerMapping` turns SMPL's 24 joints into M virtual markers: a weighted mean of
joints plus a per-marker offset carried by one joint's world rotation. The 24 joints are SMPL's forward kinematics of
the body's rest joints ``J(betas)``, which are exactly what the body model's J_regressor gives (read once from
:meth:`pose_db.body.BodyModel.forward`, which is linear in betas at the rest pose). World joints equal
``BodyModel.forward(pose, betas).joints + transl`` (the ``smplx`` convention).

Objective (all frames at once; the smoothness term couples them, which replaces a frame-by-frame warm start):
    data      sum_m w_m |marker_m - observed_m|^2 / sum_m w_m, mean over frames           [m^2]
    smooth    mean |p[t+1] - 2 p[t] + p[t-1]|^2 over the 24 world joints                    [m^2 per frame^4]
    prior     mean pose^2 over the 69 body-pose values (keeps unobserved twists near rest)  [rad^2]
    limits    mean squared excess over :data:`JOINT_LIMITS` (knee and elbow hinges)         [rad^2]
    betas     |betas|^2; offsets  mean |offset - mapping offset|^2                          [m^2]
Initialisation: per frame, the rigid (Kabsch) fit of the rest body's torso markers gives the global orientation and
translation; the body pose starts at rest (or at ``init``). Adam with a linearly decaying learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from common.constants import NUM_BETAS, NUM_JOINTS
from common.errors import InputError
from motion.joint_files import JointSequence, MarkerMapping
from pose_db.body import JOINT_NAMES, SMPL_PARENTS, BodyModel

TORSO_FRAMES: frozenset[str] = frozenset({"pelvis", "spine1", "spine2", "spine3", "neck", "head", "L_collar",
                                          "R_collar"})
"""Joints whose world rotation moves only the torso: markers carried by them (and anchored on :data:`TORSO_POINTS`)
are rigid enough with the pelvis to initialise the global orientation."""
TORSO_POINTS: frozenset[str] = TORSO_FRAMES | {"L_hip", "R_hip", "L_shoulder", "R_shoulder"}

_HINGE_OFF_AXIS: float = 0.25
"""Radians a hinge may rotate about its two non-hinge axes before the limit term pushes back."""
JOINT_LIMITS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    # axis-angle component ranges (x, y, z) in radians, SMPL rest frame (x left, y up, z forward)
    "L_knee": ((-0.1, 2.7), (-_HINGE_OFF_AXIS, _HINGE_OFF_AXIS), (-_HINGE_OFF_AXIS, _HINGE_OFF_AXIS)),
    "R_knee": ((-0.1, 2.7), (-_HINGE_OFF_AXIS, _HINGE_OFF_AXIS), (-_HINGE_OFF_AXIS, _HINGE_OFF_AXIS)),
    "L_elbow": ((-1.6, 1.6), (-2.7, 0.1), (-_HINGE_OFF_AXIS, _HINGE_OFF_AXIS)),
    "R_elbow": ((-1.6, 1.6), (-0.1, 2.7), (-_HINGE_OFF_AXIS, _HINGE_OFF_AXIS)),
    "spine1": ((-0.8, 0.8), (-0.6, 0.6), (-0.6, 0.6)),
    "spine2": ((-0.8, 0.8), (-0.6, 0.6), (-0.6, 0.6)),
    "spine3": ((-0.8, 0.8), (-0.6, 0.6), (-0.6, 0.6)),
    "neck": ((-0.8, 0.8), (-0.9, 0.9), (-0.6, 0.6)),
    "head": ((-0.8, 0.8), (-0.9, 0.9), (-0.6, 0.6)),
}
"""Knee flexion is +x (the shin swings back); elbow flexion is -y on the left and +y on the right (the forearm swings
forward); elbow x is forearm twist. Spine, neck and head ranges keep the torso and head from twisting round (two
head markers alone leave a half turn of the head open)."""


@dataclass(frozen=True)
class FitConfig:
    """Weights and schedule of :func:`fit_markers` (see the module docstring for the terms and their units)."""

    iterations: int = 80
    """Adam steps on all frames (after the coarse pass)."""
    coarse_stride: int = 8
    """The coarse pass fits every ``coarse_stride``-th frame first (1: no coarse pass); its result, interpolated,
    starts the fit of all frames."""
    coarse_iterations: int = 300
    polish_iterations: int = 0
    """L-BFGS evaluations after Adam (0: none)."""
    learning_rate: float = 0.04
    """Adam step at the start (radians, metres) from the rigid initialisation; it decays linearly to 5 % of this."""
    refine_learning_rate: float = 0.01
    """Adam step at the start when starting from a previous fit (the coarse pass or ``init``)."""
    smooth_weight: float = 0.05
    pose_prior_weight: float = 1e-4
    limit_weight: float = 1.0
    betas_weight: float = 1e-6
    offset_weight: float = 1e-2
    fit_betas: bool = True
    """Fit one body shape per sequence (else the mean shape)."""
    fit_offsets: bool = True
    """Refine the mapping's marker offsets per sequence (surface markers); identity mappings need not."""


@dataclass(frozen=True)
class FittedMotion:
    """SMPL motion fitted to one sequence.

    Attributes:
        pose: (T, 72) float32 axis-angle radians (global orientation then 23 joints, SMPL order).
        transl: (T, 3) float32 root translation in metres (``smplx`` convention: added to every joint).
        betas: (10,) float32 body shape.
        joints: (T, 24, 3) float32 world SMPL joint positions in metres.
        marker_error_m: (T, M) float32 distance from each fitted virtual marker to its observation, metres.
        marker_names: M mapped point names.
        offsets_m: (M, 3) float32 marker offsets after refinement (rest frame, metres).
        fps: frames per second.
    """

    pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray
    joints: np.ndarray
    marker_error_m: np.ndarray
    marker_names: tuple[str, ...]
    offsets_m: np.ndarray
    fps: float


class SkeletonFK:
    """SMPL's 24-joint forward kinematics in torch, with the rest joints of a body model.

    ``rest_joints`` (24, 3) metres at zero betas; ``shape_basis`` (24, 3, 10): rest joints move by ``shape_basis @
    betas``.
    """

    def __init__(self, rest_joints: np.ndarray, shape_basis: np.ndarray) -> None:
        self.rest_joints = torch.as_tensor(rest_joints, dtype=torch.float32)
        self.shape_basis = torch.as_tensor(shape_basis, dtype=torch.float32)
        self.parents = SMPL_PARENTS

    @classmethod
    def from_body(cls, body: BodyModel) -> SkeletonFK:
        """The skeleton of ``body``: its forward joints at rest for zero betas and for each unit beta."""
        betas = np.concatenate([np.zeros((1, NUM_BETAS)), np.eye(NUM_BETAS)]).astype(np.float32)
        joints = body.forward(np.zeros((NUM_BETAS + 1, 3 * NUM_JOINTS), np.float32), betas).joints.astype(np.float64)
        return cls(joints[0], np.moveaxis(joints[1:] - joints[0], 0, -1))

    def rest(self, betas: torch.Tensor) -> torch.Tensor:
        """(24, 3) rest joints for ``betas`` (10,)."""
        return self.rest_joints + self.shape_basis @ betas

    def forward(self, pose: torch.Tensor, betas: torch.Tensor,
                base_orient: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """World joints (N, 24, 3) (root not translated) and world rotations (N, 24, 3, 3) of ``pose`` (N, 24, 3).

        ``base_orient`` (N, 3, 3), when given, is applied before the root's rotation: the global orientation is
        ``base_orient @ R(pose[:, 0])`` (the fit optimises a small correction instead of an axis-angle near pi).
        """
        local = axis_angle_to_matrix(pose)  # (N, 24, 3, 3)
        rest = self.rest(betas)  # (24, 3)
        root = local[:, 0] if base_orient is None else base_orient @ local[:, 0]
        rotations, positions = [root], [rest[0].expand(pose.shape[0], 3)]
        for j in range(1, NUM_JOINTS):
            parent = self.parents[j]
            bone = rest[j] - rest[parent]  # (3,)
            positions.append(positions[parent] + rotations[parent] @ bone)
            rotations.append(rotations[parent] @ local[:, j])
        return torch.stack(positions, 1), torch.stack(rotations, 1)


def axis_angle_to_matrix(vectors: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, written out element by element (twice as fast as batched 3x3 products on the CPU):
    (..., 3) axis-angle radians -> (..., 3, 3) rotation matrices, with finite gradients at 0."""
    angle2 = (vectors * vectors).sum(-1)
    angle = torch.sqrt(angle2 + 1e-12)
    s, c = torch.sin(angle) / angle, torch.cos(angle)
    t = (1 - c) / (angle2 + 1e-12)
    x, y, z = vectors.unbind(-1)
    return torch.stack([c + t * x * x, t * x * y - s * z, t * x * z + s * y,
                        t * x * y + s * z, c + t * y * y, t * y * z - s * x,
                        t * x * z - s * y, t * y * z + s * x, c + t * z * z], -1).reshape(vectors.shape + (3,))


def virtual_markers(mapping: MarkerMapping, joints: torch.Tensor, rotations: torch.Tensor,
                    offsets: torch.Tensor) -> torch.Tensor:
    """(N, M, 3) marker positions from world joints (N, 24, 3), world rotations (N, 24, 3, 3), offsets (M, 3)."""
    anchors = torch.einsum("mj,njc->nmc", torch.as_tensor(mapping.joint_weights), joints)
    carriers = rotations[:, torch.as_tensor(mapping.frames)]  # (N, M, 3, 3)
    return anchors + (carriers @ offsets[..., None])[..., 0]


def _limit_bounds() -> tuple[torch.Tensor, torch.Tensor]:
    low, high = torch.full((NUM_JOINTS, 3), -1e3), torch.full((NUM_JOINTS, 3), 1e3)
    for name, ranges in JOINT_LIMITS.items():
        j = JOINT_NAMES.index(name)
        for axis, (lo, hi) in enumerate(ranges):
            low[j, axis], high[j, axis] = lo, hi
    return low, high


def rigid_init(mapping: MarkerMapping, skeleton: SkeletonFK, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame global orientation (T, 3) axis-angle and translation (T, 3) metres: the Kabsch fit of the rest
    body's torso markers (all markers when fewer than 3 are torso markers) to ``observed`` (T, M, 3)."""
    torso_frames = {JOINT_NAMES.index(n) for n in TORSO_FRAMES}
    torso_points = [JOINT_NAMES.index(n) for n in TORSO_POINTS]
    rigid = np.array([int(f) in torso_frames and mapping.joint_weights[m, torso_points].sum() > 0.999
                      for m, f in enumerate(mapping.frames)])
    if rigid.sum() < 3:
        rigid[:] = True
    with torch.no_grad():
        joints, rotations = skeleton.forward(torch.zeros(1, NUM_JOINTS, 3), torch.zeros(NUM_BETAS))
        rest = virtual_markers(mapping, joints, rotations, torch.as_tensor(mapping.offsets_m))[0].double().numpy()
    a = rest[rigid] - rest[rigid].mean(0)  # (K, 3)
    b_mean = observed[:, rigid].mean(1, keepdims=True)  # (T, 1, 3)
    cov = np.einsum("kc,tkd->tcd", a, observed[:, rigid] - b_mean)  # (T, 3, 3)
    u, _, vt = np.linalg.svd(cov)
    det = np.sign(np.linalg.det(vt.transpose(0, 2, 1) @ u.transpose(0, 2, 1)))
    fix = np.broadcast_to(np.eye(3), cov.shape).copy()
    fix[:, 2, 2] = det
    rot = vt.transpose(0, 2, 1) @ fix @ u.transpose(0, 2, 1)  # (T, 3, 3): R a ~ b
    # world = R (rest - J0) + J0 + transl must match R (rest - rest_mean) + b_mean
    pelvis = skeleton.rest_joints[0].double().numpy()
    transl = b_mean[:, 0] - rot @ rest[rigid].mean(0) + rot @ pelvis - pelvis
    return Rotation.from_matrix(rot).as_rotvec(), transl


def fit_markers(observed: np.ndarray, mapping: MarkerMapping, skeleton: SkeletonFK, *, fps: float,
                config: FitConfig = FitConfig(), init: FittedMotion | None = None) -> FittedMotion:
    """Fit SMPL motion to ``observed`` (T, M, 3) metres, the points of ``mapping`` in its order, at ``fps``.

    ``init`` (a previous fit of the same frames) replaces the rigid initialisation. Raises InputError when the
    shapes disagree or values are not finite.
    """
    observed = np.asarray(observed, np.float32)
    if observed.ndim != 3 or observed.shape[1:] != (len(mapping.names), 3) or len(observed) < 1:
        raise InputError(mapping.path, f"observed points have shape {observed.shape}, expected (T, "
                                       f"{len(mapping.names)}, 3) for this mapping")
    if not np.isfinite(observed).all():
        raise InputError(mapping.path, "observed points have NaN or infinite values")
    frames = len(observed)
    stride = config.coarse_stride
    if init is None and stride > 1 and frames >= 4 * stride:
        coarse_config = replace(config, coarse_stride=1, iterations=config.coarse_iterations,
                                smooth_weight=config.smooth_weight / stride**4)
        kept = np.unique(np.append(np.arange(0, frames, stride), frames - 1))  # the last frame too: no extrapolation
        coarse = fit_markers(observed[kept], mapping, skeleton, fps=fps / stride, config=coarse_config)
        init = _upsampled(coarse, kept, frames)
    if init is None:
        orient, transl = rigid_init(mapping, skeleton, observed)
        pose0 = np.zeros((frames, NUM_JOINTS, 3))
        pose0[:, 0] = orient
        betas0, offsets0 = np.zeros(NUM_BETAS), mapping.offsets_m
    else:
        pose0, transl = init.pose.reshape(frames, NUM_JOINTS, 3), init.transl
        betas0, offsets0 = init.betas, init.offsets_m
    base = torch.as_tensor(Rotation.from_rotvec(np.asarray(pose0[:, 0], np.float64)).as_matrix(), dtype=torch.float32)
    pose0 = np.array(pose0, np.float32)
    pose0[:, 0] = 0.0  # the root is optimised as a correction of ``base``
    pose = torch.tensor(pose0, dtype=torch.float32, requires_grad=True)
    trans = torch.tensor(transl, dtype=torch.float32, requires_grad=True)
    betas = torch.tensor(betas0, dtype=torch.float32, requires_grad=config.fit_betas)
    offsets = torch.tensor(offsets0, dtype=torch.float32, requires_grad=config.fit_offsets)
    params = [p for p in (pose, trans, betas, offsets) if p.requires_grad]
    target = torch.as_tensor(observed)
    objective = _Objective(mapping, skeleton, config, target, base)
    optimiser = torch.optim.Adam(params, lr=config.learning_rate if init is None else config.refine_learning_rate)
    schedule = torch.optim.lr_scheduler.LinearLR(optimiser, 1.0, 0.05, total_iters=max(config.iterations, 1))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small per-joint products: extra threads only contend (2x to 20x slower here)
    try:
        for _ in range(config.iterations):
            optimiser.zero_grad(set_to_none=True)
            objective(pose, trans, betas, offsets).backward()
            optimiser.step()
            schedule.step()
        if config.polish_iterations:
            polish = torch.optim.LBFGS(params, lr=1.0, max_iter=config.polish_iterations, history_size=20,
                                       tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                polish.zero_grad(set_to_none=True)
                loss = objective(pose, trans, betas, offsets)
                loss.backward()
                return loss

            polish.step(closure)
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        joints, rotations = skeleton.forward(pose, betas, base)
        joints = joints + trans[:, None]
        error = (virtual_markers(mapping, joints, rotations, offsets) - target).norm(dim=-1)
        fitted = pose.numpy().copy()
        fitted[:, 0] = Rotation.from_matrix(rotations[:, 0].double().numpy()).as_rotvec()
    return FittedMotion(
        pose=fitted.reshape(frames, 3 * NUM_JOINTS).astype(np.float32), transl=trans.detach().numpy().copy(),
        betas=betas.detach().numpy().copy(), joints=joints.numpy(), marker_error_m=error.numpy(),
        marker_names=mapping.names, offsets_m=offsets.detach().numpy().copy(), fps=float(fps),
    )


def _upsampled(coarse: FittedMotion, coarse_times: np.ndarray, frames: int) -> FittedMotion:
    """``coarse`` (a fit of frames ``coarse_times``, increasing, first 0 and last ``frames - 1``) interpolated to
    every frame: joint rotations by normalised quaternion interpolation (signs made continuous), translation
    linearly; shape and offsets kept."""
    times = np.arange(frames)
    quats = Rotation.from_rotvec(coarse.pose.reshape(-1, 3).astype(np.float64)).as_quat().reshape(-1, NUM_JOINTS, 4)
    flips = np.cumprod(np.where((quats[1:] * quats[:-1]).sum(-1) < 0, -1.0, 1.0), axis=0)
    quats[1:] *= flips[..., None]
    dense = np.stack([np.interp(times, coarse_times, column) for column in quats.reshape(len(quats), -1).T], -1)
    dense = dense.reshape(frames, NUM_JOINTS, 4)
    pose = Rotation.from_quat(dense.reshape(-1, 4)).as_rotvec().reshape(frames, 3 * NUM_JOINTS)
    transl = np.stack([np.interp(times, coarse_times, column) for column in coarse.transl.T], -1)
    return replace(coarse, pose=pose.astype(np.float32), transl=transl.astype(np.float32))


def fit_sequence(sequence: JointSequence, mapping: MarkerMapping, skeleton: SkeletonFK,
                 config: FitConfig = FitConfig()) -> FittedMotion:
    """Fit SMPL motion to a joint-position file's points named by ``mapping`` (InputError for an unknown name)."""
    return fit_markers(mapping.select(sequence), mapping, skeleton, fps=sequence.fps, config=config)


class _Objective:
    """The weighted fitting loss (module docstring) for fixed observations (T, M, 3)."""

    def __init__(self, mapping: MarkerMapping, skeleton: SkeletonFK, config: FitConfig, target: torch.Tensor,
                 base_orient: torch.Tensor) -> None:
        self.mapping, self.skeleton, self.config, self.target = mapping, skeleton, config, target
        self.base_orient = base_orient
        weights = torch.as_tensor(mapping.weights)
        self.weights = weights / weights.sum()
        self.prior_offsets = torch.as_tensor(mapping.offsets_m)
        self.low, self.high = _limit_bounds()

    def __call__(self, pose: torch.Tensor, trans: torch.Tensor, betas: torch.Tensor,
                 offsets: torch.Tensor) -> torch.Tensor:
        c = self.config
        joints, rotations = self.skeleton.forward(pose, betas, self.base_orient)
        joints = joints + trans[:, None]
        residual = virtual_markers(self.mapping, joints, rotations, offsets) - self.target
        loss = ((residual * residual).sum(-1) * self.weights).sum(-1).mean()
        if len(joints) >= 3:
            accel = joints[2:] - 2 * joints[1:-1] + joints[:-2]
            loss = loss + c.smooth_weight * (accel * accel).sum(-1).mean()
        excess = torch.relu(pose - self.high) + torch.relu(self.low - pose)
        loss = loss + c.limit_weight * (excess * excess).mean() + c.pose_prior_weight * (pose[:, 1:] ** 2).mean()
        loss = loss + c.betas_weight * (betas * betas).sum()
        return loss + c.offset_weight * ((offsets - self.prior_offsets) ** 2).sum(-1).mean()
