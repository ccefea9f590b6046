"""Latency compensation: one delay per output, in milliseconds, applied to show times.

A setting is how long an output takes, after dancepose sends, to reach the audience (a projector's frame delay, a
network hop and Resolume's own frame, a MIDI synth): dancepose sends that much EARLIER, so it lands on the beat they
hear. A negative setting sends later (the PA is further away than the screen). The range is
:data:`LATENCY_RANGE_MS`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from common.errors import InputError

LATENCY_RANGE_MS: tuple[float, float] = (-500.0, 1000.0)
"""Allowed settings, milliseconds (inclusive)."""
OUTPUTS: tuple[str, ...] = ("screen", "osc", "midi")
"""The outputs with a latency setting: screen/projector, OSC, MIDI clock (and Link)."""


@dataclass(frozen=True)
class Latencies:
    """Per-output latency in milliseconds (see the module docstring); 0 = send exactly at the show time.

    Attributes:
        screen_ms: the screen or projector (the window's and the performance view's frames).
        osc_ms: OSC receivers (Resolume, TouchDesigner, a lighting desk).
        midi_ms: MIDI clock and Ableton Link peers.
    """

    screen_ms: float = 0.0
    osc_ms: float = 0.0
    midi_ms: float = 0.0

    def __post_init__(self) -> None:
        for output in OUTPUTS:
            check_latency_ms(f"--latency-{output}-ms", getattr(self, f"{output}_ms"))


def check_latency_ms(option: str, value: float) -> float:
    """``value`` (milliseconds) of ``option``; raises InputError unless it is a number in :data:`LATENCY_RANGE_MS`."""
    low, high = LATENCY_RANGE_MS
    if not (math.isfinite(value) and low <= value <= high):
        raise InputError(None, f"{option} must be between {low:g} and {high:g} ms, got {value:g}")
    return value


def send_time_s(show_s: float, latency_ms: float) -> float:
    """When to send (seconds on the audio clock) what must land at ``show_s``, through an output ``latency_ms`` slow."""
    return show_s - latency_ms / 1000.0


def add_latency_options(parser: argparse.ArgumentParser) -> None:
    """``--latency-screen-ms``, ``--latency-osc-ms``, ``--latency-midi-ms`` (checked by :func:`latencies_from_args`)."""
    what = {"screen": "the screen / projector", "osc": "OSC receivers", "midi": "MIDI clock and Link peers"}
    for output in OUTPUTS:
        parser.add_argument(f"--latency-{output}-ms", type=float, default=0.0, metavar="MS",
                            help=f"latency of {what[output]} in ms, {LATENCY_RANGE_MS[0]:g}..{LATENCY_RANGE_MS[1]:g}: "
                                 f"send that much earlier (negative: later); default 0")


def latencies_from_args(args: argparse.Namespace) -> Latencies:
    """The latencies the options ask for; InputError (one line, naming the option) when one is out of range."""
    return Latencies(**{f"{output}_ms": getattr(args, f"latency_{output}_ms", 0.0) for output in OUTPUTS})
