"""The learned causal beat and downbeat activation, run in numpy from a small ``.npz`` (no torch at run time).

:class:`BeatActivation` maps each hop of audio to ``[P(beat that is not a downbeat), P(downbeat)]`` for that frame
(madmom's convention: the two sum to at most 1). Timing: the row returned for hop ``k`` (samples ``k * hop`` to
``(k + 1) * hop`` of the stream) is the probability of a beat at time ``k * hop / sample_rate`` seconds, the start of
that hop (the training targets put a beat at ``t`` on frame ``round(t * frame_rate)``), so it is known one hop
(~10 ms) after the time it describes. The network (trained by :mod:`model.beat_training`) is a causal
temporal convolutional network (TCN):

1. the :mod:`live.beat_features` row of the frame, standardised with the training set's mean and scale;
2. a causal convolution over the last ``kernel`` frames, then ELU (``channels`` wide);
3. one residual block per dilation ``d``: ``x += mix @ ELU(conv_d(x))``, where ``conv_d`` sees the block input at
   frames t, t - d, ..., t - (kernel - 1) d (zeros before the start of the stream);
4. ELU and a linear layer to three classes (no beat, beat, downbeat), then a softmax.

The memory (the last frames each layer needs) lives in the object, never in the file, and
:meth:`BeatActivation.reset` clears it. Frame by frame (``__call__``) and whole file (:meth:`BeatActivation.process`)
give the same numbers (to float32 rounding).

The weights file holds float32 arrays (:func:`array_shapes`) and ``header``, a JSON string: ``format``
(:data:`FORMAT`), ``version``, ``features`` (must equal :func:`live.beat_features.feature_settings`),
``architecture`` (``n_features``, ``channels``, ``kernel``, ``dilations``, ``classes``) and free-form
``training`` information (recipe, data hours, validation figures, date).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InputError, numpy_load_problem
from common.paths import ASSETS_DIR
from live.beat_features import N_FEATURES, BeatFeatures, beat_features, feature_settings

DEFAULT_WEIGHTS: Path = ASSETS_DIR / "beats" / "beat_activation.npz"
"""The bundled trained weights."""
FORMAT: str = "dancepose-beat-activation"
VERSION: int = 1
CLASSES: tuple[str, ...] = ("none", "beat", "downbeat")
ARCHITECTURE_KEYS: tuple[str, ...] = ("n_features", "channels", "kernel")


def array_shapes(arch: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight array for the architecture ``arch`` (PyTorch's Conv1d layouts)."""
    n_in, channels, kernel = arch["n_features"], arch["channels"], arch["kernel"]
    shapes: dict[str, tuple[int, ...]] = {
        "feature_mean": (n_in,), "feature_scale": (n_in,),
        "front_weight": (channels, n_in, kernel), "front_bias": (channels,),
        "out_weight": (len(CLASSES), channels), "out_bias": (len(CLASSES),),
    }
    for i in range(len(arch["dilations"])):
        shapes |= {f"block{i}_conv_weight": (channels, channels, kernel), f"block{i}_conv_bias": (channels,),
                   f"block{i}_mix_weight": (channels, channels), f"block{i}_mix_bias": (channels,)}
    return shapes


