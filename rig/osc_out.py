"""OSC out: beat, bar, phase, tempo, audio level and pose to OSC receivers, each message sent AT the show time of
what it describes (on the audio clock), moved earlier by the OSC latency (:mod:`rig.latency`).

The owner of the engine's events hands each one to :meth:`OscOut.observe` (and the audio features to
:meth:`OscOut.observe_values`); that never blocks: items go into a bounded inbox (oldest dropped when full). One
scheduler thread owns the rest: it follows the beat grid (:class:`~rig.beat_follower.BeatFollower`), keeps a heap of
timed messages and sleeps until the next is due, waking early when the inbox gets something.

Address space (one value per address, so TouchDesigner's OSC In CHOP makes one channel of each):

========================== ========= ============================================================================
``/dancepose/beat``        int       beat count since the start, at each beat
``/dancepose/bar``         int       bar count since the start (0: the first beat's bar), one more on each downbeat:
                                     the tracker's downbeats and metre (beat count // 4 with one that has none), at
                                     each beat
``/dancepose/downbeat``    int       1 on the first beat of a bar, else 0, at each beat
``/dancepose/bpm``         float     the grid's tempo, at each beat
``/dancepose/phase``       float     0..1 within the beat, streamed at ``phase_hz``
``/dancepose/energy``      float     RMS level of the audio (full scale 1.0), per block read
``/dancepose/onset``       float     onset strength (log spectral flux) of the audio, per block read
``/dancepose/pose``        82 float  the pose shown (10 SMPL betas, 72 axis-angle radians), with ``send_pose``
``/dancepose/joints``      72 float  its 24 joint positions x, y, z in metres, with ``send_joints``
``/dancepose/image``       string    path of the picture the pose came from (when the bank has one)
``/dancepose/latency/*``   float     ``screen``, ``osc``, ``midi``: the latency settings in ms, at start and on change
========================== ========= ============================================================================

The ``resolume`` preset sends instead ``/composition/tempocontroller/tempo`` (0..1 for 20..500 BPM, when the tempo
changes) and ``/composition/tempocontroller/resync`` (1, on each downbeat).
"""

from __future__ import annotations

import heapq
import itertools
import math
import queue
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pythonosc.udp_client import SimpleUDPClient

from common.errors import InputError
from live.events import Event, PoseEvent
from live.queues import offer_newest, wait_drain
from rig.beat_follower import BeatFollower, BeatPosition
from rig.clock import AudioClock
from rig.latency import Latencies, send_time_s
from rig.stoppable import StoppableThread

PREFIX = "/dancepose"
PRESETS: tuple[str, ...] = ("dancepose", "resolume")
RESOLUME_TEMPO = "/composition/tempocontroller/tempo"
RESOLUME_RESYNC = "/composition/tempocontroller/resync"
RESOLUME_BPM_RANGE: tuple[float, float] = (20.0, 500.0)
"""The tempo range Resolume maps to 0..1 on its tempo controller's OSC address (BPM)."""
TEMPO_RESEND_BPM = 0.05
"""The Resolume preset sends the tempo again only when it moved by more than this (BPM)."""
LATE_S = 0.005
"""A message sent more than this after its time (seconds of audio) counts as late."""
IDLE_WAIT_S = 0.05
"""Longest sleep of the scheduler when nothing is due (seconds)."""


@dataclass(frozen=True)
class OscTarget:
    """A receiver: ``host``:``port`` (UDP) and the preset of addresses it gets (one of :data:`PRESETS`)."""

    host: str
    port: int
    preset: str = "dancepose"


def parse_target(spec: str, preset: str = "dancepose") -> OscTarget:
    """``HOST:PORT`` (``--osc``) as a target; InputError naming the option when it is malformed or the host name
    does not resolve."""
    host, sep, port = spec.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(None, f"--osc takes HOST:PORT with a port 1..65535, got {spec!r}")
    if preset not in PRESETS:
        raise InputError(None, f"--osc-preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    target = OscTarget(host.strip("[]"), int(port), preset)
    try:
        socket.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)
    except OSError as err:
        raise InputError(None, f"--osc {spec}: unknown host ({err.strerror or err})") from err
    return target


def resolume_tempo(bpm: float) -> float:
    """Resolume's tempo controller value (0..1) for ``bpm`` (clipped to :data:`RESOLUME_BPM_RANGE`)."""
    low, high = RESOLUME_BPM_RANGE
    return (min(max(bpm, low), high) - low) / (high - low)


