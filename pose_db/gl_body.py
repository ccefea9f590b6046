"""A skinned body on a floor, drawn with moderngl: ``SkinnedBodyRenderer(ctx, rest, style, size)``.

The rest mesh, its normals, skin joints and skin weights go to the GPU once; each frame :meth:`draw` writes one
uniform buffer (camera, shadow, the 24 joint transforms) and draws the floor and the body (one draw call each) into a
multisampled framebuffer; :meth:`read_rgb` resolves and reads it back. Linear blend skinning runs in the vertex
shader (4 weights per vertex, see :mod:`pose_db.body.skinning`; no pose-corrective blend shapes). The floor shader
darkens a soft blob shadow under the body and each foot (and dims with distance from the body where the
style asks for a spotlight pool). Shading imitates the PBR shading of the previous renderer
(pyrender): Lambert diffuse plus a faint specular from a key, a fill and a rim light, ambient light, gamma 2.2, plus a
view-dependent rim glow scaled by the style's rim light. The body writes alpha 1 and everything else alpha 0, so
:meth:`read_mask` gives the body's silhouette.

The caller makes the context (:func:`pose_db.gl_context.headless_context`, or a window's) and keeps it current on the
thread that calls these methods.
"""

from __future__ import annotations

import moderngl
import numpy as np

from common.constants import NUM_JOINTS
from pose_db.body.skinning import RestMesh
from pose_db.scene import LIGHT_DIRECTIONS, Framing, RenderStyle, shadow_blob, standing_framing

SAMPLES = 4
"""MSAA samples per pixel by default (fewer if the context allows fewer)."""

FLOOR_HALF_SIZE_M = 20.0
FOOT_SHADOW_RADIUS_M = 0.11

_FRAME_BLOCK = """
layout(std140) uniform Frame {
    mat4 view_proj;
    vec4 eye;            // camera position (xyz)
    vec4 shadow_body;    // centre x, z; radii x, z
    vec4 shadow_feet;    // left x, z; right x, z
    vec4 shadow_params;  // body strength, foot radius, left and right foot strength
    mat4 joints[24];
};
"""

_LIGHTING = """
uniform vec3 light_dirs[3];
uniform vec3 light_intensity;  // key, fill, rim
uniform float ambient;
uniform float specular;
const float PI = 3.141592653589793;

vec3 shade(vec3 base, vec3 n, vec3 v) {
    vec3 color = base * ambient;
    for (int i = 0; i < 3; ++i) {
        vec3 l = light_dirs[i];
        float nl = max(dot(n, l), 0.0);
        float spec = specular * pow(max(dot(n, normalize(l + v)), 0.0), 24.0) * 4.0;
        color += nl * light_intensity[i] * (0.96 * base / PI + spec);
    }
    return color;
}
"""

_BODY_VERTEX = "#version 330\n" + _FRAME_BLOCK + """
in vec3 in_position;
in vec3 in_normal;
in vec4 in_joints;
in vec4 in_weights;
out vec3 v_world;
out vec3 v_normal;

void main() {
    mat4 skin = in_weights.x * joints[int(in_joints.x)] + in_weights.y * joints[int(in_joints.y)]
              + in_weights.z * joints[int(in_joints.z)] + in_weights.w * joints[int(in_joints.w)];
    vec4 world = skin * vec4(in_position, 1.0);
    v_world = world.xyz;
    v_normal = mat3(skin) * in_normal;
    gl_Position = view_proj * world;
}
"""

_BODY_FRAGMENT = "#version 330\n" + _FRAME_BLOCK + _LIGHTING + """
uniform vec3 body_color;
uniform float rim_glow;
in vec3 v_world;
in vec3 v_normal;
out vec4 f_color;

void main() {
    vec3 v = normalize(eye.xyz - v_world);
    vec3 n = normalize(v_normal);
    n = dot(n, v) < 0.0 ? -n : n;
    vec3 color = shade(body_color, n, v);
    color += rim_glow * pow(1.0 - max(dot(n, v), 0.0), 3.0) * body_color;
    f_color = vec4(clamp(pow(color, vec3(1.0 / 2.2)), 0.0, 1.0), 1.0);
}
"""

