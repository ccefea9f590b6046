"""Dance Revolution music features: the reference's batch features on the fixture clip, and the causal stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.dance_revolution.features import (
    BEAT_COLUMN, COLUMNS, FEATURE_DIM, TEMPOGRAM_WINDOW, FeatureNorm, StreamConfig, StreamingFeatures, feature_rows,
    song_features, trailing_tempogram,
)

TOLERANCE: dict[str, float] = {"mfcc": 1e-3, "mfcc_delta": 1e-3, "onset": 1e-4, "chroma": 1e-5, "tempogram": 1e-5}
"""Per-block max-abs tolerances of the facts' section 18 (librosa 0.11)."""


@pytest.fixture(scope="module")
def fixture(shared_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(shared_dir / "reference" / "tiny_dance_revolution_io.npz"))


@pytest.fixture(scope="module")
def clip_features(fixture: dict[str, np.ndarray]) -> np.ndarray:
    return song_features(fixture["clip_audio"])


def test_batch_features_match_the_reference_extractor_per_block(fixture, clip_features) -> None:
    reference = fixture["clip_features"]
    assert clip_features.shape == reference.shape == (feature_rows(len(fixture["clip_audio"])), FEATURE_DIM)
    for name, tolerance in TOLERANCE.items():
        error = np.abs(clip_features[:, COLUMNS[name]] - reference[:, COLUMNS[name]]).max()
        assert error <= tolerance, f"{name}: max abs error {error:.3g} > {tolerance}"
    np.testing.assert_array_equal(clip_features[:, BEAT_COLUMN], reference[:, BEAT_COLUMN])
    assert list(np.flatnonzero(clip_features[:, BEAT_COLUMN])) == [17, 31, 46, 61]


def test_trailing_tempogram_is_the_centred_one_delayed_by_191_rows() -> None:
    import librosa

    rng = np.random.default_rng(0)
    onsets = rng.random(1000)
    centred = librosa.feature.tempogram(onset_envelope=onsets, sr=15360)
    for row in (400, 700, 999):
        np.testing.assert_allclose(trailing_tempogram(onsets[: row + 1]), centred[:, row - (TEMPOGRAM_WINDOW // 2 - 1)],
                                   atol=1e-12)


def test_stream_rows_do_not_depend_on_how_the_audio_is_blocked(fixture) -> None:
    audio = fixture["clip_audio"][:30_000]
    config = StreamConfig(lookahead_frames=4, block_frames=8, context_frames=32)
    small, large = StreamingFeatures(config), StreamingFeatures(config)
    rows_small = np.concatenate([small.push(audio[i : i + 300]) for i in range(0, len(audio), 300)])
    rows_large = np.concatenate([large.push(audio[i : i + 7000]) for i in range(0, len(audio), 7000)])
    n = min(len(rows_small), len(rows_large))
    assert n >= 40
    np.testing.assert_allclose(rows_small[:n, :BEAT_COLUMN], rows_large[:n, :BEAT_COLUMN], atol=1e-9)
    np.testing.assert_allclose(rows_small[:n, COLUMNS["tempogram"]], rows_large[:n, COLUMNS["tempogram"]],
                               atol=1e-9)


def test_stream_emits_only_rows_whose_lookahead_was_heard_and_reset_restarts(fixture) -> None:
    config = StreamConfig(lookahead_frames=4, block_frames=8, context_frames=32)
    stream = StreamingFeatures(config)
    audio = fixture["clip_audio"]
    heard = 20_000
    rows = stream.push(audio[:heard])
    last_ready = (heard - 1024) // 512 + 1 - config.lookahead_frames
    assert len(rows) == last_ready - last_ready % config.block_frames
    stream.reset()
    again = stream.push(audio[:heard])
    np.testing.assert_array_equal(rows, again)


def test_stream_matches_batch_where_only_the_stft_is_involved(fixture, clip_features) -> None:
    """With HPSS fully covered (lookahead 17), onset and chroma follow the batch values closely in the interior."""
    config = StreamConfig(lookahead_frames=17, block_frames=8, context_frames=48)
    rows = StreamingFeatures(config).push(fixture["clip_audio"])
    inner = slice(48, len(rows))
    for name in ("onset", "chroma"):
        batch, live = clip_features[inner, COLUMNS[name]], rows[inner, COLUMNS[name]]
        assert np.corrcoef(batch.ravel(), live.ravel())[0, 1] > 0.95, name


def test_feature_norm_fits_zero_mean_unit_std_and_identity_is_a_no_op() -> None:
    rows = np.random.default_rng(1).normal(3.0, 5.0, (500, FEATURE_DIM))
    norm = FeatureNorm.fit(rows)
    out = norm.apply(rows)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-4)
    np.testing.assert_array_equal(FeatureNorm.identity().apply(rows), rows.astype(np.float32))
