"""A live show without Qt: the engine, the motion its events drive, the render loop, the recording and the events
file. The Qt window and the no-display run (:mod:`ui.headless_run`) both drive one of these.

The owner calls :meth:`LiveSession.poll` regularly (the Qt bridge from a timer, the headless run from a loop): it
drains the engine's events and audio, posts the events and the music's level to the motion player (owned by the
render thread, :class:`~motion.player.MotionPlayer`), writes the events file and feeds the recorder. At the end the
pose stream can be exported (:meth:`LiveSession.export_motion`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from common.constants import MODEL_SAMPLE_RATE
from live.engine import LiveEngine
from live.events import Event, event_record
from live.queues import drain
from live.ring_buffer import Chunk
from motion.energy import LevelMeter
from motion.export import EXPORT_FPS, export_log
from motion.capture import heard
from motion.source import DEFAULT_MOTION
from pose_db.bank import PoseBank
from pose_db.body import BodyModel
from ui.recorder import Recorder, RecordingInfo
from ui.stage import RenderConfig, Stage, StageFrame


@dataclass(frozen=True)
class Polled:
    """What one :meth:`LiveSession.poll` drained: engine events and 24 kHz audio chunks, oldest first."""

    events: list[Event]
    audio: list[Chunk]


class LiveSession:
    """Engine + motion + render loop (+ recorder, + events file); see the module docstring.

    ``motion`` names the motion mode (:data:`motion.source.MOTION_MODES`); ``betas`` (10,) the performer's shape
    (None: the mean shape). ``stage``: a :class:`~ui.stage.Stage` over the same bank and body, perhaps already
    rendering (the window starts one before the encoder loads), which the session takes over (``render``,
    ``motion`` and ``betas`` are then its own); None: a new one.
    """

    def __init__(self, engine: LiveEngine, bank: PoseBank, body: BodyModel, render: RenderConfig = RenderConfig(),
                 events_path: Path | None = None, motion: str = DEFAULT_MOTION,
                 betas: np.ndarray | None = None, stage: Stage | None = None) -> None:
        self.engine, self.bank = engine, bank
        self.stage = stage if stage is not None else Stage(bank, body, render, motion, betas)
        self.stage.follow(self.clock_s)
        self.motion_setup, self.motion, self.render = self.stage.motion_setup, self.stage.motion, self.stage.render
        self.render.listeners.append(self._keep_frame)
        self.latest_frame: StageFrame | None = None
        self.recorder: Recorder | None = None
        self.events_path = events_path
        self._log: TextIO | None = None
        self._audio = engine.tap_audio()
        self._meter = LevelMeter(MODEL_SAMPLE_RATE)

    def clock_s(self) -> float:
        """The audio clock in seconds (what the engine has read)."""
        return self.engine.reader.clock_s

    def set_screen_latency_ms(self, ms: float) -> None:
        """Show the motion ``ms`` milliseconds ahead of the audio clock from now on (:mod:`rig.latency`)."""
        self.render.lead_s = ms / 1000.0

    def start(self, seconds: float | None = None, record: Path | None = None) -> None:
        """Start rendering (unless the stage already renders) and the engine (stopping by itself after ``seconds`` of
        audio); record to ``record``."""
        if self.events_path is not None:
            self._log = open(self.events_path, "w")
        if not self.render.running:
            self.render.start()
        self.engine.start(seconds)
        if record is not None:
            self.start_recording(record)

    def start_recording(self, path: Path) -> None:
        """Record what the performance view shows, with the audio, from now on."""
        self.recorder = Recorder(path, start_s=self.clock_s(), fps=round(self.render.config.fps))
        self.render.listeners.append(self.recorder.add_frame)

    def stop_recording(self) -> RecordingInfo | None:
        """Finish the recording (None when none was running)."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        self.render.listeners.remove(recorder.add_frame)
        return recorder.close()

    def set_motion(self, mode: str) -> None:
        """Switch the motion mode now (blended); raises ValueError or InputError when ``mode`` cannot be built."""
        self.motion.switch(mode, self.clock_s())

    def poll(self) -> Polled:
        """Drain events and audio: post them and the music's level to the motion, log events, feed the recorder."""
        events = drain(self.engine.events)
        for event in events:
            self._handle(event)
        audio = drain(self._audio)
        for item, at_s in heard(audio, self._meter, self.motion.mode):
            self.motion.post(item, at_s)
        if self.recorder is not None:
            for chunk in audio:
                self.recorder.add_audio(chunk)
        return Polled(events, audio)

    def stop(self) -> RecordingInfo | None:
        """Stop the engine and the rendering; finish the recording and the events file."""
        self.engine.stop()
        self.poll()
        info = self.stop_recording()
        self.render.stop()
        if self._log is not None:
            self._log.close()
        return info

    def _handle(self, event: Event) -> None:
        if self._log is not None:
            self._log.write(json.dumps(event_record(event)) + "\n")
        self.motion.post(event, self.clock_s())

    def _keep_frame(self, frame: StageFrame) -> None:
        self.latest_frame = frame

    def export_motion(self, path: Path, fps: float = EXPORT_FPS) -> int:
        """Write the pose stream of the show so far, sampled at ``fps`` frames per second, to ``path`` (.bvh or
        .npz); call after :meth:`stop` (the render thread owns the player while it runs). Returns the frames."""
        return export_log(path, self.motion_setup, self.motion.initial_mode, list(self.motion.log), self.clock_s(), fps)
