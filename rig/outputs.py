"""The rig of a run: the OSC sender, the OSC listener and the MIDI clock that the options ask for, fed together.

The owner of the engine (the ``live`` command, the show) makes one with :func:`open_rig` before starting the engine,
hands it every event it drains (:meth:`Rig.observe`) and closes it at the end. With no rig option it does nothing.
"""

from __future__ import annotations

import queue
import sys
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from live.events import Event
from live.queues import drain
from live.ring_buffer import Chunk
from rig.audio_features import AudioFeatures
from rig.ndi_out import mdns_problem
from rig.clock import AudioClock
from rig.osc_in import OscIn, OwnerActions
from rig.osc_out import OscOut, OscOutConfig, PoseData
from rig.options import RigOptions

if TYPE_CHECKING:
    from live.engine import LiveEngine
    from rig.link import LinkBridge
    from rig.midi_clock import MidiClockFollower, MidiClockOut
    from rig.ndi_out import NdiOut


class Rig:
    """See the module docstring. ``bank`` and ``body`` (a :class:`~pose_db.bank.PoseBank` and a
    :class:`~pose_db.body.BodyModel`) supply the pose, joints and image messages."""

    def __init__(self, options: RigOptions, engine: LiveEngine, bank: object | None = None, body: object | None = None,
                 actions: OwnerActions = OwnerActions()) -> None:
        self.options = options
        self.osc_out: OscOut | None = None
        self.osc_in: OscIn | None = None
        self.midi: MidiClockOut | None = None
        self.midi_in: MidiClockFollower | None = None
        self._midi_in_port: object | None = None
        self.link: LinkBridge | None = None
        self.ndi: NdiOut | None = None
        self._audio: queue.Queue[Chunk] | None = None
        self._features: AudioFeatures | None = None

        def clock() -> AudioClock:  # one per sending thread
            return AudioClock(lambda: engine.reader.clock_s, engine.source.speed)

        if options.osc:
            config = OscOutConfig(targets=options.osc, latencies=options.latencies, phase_hz=options.phase_hz)
            self.osc_out = OscOut(config, clock(), pose_data(options, bank, body))
            self._audio = engine.tap_audio()
            self._features = AudioFeatures(engine.reader.sample_rate)
        if options.midi_clock is not None:
            from rig.midi_clock import MidiClockOut, open_midi_output

            port = open_midi_output(options.midi_clock)
            self.midi = MidiClockOut(port, clock(), latency_ms=options.latencies.midi_ms)
        if options.midi_follow is not None:
            from rig.midi_clock import MidiClockFollower, follow_midi_clock

            self.midi_in = MidiClockFollower(on_beat=engine.tap)
            self._midi_in_port = follow_midi_clock(options.midi_follow, self.midi_in)
        if options.link is not None:
            from rig.link import LinkBridge

            self.link = LinkBridge(options.link, clock(), tap=engine.tap, latency_ms=options.latencies.midi_ms)
        if options.ndi is not None:
            from rig.ndi_out import NdiOut

            self.ndi = NdiOut(options.ndi)
        if options.listen is not None:
            self.osc_in = OscIn(options.listen, engine, actions if actions.latency else
                                replace(actions, latency=self.set_latency))

    def set_latency(self, output: str, ms: float) -> None:
        """Set one output's latency (``screen``, ``osc``, ``midi``; milliseconds, checked by the caller) from now on.

        The rig applies ``osc`` and ``midi``; ``screen`` is sent to the OSC receivers for the owner's screen."""
        self.options = replace(self.options, latencies=replace(self.options.latencies, **{f"{output}_ms": ms}))
        if self.osc_out is not None:
            self.osc_out.set_latencies(self.options.latencies)
        if self.midi is not None:
            self.midi.latency_ms = self.options.latencies.midi_ms
        if self.link is not None:
            self.link.latency_ms = self.options.latencies.midi_ms

    def start(self) -> None:
        for part in (self.osc_out, self.osc_in, self.midi, self.link, self.ndi):
            if part is not None:
                part.start()
        if self.ndi is not None and (problem := mdns_problem()) is not None:
            print(f"NDI: {problem}; sending anyway", file=sys.stderr, flush=True)

    def add_frame(self, frame: object) -> None:
        """A render-loop listener: the performance view's frame (``frame.rgb``) for NDI; nothing without NDI."""
        if self.ndi is not None:
            self.ndi.add_frame(frame)

    def observe(self, events: Iterable[Event]) -> None:
        """Hand over the events just drained from the engine (in order), and the audio read since the last call."""
        for event in events:
            if self.osc_out is not None:
                self.osc_out.observe(event)
            if self.midi is not None:
                self.midi.observe(event)
            if self.link is not None:
                self.link.observe(event)
        if self._audio is None:
            return
        for chunk in drain(self._audio):
            features = self._features(chunk)
            if features is not None:
                self.osc_out.observe_values(*features)

    def close(self) -> None:
        """Stop every part (safe to call more than once)."""
        for part in (self.osc_in, self.osc_out, self.midi, self.link, self.ndi):
            if part is not None:
                part.stop()
        if self._midi_in_port is not None:
            self._midi_in_port.close()
            self._midi_in_port = None

    def summary(self) -> str:
        """One line of counts, for the end of a run ('' without a rig)."""
        parts = []
        if self.osc_out is not None:
            out = self.osc_out
            parts.append(f"OSC out: {out.sent} messages sent, {out.late} late, {out.dropped} dropped, "
                         f"{out.send_errors} send errors")
        if self.osc_in is not None:
            parts.append(f"OSC in: {self.osc_in.handled} commands, {self.osc_in.refused} refused, "
                         f"{self.osc_in.malformed} malformed packets ignored")
        if self.midi is not None:
            parts.append(f"MIDI clock: {self.midi.ticks} ticks")
        if self.midi_in is not None:
            tempo = self.midi_in.tempo_bpm
            parts.append(f"MIDI clock in: {'no clock' if tempo is None else f'{tempo:.1f} BPM'}")
        if self.link is not None:
            parts.append(f"Link ({self.link.mode}): {self.link.peers} peers, {self.link.beats} beats")
        if self.ndi is not None:
            parts.append(f"NDI {self.ndi.name!r}: {self.ndi.sent} pictures sent, {self.ndi.dropped} dropped")
        return "; ".join(parts)


def pose_data(options: RigOptions, bank: object | None, body: object | None) -> PoseData:
    """The pose lookups the options ask for: vectors and joints only when asked, the image whenever there is a bank.

    Joints are computed for the whole bank once here (forward kinematics in NumPy, :func:`pose_db.descriptors.
    pose_joints`), so sending costs nothing per pose."""
    if bank is None:
        return PoseData()
    joints = None
    if options.joints and body is not None:
        from pose_db.descriptors import pose_joints

        table = pose_joints(bank.vectors, body)
        joints = table.__getitem__
    return PoseData(vector=bank.vectors.__getitem__ if options.pose else None, joints=joints, image=bank.image_path)


def open_rig(options: RigOptions, engine: LiveEngine, bank: object | None = None, body: object | None = None,
             actions: OwnerActions = OwnerActions()) -> Rig:
    """A started :class:`Rig` for ``options`` on ``engine`` (call before ``engine.start()``: it taps the audio)."""
    rig = Rig(options, engine, bank, body, actions)
    rig.start()
    return rig
