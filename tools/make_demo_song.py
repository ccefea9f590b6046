"""Rebuild the bundled demo song (assets/demo/) from its Debian sources.

The piece is an OpenMSX MIDI file (Debian ``openttd-openmsx``, GPL-2) rendered with fluidsynth and the FluidR3_GM
SoundFont (Debian ``fluid-soundfont-gm``, MIT). The beats are the MIDI file's own beat grid, from its tempo map, so the
audio and the beats share one timeline; the script checks the render against that grid (render start latency and
librosa onsets) and writes:

- ``demo_song.flac``: mono, 44.1 kHz, 16-bit, the segment ``SEGMENT_START_BAR`` .. + ``SEGMENT_BARS`` bars;
- ``demo_song.beats.txt`` / ``demo_song.downbeats.txt``: one time per line, seconds from the clip start, 3 decimals;
- ``README.md``: origin, licences, tempo, the measured offsets, and this command.

Usage (needs ``fluidsynth``, ``fluid-soundfont-gm``, ``openttd-openmsx``; ``make assets-sources`` installs them and
``mido`` from pip)::

    .venv/bin/python tools/make_demo_song.py [--out assets/demo]

The output is byte-for-byte reproducible with the same fluidsynth (2.3.1) and SoundFont.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import librosa
import mido
import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.paths import DEMO_SONG  # noqa: E402

MIDI_DIR = Path("/usr/share/games/openttd/baseset/openmsx")
PIECE = "no_work_song_redfarn"
"""The OpenMSX piece: one tempo (110 BPM), 4/4, straight eighths, a drum kit in every bar (piano, jazz guitar,
fretless bass). Not one of the dev-set pieces in ../shared/data/beats."""
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE = 44_100
SEGMENT_START_BAR = 4
"""First bar of the clip (0-based; the clip starts on a downbeat)."""
SEGMENT_BARS = 20
"""Bars in the clip: 20 bars of 4/4 at 110 BPM = 43.6 s."""
FADE_S = 0.010
"""Fade in and out at the cut points, in seconds (no clicks)."""
PEAK_DBFS = -1.0
"""Peak level of the written clip."""
SILENCE = 4 / 32768
"""Amplitude above fluidsynth's 16-bit dither floor (+-1 LSB): the first sounding sample of the render."""
MAX_LATENCY_S = 0.005
"""Largest accepted render start latency; within it the beats carry no correction (their accuracy is +-10 ms)."""
ONSET_WINDOW_S = 0.1
"""Onsets within this many seconds of a beat count for the onset-after-beat statistic."""


@dataclass(frozen=True)
class BeatGrid:
    """A MIDI file's beat grid on the audio timeline.

    Attributes:
        beats: (B,) beat times in seconds from the start of the file, tempo changes included.
        downbeats: (D,) the beats that start a bar (time signatures applied; 4/4 where the file has none).
        bpm: (T,) distinct tempi in the file, in beats per minute.
        first_note_s: time of the first note-on, in seconds.
    """

    beats: np.ndarray
    downbeats: np.ndarray
    bpm: np.ndarray
    first_note_s: float