@dataclass(frozen=True)
class PoseData:
    """What a bank index sends besides the event: each a function of the bank index, None when not sent.

    Attributes:
        vector: (82,) float pose vector (10 betas, 72 axis-angle radians).
        joints: (24, 3) joint positions in metres.
        image: the picture's path, or None when the entry has none.
    """

    vector: Callable[[int], np.ndarray] | None = None
    joints: Callable[[int], np.ndarray] | None = None
    image: Callable[[int], Path | None] | None = None


@dataclass(frozen=True)
class OscOutConfig:
    """OSC out settings.

    Attributes:
        targets: the receivers.
        latencies: the latency settings; ``osc_ms`` moves every send earlier, all three are sent to receivers.
        phase_hz: rate of ``/dancepose/phase`` messages (per wall-clock second; 0: none).
        inbox_size: capacity of the inbox between the observer and the scheduler thread.
    """

    targets: tuple[OscTarget, ...]
    latencies: Latencies = Latencies()
    phase_hz: float = 60.0
    inbox_size: int = 1024


@dataclass(order=True, frozen=True)
class Timed:
    """A message to send at ``due_s`` (audio clock, latency applied) for something shown at ``show_s``."""

    due_s: float
    order: int
    show_s: float = field(compare=False)
    address: str = field(compare=False)
    value: object = field(compare=False)
    presets: tuple[str, ...] = field(compare=False, default=("dancepose",))
    known_ahead: bool = field(compare=False, default=True)
    """False for what is only known after its time (the audio level): never counted late."""


@dataclass(frozen=True)
class _NewLatencies:
    latencies: Latencies


