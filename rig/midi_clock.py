"""MIDI clock out and in (``mido`` + ``python-rtmidi``, the optional ``[rig]`` extra).

Out (:class:`MidiClockOut`): 24 clock messages per beat on the beat grid (:class:`~rig.beat_follower.BeatFollower`,
fed the engine's events), each sent at its time on the audio clock minus the MIDI latency (ticks that fell due while
the thread was not running go out at once, since receivers count them; a jump of the grid of over a beat is not
filled in); when the grid starts, a
song position pointer (in 16th notes since beat 0) and ``start`` (at position 0) or ``continue``; when it ends
(silence, stop), ``stop``. Sent on a named port or a new virtual one (``virtual:NAME``).

In (:class:`MidiClockFollower`, :func:`follow_midi_clock`): the tempo of an incoming clock (from the spacing of its
ticks), its running state (start / stop / continue) and song position, and a callback on every beat (every 24th
tick while running): the ``live`` and ``show`` commands tap the engine with it, so the beat grid follows the clock.
"""

from __future__ import annotations

import math
import queue
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from common.errors import InputError
from live.events import Event
from live.queues import offer_newest, wait_drain
from rig.beat_follower import BeatFollower
from rig.clock import AudioClock
from rig.latency import send_time_s
from rig.stoppable import StoppableThread

PPQN = 24
"""MIDI clock ticks per beat (quarter note)."""
TICKS_PER_SIXTEENTH = PPQN // 4
"""Song position is counted in 16th notes ("MIDI beats") of 6 ticks."""
IDLE_WAIT_S = 0.05
"""Longest sleep of the clock thread when nothing is due (seconds)."""
START_POLL_S = 0.001
"""How often (seconds) the clock thread looks for the start of a grid it has been given."""
TEMPO_TICKS = 48
"""Incoming tick intervals the tempo is estimated from (two beats)."""
VIRTUAL = "virtual:"


class MidiPort(Protocol):
    """What the clock sends to: a mido output port (or anything with ``send(message)`` and ``close()``)."""

    def send(self, message: object) -> None: ...
    def close(self) -> None: ...


def _mido():
    try:
        import mido
    except ImportError as err:
        raise InputError(None, "MIDI clock needs the [rig] extra: pip install 'dancepose[rig]' (mido, "
                               "python-rtmidi)") from err
    return mido


def open_midi_output(spec: str) -> MidiPort:
    """The output port ``spec`` names: ``virtual:NAME`` for a new virtual port, else an existing port's name.

    Raises:
        InputError: mido or rtmidi missing, no MIDI system (no ALSA sequencer), or no such port (the line lists
            the ports there are).
    """
    mido = _mido()
    try:
        if spec.startswith(VIRTUAL):
            return mido.open_output(spec.removeprefix(VIRTUAL), virtual=True)
        return mido.open_output(spec)
    except (OSError, SystemError, RuntimeError) as err:
        raise InputError(None, f"--midi-clock {spec}: cannot open the MIDI port ({' '.join(str(err).split())}; "
                               f"ports: {', '.join(_port_names(mido.get_output_names)) or 'none'})") from err


def _port_names(lister: Callable[[], list[str]]) -> list[str]:
    try:
        return list(lister())
    except (OSError, SystemError, RuntimeError):
        return []


