"""A live show without Qt: the engine, the choreography its pose events drive, the render loop, the recording and
the events file. The Qt window and the no-display run (:mod:`ui.headless_run`) both drive one of these.

The owner calls :meth:`LiveSession.poll` regularly (the Qt bridge from a timer, the headless run from a loop): it
drains the engine's events and audio, cues poses, writes the events file and feeds the recorder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from live.engine import LiveEngine
from live.events import Event, PoseEvent, event_record
from live.queues import drain
from live.ring_buffer import Chunk
from pose_db.animation import Choreography
from pose_db.bank import PoseBank
from pose_db.body import BodyModel
from ui.recorder import Recorder, RecordingInfo
from ui.stage import RenderConfig, RenderLoop, StageFrame


@dataclass(frozen=True)
class Polled:
    """What one :meth:`LiveSession.poll` drained: engine events and 24 kHz audio chunks, oldest first."""

    events: list[Event]
    audio: list[Chunk]


class LiveSession:
    """Engine + choreography + render loop (+ recorder, + events file); see the module docstring."""

    def __init__(self, engine: LiveEngine, bank: PoseBank, body: BodyModel, render: RenderConfig = RenderConfig(),
                 events_path: Path | None = None) -> None:
        self.engine, self.bank = engine, bank
        self.choreography = Choreography()
        self.render = RenderLoop(body, self.choreography, self.clock_s, bank.image_path, render)
        self.render.listeners.append(self._keep_frame)
        self.latest_frame: StageFrame | None = None
        self.recorder: Recorder | None = None
        self.events_path = events_path
        self._log: TextIO | None = None
        self._audio = engine.tap_audio()

    def clock_s(self) -> float:
        """The audio clock in seconds (what the engine has read)."""
        return self.engine.reader.clock_s

    def start(self, seconds: float | None = None, record: Path | None = None) -> None:
        """Start rendering and the engine (stopping by itself after ``seconds`` of audio); record to ``record``."""
        if self.events_path is not None:
            self._log = open(self.events_path, "w")
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

    def poll(self) -> Polled:
        """Drain events and audio: cue poses, log events, feed the recorder."""
        events = drain(self.engine.events)
        for event in events:
            self._handle(event)
        audio = drain(self._audio)
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
        if isinstance(event, PoseEvent):
            index = event.indices[0]
            self.choreography.add(self.bank.vectors[index], event.show_at_s, self.clock_s(), tag=index)

    def _keep_frame(self, frame: StageFrame) -> None:
        self.latest_frame = frame