_FLOOR_VERTEX = "#version 330\n" + _FRAME_BLOCK + """
in vec3 in_position;
out vec3 v_world;

void main() {
    v_world = in_position;
    gl_Position = view_proj * vec4(in_position, 1.0);
}
"""

_FLOOR_FRAGMENT = "#version 330\n" + _FRAME_BLOCK + """
uniform vec3 floor_lit;       // the floor's shaded colour, gamma-encoded (flat and matte: the same everywhere)
uniform float floor_falloff;  // metres; 0: evenly lit
in vec3 v_world;
out vec4 f_color;

float blob(vec2 p, vec2 centre, vec2 radii) {
    return 1.0 - smoothstep(0.25, 1.0, length((p - centre) / radii));
}

void main() {
    vec2 p = v_world.xz;
    vec3 color = floor_lit;
    if (floor_falloff > 0.0) {
        vec2 d = (p - shadow_body.xy) / floor_falloff;
        color /= 1.0 + dot(d, d);
    }
    float r = shadow_params.y;
    float dark = max(0.6 * shadow_params.x * blob(p, shadow_body.xy, shadow_body.zw),
                     max(shadow_params.z * blob(p, shadow_feet.xy, vec2(r)),
                         shadow_params.w * blob(p, shadow_feet.zw, vec2(r))));
    f_color = vec4(color * (1.0 - dark), 0.0);
}
"""

_FRAME_BYTES = 64 + 4 * 16 + NUM_JOINTS * 64


