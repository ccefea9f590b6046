"""Causal beat, downbeat and metre decoding of [beat, downbeat] activations: a forward-filtered bar-pointer HMM.

The state space is madmom's ``DBNDownBeatTrackingProcessor`` one (Krebs, Böck & Widmer 2015; Böck, Krebs & Widmer
2016), for every metre in ``BeatDecoderConfig.metres`` side by side in one state vector:

* a state is (metre ``M``, beat ``b`` in the bar, beat interval ``tau`` in frames, position ``p`` in [0, tau));
  every whole-frame interval between the ``max_bpm`` and ``min_bpm`` periods (or ``num_tempi`` of them, log-spaced);
* each frame the position advances by one; at the end of a beat the pointer moves to the next beat of the bar
  (``b + 1 mod M``) and only there may the tempo change, with madmom's exponential transition
  ``exp(-transition_lambda |tau'/tau - 1|)``; the metre never changes except through the restart hazard below;
* observations (madmom's downbeat observation model): the ``1 / observation_lambda`` of a beat around each beat
  boundary is the beat range, scored by the beat activation, or by the downbeat activation for the first beat of the
  bar; every other state is scored by ``(1 - beat - downbeat) / (observation_lambda - 1)``. Two changes to madmom's:
  the range is centred on the boundary (half before, half after), so that a beat reported when the pointer crosses
  a boundary falls on the activation's peak rather than up to 1/16 of a beat before it; and the beat and downbeat
  activations are divided by their share in the training data (scaled likelihoods), so that a network unsure of the
  bar favours no metre;
* a restart hazard ``restart_prob`` per frame mixes the initial distribution (uniform over metre, log-tempo and
  phase) into the prediction: the music may change at any time (a new song), and no state ever underflows;
* a break model: with probability ``break`` (a two-state switch at ``break_rate_hz``, updated by how well the beat
  model predicted each frame) the activations say nothing about the phase (a break, a held chord), so missing peaks
  do not hold the pointer back and the beats go on by prediction.

Decoding is the forward algorithm alone (filtering, no look-ahead). Each frame the metre with the largest posterior
mass is chosen and, within it, the most probable state. A beat is reported in the frame in which that state crosses a
beat boundary (madmom's online rule; debounced as madmom's, but no two beats closer than half the current period
rather than the shortest period), with its position in the bar. When the MAP state moves on smoothly the beat is
reported in the very frame it falls in; when it jumps past a boundary the beat is reported at once, with the time
the jump implies (a few frames back). The next beat is predicted from the MAP tempo and phase (``next_beat_s``).
Octave and phase are settled by the bar model: only a pointer whose period and bar phase explain both the beat and
the downbeat activations gathers the posterior.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

ACTIVATION_FLOOR: float = 1e-6
"""Smallest probability an activation or its complement is taken to have (keeps the density ratios finite)."""
TEMPO_BEATS: int = 4
"""The period is the mean interval of the last this many reported beats, when they agree with the MAP tempo."""
TEMPO_AGREEMENT: float = 0.15
"""Largest relative difference between a recent beat interval and the MAP tempo's period for the two to agree."""
MAP_TEMPO_SPAN: float = 0.04
"""Tempi within this relative distance of the MAP state's count as its neighbourhood (period and confidence)."""


@dataclass(frozen=True)
class BeatEvent:
    """One beat, as reported online (re-exported by :mod:`live.beat_tracker`, where users import it from).

    Attributes:
        time_s: the beat time in seconds on the audio clock (samples since the first block / sample rate).
        reported_s: the audio clock in seconds when the beat was reported (end of the block being processed).
        tempo_bpm: the tempo estimate when it was reported, in beats per minute.
        confidence: 0..1, how clearly the tempo stands out (aubio's own confidence for the aubio back end).
        is_downbeat: whether the beat is the first of its bar; None where downbeats are not estimated.
        beat_in_bar: 1-based position of the beat in its bar (1 = downbeat); None where bars are not estimated.
        beats_per_bar: beats in the current bar (the metre); None where bars are not estimated.
    """

    time_s: float
    reported_s: float
    tempo_bpm: float
    confidence: float
    is_downbeat: bool | None = None
    beat_in_bar: int | None = None
    beats_per_bar: int | None = None


