"""Online (causal) beat tracking of live audio: beats, downbeats, tempo and phase, as the audio arrives.

Feed :class:`OnlineBeatTracker` blocks of mono float32 samples in order; each call to ``process`` returns the beats
that became due in that block, as :class:`BeatEvent` on the audio clock (seconds = samples consumed / rate). Between
beats, ``tempo_bpm``, ``period_s``, ``next_beat_s`` and ``positions_between`` predict the beat grid (and its 8th/16th
subdivisions) from the current tempo and phase, without waiting for the next beat; ``beats_per_bar`` is the metre. The
tracker frames arbitrary blocks into hops and gates silence; a back end turns hops into beats
(``BeatTrackerConfig.backend``):

- ``'learned'`` (default): a learned causal activation network (:class:`live.beat_activation.BeatActivation`, beat
  and downbeat probabilities per 10 ms frame) decoded by a forward bar-pointer HMM
  (:class:`live.beat_decoder.BeatDecoder`: tempo 55-215 BPM, metres 2, 3, 4 and 5): beats with their position in the
  bar, reported in the frame they fall in. :class:`OnlineBeatTracker` can be given its own activation and decoder.
- ``'cumscore'``: a DSP tracker in the style of BTrack (Stark, Davies & Plumbley 2009), the real-time
  successor of the method inside aubio, on an onset function from :mod:`live.onsets`:

  * a *cumulative beat score* ``C[n] = (1 - a) O[n] + a max_v W(v) C[n - v]``, ``v`` in [P/2, 2P] frames, with a
    log-Gaussian ``W`` around the beat period ``P`` (``a = 0.9``, tightness 5: BTrack's published values);
  * half-way between beats the score is extended into the future with no onsets and the next beat is placed at
    its maximum (weighted by a Gaussian around last beat + P), so the beat is known before it happens, beats keep
    coming through breaks, and missed or spurious onsets barely move the grid (a phase-locked loop in effect);
  * after every beat the tempo is re-estimated from the autocorrelation of the last ``history_s`` seconds of the
    onset function through a comb over 4 harmonics, evaluated on a log-tempo grid that spans exactly one octave
    (``min_bpm`` to ``2 * min_bpm``, 80-160 BPM by default): every pulse has one representative in it, which
    settles the octave. A log-normal prior around 120 BPM (1 octave wide, librosa's) weights the candidates; an
    optional Gaussian around the current tempo (continuity) was measured and is off: it keeps a wrong early
    estimate (bench/bench_beats.py).

  Downbeats are not estimated (``BeatEvent.is_downbeat`` is None).
- ``'aubio'``: ``aubio.tempo`` as it is (Davies & Plumbley's context-dependent tracker); its beats are passed on with
  the time it gives (``get_last_s``), reported at the end of the hop in which it fires. aubio is imported only here.

Beats are suppressed until the input is first louder than ``silence_db``, and while it has been digitally silent for
over ``silence_hold_s``; at that moment the back end is reset, so the music that follows is tracked afresh.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from live.beat_decoder import BeatDecoder, BeatDecoderConfig, BeatEvent

__all__ = ["BACKENDS", "BeatEvent", "BeatTrackerConfig", "OnlineBeatTracker"]

BACKENDS: tuple[str, ...] = ("learned", "cumscore", "aubio")
"""The tracking back ends, the default first."""
SCORE_ALPHA: float = 0.9
"""Weight of the past in the cumulative beat score (BTrack's value)."""
SCORE_TIGHTNESS: float = 5.0
"""Tightness of the log-Gaussian transition window of the cumulative score (BTrack's value)."""
COMB_HARMONICS: int = 4
"""Multiples of the period summed by the tempo comb."""
TEMPO_STATES_PER_OCTAVE: int = 120
"""Resolution of the tempo grid: 120 states per octave is 0.58 % per step."""
DETREND_S: float = 0.15
"""Length in seconds of the moving mean removed from the onset function before autocorrelation."""


@dataclass(frozen=True)
class BeatTrackerConfig:
    """Settings of :class:`OnlineBeatTracker` (see bench/bench_beats.py for the measurements behind the defaults).

    Attributes:
        backend: ``'learned'`` (activation network + bar-pointer decoder, with downbeats: the default),
            ``'cumscore'`` (BTrack-style predict-and-correct) or ``'aubio'`` (``aubio.tempo`` as it is).
        weights: the learned back end's activation weights (``.npz``); None for the bundled ones.
        decoder: the learned back end's decoder settings.
        onset: cumscore/aubio onset function, ``'logflux'`` or an aubio descriptor (``'specflux'``, ``'hfc'``,
            ``'complex'``, ``'energy'``, ...; for the aubio back end also ``'default'``); None: the back end's own
            (``'logflux'`` for cumscore, aubio's ``'default'`` for aubio).
        window_s: cumscore/aubio FFT window in seconds, rounded to a power of two of samples; the hop is a quarter.
        min_bpm: cumscore: lower end of the tempo octave searched, in BPM (the upper end is twice this).
        prior_bpm: cumscore: centre of the log-normal tempo prior, in BPM.
        prior_octaves: cumscore: standard deviation of that prior in octaves (1.0: librosa's); None for a flat prior.
        tempo_change_octaves: cumscore: standard deviation in octaves of a Gaussian around the current tempo that
            weights the next estimate (continuity); None to take each estimate on its own.
        history_s: cumscore: seconds of onset function the tempo is estimated from.
        warmup_s: cumscore: seconds of audio before the first tempo estimate (no beats before).
        silence_db: hops quieter than this RMS level (dB re full scale) count as silence.
        silence_hold_s: beats stop, and the back end is reset, after this many seconds of continuous silence.
    """

    backend: str = "learned"
    weights: Path | None = None
    decoder: BeatDecoderConfig = field(default_factory=BeatDecoderConfig)
    onset: str | None = None
    window_s: float = 0.046
    min_bpm: float = 80.0
    prior_bpm: float = 120.0
    prior_octaves: float | None = 1.0
    tempo_change_octaves: float | None = None
    history_s: float = 6.0
    warmup_s: float = 2.0
    silence_db: float = -60.0
    silence_hold_s: float = 2.0


class Activation(Protocol):
    """A causal frame-wise beat activation (:class:`live.beat_activation.BeatActivation` is one)."""

    hop: int
    frame_rate: float

    def __call__(self, hop_samples: np.ndarray) -> np.ndarray:
        """The next hop (float32 (hop,)) -> (2,) [P(beat, not downbeat), P(downbeat)] of its frame."""

    def reset(self) -> None:
        """Back to the start of a stream."""


class _Backend(Protocol):
    """What :class:`OnlineBeatTracker` needs from a tracking back end, fed one hop at a time."""

    hop: int

    def step(self, hop_samples: np.ndarray) -> BeatEvent | None:
        """Process the next hop; return the beat that became due in it, else None (the tracker sets ``reported_s``)."""

    def reset(self) -> None:
        """Back to the state of a new stream."""

    @property
    def period_s(self) -> float | None:
        """Current beat period in seconds, None before the first estimate."""

    @property
    def pending_beat_s(self) -> float | None:
        """The next beat already predicted (seconds), if there is one."""

    @property
    def confidence(self) -> float:
        """0..1."""

    @property
    def beats_per_bar(self) -> int | None:
        """Beats per bar of the current metre; None where bars are not estimated."""


def _plain_beat(time_s: float, period_s: float | None, confidence: float) -> BeatEvent:
    """A beat at ``time_s`` seconds without bar information (cumscore and aubio back ends); the tracker sets
    ``reported_s``."""
    return BeatEvent(time_s, time_s, 60.0 / period_s if period_s else 0.0, confidence)


class _LearnedBackend:
    """An activation network and a bar-pointer decoder; frame ``k`` is timed at its hop's start, ``k / frame_rate`` s
    (the activation's training targets put a beat at ``t`` on frame ``round(t * frame_rate)``)."""

    def __init__(self, activation: Activation, decoder: BeatDecoder) -> None:
        self.hop = activation.hop
        self._activation = activation
        self._decoder = decoder
        self._frame = 0

    def reset(self) -> None:
        self._activation.reset()
        self._decoder.reset()
        self._frame = 0

    def step(self, hop_samples: np.ndarray) -> BeatEvent | None:
        t_s = self._frame / self._activation.frame_rate
        self._frame += 1
        return self._decoder.step(self._activation(hop_samples), t_s)

    @property
    def period_s(self) -> float | None:
        return self._decoder.period_s

    @property
    def pending_beat_s(self) -> float | None:
        return self._decoder.next_beat_s

    @property
    def confidence(self) -> float:
        return self._decoder.confidence

    @property
    def beats_per_bar(self) -> int | None:
        return self._decoder.beats_per_bar


class _AubioBackend:
    """``aubio.tempo`` fed hop by hop; its beat times (``get_last_s``) are on the same clock as ours."""

    def __init__(self, sample_rate: int, config: BeatTrackerConfig) -> None:
        from live.onsets import frame_sizes

        self._window, self.hop = frame_sizes(sample_rate, config.window_s)
        self._rate = sample_rate
        self._onset = config.onset or "default"
        self.reset()

    def reset(self) -> None:
        import aubio

        self._tempo = aubio.tempo(self._onset, self._window, self.hop, self._rate)

    def step(self, hop_samples: np.ndarray) -> BeatEvent | None:
        if not self._tempo(hop_samples)[0]:
            return None
        beat_s = float(self._tempo.get_last_s())
        return _plain_beat(beat_s, self.period_s, self.confidence)

    @property
    def period_s(self) -> float | None:
        period = float(self._tempo.get_period_s())
        return period if period > 0 else None

    @property
    def pending_beat_s(self) -> float | None:
        return None

    @property
    def confidence(self) -> float:
        return float(np.clip(self._tempo.get_confidence(), 0.0, 1.0))

    @property
    def beats_per_bar(self) -> int | None:
        return None


class _TempoEstimator:
    """Beat period from the onset function's autocorrelation: comb over harmonics, tempo prior, continuity."""

    def __init__(self, frame_rate: float, config: BeatTrackerConfig) -> None:
        states = np.arange(TEMPO_STATES_PER_OCTAVE)
        self._bpm = config.min_bpm * 2.0 ** (states / TEMPO_STATES_PER_OCTAVE)
        self._lags = 60.0 * frame_rate / self._bpm  # period of each state, in frames
        self._comb_lags = self._lags[None, :] * np.arange(1, COMB_HARMONICS + 1)[:, None]
        self._detrend = max(1, round(DETREND_S * frame_rate))
        log_ratio = np.log2(self._bpm / config.prior_bpm)
        self._prior = (
            np.ones_like(self._bpm)
            if config.prior_octaves is None
            else np.exp(-0.5 * (log_ratio / config.prior_octaves) ** 2)
        )
        self._change_octaves = config.tempo_change_octaves
        self._state: int | None = None
        self.confidence = 0.0

    def comb(self, odf: np.ndarray) -> np.ndarray:
        """Comb-filtered unbiased autocorrelation of the detrended, rectified onset function, one value per state."""
        kernel = np.full(self._detrend, 1.0 / self._detrend)
        x = np.maximum(odf - np.convolve(odf, kernel, mode="same"), 0.0)
        n = len(x)
        spectrum = np.fft.rfft(x, 2 * n)
        acf = np.fft.irfft(spectrum * spectrum.conj(), 2 * n)[:n] / (n - np.arange(n))
        return np.interp(self._comb_lags, np.arange(n), acf, right=0.0).mean(axis=0)

    def update(self, odf: np.ndarray) -> float | None:
        """New period estimate in frames from the onset function ``odf`` (oldest first); None when it is flat."""
        comb = self.comb(odf)
        top = comb.max()
        if top <= 0:
            return None
        obs = np.maximum(comb, 0.0) / top
        self.confidence = float(np.clip(1.0 - np.median(obs), 0.0, 1.0))
        obs *= self._prior
        if self._change_octaves is not None and self._state is not None:
            change = (np.arange(len(obs)) - self._state) / TEMPO_STATES_PER_OCTAVE
            obs *= np.exp(-0.5 * (change / self._change_octaves) ** 2)
        self._state = int(np.argmax(obs))
        return self._refine(comb, self._state)

    def _refine(self, comb: np.ndarray, i: int) -> float:
        """Period in frames of state ``i``, refined by a parabola through the comb around it (log-tempo axis)."""
        if 0 < i < len(comb) - 1:
            left, mid, right = comb[i - 1 : i + 2]
            curvature = left - 2 * mid + right
            if curvature < 0:
                offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
                return float(self._lags[i] * 2.0 ** (-offset / TEMPO_STATES_PER_OCTAVE))
        return float(self._lags[i])


class _CumulativeScoreBackend:
    """BTrack-style tracker: cumulative beat score, beat prediction half a beat ahead, tempo update at each beat.

    Frame ``k`` (0-based) is the onset function of the window ending at sample ``(k + 1) * hop``. A spectral flux
    reacts to what the newest hop brings, so the frame is timed at that hop's start, ``k * hop / rate`` seconds
    (on click tracks this puts the beats within a few ms of the clicks, at 24 to 48 kHz).
    """

    def __init__(self, sample_rate: int, config: BeatTrackerConfig) -> None:
        from live.onsets import frame_sizes

        self._window, self.hop = frame_sizes(sample_rate, config.window_s)
        self._rate = sample_rate
        self._config = config
        self._frame_rate = sample_rate / self.hop
        self.reset()

    def reset(self) -> None:
        from live.onsets import make_onset_function

        config = self._config
        self._onset = make_onset_function(config.onset or "logflux", self._rate, self._window, self.hop)
        history = round(config.history_s * self._frame_rate)
        self._odf = np.zeros(history)
        self._score = np.zeros(history)
        self._warmup = round(config.warmup_s * self._frame_rate)
        self._tempo = _TempoEstimator(self._frame_rate, config)
        self._frame = -1
        self._locked = False
        self._last_beat = 0
        self._next_beat: int | None = None
        self._set_period(60.0 * self._frame_rate / config.prior_bpm)

    def frame_time_s(self, frame: int) -> float:
        """Time in seconds of frame ``frame`` (the start of its newest hop)."""
        return frame * self.hop / self._rate

    @property
    def period_s(self) -> float | None:
        return self._period / self._frame_rate if self._locked else None

    @property
    def pending_beat_s(self) -> float | None:
        return None if self._next_beat is None else self.frame_time_s(self._next_beat)

    @property
    def confidence(self) -> float:
        return self._tempo.confidence

    @property
    def beats_per_bar(self) -> int | None:
        return None

    def step(self, hop_samples: np.ndarray) -> BeatEvent | None:
        self._frame += 1
        onset = self._onset(hop_samples)
        score = (1.0 - SCORE_ALPHA) * onset + SCORE_ALPHA * self._past_max(self._score, len(self._score))
        _push(self._odf, onset)
        _push(self._score, score)
        if not self._locked:
            self._lock()
            return None
        if self._next_beat is None and self._frame >= self._last_beat + self._period / 2:
            self._next_beat = self._predict()
        clock_s = (self._frame + 1) * self.hop / self._rate
        if self._next_beat is None or self.frame_time_s(self._next_beat) > clock_s:
            return None
        self._last_beat, self._next_beat = self._next_beat, None
        self._update_tempo()
        beat_s = self.frame_time_s(self._last_beat)
        return _plain_beat(beat_s, self._period / self._frame_rate, self.confidence)

    def _lock(self) -> None:
        """After the warm-up, take the first tempo estimate and put the last beat at the score's peak."""
        if self._frame + 1 < self._warmup or not self._update_tempo():
            return
        self._locked = True
        recent = self._score[-int(self._period) :]
        self._last_beat = self._frame - len(recent) + 1 + int(np.argmax(recent))

    def _update_tempo(self) -> bool:
        """Re-estimate the period from the onset history; False (period kept) when the history is flat."""
        filled = min(self._frame + 1, len(self._odf))
        period = self._tempo.update(self._odf[-filled:])
        if period is not None:
            self._set_period(period)
        return period is not None

    def _set_period(self, period: float) -> None:
        """Set the beat period (frames) and the cumulative score's transition window over past offsets [P/2, 2P]."""
        self._period = period
        self._offsets = np.arange(math.ceil(period / 2), int(2 * period) + 1)[::-1]  # farthest first
        self._weights = np.exp(-0.5 * (SCORE_TIGHTNESS * np.log(self._offsets / period)) ** 2)

    def _past_max(self, scores: np.ndarray, end: int) -> float:
        """max over v in [P/2, 2P] of W(v) * scores[end - v]: the best predecessor of the frame at index ``end``."""
        far, near = self._offsets[0], self._offsets[-1]
        return float(np.max(scores[end - far : end - near + 1] * self._weights))

    def _predict(self) -> int:
        """Frame of the next beat: the peak of the score extended with no onsets, near last beat + one period."""
        expected = self._last_beat + self._period - self._frame  # frames ahead, in (0, P/2]
        horizon = int(expected + self._period / 2) + 1
        extended = np.concatenate([self._score, np.zeros(horizon)])
        past = len(self._score)
        for k in range(horizon):
            extended[past + k] = SCORE_ALPHA * self._past_max(extended, past + k)
        ahead = np.arange(1, horizon + 1)
        expectation = np.exp(-0.5 * ((ahead - expected) / (self._period / 2)) ** 2)
        return self._frame + int(ahead[np.argmax((extended[past:] + 1e-12) * expectation)])


def _push(buffer: np.ndarray, value: float) -> None:
    """Shift ``buffer`` one place towards the start (in place) and put ``value`` last."""
    buffer[:-1] = buffer[1:]
    buffer[-1] = value


def _make_backend(
    sample_rate: int, config: BeatTrackerConfig, activation: Activation | None, decoder: BeatDecoder | None
) -> _Backend:
    """The back end ``config.backend`` names (``activation`` and ``decoder``, when given, for the learned one)."""
    if config.backend not in BACKENDS:
        raise ValueError(f"unknown beat tracker backend {config.backend!r}: choose one of {', '.join(BACKENDS)}")
    if config.backend != "learned" and (activation is not None or decoder is not None):
        raise ValueError(f"an activation or decoder was given to the {config.backend!r} back end, which has none")
    if config.backend == "aubio":
        return _AubioBackend(sample_rate, config)
    if config.backend == "cumscore":
        return _CumulativeScoreBackend(sample_rate, config)
    if activation is None:
        from live.beat_activation import DEFAULT_WEIGHTS, BeatActivation

        activation = BeatActivation.load(config.weights or DEFAULT_WEIGHTS, sample_rate=sample_rate)
    return _LearnedBackend(activation, decoder or BeatDecoder(activation.frame_rate, config.decoder))


class OnlineBeatTracker:
    """Causal beat tracker for blocks of mono float32 audio at ``sample_rate`` Hz (any block size).

    For the learned back end an ``activation`` (hop-wise beat/downbeat probabilities) and a ``decoder`` may be given;
    by default the bundled network (``config.weights``) and a :class:`BeatDecoder` with ``config.decoder``.
    """

    def __init__(
        self,
        sample_rate: int,
        config: BeatTrackerConfig = BeatTrackerConfig(),
        *,
        activation: Activation | None = None,
        decoder: BeatDecoder | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.config = config
        self._backend = _make_backend(sample_rate, config, activation, decoder)
        self._hop = np.zeros(self._backend.hop, np.float32)
        self._silence_power = 10.0 ** (config.silence_db / 10.0)
        self.reset()

    def reset(self) -> None:
        """Back to the state of a new stream: clock at 0, no beats, no tempo (the back end is reset too)."""
        self._backend.reset()
        self._filled = 0
        self._samples = 0
        self._silent_s = 0.0
        self._heard = False  # any hop above the silence level since the start or the last reset
        self._origin_s = 0.0  # our clock when the back end was last reset: its own clock starts there
        self._last_beat: BeatEvent | None = None

    @property
    def tempo_bpm(self) -> float | None:
        """Current tempo estimate in BPM; None before the tracker has one."""
        period = self.period_s
        return None if period is None else 60.0 / period

    @property
    def period_s(self) -> float | None:
        """Current beat period in seconds; None before the tracker has one."""
        return self._backend.period_s if self._last_beat is not None else None

    @property
    def beats_per_bar(self) -> int | None:
        """Beats per bar of the current metre; None without a live beat grid or where bars are not estimated."""
        return self._backend.beats_per_bar if self._anchor_s() is not None else None

    @property
    def clock_s(self) -> float:
        """Audio clock in seconds: samples processed (whole hops) / sample rate."""
        return self._samples / self.sample_rate

    def process(self, block: np.ndarray) -> list[BeatEvent]:
        """Consume the next block of samples (float32, shape (L,)); return the beats that became due in it."""
        samples = np.asarray(block, dtype=np.float32).reshape(-1)
        events: list[BeatEvent] = []
        hop = len(self._hop)
        start = 0
        while start < len(samples):
            take = min(hop - self._filled, len(samples) - start)
            self._hop[self._filled : self._filled + take] = samples[start : start + take]
            self._filled += take
            start += take
            if self._filled == hop:
                self._filled = 0
                event = self._step()
                if event is not None:
                    events.append(event)
        return events

    def _step(self) -> BeatEvent | None:
        """Run the back end on the full hop buffer; a :class:`BeatEvent` if a beat is due and the input is live."""
        event = self._backend.step(self._hop)
        self._samples += len(self._hop)
        silent = float(np.dot(self._hop, self._hop)) < self._silence_power * len(self._hop)
        was_gated = self._silent_s > self.config.silence_hold_s
        self._silent_s = self._silent_s + len(self._hop) / self.sample_rate if silent else 0.0
        self._heard = self._heard or not silent
        if self._silent_s > self.config.silence_hold_s:
            if not was_gated:  # the music stopped: what follows is tracked afresh
                self._backend.reset()
                self._origin_s = self.clock_s
                self._last_beat = None
            return None
        if event is None or not self._heard:
            return None
        self._last_beat = dataclasses.replace(event, time_s=self._origin_s + event.time_s, reported_s=self.clock_s)
        return self._last_beat

    def _anchor_s(self) -> tuple[float, float] | None:
        """(a beat time on the current grid, period) in seconds, or None while there is no live beat grid."""
        period = self.period_s
        if period is None or self._silent_s > self.config.silence_hold_s:
            return None
        pending = self._backend.pending_beat_s
        return (self._origin_s + pending if pending is not None else self._last_beat.time_s), period

    def next_beat_s(self, now_s: float) -> float | None:
        """Predicted time in seconds of the first beat after ``now_s``; None without a live beat grid."""
        grid = self._anchor_s()
        if grid is None:
            return None
        anchor, period = grid
        return anchor + (math.floor((now_s - anchor) / period) + 1) * period

    def positions_between(self, t0_s: float, t1_s: float, per_beat: int) -> np.ndarray:
        """Predicted positions in [t0_s, t1_s) seconds on the beat grid divided ``per_beat`` times (2: 8ths, 4: 16ths).

        Positions come from the current tempo and phase (float64 seconds, ascending); empty without a live grid.
        """
        grid = self._anchor_s()
        if grid is None or t1_s <= t0_s:
            return np.zeros(0)
        anchor, period = grid
        step = period / per_beat
        first, last = math.ceil((t0_s - anchor) / step), math.ceil((t1_s - anchor) / step)
        return anchor + np.arange(first, last) * step
