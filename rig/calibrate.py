"""``python main.py calibrate``: a flash + click test pattern for lining up each output's latency by ear and eye.

Writes ``click.wav`` (a click on every beat, higher on the first of each bar) and ``calibrate.mp4`` (the same clicks
with a white flash on each beat, grey on the others, drawn ``--latency-screen-ms`` earlier): play the video on the
projector through the PA and change the screen latency until flash and click land together. With ``--play`` (where
there is a sound output) the clicks are also played in real time, and any ``--osc`` / ``--midi-clock`` outputs get
the pattern's beats on that audio clock, each moved by its own latency: flash a TouchDesigner or Resolume layer on
``/dancepose/beat`` and change ``--latency-osc-ms`` until it lands on the click. Without a sound output the files are
still written and the real-time outputs run on the wall clock.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.paths import REPO_ROOT
from common.validation import number_at_least, writable_file
from live.snippets import BEATS_PER_BAR
from rig.options import add_rig_options, rig_options

SAMPLE_RATE = 48_000
FIRST_BEAT_S = 1.0
"""The first click, seconds after the start (time to look at the screen)."""
FLASH_S = 0.1
"""How long a flash stays on, seconds."""
DEFAULT_OUT = REPO_ROOT / "out" / "calibrate"


def click_pattern(bpm: float, seconds: float, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """(mono float32 samples (L,), beat times in seconds (B,)): a 30 ms click on every beat from
    :data:`FIRST_BEAT_S`, at 1.5 kHz on the first beat of each bar and 1 kHz on the others."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    beats = np.arange(FIRST_BEAT_S, seconds - 0.05, 60.0 / bpm)
    audio = np.zeros(len(t), np.float32)
    click = np.arange(int(0.03 * sample_rate))
    envelope = np.exp(-click / (0.006 * sample_rate))
    for n, beat in enumerate(beats):
        start = int(round(beat * sample_rate))
        pitch = 1500.0 if n % BEATS_PER_BAR == 0 else 1000.0
        audio[start : start + len(click)] += (0.8 * envelope * np.sin(2 * np.pi * pitch * click / sample_rate))[
            : len(audio) - start]
    return audio, beats


def flash_schedule(beats_s: np.ndarray, screen_latency_ms: float) -> tuple[np.ndarray, list[int]]:
    """(times in seconds, picture per time): each beat's flash (0 on a bar's first beat, 1 on others) from the beat
    minus the screen latency, then dark (2) :data:`FLASH_S` later."""
    on = beats_s - screen_latency_ms / 1000.0
    times = np.stack([on, on + FLASH_S], axis=1).reshape(-1)
    pictures = [p for n in range(len(beats_s)) for p in (0 if n % BEATS_PER_BAR == 0 else 1, 2)]
    keep = times >= 0
    return times[keep], [p for p, k in zip(pictures, keep) if k]


def add_calibrate_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` sub-command to ``commands``."""
    parser = commands.add_parser(
        "calibrate", help="flash + click test pattern to set each output's latency",
        description=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--bpm", type=float, default=120.0, help="tempo of the clicks (default 120)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the pattern (default 30)")
    parser.add_argument("--size", type=int, default=512, help="video width and height in pixels (default 512)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for click.wav and calibrate.mp4 (default {DEFAULT_OUT.relative_to(REPO_ROOT)})")
    parser.add_argument("--play", action="store_true",
                        help="also play the clicks now and send the rig outputs' beats in real time")
    add_rig_options(parser)
    parser.set_defaults(run=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    """Write the pattern's files; with ``--play`` or rig outputs, run it in real time."""
    import soundfile

    from offline.video import VideoSpec, write_video

    options = rig_options(args)
    if not 20 <= args.bpm <= 300:
        raise InputError(None, f"--bpm must be between 20 and 300, got {args.bpm:g}")
    number_at_least("--seconds", args.seconds, 2)
    if args.size < 16 or args.size % 2:
        raise InputError(None, f"--size must be an even number of pixels >= 16, got {args.size}")
    wav, mp4 = writable_file(args.out / "click.wav", "--out"), writable_file(args.out / "calibrate.mp4", "--out")
    args.out.mkdir(parents=True, exist_ok=True)
    audio, beats = click_pattern(args.bpm, args.seconds)
    soundfile.write(wav, audio, SAMPLE_RATE)
    times, which = flash_schedule(beats, options.latencies.screen_ms)
    with tempfile.TemporaryDirectory() as folder:
        pictures = _flash_pictures(Path(folder), args.size)
        write_video(mp4, [pictures[w] for w in which], times, audio[:, None], SAMPLE_RATE,
                    VideoSpec(fps=60, size=(args.size, args.size)), placeholder=None)
    print(f"wrote {wav} and {mp4} ({len(beats)} clicks at {args.bpm:g} BPM; flash "
          f"{options.latencies.screen_ms:+g} ms screen latency)")
    if args.play or options.osc or options.midi_clock:
        _run_live(wav, beats, args.bpm, options, args.play)
    return 0


def _flash_pictures(folder: Path, size: int) -> list[Path]:
    """White (a bar's first beat), grey (other beats) and dark pictures, as files."""
    from PIL import Image

    paths = []
    for name, grey in (("downbeat", 255), ("beat", 150), ("dark", 0)):
        path = folder / f"{name}.png"
        Image.new("RGB", (size, size), (grey, grey, grey)).save(path)
        paths.append(path)
    return paths


def _run_live(wav: Path, beats: np.ndarray, bpm: float, options, play: bool) -> None:
    """Play ``wav`` as live (to the speakers with ``play``) and send its beats through the rig's outputs."""
    from live.events import BeatTick
    from live.file_source import FileSource
    from rig.clock import AudioClock
    from rig.osc_out import OscOut, OscOutConfig

    try:
        source = FileSource(wav, speed=1.0, play=play)
        source.start()
    except InputError as err:
        print(f"no sound output ({err}); sending the beats on the wall clock", file=sys.stderr)
        source = FileSource(wav, speed=1.0)
        source.start()
    reader = source.reader(SAMPLE_RATE)
    outputs = []
    if options.osc:
        outputs.append(OscOut(OscOutConfig(options.osc, options.latencies, options.phase_hz),
                              AudioClock(lambda: reader.clock_s, 1.0)))
    if options.midi_clock:
        from rig.midi_clock import MidiClockOut, open_midi_output

        outputs.append(MidiClockOut(open_midi_output(options.midi_clock), AudioClock(lambda: reader.clock_s, 1.0),
                                    options.latencies.midi_ms))
    for output in outputs:
        output.start()
        for beat in beats:  # the whole grid is known: the last tick anchors it exactly
            output.observe(BeatTick(float(beat), 0.0, bpm))
    print(f"playing {len(beats)} clicks in real time ({len(beats) * 60 / bpm:.0f} s; Ctrl-C stops)", flush=True)
    try:
        while not reader.done and reader.clock_s < beats[-1] + 30.0 / bpm:  # until half a beat after the last
            reader.read(0.02)
    except KeyboardInterrupt:
        pass
    finally:
        source.stop()
        for output in outputs:
            output.stop()