class SkinnedBodyRenderer:
    """Draws one skinned body (``rest``) in ``style`` at ``size`` (width, height) pixels, framed by ``framing``."""

    def __init__(self, ctx: moderngl.Context, rest: RestMesh, style: RenderStyle, size: tuple[int, int],
                 framing: Framing | None = None, samples: int = SAMPLES) -> None:
        """``framing``: the camera (None: :func:`~pose_db.scene.standing_framing` for the rest mesh's height);
        ``samples``: MSAA samples per pixel (0: none; capped at what the context offers)."""
        self.ctx, self.style, self.size = ctx, style, size
        self.framing = framing or standing_framing(rest.height, size[0] / size[1])
        self._body_program = ctx.program(vertex_shader=_BODY_VERTEX, fragment_shader=_BODY_FRAGMENT)
        self._floor_program = ctx.program(vertex_shader=_FLOOR_VERTEX, fragment_shader=_FLOOR_FRAGMENT)
        self._set_lights(style)
        self._frame = ctx.buffer(reserve=_FRAME_BYTES, dynamic=True)
        for program in (self._body_program, self._floor_program):
            program["Frame"].binding = 0
        self._body_vbo = ctx.buffer(self._vertex_data(rest))
        self._body_ibo = ctx.buffer(np.ascontiguousarray(rest.faces, np.uint32))
        self._body = ctx.vertex_array(
            self._body_program,
            [(self._body_vbo, "3f 3f 4f 4f", "in_position", "in_normal", "in_joints", "in_weights")],
            index_buffer=self._body_ibo, index_element_size=4,
        )
        self.rest = rest
        s = FLOOR_HALF_SIZE_M
        floor = np.array([[-s, 0, -s], [-s, 0, s], [s, 0, s], [-s, 0, -s], [s, 0, s], [s, 0, -s]], np.float32)  # ccw
        self._floor_vbo = ctx.buffer(floor)
        self._floor = ctx.vertex_array(self._floor_program, [(self._floor_vbo, "3f", "in_position")])
        self.samples = samples = min(samples, ctx.max_samples)
        self._targets = [ctx.renderbuffer(size, 4, samples=samples), ctx.depth_renderbuffer(size, samples=samples),
                         ctx.renderbuffer(size, 4)]
        self._msaa = ctx.framebuffer(color_attachments=[self._targets[0]], depth_attachment=self._targets[1])
        self._resolved = ctx.framebuffer(color_attachments=[self._targets[2]])

    def _set_lights(self, style: RenderStyle) -> None:
        directions = LIGHT_DIRECTIONS / np.linalg.norm(LIGHT_DIRECTIONS, axis=1, keepdims=True)
        intensities = np.array([style.key_light, style.fill_light, style.rim_light])
        body = self._body_program
        body["light_dirs"].write(directions.astype(np.float32))
        body["light_intensity"].value = tuple(intensities)
        body["ambient"].value = style.ambient
        body["specular"].value = 0.08
        body["body_color"].value = style.body
        body["rim_glow"].value = 0.25 * style.rim_light
        # the floor is flat and matte under directional lights: one colour, shaded here as the body shader would
        floor = np.asarray(style.floor) * (style.ambient + 0.96 / np.pi * intensities @ np.maximum(directions[:, 1], 0))
        self._floor_program["floor_lit"].value = tuple(np.clip(floor, 0, 1) ** (1 / 2.2))
        self._floor_program["floor_falloff"].value = style.floor_falloff_m

    @staticmethod
    def _vertex_data(rest: RestMesh) -> np.ndarray:
        """Interleaved per-vertex attributes (V,14) float32: position, normal, 4 joint indices, 4 weights."""
        return np.ascontiguousarray(np.concatenate(
            [rest.vertices, rest.normals, rest.skin_joints.astype(np.float32), rest.skin_weights], axis=1,
        ), np.float32)

    def set_rest(self, rest: RestMesh) -> None:
        """Replace the rest mesh (same topology, e.g. other betas): re-uploads the vertex buffer."""
        self._body_vbo.write(self._vertex_data(rest))
        self.rest = rest

    def draw(self, joints: np.ndarray, camera_offset: np.ndarray | None = None) -> None:
        """Draw a frame: the body posed by ``joints`` (24,4,4) world transforms of the rest mesh
        (:func:`pose_db.body.skinning.joint_transforms`, grounding and root translation included) on the floor with
        its shadow, seen by the framing's camera moved by ``camera_offset`` (3,) metres."""
        joints = np.asarray(joints, np.float64)
        posed = np.einsum("jab,jb->ja", joints[:, :3, :3], self.rest.joints) + joints[:, :3, 3]  # (24,3) metres
        shadow = shadow_blob(posed, self.style.shadow_opacity)
        width, height = self.size
        eye = self.framing.camera_pose[:3, 3] + (0.0 if camera_offset is None else camera_offset)
        header = np.zeros((8, 4), np.float32)
        header[:4] = self.framing.view_projection(width / height, camera_offset).T  # std140 mat4: column-major
        header[4, :3] = eye
        header[5] = (*shadow.centre, *shadow.radii)
        header[6] = shadow.feet.reshape(-1)
        header[7] = (shadow.strength, FOOT_SHADOW_RADIUS_M, *shadow.foot_strength)
        self._frame.write(np.concatenate([header.reshape(-1),
                                          np.asarray(joints, np.float32).transpose(0, 2, 1).reshape(-1)]))
        self._frame.bind_to_uniform_block(0)
        self._msaa.use()
        self._msaa.clear(*self.style.background, 0.0, depth=1.0)
        self.ctx.enable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        self.ctx.front_face = "cw"  # counter-clockwise outside faces, seen through the y-flipped projection
        self._body.render(moderngl.TRIANGLES)  # first: the floor behind it then fails the depth test early
        self._floor.render(moderngl.TRIANGLES)

    def _resolve(self) -> None:
        self.ctx.copy_framebuffer(self._resolved, self._msaa)

    def read_rgb(self) -> np.ndarray:
        """The last drawn frame: (H,W,3) uint8 RGB, top row first (a new array each call)."""
        self._resolve()
        width, height = self.size
        rgb = np.empty((height, width, 3), np.uint8)
        self._resolved.read_into(rgb, components=3, alignment=1)
        return rgb

    def read_mask(self) -> np.ndarray:
        """The body's silhouette in the last drawn frame: (H,W) bool, True where the body covers at least half
        the pixel."""
        self._resolve()
        width, height = self.size
        rgba = np.frombuffer(self._resolved.read(components=4, alignment=1), np.uint8).reshape(height, width, 4)
        return rgba[:, :, 3] >= 128

    def release(self) -> None:
        """Free the GPU objects (the context stays the caller's)."""
        for obj in (self._body, self._floor, self._body_vbo, self._body_ibo, self._floor_vbo, self._frame,
                    self._msaa, self._resolved, *self._targets, self._body_program, self._floor_program):
            obj.release()
