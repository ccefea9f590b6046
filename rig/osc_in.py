"""OSC in: the performer's keyboard commands by OSC (``--osc-listen PORT``), for a phone, a controller or a desk.

========================== ========== ====================================================================
``/dancepose/start``       (none)     start the show (where the run can; the window)
``/dancepose/stop``        (none)     stop the show
``/dancepose/tap``         (none)     a tap-tempo tap (4 in a row set tempo and phase)
``/dancepose/nudge``       float ms   shift the beat grid (positive: later)
``/dancepose/tracker``     (none)     forget taps and nudges: back to the tracker
``/dancepose/resolution``  string     ``4th``, ``8th`` or ``16th``
``/dancepose/topk``        int        poses per event (>= 1)
``/dancepose/window``      string     window mode, ``predictive`` or ``centred``
``/dancepose/motion``      string     motion mode (where the run has motion modes)
``/dancepose/view``        int 0/1    performance view off / on (the window)
``/dancepose/record``      int 0/1    recording off / on (where the run can record)
``/dancepose/latency/X``   float ms   latency of output X (``screen``, ``osc``, ``midi``), -500..1000
========================== ========== ====================================================================

Every command is answered to the sender's address and port: ``/dancepose/reply`` (the address, ``"ok"``) or
``/dancepose/error`` (the address, one line saying why: an unknown address, a bad argument, not available in this
run, the engine's command queue full). Packets that are not OSC are counted in :attr:`OscIn.malformed` and ignored;
nothing a sender does reaches the engine other than through its command API, and nothing raises into it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pythonosc import osc_packet
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from common.errors import InputError
from live.snippets import RESOLUTIONS
from rig.latency import OUTPUTS, check_latency_ms
from rig.osc_out import PREFIX
from rig.stoppable import StoppableThread

REPLY = f"{PREFIX}/reply"
ERROR = f"{PREFIX}/error"
POLL_S = 0.1
"""How often (seconds) the listening thread checks for a stop."""


class EngineCommands(Protocol):
    """The engine's command API (:class:`live.engine.LiveEngine`); each returns False when its queue is full."""

    def tap(self) -> bool: ...
    def nudge(self, seconds: float) -> bool: ...
    def clear_taps(self) -> bool: ...
    def set_resolution(self, resolution: str) -> bool: ...
    def set_top_k(self, top_k: int) -> bool: ...
    def set_mode(self, mode: str) -> bool: ...


@dataclass(frozen=True)
class OwnerActions:
    """What only the owner of the show can do, called on the listening thread (an owner with a GUI thread posts
    them there); None: not available in this run, which the reply says.

    Attributes:
        start, stop: start / stop the show.
        view: performance view on (True) or off.
        record: recording on (True) or off.
        motion: switch to the named motion mode (raise ValueError for an unknown one).
        latency: set output ``name``'s latency to ``ms`` milliseconds.
    """

    start: Callable[[], None] | None = None
    stop: Callable[[], None] | None = None
    view: Callable[[bool], None] | None = None
    record: Callable[[bool], None] | None = None
    motion: Callable[[str], None] | None = None
    latency: Callable[[str, float], None] | None = None


class CommandError(ValueError):
    """A command that cannot be done; its message is the error reply."""


def _one(args: tuple, kind: type, what: str) -> object:
    if len(args) != 1 or not isinstance(args[0], (int, float) if kind is float else kind) or isinstance(args[0], bool):
        raise CommandError(f"takes one {what}, got {list(args)!r}")
    return args[0]


def _engine_done(accepted: bool) -> None:
    if not accepted:
        raise CommandError("the engine's command queue is full; try again")


