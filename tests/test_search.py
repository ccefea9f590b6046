"""Bank search: the reference rule ``scale * q . normalize(db)``, descending, ties by lower index, on both paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.errors import InputError
from pose_db.bank import PoseBank, write_bank
from pose_db.search import PoseSearcher, TopK


def _bank(path: Path, vectors: np.ndarray) -> PoseBank:
    n = len(vectors)
    return PoseBank.open(write_bank(path, vectors, names=[str(i) for i in range(n)], sources=["s"] * n,
                                   frame_ids=np.arange(n)))


def _reference(vectors: np.ndarray, queries: np.ndarray, k: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The rule in float64 numpy: logits = scale * q @ (db / |db|)^T, order by (-logit, index)."""
    db = vectors.astype(np.float64)
    logits = scale * queries.astype(np.float64) @ (db / np.linalg.norm(db, axis=1, keepdims=True)).T
    order = np.lexsort((np.broadcast_to(np.arange(len(db)), logits.shape), -logits), axis=-1)[:, :k]
    return order, np.take_along_axis(logits, order, axis=-1)


@pytest.fixture(scope="module")
def random_bank(tmp_path_factory) -> PoseBank:
    return _bank(tmp_path_factory.mktemp("search") / "bank", np.random.default_rng(3).normal(size=(3000, 82)))


@pytest.mark.parametrize("scale", [1.0, 2.5, -0.7])
@pytest.mark.parametrize("brute_force_max_rows", [10**9, 0], ids=["brute-force", "faiss"])
def test_search_is_the_reference_rule(random_bank, scale, brute_force_max_rows):
    searcher = PoseSearcher(random_bank, brute_force_max_rows=brute_force_max_rows)
    assert searcher.method == ("faiss" if brute_force_max_rows == 0 else "brute-force")
    queries = np.random.default_rng(4).normal(scale=0.2, size=(37, 82)).astype(np.float32)
    result = searcher.search(queries, 10, scale=scale)
    expected, logits = _reference(np.asarray(random_bank.vectors), queries, 10, scale)
    assert result.indices.dtype == np.int64 and result.scores.dtype == np.float32
    assert result.indices.shape == result.scores.shape == (37, 10)
    np.testing.assert_array_equal(result.indices, expected)
    np.testing.assert_allclose(result.scores, logits, rtol=1e-5, atol=1e-6)


def test_faiss_path_equals_brute_force(random_bank):
    queries = np.random.default_rng(5).normal(size=(70, 82)).astype(np.float32)
    brute = PoseSearcher(random_bank).search(queries, 25, scale=1.7)
    faiss = PoseSearcher(random_bank, brute_force_max_rows=100).search(queries, 25, scale=1.7)
    np.testing.assert_array_equal(faiss.indices, brute.indices)
    np.testing.assert_allclose(faiss.scores, brute.scores, rtol=1e-6, atol=1e-6)


def test_query_batches_do_not_change_results(random_bank, monkeypatch):
    queries = np.random.default_rng(6).normal(size=(9, 82)).astype(np.float32)
    whole = PoseSearcher(random_bank).search(queries, 4)
    monkeypatch.setattr("pose_db.search.SCORE_BUDGET", 2 * len(random_bank))
    monkeypatch.setattr("pose_db.search._FaissBackend.batch", 2)
    for rows in (10**9, 0):
        batched = PoseSearcher(random_bank, brute_force_max_rows=rows).search(queries, 4)
        np.testing.assert_array_equal(batched.indices, whole.indices)


@pytest.mark.parametrize("brute_force_max_rows", [10**9, 0], ids=["brute-force", "faiss"])
def test_ties_rank_the_lower_index_first(tmp_path, brute_force_max_rows):
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(400, 82))
    twins = np.sort(rng.choice(400, size=40, replace=False))
    vectors[twins] = vectors[twins[0]]
    searcher = PoseSearcher(_bank(tmp_path / "bank", vectors), brute_force_max_rows=brute_force_max_rows)
    query = vectors[twins[:1]].astype(np.float32)
    for k in (1, 3, 40):
        np.testing.assert_array_equal(searcher.search(query, k).indices[0], twins[:k])
    np.testing.assert_array_equal(searcher.search(query, 3, scale=0.0).indices[0], [0, 1, 2])


def test_parity_fixture_ranking(shared_dir, tmp_path):
    """The reference's stored top-5 for the tiny EDSA outputs (logit_scale 2.5)."""
    data = np.load(shared_dir / "reference" / "tiny_edsa_io.npz")
    result = PoseSearcher(_bank(tmp_path / "bank", data["db"])).search(data["output"], 5, scale=2.5)
    np.testing.assert_array_equal(result.indices, data["topk_index"])
    np.testing.assert_allclose(result.scores, np.take_along_axis(data["logits"], data["topk_index"], 1), atol=1e-5)


def test_no_queries_give_an_empty_result(random_bank):
    result = PoseSearcher(random_bank).search(np.zeros((0, 82), np.float32), 3)
    assert isinstance(result, TopK) and result.indices.shape == result.scores.shape == (0, 3)


@pytest.mark.parametrize("k", [0, 3001, -1, 2.0])
def test_k_must_be_within_the_bank(random_bank, k):
    with pytest.raises(InputError, match="k must be an integer between 1 and the bank size"):
        PoseSearcher(random_bank).search(np.zeros((1, 82), np.float32), k)


@pytest.mark.parametrize("queries", [np.zeros((2, 81)), np.zeros(82), np.full((1, 82), np.nan)])
def test_queries_must_be_finite_rows_of_82(random_bank, queries):
    with pytest.raises(ValueError):
        PoseSearcher(random_bank).search(queries, 1)


def test_searcher_refuses_a_bank_with_nan(tmp_path):
    root = write_bank(tmp_path / "bank", np.ones((3, 82)), names=list("abc"), sources=["s"] * 3, frame_ids=range(3))
    vectors = np.ones((3, 82), np.float32)
    vectors[1, 0] = np.nan
    np.save(root / "vectors.npy", vectors)
    with pytest.raises(InputError, match="vectors.npy: row 1 has NaN"):
        PoseSearcher(PoseBank.open(root))
