"""Dance Revolution's 438-d music features, for a whole song (exactly as the reference) and from a live stream.

Audio is mono float32 at :data:`FEATURE_RATE` (15,360 Hz); one feature row per hop of :data:`HOP` (512) samples, so
30 rows per second, row ``f`` centred on sample ``f * 512``; a song of N samples gives ``1 + N // 512`` rows. Columns
(:data:`COLUMNS`): MFCC (20, of ``power_to_db(melspectrogram, ref=max)``), their deltas (20, width 3), chroma_cqt of the
HPSS harmonic part (12), onset strength of the percussive part (1, median over mel bands), beat one-hot (1, from
``beat_track`` on that onset envelope), tempogram of that envelope (384). Values are raw: the reference never
normalises them (a trained model stores its own normalisation, see :class:`FeatureNorm`).

:class:`StreamingFeatures` computes the same columns causally. Four blocks must differ from the batch ones, because
the batch definition looks at the whole song or far into the future:

- MFCC 0 (and its delta): the dB reference is the song's loudest mel bin; live it is the loudest bin *so far*, so
  the coefficient is offset until the loudest moment has been heard (a constant dB offset moves only MFCC 0).
- chroma and onset: HPSS median-filters 31 STFT frames (+-0.5 s) and the CQT's lowest filters span +-0.26 s; live
  they see only ``lookahead_frames`` of the future.
- beat one-hot: ``beat_track`` is a whole-song dynamic programme; live beats come from the project's causal
  :class:`live.beat_tracker.OnlineBeatTracker`.
- tempogram: the batch window is centred (191 rows of future); live it trails (the row for frame f is the batch
  row for frame f - 191, away from the song's edges).

``bench/bench_dance_revolution_features.py`` measures these differences on the dev songs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FEATURE_RATE: int = 15_360
"""Sample rate of the audio the features are computed from, in Hz."""
HOP: int = 512
"""Samples per feature row."""
FEATURE_FPS: int = FEATURE_RATE // HOP
"""Feature rows per second (30)."""
N_FFT: int = 2048
"""STFT size (librosa's default) in samples."""
TEMPOGRAM_WINDOW: int = 384
"""Onset-envelope rows in one tempogram window (librosa's default)."""
FEATURE_DIM: int = 438
"""Columns of a feature row."""

COLUMNS: dict[str, slice] = {
    "mfcc": slice(0, 20),
    "mfcc_delta": slice(20, 40),
    "chroma": slice(40, 52),
    "onset": slice(52, 53),
    "beat": slice(53, 54),
    "tempogram": slice(54, 438),
}
"""The column blocks of a feature row."""
BEAT_COLUMN: int = 53
"""The beat one-hot column."""
TOP_DB: float = 80.0
"""Dynamic range kept by ``power_to_db`` below its reference, in dB."""


def feature_rows(n_samples: int) -> int:
    """Rows for ``n_samples`` samples at 15,360 Hz: ``1 + n_samples // 512``."""
    return 1 + n_samples // HOP


def song_features(samples: np.ndarray) -> np.ndarray:
    """The reference's ``extract_acoustic_feature`` for a whole song.

    Args:
        samples: mono float32 audio at 15,360 Hz, shape (N,).
    Returns:
        (1 + N // 512, 438) float64 rows at 30 per second (columns in :data:`COLUMNS`).
    """
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=FEATURE_RATE), ref=np.max)
    mfcc = librosa.feature.mfcc(S=mel_db)
    delta = librosa.feature.delta(mfcc, width=3)
    harmonic, percussive = librosa.effects.hpss(y)
    chroma = librosa.feature.chroma_cqt(y=harmonic, sr=FEATURE_RATE)
    onset = librosa.onset.onset_strength(y=percussive, aggregate=np.median, sr=FEATURE_RATE)
    _, beats = librosa.beat.beat_track(onset_envelope=onset, sr=FEATURE_RATE)
    beat = np.zeros_like(onset)
    beat[beats] = 1.0
    tempogram = librosa.feature.tempogram(onset_envelope=onset, sr=FEATURE_RATE)
    columns = [mfcc, delta, chroma, onset[None], beat[None], tempogram]
    return np.concatenate([np.asarray(block, np.float64) for block in columns], axis=0).T