class MidiClockOut:
    """See the module docstring. ``clock`` is this sender's own estimate of the audio clock (its thread owns it)."""

    def __init__(self, port: MidiPort, clock: AudioClock, latency_ms: float = 0.0, inbox_size: int = 1024) -> None:
        self._mido = _mido()
        self.port, self.clock, self.latency_ms = port, clock, latency_ms
        self.follower = BeatFollower()
        self._inbox: queue.Queue[Event] = queue.Queue(maxsize=inbox_size)
        self._next_tick: int | None = None
        self._running = False
        self._worker = StoppableThread()
        self.ticks = 0
        """Clock messages sent."""
        self.dropped = 0
        """Events dropped because the clock thread fell behind."""

    def observe(self, event: Event) -> None:
        """Hand over an engine event (never blocks)."""
        self.dropped += offer_newest(self._inbox, event)

    def start(self) -> None:
        self._worker.start(self._run, "dancepose-midi-clock")

    def stop(self) -> None:
        """Send ``stop`` if running, end the thread, close the port (safe to call more than once)."""
        if not self._worker.stop():
            return
        if self._running:
            self._send("stop")
        self.port.close()

    def _run(self) -> None:
        while not self._worker.stopping.is_set():
            self._take(self._wait_s())
            self._step(self.clock.now_s() + self.latency_ms / 1000.0)

    def _tick_time_s(self, tick: int) -> float | None:
        """Time (seconds, audio clock) of clock tick ``tick`` (counted in 24ths of a beat from beat 0)."""
        beat, part = divmod(tick, PPQN)
        beat_s = self.follower.beat_time_s(beat)
        tempo = self.follower.tempo_bpm
        return None if beat_s is None or tempo is None else beat_s + part / PPQN * 60.0 / tempo

    def _wait_s(self) -> float:
        if self._next_tick is None:  # not running: poll closely while there is a grid that may start
            return START_POLL_S if self.follower.live else IDLE_WAIT_S
        due = self._tick_time_s(self._next_tick)
        if due is None:
            return IDLE_WAIT_S
        return min(max(self.clock.wall_s_until(send_time_s(due, self.latency_ms)), 0.0), IDLE_WAIT_S)

    def _take(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the inbox; feed everything in it to the follower."""
        for event in wait_drain(self._inbox, timeout_s):
            self.follower.on_event(event)

    def _step(self, heard_s: float) -> None:
        """Send what is due when the audience hears ``heard_s``: start/stop on the grid's changes, the due tick."""
        position = self.follower.at(heard_s)
        if position is None:
            if self._running:
                self._running, self._next_tick = False, None
                self._send("stop")
            return
        current = position.beat * PPQN + math.floor(position.phase * PPQN)
        if not self._running:
            self._running, self._next_tick = True, current
            sixteenths = max(current, 0) // TICKS_PER_SIXTEENTH
            self._send("songpos", pos=min(sixteenths, 16383))
            self._send("start" if sixteenths == 0 else "continue")
        if self._next_tick is None or current < self._next_tick:
            return
        if current - self._next_tick > PPQN:  # the grid jumped: go on from where it is now
            self._next_tick = current
        while self._next_tick <= current:  # a thread woken late catches up: receivers count every tick
            self._send("clock")
            self.ticks += 1
            self._next_tick += 1

    def _send(self, kind: str, **fields: int) -> None:
        self.port.send(self._mido.Message(kind, **fields))


class MidiClockFollower:
    """The state of an incoming MIDI clock, fed its messages with their arrival times (wall clock, seconds).

    ``on_beat`` is called on every 24th tick while running (the first tick after ``start`` is a beat). Pure state:
    no thread; :func:`follow_midi_clock` feeds it from a port.
    """

    def __init__(self, on_beat: Callable[[], None] | None = None) -> None:
        self.on_beat = on_beat
        self.running = False
        self.position_ticks = 0
        """Ticks since song position 0 (song position pointer x 6, plus ticks while running)."""
        self._intervals: deque[float] = deque(maxlen=TEMPO_TICKS)
        self._last_tick_s: float | None = None

    @property
    def tempo_bpm(self) -> float | None:
        """The incoming tempo from the mean tick spacing over the last :data:`TEMPO_TICKS` ticks, leaving out
        spacings more than half off their median (a late or lost tick); None before a beat's worth of ticks."""
        if len(self._intervals) < PPQN:
            return None
        median = sorted(self._intervals)[len(self._intervals) // 2]
        kept = [spacing for spacing in self._intervals if abs(spacing - median) <= 0.5 * median]
        spacing = sum(kept) / len(kept)
        return 60.0 / (spacing * PPQN) if spacing > 0 else None

    def feed(self, kind: str, at_s: float, pos: int = 0) -> None:
        """One incoming message: ``kind`` is mido's type (``clock``, ``start``, ``stop``, ``continue``,
        ``songpos`` with ``pos`` in 16th notes); others are ignored."""
        if kind == "clock":
            if self._last_tick_s is not None:
                self._intervals.append(at_s - self._last_tick_s)
            self._last_tick_s = at_s
            if self.running:
                if self.position_ticks % PPQN == 0 and self.on_beat is not None:
                    self.on_beat()
                self.position_ticks += 1
        elif kind == "start":
            self.running, self.position_ticks = True, 0
        elif kind == "continue":
            self.running = True
        elif kind == "stop":
            self.running = False
        elif kind == "songpos":
            self.position_ticks = pos * TICKS_PER_SIXTEENTH


def follow_midi_clock(spec: str, follower: MidiClockFollower) -> object:
    """Open the input port ``spec`` (``virtual:NAME`` for a new virtual one) and feed ``follower`` from its callback
    thread; returns the port (close it to stop). InputError as :func:`open_midi_output`."""
    mido = _mido()

    def received(message: object) -> None:
        follower.feed(message.type, time.monotonic(), getattr(message, "pos", 0))

    try:
        if spec.startswith(VIRTUAL):
            return mido.open_input(spec.removeprefix(VIRTUAL), virtual=True, callback=received)
        return mido.open_input(spec, callback=received)
    except (OSError, SystemError, RuntimeError) as err:
        raise InputError(None, f"--midi-follow {spec}: cannot open the MIDI port ({' '.join(str(err).split())}; "
                               f"ports: {', '.join(_port_names(mido.get_input_names)) or 'none'})") from err