class OscIn:
    """Listens on UDP ``host``:``port`` (0: any free port, see :attr:`port`); see the module docstring."""

    def __init__(self, port: int, engine: EngineCommands, actions: OwnerActions = OwnerActions(),
                 host: str = "0.0.0.0") -> None:
        self.engine, self.actions = engine, actions
        self.handled = 0
        """Commands done."""
        self.refused = 0
        """Well-formed messages answered with an error (unknown address, bad argument, not available)."""
        self.malformed = 0
        """Packets that were not OSC, ignored."""
        dispatcher = _CountingDispatcher(self)
        dispatcher.set_default_handler(self._handle)
        try:
            self._server = _CountingServer((host, port), dispatcher, self)
        except OSError as err:
            raise InputError(None, f"--osc-listen {port}: cannot listen on UDP {host}:{port} ({err.strerror})") from err
        self.port: int = self._server.server_address[1]
        self._worker = StoppableThread()
        self._commands: dict[str, Callable[[tuple], None]] = {
            "start": lambda a: self._owner("start")(), "stop": lambda a: self._owner("stop")(),
            "tap": lambda a: _engine_done(engine.tap()),
            "nudge": lambda a: _engine_done(engine.nudge(float(_one(a, float, "number (ms)")) / 1000.0)),
            "tracker": lambda a: _engine_done(engine.clear_taps()),
            "resolution": self._resolution, "topk": self._top_k, "window": self._window,
            "motion": lambda a: self._owner("motion")(str(_one(a, str, "motion mode name"))),
            "view": lambda a: self._owner("view")(bool(_one(a, int, "int 0 or 1"))),
            "record": lambda a: self._owner("record")(bool(_one(a, int, "int 0 or 1"))),
            **{f"latency/{output}": (lambda a, o=output: self._latency(o, a)) for output in OUTPUTS},
        }

    def start(self) -> None:
        self._worker.start(lambda: self._server.serve_forever(POLL_S), "dancepose-osc-in")

    def stop(self) -> None:
        """Stop listening and close the socket (safe to call more than once)."""
        self._worker.stop(wake=self._server.shutdown)
        self._server.server_close()

    def _handle(self, address: str, *args: object) -> tuple:
        """Do the command at ``address``; the reply tuple python-osc sends back to the sender."""
        command = self._commands.get(address.removeprefix(f"{PREFIX}/")) if address.startswith(f"{PREFIX}/") else None
        try:
            if command is None:
                raise CommandError("unknown address")
            command(args)
        except (CommandError, ValueError) as err:
            self.refused += 1
            return ERROR, address, " ".join(str(err).split())
        self.handled += 1
        return REPLY, address, "ok"

    def _owner(self, name: str) -> Callable:
        action = getattr(self.actions, name)
        if action is None:
            raise CommandError(f"{name} is not available in this run")
        return action

    def _resolution(self, args: tuple) -> None:
        resolution = str(_one(args, str, f"resolution ({', '.join(RESOLUTIONS)})"))
        if resolution not in RESOLUTIONS:
            raise CommandError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
        _engine_done(self.engine.set_resolution(resolution))

    def _top_k(self, args: tuple) -> None:
        top_k = int(_one(args, int, "int >= 1"))
        if top_k < 1:
            raise CommandError(f"top-k must be at least 1, got {top_k}")
        _engine_done(self.engine.set_top_k(top_k))

    def _window(self, args: tuple) -> None:
        mode = str(_one(args, str, "window mode (predictive, centred)"))
        if mode not in ("predictive", "centred"):
            raise CommandError(f"window mode must be predictive or centred, got {mode!r}")
        _engine_done(self.engine.set_mode(mode))

    def _latency(self, output: str, args: tuple) -> None:
        ms = float(_one(args, float, "number (ms)"))
        try:
            check_latency_ms(f"latency/{output}", ms)
        except InputError as err:
            raise CommandError(str(err)) from err
        self._owner("latency")(output, ms)


class _CountingDispatcher(Dispatcher):
    """python-osc's dispatcher, counting the packets it cannot parse (it drops them silently)."""

    def __init__(self, owner: OscIn) -> None:
        super().__init__()
        self._owner = owner

    def call_handlers_for_packet(self, data: bytes, client_address: tuple[str, int]) -> list:
        try:
            osc_packet.OscPacket(data)
        except osc_packet.ParseError:
            self._owner.malformed += 1
            return []
        return super().call_handlers_for_packet(data, client_address)


class _CountingServer(BlockingOSCUDPServer):
    """A one-thread OSC server counting datagrams that do not even look like OSC (refused before the dispatcher)."""

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher, owner: OscIn) -> None:
        self._owner = owner
        super().__init__(address, dispatcher)

    def verify_request(self, request, client_address) -> bool:  # noqa: ANN001  (socketserver's signature)
        valid = super().verify_request(request, client_address)
        if not valid:
            self._owner.malformed += 1
        return valid

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        """Anything else a datagram breaks is counted and ignored: the listener goes on."""
        self._owner.malformed += 1