def read_beat_grid(midi_path: Path) -> BeatGrid:
    """The beat and bar grid of ``midi_path`` from its tempo map and time signatures."""
    midi = mido.MidiFile(midi_path)
    tpb = midi.ticks_per_beat
    tempo_changes: list[tuple[int, int]] = [(0, 500_000)]  # (tick, microseconds per beat); MIDI default 120 BPM
    bar_changes: list[tuple[int, int]] = [(0, 4)]  # (tick, beats per bar); MIDI default 4/4
    first_note_tick: int | None = None
    tick = 0
    for msg in mido.merge_tracks(midi.tracks):
        tick += msg.time
        if msg.type == "set_tempo":
            tempo_changes.append((tick, msg.tempo))
        elif msg.type == "time_signature":
            bar_changes.append((tick, msg.numerator * 4 // msg.denominator))
        elif msg.type == "note_on" and msg.velocity > 0 and first_note_tick is None:
            first_note_tick = tick
    end_tick = tick
    change_ticks, tempos = _tempo_map(tempo_changes)
    beat_ticks = np.arange(0, end_tick + 1, tpb)
    seconds = _ticks_to_seconds(np.append(beat_ticks, first_note_tick or 0), change_ticks, tempos, tpb)
    downbeat_ticks = _downbeat_ticks(bar_changes, tpb, end_tick)
    tempi = np.unique(np.round(60e6 / tempos, 3))
    return BeatGrid(beats=seconds[:-1], downbeats=seconds[:-1][np.isin(beat_ticks, downbeat_ticks)],
                    bpm=tempi, first_note_s=float(seconds[-1]))


def _tempo_map(tempo_changes: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(ticks (T,) int, microseconds per beat (T,) float) in effect, sorted; of changes at one tick the last wins."""
    change_ticks = np.array([t for t, _ in tempo_changes])
    tempos = np.array([us for _, us in tempo_changes], dtype=np.float64)
    order = np.argsort(change_ticks, kind="stable")
    change_ticks, tempos = change_ticks[order], tempos[order]
    keep = np.append(change_ticks[1:] != change_ticks[:-1], True)
    return change_ticks[keep], tempos[keep]


def _ticks_to_seconds(ticks: np.ndarray, change_ticks: np.ndarray, tempos: np.ndarray, tpb: int) -> np.ndarray:
    """Seconds of each tick under the piecewise-constant tempo map ``(change_ticks, tempos)`` of :func:`_tempo_map`."""
    seconds_per_tick = tempos / 1e6 / tpb
    change_seconds = np.concatenate([[0.0], np.cumsum(np.diff(change_ticks) * seconds_per_tick[:-1])])
    segment = np.searchsorted(change_ticks, ticks, side="right") - 1
    return change_seconds[segment] + (ticks - change_ticks[segment]) * seconds_per_tick[segment]


def _downbeat_ticks(bar_changes: list[tuple[int, int]], tpb: int, end_tick: int) -> np.ndarray:
    """Ticks of the bar starts, each time signature counted from its own tick."""
    starts = sorted(dict(bar_changes).items())
    ends = [t for t, _ in starts[1:]] + [end_tick + 1]
    return np.concatenate([np.arange(tick, end, beats * tpb) for (tick, beats), end in zip(starts, ends)])


def render(midi_path: Path, wav_path: Path) -> np.ndarray:
    """Render ``midi_path`` with fluidsynth + FluidR3_GM; returns the mono float64 mix at 44.1 kHz."""
    subprocess.run(["fluidsynth", "-ni", "-F", str(wav_path), "-r", str(SAMPLE_RATE), str(SOUNDFONT), str(midi_path)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    audio, rate = sf.read(wav_path, dtype="float64", always_2d=True)
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"{wav_path}: fluidsynth wrote {rate} Hz, expected {SAMPLE_RATE}")
    return audio.mean(axis=1)


def render_latency_s(audio: np.ndarray, grid: BeatGrid) -> float:
    """First sounding sample of the render minus the first note-on time, in seconds (fluidsynth start latency)."""
    first_sound = int(np.argmax(np.abs(audio) > SILENCE))
    return first_sound / SAMPLE_RATE - grid.first_note_s


def cut_segment(audio: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """The clip ``[start_s, end_s)`` with short fades, scaled to ``PEAK_DBFS`` peak; float32."""
    clip = audio[round(start_s * SAMPLE_RATE) : round(end_s * SAMPLE_RATE)].copy()
    fade = np.linspace(0.0, 1.0, round(FADE_S * SAMPLE_RATE))
    clip[: fade.size] *= fade
    clip[-fade.size :] *= fade[::-1]
    return (clip * (10 ** (PEAK_DBFS / 20) / np.max(np.abs(clip)))).astype(np.float32)


def onset_after_beat_s(clip: np.ndarray, beats: np.ndarray) -> float:
    """Median of (onset - nearest beat), in seconds, over the librosa onsets within ``ONSET_WINDOW_S`` of a beat."""
    onsets = librosa.onset.onset_detect(y=clip, sr=SAMPLE_RATE, units="time")
    gaps = onsets[:, None] - beats[None, :]
    nearest = gaps[np.arange(onsets.size), np.abs(gaps).argmin(axis=1)]
    return float(np.median(nearest[np.abs(nearest) < ONSET_WINDOW_S]))


def in_segment(times: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """``times`` inside ``[start_s, end_s)``, relative to ``start_s``."""
    return times[(times >= start_s) & (times < end_s)] - start_s


def write_times(path: Path, times: np.ndarray) -> None:
    """One time per line, seconds, 3 decimals."""
    path.write_text("".join(f"{t:.3f}\n" for t in times))


README = """# Demo song

`demo_song.flac`: {duration:.1f} s, mono, 16-bit FLAC at 44.1 kHz. Bars {first_bar}-{last_bar} (0-based) of
**{piece}** from the OpenMSX music set (Debian package `openttd-openmsx` {openmsx_version}, file
`{midi}`), rendered with fluidsynth {fluidsynth_version} and the FluidR3_GM SoundFont (Debian
`fluid-soundfont-gm`). Clip start = {start:.3f} s of the render. Drum kit, piano, jazz guitar and fretless bass
throughout.

- Tempo: **{bpm} BPM** (one tempo for the whole file), 4/4, straight eighths. The clip starts on a downbeat.
- `demo_song.beats.txt` ({n_beats} beats) and `demo_song.downbeats.txt` ({n_downbeats} bar starts): one time per
  line, in seconds from the clip start, 3 decimals. They are the MIDI file's own beat grid from its tempo map,
  shifted by the clip start (no tapping, no beat tracker), so they share the audio's timeline.
- Checks on the render: fluidsynth start latency (first sounding sample minus first note-on) {latency_ms:+.1f} ms,
  within the beats' +-10 ms accuracy, so the beats carry no correction. librosa onsets fall a median
  **{onset_ms:+.1f} ms** after the beats: the onset detector's own latency, as in `../shared/data/beats/README.md`.

## Licences
- The composition and MIDI file: OpenMSX, **GPL-2** (`/usr/share/games/openttd/baseset/openmsx/license.txt`); the
  rendered clip is a derivative of it and is distributed under the GPL-2.
- FluidR3_GM SoundFont (Frank Wen): **MIT**.

## Reproduce
```
make assets-sources            # Debian: fluidsynth fluid-soundfont-gm openttd-openmsx
.venv/bin/pip install mido
.venv/bin/python tools/make_demo_song.py
```
which runs `fluidsynth -ni -F render.wav -r 44100 {soundfont} {midi}`,
averages the two channels, cuts {start:.3f}-{end:.3f} s with {fade_ms:.0f} ms fades, scales the peak to {peak:.0f} dBFS
and writes 16-bit FLAC. The output is byte-identical with fluidsynth {fluidsynth_version}.
"""


def package_version(name: str) -> str:
    """The installed Debian version of ``name``."""
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], check=True, capture_output=True,
                          text=True).stdout


def make_demo(out_dir: Path) -> dict[str, float]:
    """Render, cut and check the demo song into ``out_dir``; returns the measured figures (seconds, BPM)."""
    midi_path = MIDI_DIR / f"{PIECE}.mid"
    grid = read_beat_grid(midi_path)
    with tempfile.TemporaryDirectory() as tmp:
        audio = render(midi_path, Path(tmp) / "render.wav")
    start, end = grid.downbeats[SEGMENT_START_BAR], grid.downbeats[SEGMENT_START_BAR + SEGMENT_BARS]
    clip = cut_segment(audio, start, end)
    beats, downbeats = in_segment(grid.beats, start, end), in_segment(grid.downbeats, start, end)
    figures = {"latency_s": render_latency_s(audio, grid), "onset_after_beat_s": onset_after_beat_s(clip, beats),
               "bpm": float(grid.bpm[0]), "start_s": float(start), "end_s": float(end)}
    if grid.bpm.size != 1 or abs(figures["latency_s"]) > MAX_LATENCY_S:
        raise RuntimeError(f"{midi_path}: expected one tempo and under 5 ms render latency, got {grid.bpm} BPM, "
                           f"latency {figures['latency_s'] * 1000:.1f} ms")
    out_dir.mkdir(parents=True, exist_ok=True)
    sf.write(out_dir / "demo_song.flac", clip, SAMPLE_RATE, subtype="PCM_16")
    write_times(out_dir / "demo_song.beats.txt", beats)
    write_times(out_dir / "demo_song.downbeats.txt", downbeats)
    (out_dir / "README.md").write_text(README.format(
        duration=end - start, first_bar=SEGMENT_START_BAR, last_bar=SEGMENT_START_BAR + SEGMENT_BARS - 1, piece=PIECE,
        openmsx_version=package_version("openttd-openmsx"), midi=midi_path,
        fluidsynth_version=package_version("fluidsynth"), start=start, end=end, bpm=f"{figures['bpm']:g}",
        n_beats=beats.size, n_downbeats=downbeats.size, latency_ms=figures["latency_s"] * 1000,
        onset_ms=figures["onset_after_beat_s"] * 1000, soundfont=SOUNDFONT, fade_ms=FADE_S * 1000, peak=PEAK_DBFS))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_SONG.parent, help="output folder (default: assets/demo)")
    figures = make_demo(parser.parse_args(argv).out)
    print(" ".join(f"{name}={value:.4f}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
