"""Starting a show off the GUI thread.

Pressing Start costs seconds here: importing the renderer, loading the body model, opening the bank, importing torch,
building the encoder and warming it up (the weight-free encoder's first window imports librosa), decoding a song,
starting the engine. :class:`ShowLoader` does all of it on a worker thread and hands the window small frozen messages
through bounded queues: :class:`Progress` lines while it works, then one :class:`ShowStarted` with the running
session, or one :class:`ShowFailed`. Body first: as soon as the bank and the body are open (no torch on that path) a
:class:`~ui.stage.Stage` starts rendering, and the loader waits for its first frame before it loads the encoder; the
stage's frames go to :attr:`ShowLoader.preview` until the session (which takes the stage over) is handed over, so the
body is on screen while the encoder loads and warms up. The rig (:mod:`rig.outputs`) is opened before the engine
starts and handed over with the session. The window polls both queues from a timer; nothing here touches Qt.
"""

from __future__ import annotations

import argparse
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import InputError
from live.queues import drain, offer_newest

if TYPE_CHECKING:  # these import torch or the renderer: they load on the loader thread
    from model.cli_options import RankingSetup
    from rig.options import RigOptions
    from rig.osc_in import OwnerActions
    from rig.outputs import Rig
    from ui.session import LiveSession
    from ui.stage import Stage, StageFrame

MESSAGES_SIZE = 16
"""Bound of :attr:`ShowLoader.messages` (a start sends four)."""
FIRST_FRAME_WAIT_S = 5.0
"""Longest the loader waits for the stage's first frame before it loads the encoder (importing torch holds the
interpreter for seconds: the body is drawn first)."""


@dataclass(frozen=True)
class ShowRequest:
    """What to start.

    Attributes:
        options: the show's encoder options (``encoder``, ``bank``, ``body``, ``checkpoint``, ``device``).
        input: the ``--input`` spec (None: the default input device, or the demo song played as live without one).
        resolution: positions per beat, '4th', '8th' or '16th'.
        mode: 'predictive' or 'centred'.
        top_k: poses per event.
        bank_min: the bank must hold at least this many poses (the largest top-k the window offers).
        motion: the motion mode (:data:`motion.source.MOTION_MODES`).
        seconds: stop after this much audio (None: never / the end of the file).
        record: record the performance view with audio to this MP4 (None: no recording).
        setup: the bank, body and retriever of ``options`` when already open (None: open them).
        actions: what OSC commands may do to the window (:class:`rig.osc_in.OwnerActions`, posted to the GUI
            thread by the window); None: none.
    """

    options: argparse.Namespace
    input: str | None
    resolution: str
    mode: str
    top_k: int
    bank_min: int
    motion: str
    seconds: float | None = None
    record: Path | None = None
    setup: RankingSetup | None = None
    actions: OwnerActions | None = None


@dataclass(frozen=True)
class Progress:
    """What the loader is doing now, for the window's loading line (e.g. 'opening the input')."""

    step: str


@dataclass(frozen=True)
class ShowStarted:
    """The session runs (engine, render loop and any recording started); ``setup`` is what it was opened with;
    ``rig`` the started rig of the request's options (OSC, MIDI, Link; one that does nothing without them)."""

    session: LiveSession
    setup: RankingSetup
    rig: Rig


@dataclass(frozen=True)
class ShowFailed:
    """Starting failed; ``message`` is one line for the performer (an :class:`InputError` names the file)."""

    message: str


Message = Progress | ShowStarted | ShowFailed


class _Cancelled(Exception):
    """The start was given up: the loader ends without starting anything."""


