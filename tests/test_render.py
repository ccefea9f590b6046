"""Off-screen rendering of posed bodies: GPU skinning with moderngl on a headless context (EGL or OSMesa, Mesa's
llvmpipe without a GPU).

``fixtures/pyrender_silhouettes.npz`` holds the body silhouettes (packed bits) that the former renderer (pyrender
0.1.45, depth-only pass, same camera) drew for 50 poses of the bundled bank (indices stored with them) on the bundled
CC0 body at 640x480, made once before pyrender was removed; the new renderer must keep matching them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.paths import DEFAULT_BANK
from pose_db.bank import PoseBank
from pose_db.body import JOINT_NAMES, load_body
from pose_db.body.default_body import DEFAULT_BODY_PATH
from pose_db.body.skinning import joint_transforms, lowest_point, skin
from pose_db.render import PoseRenderer
from pose_db.scene import RenderStyle
from ui.stage import STAGE_STYLE

FIXTURE = Path(__file__).parent / "fixtures" / "pyrender_silhouettes.npz"
SIZE = (640, 480)  # width, height


@pytest.fixture(scope="module")
def body():
    return load_body(DEFAULT_BODY_PATH)


@pytest.fixture(scope="module")
def renderer(body):
    with PoseRenderer(body, *SIZE) as r:
        yield r


def random_poses(n: int, seed: int = 0, scale: float = 0.5) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, 72)) * scale).astype(np.float32)


def arm_raised() -> np.ndarray:
    pose = np.zeros(72, np.float32)
    pose[3 * JOINT_NAMES.index("L_shoulder") + 2] = 1.2
    return pose


def test_joint_transforms_skin_the_mesh_exactly_like_forward(body) -> None:
    poses = random_poses(4)
    betas = np.random.default_rng(1).normal(size=(4, 10)).astype(np.float32)
    with np.load(DEFAULT_BODY_PATH) as arrays:
        weights = arrays["weights"].astype(np.float64)  # all of them, not the GPU's top 4
    for pose, shape, expected in zip(poses, betas, body.forward(poses, betas).vertices):
        rest = body.rest_mesh(shape)
        transforms = joint_transforms(pose[None, :3], pose[None, 3:], rest.joints)[0]  # (24,4,4)
        blended = np.einsum("vj,jab->vab", weights, transforms)
        posed = np.einsum("vab,vb->va", blended[:, :3, :3], rest.vertices) + blended[:, :3, 3]
        np.testing.assert_allclose(posed, expected, atol=1e-4)


def test_gpu_skin_weights_stay_within_a_centimetre_and_find_the_lowest_point(body) -> None:
    poses = random_poses(3, seed=2)
    rest = body.rest_mesh()
    assert np.allclose(rest.skin_weights.sum(axis=1), 1.0, atol=1e-5)
    for pose, expected in zip(poses, body.forward(poses).vertices):
        transforms = joint_transforms(pose[None, :3], pose[None, 3:], rest.joints)[0]
        posed = skin(rest, transforms)
        assert np.abs(posed - expected).max() < 0.015
        assert lowest_point(rest, transforms) == pytest.approx(posed[:, 1].min(), abs=1e-5)


def test_silhouettes_match_the_former_pyrender_pictures(body, renderer) -> None:
    with np.load(FIXTURE) as fixture:
        indices, width = fixture["indices"], int(fixture["width"])
        expected = np.unpackbits(fixture["bits"], axis=-1)[..., :width].astype(bool)
    assert expected.shape == (50, SIZE[1], SIZE[0])
    bank = PoseBank.open(DEFAULT_BANK)
    ious = []
    for index, reference in zip(indices, expected):
        vector = np.asarray(bank.vectors[index])
        mask = renderer.body_mask(vector[10:], vector[:10])
        ious.append((mask & reference).sum() / (mask | reference).sum())
    assert min(ious) >= 0.98, f"worst IoU {min(ious):.4f} at bank entry {indices[int(np.argmin(ious))]}"


def test_read_rgb_gives_a_fresh_shaded_uint8_picture(renderer) -> None:
    first = renderer.render_pose(np.zeros(72, np.float32))
    second = renderer.render_pose(np.zeros(72, np.float32))
    assert first.shape == (SIZE[1], SIZE[0], 3) and first.dtype == np.uint8 and first.flags.writeable
    assert first is not second and np.array_equal(first, second)
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 50  # shaded, not flat
    mask = renderer.body_mask(np.zeros(72, np.float32))
    assert 0.02 < mask.mean() < 0.5


def test_raising_the_left_arm_changes_the_upper_right_of_the_picture(renderer) -> None:
    rest = renderer.render_pose(np.zeros(72, np.float32)).astype(int)
    raised = renderer.render_pose(arm_raised()).astype(int)
    changed = np.abs(rest - raised).sum(axis=2) > 30
    height, width = changed.shape
    assert changed.sum() > 500
    # the body faces the camera, so its left arm is on the picture's right; raised, the hand goes up
    assert changed[:, width // 2:].sum() > 0.9 * changed.sum()
    assert changed[: height // 3].sum() > 100


def test_render_takes_the_82_vector_with_its_shape(renderer) -> None:
    betas = np.zeros(10, np.float32)
    betas[0] = 2.0
    vector = np.concatenate([betas, arm_raised()])
    np.testing.assert_array_equal(renderer.render(vector), renderer.render_pose(arm_raised(), betas))
    assert not np.array_equal(renderer.render_pose(arm_raised(), betas), renderer.render_pose(arm_raised()))


@pytest.mark.parametrize("style", [RenderStyle(), STAGE_STYLE], ids=["thumbnail", "stage"])
def test_each_look_has_its_background_colour(body, style: RenderStyle) -> None:
    with PoseRenderer(body, 160, 120, style) as r:
        image = r.render_pose(np.zeros(72, np.float32))
    expected = np.round(255 * np.asarray(style.background))
    np.testing.assert_allclose(image[0, 0], expected, atol=1)  # the top corner is above the horizon
    floor = image[-1, 0].astype(int)
    assert np.abs(floor - expected).sum() > 10  # the floor differs from the background


@pytest.mark.parametrize("root", [(3.0, 0.0, 0.0), (-2.0, 0.0, 4.0), (0.0, 0.4, -6.0)])
def test_a_travelling_root_stays_in_the_picture(body, root) -> None:
    with PoseRenderer(body, 160, 120) as r:
        still = r.body_mask(np.zeros(72, np.float32))
        for step in np.linspace(0.0, 1.0, 6):  # the root jumps there in a few frames
            mask = r.body_mask(np.zeros(72, np.float32), root_m=step * np.asarray(root))
            rows, cols = np.nonzero(mask)
            assert mask.sum() > 0.3 * still.sum(), f"body lost at root {step * np.asarray(root)}"
            assert rows.min() > 0 and cols.min() > 0 and cols.max() < mask.shape[1] - 1
        moved = r.body_mask(np.zeros(72, np.float32), root_m=np.asarray(root))
    assert not np.array_equal(moved, still)


def test_egl_and_osmesa_contexts_draw_the_same_picture(body) -> None:
    pictures = []
    for backend in ("egl", "osmesa"):
        with PoseRenderer(body, 96, 72, backend=backend) as r:
            pictures.append(r.render_pose(arm_raised()).astype(int))
    assert np.abs(pictures[0] - pictures[1]).mean() < 1.0


def test_unknown_backend_is_refused(body) -> None:
    with pytest.raises(ValueError, match="unknown OpenGL backend"):
        PoseRenderer(body, 32, 32, backend="vulkan")