@dataclass(frozen=True)
class BeatDecoderConfig:
    """Settings of :class:`BeatDecoder` (madmom's ``DBNDownBeatTrackingProcessor`` defaults where it has one).

    Attributes:
        min_bpm: slowest tempo modelled, in beats per minute.
        max_bpm: fastest tempo modelled, in beats per minute.
        metres: beats per bar modelled side by side.
        num_tempi: beat intervals modelled, log-spaced between the two tempi (whole frames, so fewer at high rates);
            None for every whole-frame interval (madmom's beat tracker's default; 82 at 100 fps: on the generated
            validation songs beat F 0.890 against 0.880 with madmom's downbeat tracker's 60, 2026-11-29).
        transition_lambda: tempo change penalty at a beat boundary, ``exp(-lambda |tau'/tau - 1|)``; higher keeps
            the tempo steadier.
        observation_lambda: one beat is split into this many parts; the one around the boundary is the beat range.
        restart_prob: probability per frame that the music restarts anywhere (new song): mixes the initial
            distribution into every prediction. 1e-5 at 100 fps is about one restart in 17 minutes.
        break_rate_hz: rate (per second) of switches between music whose beats the activation marks and a break in
            which it marks none (no drums, a held chord): in a break the activations say nothing about the phase,
            so the pointer runs on by prediction instead of being held back by the missing peaks.
        evidence_s: beats are reported only while some activation frame in the last ``evidence_s`` seconds reached
            ``threshold`` (the grid goes on through breaks up to this long, not through silence).
        threshold: activation (beat + downbeat) that counts as evidence of music with beats (madmom's threshold).
        downbeat_share: share of downbeats among the beats the activation network was trained on (the generated
            training data, out/beat_data: 0.289 of 28,624 beats on 2026-11-29); see ``BeatDecoder._beat_densities``.
    """

    min_bpm: float = 55.0
    max_bpm: float = 215.0
    metres: tuple[int, ...] = (2, 3, 4, 5)
    num_tempi: int | None = None
    transition_lambda: float = 100.0
    observation_lambda: float = 16.0
    restart_prob: float = 1e-5
    break_rate_hz: float = 0.5
    evidence_s: float = 4.0
    threshold: float = 0.05
    downbeat_share: float = 0.29


def beat_intervals(frame_rate: float, min_bpm: float, max_bpm: float, num_tempi: int | None) -> np.ndarray:
    """Beat intervals in whole frames (int, ascending): ``num_tempi`` log-spaced between the two tempi's periods
    (all of them for None).

    As madmom's ``BeatStateSpace``: the spacing is refined until rounding leaves ``num_tempi`` distinct intervals, or
    all the whole numbers in the range when there are fewer.
    """
    lo, hi = 60.0 * frame_rate / max_bpm, 60.0 * frame_rate / min_bpm
    every = np.arange(round(lo), round(hi) + 1)
    if num_tempi is None or num_tempi >= len(every):
        return every
    count = num_tempi
    while True:
        intervals = np.unique(np.round(np.geomspace(lo, hi, count)).astype(int))
        if len(intervals) >= num_tempi:
            return intervals
        count += 1


def tempo_transitions(intervals: np.ndarray, transition_lambda: float) -> np.ndarray:
    """Row-stochastic (T, T) matrix of tempo changes at a beat boundary: madmom's exponential transition."""
    ratio = intervals[None, :] / intervals[:, None]
    prob = np.exp(-transition_lambda * np.abs(ratio - 1.0))
    prob[prob <= np.spacing(1.0)] = 0.0
    return prob / prob.sum(axis=1, keepdims=True)


