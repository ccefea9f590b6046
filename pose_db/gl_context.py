"""Headless OpenGL contexts for off-screen rendering: ``headless_context(backend) -> moderngl.Context``.

Backends: ``"egl"`` (EGL without a display, through ``glcontext``: Mesa's llvmpipe on a machine without a GPU, the
NVIDIA driver on a GPU machine), ``"osmesa"`` (Mesa's off-screen software renderer, ``libOSMesa``, loaded with
ctypes) and ``"auto"`` (EGL, else OSMesa). A context is current on the thread that created it: create it on the
thread that renders. Nothing happens at import (no environment variables are read or set).
"""

from __future__ import annotations

import ctypes
from ctypes.util import find_library

import moderngl

GL_VERSION = 330
"""OpenGL version the renderer needs (3.3 core: uniform blocks, multisampled renderbuffers)."""

BACKENDS = ("auto", "egl", "osmesa")

# OSMesa constants (GL/osmesa.h)
_OSMESA_FORMAT, _OSMESA_RGBA, _OSMESA_DEPTH_BITS = 0x22, 0x1908, 0x30
_OSMESA_PROFILE, _OSMESA_CORE_PROFILE = 0x33, 0x34
_OSMESA_CONTEXT_MAJOR_VERSION, _OSMESA_CONTEXT_MINOR_VERSION = 0x36, 0x37
_GL_UNSIGNED_BYTE = 0x1401


class OSMesaLoader:
    """A core-profile OSMesa context made current on this thread, in the loader form moderngl takes
    (``load_opengl_function``, ``release``, context-manager methods). Rendering goes to framebuffers the caller
    makes; the context's own 1x1 buffer is never drawn to."""

    def __init__(self) -> None:
        name = find_library("OSMesa")
        if name is None:
            raise RuntimeError("libOSMesa not found (Debian: apt-get install libosmesa6)")
        lib = ctypes.CDLL(name)
        lib.OSMesaCreateContextAttribs.restype = ctypes.c_void_p
        lib.OSMesaCreateContextAttribs.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.c_void_p]
        lib.OSMesaMakeCurrent.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_int]
        lib.OSMesaGetProcAddress.restype = ctypes.c_void_p
        lib.OSMesaGetProcAddress.argtypes = [ctypes.c_char_p]
        lib.OSMesaDestroyContext.argtypes = [ctypes.c_void_p]
        attribs = [_OSMESA_FORMAT, _OSMESA_RGBA, _OSMESA_DEPTH_BITS, 24, _OSMESA_PROFILE, _OSMESA_CORE_PROFILE,
                   _OSMESA_CONTEXT_MAJOR_VERSION, GL_VERSION // 100, _OSMESA_CONTEXT_MINOR_VERSION,
                   GL_VERSION % 100 // 10, 0]
        self._lib = lib
        self._context = lib.OSMesaCreateContextAttribs((ctypes.c_int * len(attribs))(*attribs), None)
        if not self._context:
            raise RuntimeError(f"OSMesa could not create an OpenGL {GL_VERSION / 100:.1f} core context")
        self._buffer = ctypes.create_string_buffer(4)
        self.__enter__()

    def load_opengl_function(self, name: str) -> int:
        return self._lib.OSMesaGetProcAddress(name.encode()) or 0

    def __enter__(self) -> None:
        if not self._lib.OSMesaMakeCurrent(self._context, self._buffer, _GL_UNSIGNED_BYTE, 1, 1):
            raise RuntimeError("OSMesaMakeCurrent failed")

    def __exit__(self, *exc: object) -> None:
        pass

    def release(self) -> None:
        if self._context:
            self._lib.OSMesaDestroyContext(self._context)
            self._context = None


def headless_context(backend: str = "auto") -> moderngl.Context:
    """A new standalone OpenGL 3.3+ context, current on the calling thread.

    backend : "egl", "osmesa" or "auto" (EGL, falling back to OSMesa when EGL cannot make a context).
    Raises ValueError for an unknown backend and RuntimeError when no context can be made.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown OpenGL backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend in ("auto", "egl"):
        try:
            return moderngl.create_context(standalone=True, backend="egl", require=GL_VERSION)
        except Exception as err:  # glcontext raises plain Exceptions for a missing libEGL or device
            if backend == "egl":
                raise RuntimeError(f"no EGL OpenGL context: {err}") from err
    return moderngl.create_context(standalone=True, context=OSMesaLoader(), require=GL_VERSION)


SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast")


def is_software(ctx: moderngl.Context) -> bool:
    """Whether ``ctx`` rasterizes on the CPU (Mesa's llvmpipe and friends) rather than on a GPU."""
    return any(name in ctx.info["GL_RENDERER"].lower() for name in SOFTWARE_RENDERERS)


def context_description(ctx: moderngl.Context) -> str:
    """The renderer and version strings of ``ctx``, e.g. "llvmpipe (LLVM 15.0.6, 256 bits), 4.5 (Core Profile)"."""
    return f"{ctx.info['GL_RENDERER']}, {ctx.info['GL_VERSION']}"
