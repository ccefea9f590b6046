"""One interface for every motion mode: :class:`MotionSource`, and :func:`make_source` that builds one by name.

A source turns the engine's events (pose events, beat ticks; :class:`~motion.energy.AudioLevel`) into a continuous
pose stream sampled at any rate:

- ``on_event(event, now_s)``: an event arrived at ``now_s`` (seconds, audio clock): transitions;
- ``advance(t_s)``: take the decisions due by ``t_s`` (start moves, decide levels);
- ``frame_at(t_s) -> MotionFrame``: a pure read (the same ``t_s`` twice gives the same frame, nothing changes);
- ``shown_tag(t_s)``: the bank index of the retrieved pose on show (for the picture beside the body), a pure read;
- ``reset()``: back to the start.

One thread owns a source; other threads post to it through :class:`motion.player.MotionPlayer`'s bounded queue.
Modes: ``ease`` (the eased-slerp baseline), ``groove`` (the default), ``graph`` (a beat-synchronous motion graph
over real clips, :mod:`motion.graph_source`), ``generate`` (a trained Dance Revolution model
dancing to the engine's audio, :mod:`motion.generate`; needs ``--dance-checkpoint``). A new mode registers a
factory in :data:`MOTION_MODES`; the CLI's ``--motion`` choices follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from common.constants import NUM_BETAS

if TYPE_CHECKING:  # the command line imports this module for --motion's choices: it stays light (no torch)
    from motion.frame import MotionFrame
    from motion.ik import Skeleton


class MotionSource(Protocol):
    """A motion mode (see the module docstring)."""

    name: str

    def on_event(self, event: object, now_s: float) -> None: ...

    def advance(self, t_s: float) -> None: ...

    def frame_at(self, t_s: float) -> MotionFrame: ...

    def shown_tag(self, t_s: float) -> int | None: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class MotionSetup:
    """What every mode is built from: the bank's poses (N, 24, 3) axis-angle radians, the performer's skeleton and
    betas (10,), and a model checkpoint for modes that need one (None: none given). ``live`` False: an offline
    replay (an export) that must be exact, so a mode that runs a model on a worker thread runs it inline instead."""

    poses: np.ndarray
    skeleton: Skeleton
    betas: np.ndarray = field(default_factory=lambda: np.zeros(NUM_BETAS, np.float32))
    checkpoint: Path | None = None
    live: bool = True


def _ease(setup: MotionSetup) -> MotionSource:
    from motion.ease import EaseSource

    return EaseSource(setup.poses, setup.skeleton)


def _groove(setup: MotionSetup) -> MotionSource:
    from motion.groove import GrooveSource

    return GrooveSource(setup.poses, setup.skeleton)


def _graph(setup: MotionSetup) -> MotionSource:
    from motion.graph_build import default_graph
    from motion.graph_source import GraphSource

    return GraphSource(default_graph(), setup.poses, setup.skeleton)


def _generate(setup: MotionSetup) -> MotionSource:
    from motion.generate import GenerateConfig, GenerateSource

    return GenerateSource(setup, GenerateConfig(threaded=setup.live))


MOTION_MODES: dict[str, Callable[[MotionSetup], MotionSource]] = {"ease": _ease, "groove": _groove,
                                                                   "graph": _graph, "generate": _generate}
"""Motion modes by name: a factory each."""
DEFAULT_MOTION = "groove"
MODEL_FREE_MOTION: tuple[str, ...] = ("groove", "ease", "graph")
"""The modes that run without a model file: what the window offers."""


def make_source(mode: str, setup: MotionSetup) -> MotionSource:
    """A new source of motion mode ``mode``; ValueError for an unknown name (InputError from a mode that cannot be
    built, e.g. ``generate`` without a model)."""
    if mode not in MOTION_MODES:
        raise ValueError(f"unknown motion mode {mode!r} (known: {', '.join(MOTION_MODES)})")
    return MOTION_MODES[mode](setup)