class _BarStateSpace:
    """Flat arrays describing the joint bar-pointer state space of all metres (built once).

    States are laid out in blocks, one block per (row, tempo), a row being one (metre, beat in bar); a block holds
    positions 0..tau-1 in order, so advancing every pointer by one frame is a shift of the whole vector by one.
    """

    def __init__(self, frame_rate: float, config: BeatDecoderConfig) -> None:
        self.intervals = beat_intervals(frame_rate, config.min_bpm, config.max_bpm, config.num_tempi)
        n_tempi = len(self.intervals)
        self.metres = np.array(config.metres, dtype=int)
        self.row_metre = np.repeat(np.arange(len(self.metres)), self.metres)  # (R,) metre index of each row
        self.row_beat = np.concatenate([np.arange(m) for m in self.metres])  # (R,) 0-based beat in bar
        first_row = np.concatenate([[0], np.cumsum(self.metres)[:-1]])
        next_row = first_row[self.row_metre] + (self.row_beat + 1) % self.metres[self.row_metre]  # (R,)
        n_rows = len(self.row_beat)
        block_len = np.tile(self.intervals, n_rows)  # (R*T,)
        self.block_start = np.concatenate([[0], np.cumsum(block_len)[:-1]])  # (R*T,)
        self.block_end = self.block_start + block_len - 1
        self.n_states = int(block_len.sum())
        self.rows_tempi = (n_rows, n_tempi)
        # the start of block (next_row(r), j), for the tempo-transition product of row r: (R, T)
        self.next_start = self.block_start.reshape(n_rows, n_tempi)[next_row]
        block = np.repeat(np.arange(n_rows * n_tempi), block_len)  # (S,) block of each state
        self.state_row = block // n_tempi
        self.state_tempo = block % n_tempi
        self.state_pos = np.arange(self.n_states) - self.block_start[block]
        self.metre_slices = self._metre_slices(first_row, n_tempi)
        self._set_pointers(config.observation_lambda)

    def _metre_slices(self, first_row: np.ndarray, n_tempi: int) -> list[slice]:
        """The state index range of each metre (metres are contiguous, rows inside them in beat order)."""
        ends = np.append(self.block_start, self.n_states)
        bounds = [int(ends[r * n_tempi]) for r in first_row] + [self.n_states]
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def _set_pointers(self, observation_lambda: float) -> None:
        """Indices of the beat-range states: of a beat that is not a downbeat, and of a downbeat."""
        tau = self.intervals[self.state_tempo]
        phase = self.state_pos / tau
        half = 0.5 / observation_lambda
        after, before = phase < half, phase >= 1.0 - half
        metre = self.metres[self.row_metre[self.state_row]]
        beat = self.row_beat[self.state_row]
        downbeat = (after & (beat == 0)) | (before & (beat == metre - 1))
        self.beat_states = np.flatnonzero((after | before) & ~downbeat)
        self.downbeat_states = np.flatnonzero(downbeat)

    def initial(self) -> np.ndarray:
        """Initial distribution (S,) float32: uniform over metre, tempo, beat in bar and phase within the beat."""
        _, n_tempi = self.rows_tempi
        tau = self.intervals[self.state_tempo].astype(np.float64)
        metre = self.metres[self.row_metre[self.state_row]].astype(np.float64)
        p = 1.0 / (len(self.metres) * n_tempi * metre * tau)
        return (p / p.sum()).astype(np.float32)


