"""MIDI to audio with fluidsynth (Debian's ``fluidsynth``) through the General MIDI SoundFonts Debian ships.

Loading a big SoundFont costs seconds (MuseScore's .sf3 decompresses ~4 s), so items are rendered in batches: every
item's MIDI is turned into events in seconds, the items are laid one after another (with a silent gap and a full
controller reset between them) in one MIDI file on a fixed fine tick grid, fluidsynth renders that once, and the
audio is cut back into items. fluidsynth's own render start offset (:data:`RENDER_OFFSET_S`, measured once with a
click, see ``tests/test_beat_data.py``) is added when cutting, so an event at item time t sounds at sample t * rate.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from model.beat_data.annotations import tempo_map, ticks_to_seconds

SAMPLE_RATE: int = 22_050
DRUM_CHANNEL: int = 9  # channel 10, 1-based
# fluidsynth -F plays an event at t from sample t * rate + ~105 (64-sample blocks: 73..139 samples, the same with
# every SoundFont; measured with clicks at 24 sub-block phases): the sound starts 4.8 ms (+-1.5 ms) late
RENDER_OFFSET_S: float = 0.0048
GAP_S: float = 2.0  # silence between batched items, so reverb tails never reach the next item
_TICKS_PER_BEAT: int = 960
_TEMPO_US: int = 240_000  # with 960 ticks a quarter: one tick = 0.25 ms
_CHANNEL_TYPES = ("note_on", "note_off", "control_change", "program_change", "pitchwheel", "aftertouch", "polytouch")


@dataclass(frozen=True)
class SoundFont:
    """A General MIDI SoundFont: ``name`` (short id), ``path``, Debian ``package`` and its ``licence``."""

    name: str
    path: str
    package: str
    licence: str


SOUNDFONTS: tuple[SoundFont, ...] = (
    SoundFont("fluidr3", "/usr/share/sounds/sf2/FluidR3_GM.sf2", "fluid-soundfont-gm", "MIT"),
    SoundFont("musescore", "/usr/share/sounds/sf3/MuseScore_General_Full.sf3", "musescore-general-soundfont", "MIT"),
    SoundFont("timgm6mb", "/usr/share/sounds/sf2/TimGM6mb.sf2", "timgm6mb-soundfont", "GPL-2+"),
)


def available_soundfonts() -> tuple[SoundFont, ...]:
    """The SoundFonts of :data:`SOUNDFONTS` that are installed."""
    return tuple(sf_ for sf_ in SOUNDFONTS if os.path.exists(sf_.path))


def fluidsynth_available() -> bool:
    """Whether the ``fluidsynth`` program and at least one SoundFont are installed."""
    return shutil.which("fluidsynth") is not None and bool(available_soundfonts())


TimedEvents = list[tuple[float, tuple[int, ...]]]
"""Channel messages as raw MIDI bytes ``(status, data1[, data2])`` with their times in seconds, sorted by time."""

_NOTE_OFF, _NOTE_ON, _CONTROL, _PROGRAM, _PITCH = 0x80, 0x90, 0xB0, 0xC0, 0xE0


def timed_events(mid: mido.MidiFile) -> TimedEvents:
    """The channel messages of ``mid`` with their times in seconds (through its tempo map), sorted by time."""
    raw: list[tuple[int, int, tuple[int, ...]]] = []
    for ti, track in enumerate(mid.tracks):
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type in _CHANNEL_TYPES:
                raw.append((tick, ti, tuple(msg.bytes())))
    raw.sort(key=lambda r: (r[0], r[1]))
    secs = ticks_to_seconds(np.array([r[0] for r in raw]), tempo_map(mid), mid.ticks_per_beat)
    return [(float(s), r[2]) for s, r in zip(secs, raw, strict=True)]


def edit_events(events: TimedEvents, *, transpose: int = 0, drop_drums: bool = False, until_s: float | None = None,
                velocity_scale: float = 1.0) -> TimedEvents:
    """A copy of ``events``: non-drum notes moved by ``transpose`` semitones, drum channel removed when
    ``drop_drums``, events at or after ``until_s`` seconds removed, note-on velocities scaled (1..127)."""
    out: TimedEvents = []
    for t, msg in events:
        if until_s is not None and t >= until_s:
            break
        kind, channel = msg[0] & 0xF0, msg[0] & 0x0F
        if drop_drums and channel == DRUM_CHANNEL:
            continue
        if kind in (_NOTE_ON, _NOTE_OFF):
            note = msg[1] if channel == DRUM_CHANNEL else msg[1] + transpose
            if not 0 <= note <= 127:
                continue
            vel = msg[2]
            if kind == _NOTE_ON and vel > 0:
                vel = min(127, max(1, round(vel * velocity_scale)))
            msg = (msg[0], note, vel)
        out.append((t, msg))
    return out


def _reset_messages(channel: int) -> list[tuple[int, ...]]:
    """Silence a channel and bring it back to General MIDI defaults."""
    msgs = [(_CONTROL | channel, c, v)
            for c, v in ((120, 0), (123, 0), (121, 0), (64, 0), (7, 100), (10, 64), (11, 127), (91, 40), (93, 0))]
    if channel != DRUM_CHANNEL:
        msgs += [(_CONTROL | channel, 0, 0), (_CONTROL | channel, 32, 0)]
    msgs += [(_PROGRAM | channel, 0), (_PITCH | channel, 0, 64)]
    return msgs


def _varlen(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def batch_midi(items: list[TimedEvents], durations_s: list[float]) -> tuple[bytes, list[float]]:
    """A type-0 MIDI file (bytes) playing ``items`` one after another; returns it and each item's start in seconds.

    Each item is preceded by a controller reset in the gap before it and followed by "all sound off" at its end;
    events at or after an item's duration are left out. One tick is 0.25 ms."""
    sec_per_tick = _TEMPO_US * 1e-6 / _TICKS_PER_BEAT
    timeline: list[tuple[int, int, tuple[int, ...]]] = []  # (tick, order, message)
    starts: list[float] = []
    start = GAP_S
    for events, dur in zip(items, durations_s, strict=True):
        starts.append(start)
        reset_tick = round((start - GAP_S / 2) / sec_per_tick)
        timeline += [(reset_tick, 0, m) for ch in range(16) for m in _reset_messages(ch)]
        timeline += [(round((start + t) / sec_per_tick), 1, m) for t, m in events if t < dur]
        end_tick = round((start + dur) / sec_per_tick)
        timeline += [(end_tick, 2, (_CONTROL | ch, 120, 0)) for ch in range(16)]
        start += dur + GAP_S
    timeline.sort(key=lambda r: (r[0], r[1]))
    body = bytearray(b"\x00\xff\x51\x03" + _TEMPO_US.to_bytes(3, "big"))
    last = 0
    for tick, _, msg in timeline:
        body += _varlen(tick - last) + bytes(msg)
        last = tick
    body += _varlen(round(GAP_S / sec_per_tick)) + b"\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + \
        _TICKS_PER_BEAT.to_bytes(2, "big")
    return header + b"MTrk" + len(body).to_bytes(4, "big") + bytes(body), starts


