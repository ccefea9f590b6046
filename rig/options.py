"""The rig's command-line options, shared by ``live`` and ``show`` (one function adds them, one checks them).

``--osc HOST:PORT`` (repeatable) with ``--osc-preset`` (once for every target, or once per target in order),
``--osc-listen PORT``, ``--osc-phase-hz``, ``--osc-pose``, ``--osc-joints``, ``--midi-clock PORT``,
``--midi-follow PORT``, ``--link lead|follow`` and the latency
options of :mod:`rig.latency`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from common.errors import InputError
from rig.latency import Latencies, add_latency_options, latencies_from_args
from rig.osc_out import PRESETS, OscTarget, parse_target

DEFAULT_PHASE_HZ = 60.0


@dataclass(frozen=True)
class RigOptions:
    """What the rig options ask for.

    Attributes:
        osc: OSC receivers.
        listen: UDP port for OSC commands, None: none.
        latencies: per-output latency settings.
        phase_hz: ``/dancepose/phase`` messages per second.
        pose, joints: also send ``/dancepose/pose`` (82 floats) / ``/dancepose/joints`` (24 x 3 floats).
        midi_clock: MIDI port to send clock on (a name, or ``virtual:NAME`` for a new virtual port); None: none.
        midi_follow: MIDI port whose incoming clock the beat grid follows (its beats tap the engine); None: none.
        link: Ableton Link mode, ``lead`` or ``follow``; None: no Link.
        ndi: NDI source name for the performance view (``show`` only); None: no NDI.
    """

    osc: tuple[OscTarget, ...] = ()
    listen: int | None = None
    latencies: Latencies = Latencies()
    phase_hz: float = DEFAULT_PHASE_HZ
    pose: bool = False
    joints: bool = False
    midi_clock: str | None = None
    midi_follow: str | None = None
    link: str | None = None
    ndi: str | None = None

    @property
    def any(self) -> bool:
        """True when any rig output or input is asked for."""
        asked = (self.listen, self.midi_clock, self.midi_follow, self.link, self.ndi)
        return bool(self.osc) or any(option is not None for option in asked)


def add_rig_options(parser: argparse.ArgumentParser, video: bool = False) -> None:
    """Add the rig's options to ``parser`` (see the module docstring; README "In the VJ rig"); ``video``: also
    ``--ndi`` (commands that render the performance view)."""
    group = parser.add_argument_group("VJ rig (OSC, MIDI clock, latency)")
    group.add_argument("--osc", action="append", default=[], metavar="HOST:PORT",
                       help="send beat, bar, phase, tempo, level and pose by OSC to HOST:PORT (repeatable)")
    group.add_argument("--osc-preset", action="append", default=[], choices=PRESETS,
                       help="address set of the --osc targets: dancepose (default; /dancepose/...) or resolume "
                            "(its tempo controller: tempo and resync on downbeats); once for all, or once per --osc")
    group.add_argument("--osc-listen", type=int, default=None, metavar="PORT",
                       help="take the performer's commands by OSC on this UDP port (/dancepose/tap, /nudge, ...)")
    group.add_argument("--osc-phase-hz", type=float, default=DEFAULT_PHASE_HZ,
                       help=f"rate of /dancepose/phase messages per second (default {DEFAULT_PHASE_HZ:g}; 0: none)")
    group.add_argument("--osc-pose", action="store_true", help="also send /dancepose/pose (82 floats per pose)")
    group.add_argument("--osc-joints", action="store_true", help="also send /dancepose/joints (24 x 3 floats)")
    group.add_argument("--midi-clock", default=None, metavar="PORT",
                       help="send MIDI clock (24 ppqn, start/stop, song position) on this MIDI output port, or on a "
                            "new virtual port with virtual:NAME (needs the [rig] extra: mido, python-rtmidi)")
    group.add_argument("--midi-follow", default=None, metavar="PORT",
                       help="follow the MIDI clock coming in on this port (or virtual:NAME): each of its beats is a "
                            "tap, so the beat grid takes its tempo and phase (needs the [rig] extra)")
    group.add_argument("--link", choices=("lead", "follow"), default=None,
                       help="join an Ableton Link session: lead it with the beat grid's tempo and phase, or follow "
                            "it (the session's beats tap the grid); needs the [link] extra (aalink, GPL-3)")
    if video:
        group.add_argument("--ndi", default=None, metavar="NAME",
                           help="send the performance view as an NDI source called NAME (needs the [ndi] extra: "
                                "cyndilib, which bundles the NDI runtime)")
    add_latency_options(group)


def rig_options(args: argparse.Namespace) -> RigOptions:
    """Check the rig options of ``args`` (one-line InputError naming the option) and return them."""
    specs, presets = list(getattr(args, "osc", [])), list(getattr(args, "osc_preset", []))
    if len(presets) > 1 and len(presets) != len(specs):
        raise InputError(None, f"--osc-preset given {len(presets)} times for {len(specs)} --osc targets: give it once "
                               "for all, or once per target")
    if presets and not specs:
        raise InputError(None, "--osc-preset needs an --osc HOST:PORT target")
    per_target = presets if len(presets) > 1 else (presets or ["dancepose"]) * len(specs)
    listen = getattr(args, "osc_listen", None)
    if listen is not None and not 0 <= listen < 65536:
        raise InputError(None, f"--osc-listen takes a UDP port 0..65535, got {listen}")
    phase_hz = getattr(args, "osc_phase_hz", DEFAULT_PHASE_HZ)
    if not 0 <= phase_hz <= 1000:
        raise InputError(None, f"--osc-phase-hz must be between 0 and 1000, got {phase_hz:g}")
    return RigOptions(osc=tuple(parse_target(spec, preset) for spec, preset in zip(specs, per_target)), listen=listen,
                      latencies=latencies_from_args(args), phase_hz=phase_hz, pose=getattr(args, "osc_pose", False),
                      joints=getattr(args, "osc_joints", False), midi_clock=getattr(args, "midi_clock", None),
                      midi_follow=getattr(args, "midi_follow", None), link=getattr(args, "link", None),
                      ndi=getattr(args, "ndi", None))
