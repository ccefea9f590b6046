"""Top-k search of a pose bank with the reference's ranking rule.

The reference scores every bank entry as ``logits = scale * (q @ normalize(db)^T)`` in float32, with ``q`` (the
model's 82-value output) NOT normalised, and ranks by descending logit. Here ties are broken by the lower bank index
(a stable order), so results are deterministic.

Banks up to ``brute_force_max_rows`` rows are searched exactly with one torch matrix product per query batch on the
searcher's device. Larger banks use a faiss-cpu ``IndexFlatIP`` (exact inner products on the normalised rows; the
query is negated for a negative scale so that the largest logits come first, and ``|scale|`` multiplies its scores).
Both paths fetch a few more candidates than asked and widen the fetch while the k-th score ties the last candidate,
so the stable tie order is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from common.constants import POSE_DIM
from common.errors import InputError
from pose_db.bank import PoseBank

BRUTE_FORCE_MAX_ROWS: int = 4_000_000
"""Banks with more rows than this are searched with FAISS (brute force keeps (batch, N) scores in memory)."""
SCORE_BUDGET: int = 1 << 26
"""Scores (float32) the brute-force path holds at once: query batches are sized to stay under it (256 MB)."""
FAISS_BATCH: int = 1024
"""Queries per FAISS call."""


@dataclass(frozen=True)
class TopK:
    """Ranked bank entries per query, best first.

    Attributes:
        indices: (Q, k) int64 bank indices.
        scores: (Q, k) float32 logits ``scale * q . unit(db[i])``, descending along each row.
    """

    indices: np.ndarray
    scores: np.ndarray


class _Backend(Protocol):
    batch: int
    """Queries per call of :meth:`candidates`."""

    def candidates(self, queries: np.ndarray, width: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The ``width`` best entries (any order) for each of (B, 82) float32 queries: (B, width) float32 logits and
        (B, width) int64 indices."""
        ...


class _TorchBackend:
    """Exact search: ``scale * (q @ unit^T)`` on a torch device, then ``torch.topk``."""

    def __init__(self, unit: np.ndarray, device: torch.device) -> None:
        self.db = torch.from_numpy(unit).to(device)
        self.batch = max(1, SCORE_BUDGET // len(unit))

    def candidates(self, queries: np.ndarray, width: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
        q = torch.from_numpy(queries).to(self.db.device)
        logits = torch.tensor(scale, dtype=torch.float32, device=self.db.device) * (q @ self.db.T)
        scores, indices = torch.topk(logits, width, dim=1, sorted=False)
        return scores.cpu().numpy(), indices.cpu().numpy().astype(np.int64)


class _FaissBackend:
    """Exact search with a faiss-cpu ``IndexFlatIP`` over the unit rows."""

    batch = FAISS_BATCH

    def __init__(self, unit: np.ndarray) -> None:
        import faiss

        self.index = faiss.IndexFlatIP(unit.shape[1])
        self.index.add(np.ascontiguousarray(unit, np.float32))

    def candidates(self, queries: np.ndarray, width: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
        sign = np.float32(-1.0 if scale < 0 else 1.0)
        products, indices = self.index.search(np.ascontiguousarray(sign * queries), width)
        return np.float32(abs(scale)) * products, indices.astype(np.int64)


class PoseSearcher:
    """Ranks a bank's entries for query vectors with the reference rule (see the module docstring)."""

    def __init__(self, bank: PoseBank, device: str | torch.device = "cpu", *,
                 brute_force_max_rows: int = BRUTE_FORCE_MAX_ROWS) -> None:
        """Build the search structure once: the normalised bank on ``device`` (brute force), or a FAISS index when
        the bank has more than ``brute_force_max_rows`` rows.

        Raises:
            InputError: the bank has a NaN/inf or all-zero row.
        """
        self.bank = bank
        self.size = len(bank)
        self.device = torch.device(device)
        unit = bank.unit_vectors()
        self._backend: _Backend = (_TorchBackend(unit, self.device) if self.size <= brute_force_max_rows
                                   else _FaissBackend(unit))

    @property
    def method(self) -> str:
        """``"brute-force"`` or ``"faiss"``."""
        return "faiss" if isinstance(self._backend, _FaissBackend) else "brute-force"

    def search(self, queries: np.ndarray, k: int, scale: float = 1.0) -> TopK:
        """The ``k`` best entries for each query, by descending ``scale * q . unit(db[i])``, ties by lower index.

        Args:
            queries: (Q, 82) query vectors (cast to float32; not normalised).
            k: entries per query, 1..N.
            scale: the model's logit scale (a negative scale reverses the order, as in the reference).

        Raises:
            InputError: ``k`` outside 1..N.
            ValueError: queries of the wrong shape or with NaN/inf; a non-finite scale.
        """
        q = _checked_queries(queries)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= self.size:
            raise InputError(None, f"k must be an integer between 1 and the bank size ({self.size}), got {k!r}")
        if not np.isfinite(scale):
            raise ValueError(f"scale must be finite, got {scale}")
        step = self._backend.batch
        parts = [self._search_batch(q[s : s + step], int(k), float(scale)) for s in range(0, len(q), step)]
        if not parts:
            return TopK(indices=np.empty((0, k), np.int64), scores=np.empty((0, k), np.float32))
        return TopK(indices=np.concatenate([p.indices for p in parts]),
                    scores=np.concatenate([p.scores for p in parts]))

    def _search_batch(self, queries: np.ndarray, k: int, scale: float) -> TopK:
        """Exact stable top-k: sort candidates by (-score, index); refetch wider rows whose k-th score ties the
        last candidate (an equal score may lie outside the fetched set)."""
        indices = np.empty((len(queries), k), np.int64)
        scores = np.empty((len(queries), k), np.float32)
        rows = np.arange(len(queries))
        width = min(self.size, 2 * k + 8)
        while rows.size:
            cand_scores, cand_indices = self._backend.candidates(queries[rows], width, scale)
            order = np.lexsort((cand_indices, -cand_scores), axis=-1)
            cand_scores = np.take_along_axis(cand_scores, order, axis=-1)
            cand_indices = np.take_along_axis(cand_indices, order, axis=-1)
            cut = (cand_scores[:, k - 1] == cand_scores[:, -1]) & (width < self.size)
            indices[rows[~cut]] = cand_indices[~cut, :k]
            scores[rows[~cut]] = cand_scores[~cut, :k]
            rows = rows[cut]
            width = min(self.size, 4 * width)
        return TopK(indices=indices, scores=scores)


def _checked_queries(queries: np.ndarray) -> np.ndarray:
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if q.ndim != 2 or q.shape[1] != POSE_DIM:
        raise ValueError(f"queries must have shape (Q, {POSE_DIM}), got {q.shape}")
    if not np.isfinite(q).all():
        raise ValueError("queries contain NaN or infinite values")
    return q