def render_file(midi_path: str | os.PathLike[str], soundfont: SoundFont, *, sample_rate: int = SAMPLE_RATE,
                reverb: bool = True, chorus: bool = False, gain: float = 0.4) -> np.ndarray:
    """Render a MIDI file with fluidsynth; returns mono float32 samples (N,) at ``sample_rate`` Hz."""
    with tempfile.TemporaryDirectory(prefix="beatdata_") as tmp:
        wav = Path(tmp) / "out.wav"
        cmd = ["fluidsynth", "-ni", "-q", "-r", str(sample_rate), "-g", f"{gain:.3f}", "-O", "float", "-T", "wav",
               "-R", "1" if reverb else "0", "-C", "1" if chorus else "0", "-o", "synth.polyphony=512",
               "-o", "synth.cpu-cores=1", "-F", str(wav), soundfont.path, os.fspath(midi_path)]
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz, asked for {sample_rate}")
    return audio.mean(axis=1)


def render_batch(items: list[TimedEvents], durations_s: list[float], soundfont: SoundFont, *,
                 sample_rate: int = SAMPLE_RATE, reverb: bool = True, chorus: bool = False) -> list[np.ndarray]:
    """Render several items in one fluidsynth run; returns one mono float32 array (round(dur * rate),) per item,
    sample 0 = item time 0."""
    mid, starts = batch_midi(items, durations_s)
    with tempfile.TemporaryDirectory(prefix="beatdata_") as tmp:
        path = Path(tmp) / "batch.mid"
        path.write_bytes(mid)
        audio = render_file(path, soundfont, sample_rate=sample_rate, reverb=reverb, chorus=chorus)
    out = []
    for start, dur in zip(starts, durations_s, strict=True):
        a = round((start + RENDER_OFFSET_S) * sample_rate)
        n = round(dur * sample_rate)
        piece = audio[a:a + n]
        out.append(np.pad(piece, (0, n - len(piece))))
    return out