class OscOut:
    """See the module docstring. ``clock`` is this sender's own estimate of the audio clock (its thread owns it)."""

    def __init__(self, config: OscOutConfig, clock: AudioClock, pose: PoseData = PoseData()) -> None:
        self.config, self.clock, self.pose = config, clock, pose
        self.latencies = config.latencies
        self.follower = BeatFollower()
        self._clients = [(target, SimpleUDPClient(target.host, target.port)) for target in config.targets]
        self._inbox: queue.Queue[object] = queue.Queue(maxsize=config.inbox_size)
        self._heap: list[Timed] = []
        self._order = itertools.count()
        self._next_beat: int | None = None
        self._resolume_bpm: float | None = None
        self._next_phase_wall = 0.0
        self._worker = StoppableThread()
        self.sent = 0
        """Messages sent (per target)."""
        self.late = 0
        """Messages sent more than :data:`LATE_S` after their time."""
        self.dropped = 0
        """Inbox items dropped because the scheduler fell behind."""
        self.send_errors = 0
        """Sends the network refused (the show goes on)."""

    # -- the observer's side (never blocks) -----------------------------------------------------------------------
    def observe(self, event: Event) -> None:
        """Hand over an engine event, in the order the engine emitted them."""
        if isinstance(event, PoseEvent):
            for address, value in self._pose_messages(event.indices[0]):
                self._offer(self._timed(event.show_at_s, address, value))
        self._offer(event)

    def observe_values(self, show_s: float, values: dict[str, float]) -> None:
        """Send ``{name: value}`` as ``/dancepose/<name>`` at ``show_s`` (seconds, audio clock)."""
        for name, value in values.items():
            timed = self._timed(show_s, f"{PREFIX}/{name}", float(value))
            self._offer(replace(timed, known_ahead=False))

    def set_latencies(self, latencies: Latencies) -> None:
        """New latency settings from the next message on (and sent to the receivers)."""
        self._offer(_NewLatencies(latencies))

    def _offer(self, item: object) -> None:
        self.dropped += offer_newest(self._inbox, item)

    def _timed(self, show_s: float, address: str, value: object, presets: tuple[str, ...] = ("dancepose",)) -> Timed:
        return Timed(send_time_s(show_s, self.latencies.osc_ms), next(self._order), show_s, address, value, presets)

    def _pose_messages(self, index: int) -> list[tuple[str, object]]:
        messages: list[tuple[str, object]] = []
        if self.pose.vector is not None:
            messages.append((f"{PREFIX}/pose", [float(v) for v in np.asarray(self.pose.vector(index)).reshape(-1)]))
        if self.pose.joints is not None:
            messages.append((f"{PREFIX}/joints", [float(v) for v in np.asarray(self.pose.joints(index)).reshape(-1)]))
        image = None if self.pose.image is None else self.pose.image(index)
        if image is not None:
            messages.append((f"{PREFIX}/image", str(image)))
        return messages

    # -- the scheduler thread --------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the scheduler thread (sends the latency settings first)."""
        self._send_latencies()
        self._worker.start(self._run, "dancepose-osc-out")

    def stop(self) -> None:
        """Stop the thread (what is not due yet is not sent) and close the sockets (safe to call more than once)."""
        self._worker.stop()
        for _, client in self._clients:
            client.close()

    def _run(self) -> None:
        while not self._worker.stopping.is_set():
            self._take(self._wait_s())
            now_s = self.clock.now_s()
            self._send_beats(now_s)
            self._send_phase(now_s)
            while self._heap and self._heap[0].due_s <= now_s:
                self._send(heapq.heappop(self._heap), now_s)

    def _wait_s(self) -> float:
        """Wall-clock seconds until something is due: the next message, beat or phase tick."""
        waits = [IDLE_WAIT_S]
        if self._heap:
            waits.append(self.clock.wall_s_until(self._heap[0].due_s))
        beat_s = None if self._next_beat is None else self.follower.beat_time_s(self._next_beat)
        if beat_s is not None:
            waits.append(self.clock.wall_s_until(send_time_s(beat_s, self.latencies.osc_ms)))
        if self.config.phase_hz > 0 and self.follower.live:
            waits.append(self._next_phase_wall - time.monotonic())
        return max(min(waits), 0.0)

    def _take(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the inbox; take everything in it."""
        for item in wait_drain(self._inbox, timeout_s):
            self._accept(item)

    def _accept(self, item: object) -> None:
        if isinstance(item, Timed):
            heapq.heappush(self._heap, item)
        elif isinstance(item, _NewLatencies):
            self.latencies = item.latencies
            self._send_latencies()
        else:
            self.follower.on_event(item)

    def _send_beats(self, now_s: float) -> None:
        """Send the beat that is due at ``now_s`` (the audience's time is ``now_s`` + latency); when several are due
        at once (a jump of the grid), only the newest."""
        position = self.follower.at(now_s + self.latencies.osc_ms / 1000.0)
        if position is None or (self._next_beat is not None and position.beat < self._next_beat):
            return
        self._next_beat = position.beat + 1
        for timed in self._beat_messages(position):
            self._send(timed, now_s)

    def _beat_messages(self, position: BeatPosition) -> list[Timed]:
        show = position.beat_s
        messages = [self._timed(show, f"{PREFIX}/beat", position.beat),
                    self._timed(show, f"{PREFIX}/bar", position.bar),
                    self._timed(show, f"{PREFIX}/downbeat", int(position.downbeat)),
                    self._timed(show, f"{PREFIX}/bpm", float(position.tempo_bpm))]
        if self._resolume_bpm is None or abs(position.tempo_bpm - self._resolume_bpm) > TEMPO_RESEND_BPM:
            self._resolume_bpm = position.tempo_bpm
            messages.append(self._timed(show, RESOLUME_TEMPO, resolume_tempo(position.tempo_bpm), ("resolume",)))
        if position.downbeat:
            messages.append(self._timed(show, RESOLUME_RESYNC, 1, ("resolume",)))
        return messages

    def _send_phase(self, now_s: float) -> None:
        wall = time.monotonic()
        if self.config.phase_hz <= 0 or wall < self._next_phase_wall:
            return
        position = self.follower.at(now_s + self.latencies.osc_ms / 1000.0)
        if position is None:
            return
        self._next_phase_wall = max(self._next_phase_wall + 1.0 / self.config.phase_hz, wall)
        self._send(Timed(now_s, 0, now_s + self.latencies.osc_ms / 1000.0, f"{PREFIX}/phase", float(position.phase)),
                   now_s)

    def _send_latencies(self) -> None:
        for output in ("screen", "osc", "midi"):
            value = float(getattr(self.latencies, f"{output}_ms"))
            self._send(Timed(0.0, 0, 0.0, f"{PREFIX}/latency/{output}", value), math.inf)

    def _send(self, timed: Timed, now_s: float) -> None:
        clients = [client for target, client in self._clients if target.preset in timed.presets]
        if clients and timed.known_ahead and math.isfinite(now_s) and now_s - timed.due_s > LATE_S:
            self.late += 1
        for client in clients:
            try:
                client.send_message(timed.address, timed.value)
                self.sent += 1
            except OSError:
                self.send_errors += 1