class ShowLoader:
    """One start of a show on a worker thread; see the module docstring."""

    def __init__(self, request: ShowRequest) -> None:
        self.request = request
        self.messages: queue.Queue[Message] = queue.Queue(maxsize=MESSAGES_SIZE)
        """Progress lines, then one ShowStarted or ShowFailed (always the last message)."""
        self.preview: queue.Queue[StageFrame] = queue.Queue(maxsize=1)
        """The newest frame of the session's render loop while the engine starts (none after the hand-over)."""
        self._previewing = threading.Event()
        self._lock = threading.Lock()
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name="dancepose-loader", daemon=True)

    def start(self) -> None:
        """Start loading (again: nothing)."""
        if self._thread.ident is None:
            self._thread.start()

    def cancel(self) -> None:
        """Give the start up: a session the loader starts after this is stopped on the loader's thread; one already
        handed over (a :class:`ShowStarted` not yet read) is stopped on a thread of its own."""
        with self._lock:
            self._cancelled = True
            started = [message for message in drain(self.messages) if isinstance(message, ShowStarted)]
        for message in started:
            threading.Thread(target=stop_show, args=(message.session, message.rig), name="dancepose-stop",
                             daemon=True).start()

    def _run(self) -> None:
        try:
            started = self._start_show()
        except _Cancelled:
            return
        except InputError as err:
            self._say(ShowFailed(str(err)))
            return
        except Exception as err:  # noqa: BLE001  (whatever breaks, the window says so and stays usable)
            self._say(ShowFailed(f"{type(err).__name__}: {err}"))
            return
        finally:
            self._previewing.clear()
        with self._lock:
            if not self._cancelled:
                offer_newest(self.messages, started)
                return
        stop_show(started.session, started.rig)

    def _start_show(self) -> ShowStarted:
        request = self.request
        setup = request.setup
        if setup is None:
            from model.cli_options import open_bank_and_body

            self._say(Progress("opening the body model and the bank"))
            bank, body = open_bank_and_body(request.options, request.bank_min)
        else:
            bank, body = setup.bank, setup.body
        from rig.options import rig_options
        from ui.stage import RenderConfig, Stage

        rig_settings = rig_options(request.options)
        stage = Stage(bank, body, RenderConfig(screen_latency_ms=rig_settings.latencies.screen_ms),
                      motion=request.motion, dance_checkpoint=getattr(request.options, "dance_checkpoint", None),
                      keep_motion_log=getattr(request.options, "export_motion", None) is not None)
        stage.render.listeners.append(self._preview_frame)
        self._previewing.set()
        stage.render.start()
        rig: Rig | None = None
        try:
            self._check_cancelled()
            stage.render.first_frame.wait(FIRST_FRAME_WAIT_S)
            if setup is None:
                from model.cli_options import finish_ranking_setup

                self._say(Progress("loading the encoder"))
                setup = finish_ranking_setup(request.options, bank, body)
            self._check_cancelled()
            self._say(Progress("opening the input"))
            session, rig = self._open_session(setup, stage, rig_settings)
            self._say(Progress(f"warming up the {session.engine.encoder_name} encoder"))
            session.start(request.seconds, record=request.record)
        except BaseException:
            stage.render.stop()  # started first; what came after it failed or was given up
            if rig is not None:
                rig.close()
            raise
        return ShowStarted(session, setup, rig)

    def _open_session(self, setup: RankingSetup, stage: Stage, rig_settings: RigOptions) -> tuple[LiveSession, Rig]:
        """The session over ``stage`` (engine not started) and its started rig (which taps the engine's audio)."""
        from live.engine import EngineConfig, LiveEngine
        from rig.osc_in import OwnerActions
        from rig.outputs import open_rig
        from live.beats_cli import tracker_config
        from ui.headless_run import default_source
        from ui.session import LiveSession

        request = self.request
        config = EngineConfig(resolution=request.resolution, mode=request.mode, top_k=request.top_k,
                              tracker=tracker_config(request.options))
        engine = LiveEngine(default_source(request.input), setup.retriever, config)
        session = LiveSession(engine, setup.bank, setup.body, stage=stage)
        rig = open_rig(rig_settings, engine, setup.bank, setup.body, request.actions or OwnerActions())
        stage.render.listeners.append(rig.add_frame)
        return session, rig

    def _check_cancelled(self) -> None:
        if self._cancelled:
            raise _Cancelled

    def _preview_frame(self, frame: StageFrame) -> None:
        """Render-loop listener (render thread): pass frames on until the session is handed over."""
        if self._previewing.is_set():
            offer_newest(self.preview, frame)

    def _say(self, message: Message) -> None:
        offer_newest(self.messages, message)


def stop_show(session: LiveSession, rig: Rig) -> None:
    """Stop a started show: the session (engine, rendering, recording), then its rig."""
    try:
        session.stop()
    finally:
        rig.close()