class BeatDecoder:
    """Online beat, downbeat and metre decoder of [beat, downbeat] activations at ``frame_rate`` frames per second.

    Feed one activation frame at a time, in order, to :meth:`step`; it returns the :class:`BeatEvent` of a beat that
    falls in that frame, else None.
    """

    def __init__(self, frame_rate: float, config: BeatDecoderConfig = BeatDecoderConfig()) -> None:
        if not 0 < config.min_bpm < config.max_bpm or not config.metres or min(config.metres) < 1:
            raise ValueError(f"bad decoder settings: need 0 < min_bpm < max_bpm and metres >= 1 ({config})")
        if not 0 < config.downbeat_share < 1:
            raise ValueError(f"bad decoder settings: downbeat_share must be in (0, 1) ({config})")
        self.frame_rate = frame_rate
        self.config = config
        self._space = _BarStateSpace(frame_rate, config)
        self._transitions = tempo_transitions(self._space.intervals, config.transition_lambda).astype(np.float32)
        self._initial = self._space.initial()
        self._restart = (config.restart_prob * self._initial).astype(np.float32)
        self._evidence_frames = max(1, round(config.evidence_s * frame_rate))
        self._odds_beat = config.observation_lambda - 1.0
        self._break_switch = min(0.5, config.break_rate_hz / frame_rate)
        self.reset()

    def reset(self) -> None:
        """Forget everything: back to the initial distribution, no beat, no evidence."""
        self._fwd = self._initial.copy()
        self._map = -1  # state index of the MAP state, -1 before the first frame
        self._metre = 0  # index into config.metres of the most probable metre
        self._t_s = 0.0
        self._last_beat_s: float | None = None
        self._beat_times: deque[float] = deque(maxlen=TEMPO_BEATS)
        self._since_evidence = self._evidence_frames
        self._confidence = 0.0
        self._break = 0.5  # probability that the activations are in a break (say nothing about the phase)

    @property
    def beats_per_bar(self) -> int | None:
        """Beats per bar of the most probable metre; None before the first beat."""
        return int(self._space.metres[self._metre]) if self._last_beat_s is not None else None

    @property
    def confidence(self) -> float:
        """0..1: share of the chosen metre's posterior on tempi near the MAP state's (:data:`MAP_TEMPO_SPAN`), at the
        last beat."""
        return self._confidence

    @property
    def period_s(self) -> float | None:
        """Current beat period in seconds; None before the first beat.

        The mean interval of the last :data:`TEMPO_BEATS` beats when each agrees with the MAP tempo (the state
        space's whole-frame intervals alternate around a tempo between them), else the posterior mean interval of the
        tempi near the MAP state's.
        """
        if self._last_beat_s is None:
            return None
        return self._period_frames() / self.frame_rate

    @property
    def next_beat_s(self) -> float | None:
        """Predicted time in seconds of the next beat after the last frame: one period after the MAP pointer's last
        beat boundary (at least one frame ahead); None before the first beat."""
        if self._last_beat_s is None:
            return None
        boundary_s = self._t_s - int(self._space.state_pos[self._map]) / self.frame_rate
        return max(boundary_s + self._period_frames() / self.frame_rate, self._t_s + 1.0 / self.frame_rate)

    def step(self, act: np.ndarray, t_s: float) -> BeatEvent | None:
        """Take the activation frame ``act`` (2,) = [P(beat, not downbeat), P(downbeat)] of time ``t_s`` seconds.

        Returns the beat that falls in this frame (``time_s`` = ``t_s`` minus the frames since the MAP pointer crossed
        the boundary; ``reported_s`` = ``t_s``), or None.
        """
        beat, down = float(act[0]), float(act[1])
        self._predict()
        self._observe(beat, down)
        self._t_s = t_s
        self._since_evidence = 0 if beat + down >= self.config.threshold else self._since_evidence + 1
        previous = self._map
        self._choose_map()
        if not self._crossed(previous) or self._since_evidence >= self._evidence_frames:
            return None
        debounce_s = 0.5 * self._map_period_frames() / self.frame_rate  # madmom's rule, on the current tempo
        if self._last_beat_s is not None and t_s - self._last_beat_s < debounce_s:
            return None
        space = self._space
        time_s = float(t_s - int(space.state_pos[self._map]) / self.frame_rate)
        self._last_beat_s = time_s
        self._beat_times.append(time_s)
        period_s = self._period_frames() / self.frame_rate
        self._confidence = self._tempo_confidence()
        beat_in_bar = int(space.row_beat[space.state_row[self._map]]) + 1
        return BeatEvent(
            time_s=time_s,
            reported_s=t_s,
            tempo_bpm=60.0 / period_s,
            confidence=self._confidence,
            is_downbeat=beat_in_bar == 1,
            beat_in_bar=beat_in_bar,
            beats_per_bar=int(space.metres[self._metre]),
        )

    def _predict(self) -> None:
        """Advance every pointer one frame; tempo transitions at beat ends; mix in the restart hazard."""
        space, fwd = self._space, self._fwd
        ends = fwd[space.block_end].reshape(space.rows_tempi)  # (R, T) mass about to leave each block
        fwd[1:] = fwd[:-1]
        fwd[space.next_start] = ends @ self._transitions  # (R, T) @ (T, T): into the next beat's blocks
        fwd *= 1.0 - self.config.restart_prob
        fwd += self._restart

    def _observe(self, beat: float, down: float) -> None:
        """Weight the beat-range states by their activation relative to the non-beat density, mixed with the break
        model (every state alike) by the predicted break probability; update that probability; renormalise.

        The break model's likelihood is the non-beat density everywhere, so relative to it the beat model's is
        ``Z = sum(prior * ratio)`` (``prior`` sums to 1, ``ratio`` is 1 outside the beat ranges).
        """
        non_beat = max(1.0 - beat - down, ACTIVATION_FLOOR) / self._odds_beat
        density_beat, density_down = self._beat_densities(beat, down)
        ratio_beat, ratio_down = density_beat / non_beat, density_down / non_beat
        space, fwd = self._space, self._fwd
        at_beats, at_downbeats = fwd[space.beat_states], fwd[space.downbeat_states]
        z_beat = 1.0 + float(at_beats.sum()) * (ratio_beat - 1.0) + float(at_downbeats.sum()) * (ratio_down - 1.0)
        switch = self._break_switch
        prior_break = self._break * (1.0 - switch) + (1.0 - self._break) * switch
        self._break = prior_break / (prior_break + (1.0 - prior_break) * z_beat)
        fwd[space.beat_states] = at_beats * ((1.0 - prior_break) * ratio_beat + prior_break)
        fwd[space.downbeat_states] = at_downbeats * ((1.0 - prior_break) * ratio_down + prior_break)
        fwd *= 1.0 / float(fwd.sum())

    def _beat_densities(self, beat: float, down: float) -> tuple[float, float]:
        """Densities of a beat-range state that is not a downbeat and of one that is: the activations divided by
        their training priors (Bourlard & Morgan's scaled likelihoods), ``beat / (2 (1 - share))`` and
        ``down / (2 share)``, which are madmom's ``beat`` and ``down`` when downbeats are half the beats.

        The network's outputs are posteriors shaped by the share of downbeats it was trained on: one unsure of the bar
        says ``down / (beat + down) = downbeat_share``, which must favour no metre. Taken as densities as they are
        (madmom), every such beat would favour the metres with the fewest downbeats per beat (5 over 4 over 3).
        """
        share = self.config.downbeat_share
        return max(beat, ACTIVATION_FLOOR) / (2.0 * (1.0 - share)), max(down, ACTIVATION_FLOOR) / (2.0 * share)

    def _choose_map(self) -> None:
        """The most probable metre (by posterior mass) and the most probable state within it."""
        slices = self._space.metre_slices
        masses = [float(self._fwd[s].sum()) for s in slices]
        self._metre = int(np.argmax(masses))
        chosen = slices[self._metre]
        self._map = chosen.start + int(np.argmax(self._fwd[chosen]))

    def _crossed(self, previous: int) -> bool:
        """Whether the MAP pointer crossed a beat boundary since the last frame (now in the first half of a beat,
        and before in the second half or in another beat of the bar)."""
        space = self._space
        tau = space.intervals[space.state_tempo[self._map]]
        if space.state_pos[self._map] >= tau / 2:
            return False
        if previous < 0:  # the first frame: nothing to cross from
            return False
        if space.state_row[previous] != space.state_row[self._map]:
            return True
        return space.state_pos[previous] >= space.intervals[space.state_tempo[previous]] / 2

    def _tempo_marginal(self) -> np.ndarray:
        """Posterior mass (T,) of each tempo within the chosen metre."""
        space = self._space
        rows = space.row_metre == self._metre
        block_mass = np.add.reduceat(self._fwd, space.block_start).reshape(space.rows_tempi)
        return block_mass[rows].sum(axis=0)

    def _period_frames(self) -> float:
        """The beat period in frames (see :attr:`period_s`)."""
        map_period = self._map_period_frames()
        if len(self._beat_times) < TEMPO_BEATS:
            return map_period
        intervals = np.diff(np.asarray(self._beat_times)) * self.frame_rate
        if np.any(np.abs(intervals / map_period - 1.0) > TEMPO_AGREEMENT):
            return map_period
        return float(intervals.mean())

    def _map_period_frames(self) -> float:
        """Posterior mean beat interval in frames over the tempi near the MAP state's (chosen metre)."""
        intervals = self._space.intervals
        near = self._near_map_tempo()
        mass = self._tempo_marginal()[near]
        return float(np.dot(mass, intervals[near]) / mass.sum()) if mass.sum() > 0 else float(intervals[near].mean())

    def _near_map_tempo(self) -> np.ndarray:
        """Mask (T,) of the tempi within :data:`MAP_TEMPO_SPAN` of the MAP state's tempo."""
        intervals = self._space.intervals
        tau = intervals[self._space.state_tempo[self._map]]
        return np.abs(intervals / tau - 1.0) <= MAP_TEMPO_SPAN

    def _tempo_confidence(self) -> float:
        """Share of the chosen metre's posterior on the tempi near the MAP state's."""
        marginal = self._tempo_marginal()
        total = marginal.sum()
        return float(np.clip(marginal[self._near_map_tempo()].sum() / total, 0.0, 1.0)) if total > 0 else 0.0