def save_weights(path: str | os.PathLike[str], arrays: dict[str, np.ndarray], header: dict[str, Any]) -> None:
    """Write a weights file atomically (a reader never sees half a file): float32 ``arrays`` plus the JSON header.

    ``header`` must hold ``architecture``; ``format``, ``version`` and ``features`` are filled in here.
    """
    full = {"format": FORMAT, "version": VERSION, "features": feature_settings()} | header
    shapes = array_shapes(full["architecture"])
    if set(arrays) != set(shapes):
        raise ValueError(f"weights {sorted(arrays)} do not match the architecture {sorted(shapes)}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".partial.npz")
    np.savez(staging, header=np.array(json.dumps(full, sort_keys=True)),
             **{name: np.asarray(value, np.float32).reshape(shapes[name]) for name, value in arrays.items()})
    os.replace(staging, target)


def _read_weights(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse and check a weights file: (header, float32 arrays); :class:`InputError` naming what is wrong."""
    if not path.is_file():
        raise InputError(path, "beat activation weights not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise InputError(path, numpy_load_problem(err, "not a readable beat activation weights file")) from err
    if "header" not in data:
        raise InputError(path, "no 'header' entry: not a beat activation weights file")
    try:
        header = json.loads(str(data.pop("header")))
    except json.JSONDecodeError as err:
        raise InputError(path, f"header is not valid JSON ({err})") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != VERSION:
        raise InputError(path, f"header is not {FORMAT} version {VERSION}")
    if header.get("features") != feature_settings():
        raise InputError(path, f"trained on other features ({header.get('features')}) than live.beat_features gives "
                         f"({feature_settings()}): retrain")
    arch = header.get("architecture")
    if not isinstance(arch, dict) or any(not isinstance(arch.get(k), int) or arch[k] < 1 for k in ARCHITECTURE_KEYS):
        raise InputError(path, f"header 'architecture' must give positive integers {', '.join(ARCHITECTURE_KEYS)}")
    dilations = arch.get("dilations")
    if not isinstance(dilations, list) or any(not isinstance(d, int) or d < 1 for d in dilations):
        raise InputError(path, "header 'architecture' must give 'dilations' as a list of positive integers")
    if arch["n_features"] != N_FEATURES:
        raise InputError(path, f"architecture n_features {arch['n_features']} is not {N_FEATURES}")
    for name, shape in array_shapes(arch).items():
        if name not in data:
            raise InputError(path, f"array '{name}' is missing")
        if data[name].shape != shape or data[name].dtype != np.float32:
            raise InputError(path, f"array '{name}' is {data[name].dtype} {data[name].shape}, expected float32 {shape}")
        if not np.all(np.isfinite(data[name])):
            raise InputError(path, f"array '{name}' holds NaN or infinite values")
    return header, data


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0.0, x, np.expm1(np.minimum(x, 0.0)))


def _taps(weight: np.ndarray) -> np.ndarray:
    """Conv1d weight (C_out, C_in, K) -> (K * C_in, C_out) for inputs stacked oldest tap first."""
    return weight.transpose(2, 1, 0).reshape(-1, weight.shape[0]).copy()


class _CausalConv:
    """A causal dilated convolution, streaming (``step``, one frame) or on a sequence (``run``); same numbers."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, dilation: int) -> None:
        self.taps, self.bias = _taps(weight), bias
        self.kernel, self.channels = weight.shape[2], weight.shape[1]
        self.dilation = dilation
        self.span = (self.kernel - 1) * dilation + 1
        self._lags = np.arange(self.kernel - 1, -1, -1) * dilation  # oldest tap first
        self.reset()

    def reset(self) -> None:
        """Zero history (the frames before the stream)."""
        self._ring = np.zeros((self.span, self.channels), np.float32)
        self._pos = 0

    def step(self, x: np.ndarray) -> np.ndarray:
        """Block input at the current frame (C_in,) -> convolution output (C_out,)."""
        self._pos = (self._pos + 1) % self.span
        self._ring[self._pos] = x
        return self._ring[(self._pos - self._lags) % self.span].reshape(-1) @ self.taps + self.bias

    def run(self, xs: np.ndarray) -> np.ndarray:
        """Block inputs (T, C_in) from zero history -> outputs (T, C_out)."""
        padded = np.concatenate([np.zeros((self.span - 1, self.channels), np.float32), xs])
        stacked = np.concatenate([padded[j * self.dilation : j * self.dilation + len(xs)]
                                  for j in range(self.kernel)], axis=1)
        return stacked @ self.taps + self.bias


class BeatActivation:
    """Causal beat/downbeat activation of audio at ``sample_rate`` Hz, one frame per hop of ``hop`` samples.

    Attributes:
        hop: samples per frame (``round(sample_rate / 100)``).
        frame_rate: frames per second (``sample_rate / hop``).
        header: the weights file's JSON header (architecture, training recipe and figures).
    """

    def __init__(self, header: dict[str, Any], arrays: dict[str, np.ndarray], sample_rate: int) -> None:
        self.header = header
        self.sample_rate = int(sample_rate)
        self._features = BeatFeatures(self.sample_rate)
        self.hop = self._features.hop
        self.frame_rate = self._features.frame_rate
        arch = header["architecture"]
        self._mean, self._scale = arrays["feature_mean"], arrays["feature_scale"]
        self._front = _CausalConv(arrays["front_weight"], arrays["front_bias"], 1)
        self._blocks = [(_CausalConv(arrays[f"block{i}_conv_weight"], arrays[f"block{i}_conv_bias"], d),
                         arrays[f"block{i}_mix_weight"].T.copy(), arrays[f"block{i}_mix_bias"])
                        for i, d in enumerate(arch["dilations"])]
        self._out_t, self._out_bias = arrays["out_weight"].T.copy(), arrays["out_bias"]

    @classmethod
    def load(cls, path: str | os.PathLike[str] = DEFAULT_WEIGHTS, *, sample_rate: int) -> BeatActivation:
        """Load trained weights for input at ``sample_rate`` Hz; :class:`InputError` if the file is missing or wrong."""
        header, arrays = _read_weights(Path(path))
        return cls(header, arrays, sample_rate)

    def reset(self) -> None:
        """Clear the feature and layer histories (as at the start of a stream, after silence)."""
        self._features.reset()
        self._front.reset()
        for conv, _, _ in self._blocks:
            conv.reset()

    def __call__(self, hop_samples: np.ndarray) -> np.ndarray:
        """The next hop (float32, shape (hop,)) -> float32 (2,): [P(beat, not downbeat), P(downbeat)] of its frame."""
        x = _elu(self._front.step((self._features(hop_samples) - self._mean) * self._scale))
        for conv, mix_t, mix_bias in self._blocks:
            x = x + _elu(conv.step(x)) @ mix_t + mix_bias
        return self._probabilities(x[None, :])[0]

    def process(self, samples: np.ndarray) -> np.ndarray:
        """A whole signal (float32 (L,)) -> float32 (L // hop, 2): the rows ``__call__`` gives after a reset.

        Independent of, and leaves untouched, the streaming state.
        """
        x = _elu(self._front.run((beat_features(samples, self.sample_rate) - self._mean) * self._scale))
        for conv, mix_t, mix_bias in self._blocks:
            x = x + _elu(conv.run(x)) @ mix_t + mix_bias
        return self._probabilities(x)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        """Residual stream (F, C) -> (F, 2) softmax probabilities of the beat and downbeat classes."""
        logits = _elu(x) @ self._out_t + self._out_bias
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e[:, 1:] / e.sum(axis=1, keepdims=True)).astype(np.float32)