def trailing_tempogram(onset_history: np.ndarray) -> np.ndarray:
    """The tempogram column of the last row of ``onset_history``, from the 384 rows ending there (causal).

    Same arithmetic as ``librosa.feature.tempogram`` (Hann window, autocorrelation, max-abs normalisation), but over
    a window that ends at the current row instead of one centred on it; fewer than 384 rows are zero-padded in front.

    Args:
        onset_history: (n,) onset strengths, oldest first.
    Returns:
        (384,) float64.
    """
    import librosa
    import scipy.signal

    frame = np.zeros(TEMPOGRAM_WINDOW)
    tail = np.asarray(onset_history, np.float64)[-TEMPOGRAM_WINDOW:]
    frame[TEMPOGRAM_WINDOW - len(tail):] = tail
    window = scipy.signal.get_window("hann", TEMPOGRAM_WINDOW, fftbins=True)
    return librosa.util.normalize(librosa.autocorrelate(frame * window), norm=np.inf)


@dataclass(frozen=True)
class StreamConfig:
    """Settings of :class:`StreamingFeatures`.

    Attributes:
        lookahead_frames: rows of future audio (33.3 ms each) a row waits for before it is emitted; >= 2 makes the
            STFT frames exact, 17 makes HPSS exact too. The latency of a row is this plus up to ``block_frames``.
        block_frames: rows computed together (the analysis runs once per block).
        context_frames: rows of past audio analysed with each block (covers HPSS's 15 rows and the CQT's long
            filters). Defaults: the cheapest measured setting that keeps up on the loaded 2-core CPU (HPSS and the CQT
            cost per block, so larger blocks cost less per row); latency 0.73 s.
        beat_backend: the :class:`live.beat_tracker.OnlineBeatTracker` back end of the beat column: ``cumscore``, the
            one the figures in ``docs/DANCE_REVOLUTION.md`` were measured with (and weight-free), by default.
    """

    lookahead_frames: int = 4
    block_frames: int = 16
    context_frames: int = 32
    beat_backend: str = "cumscore"


@dataclass
class _StreamState:
    """What a stream remembers between blocks (never saved)."""

    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    audio_start: int = 0
    total_samples: int = 0
    next_row: int = 0
    mel_ref: float = 0.0
    onsets: list[float] = field(default_factory=list)
    last_mfcc: np.ndarray | None = None
    beat_rows: set[int] = field(default_factory=set)


