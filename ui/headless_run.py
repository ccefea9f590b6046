"""The show where there is no display: the live engine on the default input (the demo song played as live when the
machine has no microphone), the performance view rendered off screen and recorded with the audio, the events written.

Writes ``<out>/performance.mp4`` (H.264 + AAC, what the performance view shows, in sync), ``<out>/events.jsonl`` (every
engine event) and ``<out>/performance.png`` (the last picture), and says where they are.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from common.paths import DEMO_SONG
from live.beats_cli import tracker_config
from live.audio_input import AudioSource
from live.engine import EngineConfig, LiveEngine
from live.live_cli import LiveSummary, open_source
from ui.session import LiveSession
from ui.stage import RenderConfig, Stage

POLL_S = 0.02
"""How often (seconds) the run drains the engine's events and audio."""


def default_source(spec: str | None) -> AudioSource:
    """The source for ``--input``; without one, the default input device, or the demo song played as live in real
    time when the machine has no input device."""
    from live.audio_input import list_input_devices
    from live.file_source import FileSource

    if spec is None and not list_input_devices():
        return FileSource(DEMO_SONG, speed=1.0)
    return open_source(spec, 1.0, False)


def engine_config(args: argparse.Namespace) -> EngineConfig:
    """The engine settings the show options ask for (defaults for those not given)."""
    defaults = EngineConfig()
    return EngineConfig(resolution=args.resolution or defaults.resolution, mode=args.mode or defaults.mode,
                        top_k=args.top_k or defaults.top_k, tracker=tracker_config(args))


def run_headless(args: argparse.Namespace) -> int:
    """Run the show off screen until the input ends, ``--seconds`` pass or Ctrl-C; print where the files are."""
    from model.cli_options import open_ranking_setup
    from rig.options import rig_options
    from rig.osc_in import OwnerActions
    from rig.outputs import open_rig

    config = engine_config(args)
    setup = open_ranking_setup(args, config.top_k)
    source = default_source(args.input)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    record = args.record or out / "performance.mp4"
    engine = LiveEngine(source, setup.retriever, config)
    render = RenderConfig(screen_latency_ms=rig_options(args).latencies.screen_ms)  # the motion shown that much early
    session = LiveSession(engine, setup.bank, setup.body, render, events_path=out / "events.jsonl",
                          motion=args.motion, stage=Stage(setup.bank, setup.body, render, args.motion,
                                                          dance_checkpoint=args.dance_checkpoint,
                                                          keep_motion_log=args.export_motion is not None))
    summary = LiveSummary()
    rig = open_rig(rig_options(args), engine, setup.bank, setup.body, OwnerActions(stop=engine.stop))
    session.render.listeners.append(rig.add_frame)
    print(f"no display: rendering the performance view off screen; input {source.name}, encoder "
          f"{engine.encoder_name}, {config.resolution}, {config.mode} (Ctrl-C stops)", flush=True)
    session.start(args.seconds, record=record)
    try:
        while not engine.wait(POLL_S):
            events = session.poll().events
            rig.observe(events)
            for event in events:
                summary.add(event)
    except KeyboardInterrupt:
        pass
    info = session.stop()
    rig.close()
    if rig.options.any:
        print(rig.summary())
    if args.export_motion is not None:
        frames = session.export_motion(args.export_motion)
        print(f"wrote {args.export_motion} ({frames} frames of {args.motion} motion at 30 fps)")
    if session.latest_frame is not None:
        Image.fromarray(session.latest_frame.rgb).save(out / "performance.png")
    times = sorted(session.render.render_times_s)
    print(summary.line())
    if times:
        print(f"rendering: {len(times)} recent frames, median {1000 * times[len(times) // 2]:.0f} ms")
    if info is not None:
        print(f"recorder: {info.frames} frames, {100 * info.distinct_share:.0f}% distinct "
              f"({100 * info.rendered_frames / max(info.frames, 1):.0f}% rendered for their own time)")
        print(f"wrote {info.path} ({info.frames} frames at {info.fps} fps, {info.audio_s:.1f} s of audio)")
    print(f"wrote {out / 'events.jsonl'}")
    print(f"wrote {out / 'performance.png'}")
    return 0
