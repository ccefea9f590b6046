"""A trained 3D Dance Revolution model run one music row at a time (live mode): causal encoder + one decoder step.

:class:`StreamingDanceGenerator` follows the motion layer's ``StreamingGenerator`` protocol (``step(features,
beat_phase) -> MotionFrame`` and ``reset()``; madmom-style: its recurrent state is kept inside and never saved).
Each step appends the row (raw 438-d features at 15 rows/s, e.g. every other row of
:class:`model.dance_revolution.features.StreamingFeatures`) to a buffer of the last ``n_layers * w + 1`` rows, which is
all a causal encoder's last output depends on, encodes the buffer and runs one decoder step.

Positions: row t gets position t + 1, as in whole-sequence generation, while t < ``max_seq_len``; after that the
buffer keeps the last positions of the table (a sliding window, like ``generate``'s long-song windows). So for the
first ``max_seq_len`` rows, stepping equals :meth:`DanceRevolution.generate` on the whole sequence (tested).

Run the worker with ``torch.set_num_threads(1)``: a step is a few small products, and on the 2-core CPU under load
two intra-op threads made it 82 ms instead of 5 ms (``bench/bench_dance_revolution_generate.py``).
"""

from __future__ import annotations

import numpy as np
import torch

from model.dance_revolution.checkpoint import LoadedModel
from model.dance_revolution.features import FEATURE_FPS, FEATURE_RATE, StreamConfig, StreamingFeatures

MODEL_FPS: int = 15


class StreamingDanceGenerator:
    """Frame-by-frame generation with a causal 3D (``smpl6d``) model.

    Args:
        loaded: a model whose encoder is causal (``--causal`` at training).
        seed: seed of the initial N(0, 1) LSTM states (drawn again at :meth:`reset`).
    """

    def __init__(self, loaded: LoadedModel, seed: int = 0) -> None:
        config = loaded.network.config
        if not config.causal:
            raise ValueError("live generation needs a causal encoder (train with --causal)")
        self.loaded, self.seed = loaded, seed
        self.context = min(config.n_layers * config.window + 1, config.max_seq_len)
        self.reset()

    def reset(self) -> None:
        """Start a new dance: empty buffer, fresh LSTM states, BOS as the previous pose."""
        network = self.loaded.network
        self._rows: list[torch.Tensor] = []
        self._count = 0
        self._state = network.initial_state(1, torch.Generator().manual_seed(self.seed))
        self._previous = network.bos(1)

    @torch.no_grad()
    def step_vector(self, features: np.ndarray) -> np.ndarray:
        """One raw feature row (438,) -> the next pose in model form (P,)."""
        network = self.loaded.network
        reference = network.linear.weight
        row = torch.from_numpy(self.loaded.norm.apply(np.asarray(features).reshape(1, -1))).to(reference)
        self._rows = (self._rows + [row])[-self.context:]
        self._count += 1
        last_position = min(self._count, network.config.max_seq_len)
        positions = torch.arange(last_position - len(self._rows) + 1, last_position + 1)[None].to(reference.device)
        encoded = network.encoder(torch.cat(self._rows)[None], positions)[:, -1]
        self._previous, self._state = network.step(self._previous, encoded, self._state)
        return self._previous[0].float().cpu().numpy()

    def step(self, features: np.ndarray, beat_phase: float):
        """One raw feature row (438,) at 15 rows/s -> the next :class:`motion.frame.MotionFrame` (its ``t_s`` counts
        rows from the last reset at 15 per second)."""
        from motion.frame import frame_from_rotvecs
        from model.dance_revolution.poses import vector_to_smpl

        vector = self.step_vector(features)
        if self.loaded.network.config.pose_kind != "smpl6d":
            raise ValueError("live frames need a 3D (smpl6d) model")
        pose, transl = vector_to_smpl(vector[None])
        return frame_from_rotvecs((self._count - 1) / MODEL_FPS, pose.reshape(24, 3), transl[0], beat_phase)


class AudioDancer:
    """Live audio -> 3D dance keyframes: resample (soxr, streaming) -> :class:`StreamingFeatures` (30 rows/s) -> the
    even rows (15/s, as the model was trained) -> :class:`StreamingDanceGenerator`.

    ``push(samples)`` takes consecutive mono float32 samples at ``input_rate`` Hz and returns the
    :class:`motion.frame.MotionFrame` keyframes that became final, oldest first; a keyframe's ``t_s`` is where its
    feature row is centred, in seconds from the first sample pushed (row ``r`` at ``r / 30`` s). Pushing the same
    audio in any block sizes gives the same keyframes (tested), equal to :func:`generate_rows` over the same rows.

    ``smooth_hz`` > 0: the model's poses (model form, before they become rotations) go through a causal low-pass
    (:class:`model.dance_revolution.smoothing.CausalSmoother`) and each keyframe's ``t_s`` is moved back by the
    filter's delay, so the smoothed motion stays on the music (a keyframe is then ready that much later).
    """

    def __init__(self, loaded: LoadedModel, input_rate: int, stream: StreamConfig = StreamConfig(),
                 seed: int = 0, smooth_hz: float = 0.0) -> None:
        import soxr

        from model.dance_revolution.smoothing import CausalSmoother

        if loaded.network.config.pose_kind != "smpl6d":
            raise ValueError("live frames need a 3D (smpl6d) model")
        self.generator = StreamingDanceGenerator(loaded, seed)
        self.features = StreamingFeatures(stream)
        self.smoother = CausalSmoother(smooth_hz, MODEL_FPS) if smooth_hz > 0 else None
        self._shift_s = 0.0 if self.smoother is None else self.smoother.delay_s
        self._resampler = soxr.ResampleStream(input_rate, FEATURE_RATE, 1, dtype="float32", quality="HQ")
        self._row = 0

    @property
    def latency_s(self) -> float:
        """Worst-case seconds between a row's centre being heard and its keyframe existing (steps not counted): the
        features' latency plus the smoothing filter's delay."""
        return self.features.latency_s + self._shift_s

    def push(self, samples: np.ndarray) -> list:
        """Consume audio at ``input_rate``; return the new keyframes (``MotionFrame``, 15 per second of audio)."""
        from motion.frame import frame_from_rotvecs
        from model.dance_revolution.poses import vector_to_smpl

        resampled = self._resampler.resample_chunk(np.asarray(samples, np.float32).reshape(-1))
        frames = []
        for row in self.features.push(resampled):
            if self._row % 2 == 0:
                vector = self.generator.step_vector(row)
                vector = vector if self.smoother is None else self.smoother.push(vector)
                pose, transl = vector_to_smpl(vector[None])
                frames.append(frame_from_rotvecs(self._row / FEATURE_FPS - self._shift_s, pose.reshape(24, 3),
                                                 transl[0]))
            self._row += 1
        return frames