class StreamingFeatures:
    """Causal 438-d feature rows from blocks of live audio (mono float32 at 15,360 Hz, any block size).

    ``push(block)`` returns the rows that became final, oldest first; :meth:`reset` starts a new stream. The
    differences from :func:`song_features` are listed in this module's docstring.
    """

    def __init__(self, config: StreamConfig = StreamConfig()) -> None:
        if config.lookahead_frames < 2 or config.block_frames < 1 or config.context_frames < 20:
            raise ValueError(f"need lookahead_frames >= 2, block_frames >= 1, context_frames >= 20: {config}")
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget the stream (audio, loudness reference, onset history, beats)."""
        from live.beat_tracker import BeatTrackerConfig, OnlineBeatTracker

        self._state = _StreamState()
        self._beats = OnlineBeatTracker(FEATURE_RATE, BeatTrackerConfig(backend=self.config.beat_backend))

    @property
    def latency_s(self) -> float:
        """Worst-case delay in seconds between a row's centre being heard and the row being emitted."""
        return (self.config.lookahead_frames + self.config.block_frames) * HOP / FEATURE_RATE + N_FFT / 2 / FEATURE_RATE

    def push(self, block: np.ndarray) -> np.ndarray:
        """Consume audio; return the (k, 438) float64 rows that became final (k may be 0)."""
        state = self._state
        samples = np.asarray(block, np.float32).reshape(-1)
        state.audio = np.concatenate([state.audio, samples])
        state.total_samples += len(samples)
        for event in self._beats.process(samples):
            state.beat_rows.add(int(round(event.time_s * FEATURE_FPS)))
        rows = []
        while self._ready_rows() >= self.config.block_frames:
            rows.append(self._analyse(self.config.block_frames))
        return np.concatenate(rows) if rows else np.zeros((0, FEATURE_DIM))

    def _ready_rows(self) -> int:
        """Rows whose centre plus lookahead (and half an FFT) has been heard and that are not emitted yet."""
        heard = (self._state.total_samples - N_FFT // 2) // HOP + 1 - self.config.lookahead_frames
        return max(0, heard - self._state.next_row)

    def _analyse(self, count: int) -> np.ndarray:
        """Analyse the buffered audio and emit the next ``count`` rows."""
        import warnings

        import librosa

        config, state = self.config, self._state
        first = state.next_row
        window_row = max(0, first - config.context_frames)
        offset = window_row * HOP - state.audio_start
        end = (first + count - 1 + config.lookahead_frames) * HOP + N_FFT // 2 - state.audio_start
        y = state.audio[offset:end]  # cut at the lookahead, so rows do not depend on how the audio was blocked
        picked = slice(first - window_row, first - window_row + count)
        mel = librosa.feature.melspectrogram(y=y, sr=FEATURE_RATE)
        state.mel_ref = max(state.mel_ref, float(mel[:, : picked.stop].max()))
        mel_db = np.maximum(librosa.power_to_db(mel, ref=state.mel_ref, top_db=None), -TOP_DB)
        mfcc = librosa.feature.mfcc(S=mel_db)[:, picked.start : picked.stop + 1]
        harmonic, percussive = librosa.effects.hpss(y)
        with warnings.catch_warnings():  # the CQT's top octaves warn on a stream's first, short windows
            warnings.simplefilter("ignore", UserWarning)
            chroma = librosa.feature.chroma_cqt(y=harmonic, sr=FEATURE_RATE)[:, picked]
        onset = librosa.onset.onset_strength(y=percussive, aggregate=np.median, sr=FEATURE_RATE)[picked]
        out = np.zeros((count, FEATURE_DIM))
        previous = state.last_mfcc if state.last_mfcc is not None else mfcc[:, 0]
        for i in range(count):
            row = first + i
            out[i, COLUMNS["mfcc"]] = mfcc[:, i]
            before = previous if i == 0 else mfcc[:, i - 1]
            after = mfcc[:, i + 1]
            out[i, COLUMNS["mfcc_delta"]] = (after - before) / 2.0
            out[i, COLUMNS["chroma"]] = chroma[:, i]
            out[i, COLUMNS["onset"]] = onset[i]
            state.onsets.append(float(onset[i]))
            out[i, BEAT_COLUMN] = float(row in state.beat_rows)
            out[i, COLUMNS["tempogram"]] = trailing_tempogram(np.asarray(state.onsets))
        state.last_mfcc = mfcc[:, count - 1]
        state.beat_rows = {b for b in state.beat_rows if b >= first + count}
        del state.onsets[:-TEMPOGRAM_WINDOW]
        state.next_row = first + count
        keep_from = max(0, state.next_row - config.context_frames) * HOP
        state.audio = state.audio[keep_from - state.audio_start:]
        state.audio_start = keep_from
        return out


@dataclass(frozen=True)
class FeatureNorm:
    """Per-column normalisation stored with a trained model: ``(x - mean) / std``.

    Attributes:
        mean, std: (438,) float32. The identity (0, 1) reproduces the reference, which never normalises.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def identity(cls, dim: int = FEATURE_DIM) -> FeatureNorm:
        return cls(np.zeros(dim, np.float32), np.ones(dim, np.float32))

    @classmethod
    def fit(cls, rows: np.ndarray, floor: float = 1e-3) -> FeatureNorm:
        """Mean and standard deviation (floored at ``floor``) of (n, D) training rows."""
        rows = np.asarray(rows, np.float64)
        return cls(rows.mean(0).astype(np.float32), np.maximum(rows.std(0), floor).astype(np.float32))

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """(..., D) -> normalised float32."""
        return ((np.asarray(rows, np.float32) - self.mean) / self.std).astype(np.float32)
