"""Graph matching attacks on stored encodings (benchmarks/attack.py runs them).

The insider holds the bank's encodings (``stored``) and a plaintext register of people, some
of whom are in the bank (RETA's export, a civil-registry extract). She encodes her plaintext
under the public schema with **her own** linkage secret, builds a similarity graph on each
side and matches nodes across the two graphs; the matched plaintext record names the bank's
record. Two attacks:

- ``graph_matching_attack`` (after Vidanage, Christen, Ranbaduge & Schnell, CIKM 2020): a
  sparse k-nearest-neighbour similarity graph per side (Dice; exact all-pairs by blocked
  matrix products, top ``k`` kept); node features from the neighbourhood similarity
  distribution (sorted top-k similarities, degree at several thresholds, the neighbours' own
  top similarity and degree, the filter's weight); features standardized on both sides
  together, cosine similarity, greedy one-to-one assignment. Then (our extension, as in
  seed-and-extend graph de-anonymization) ``rounds`` rounds of propagation: the most
  confident matches are anchors, and a pair (e, p) scores by how many anchored neighbours it
  shares with agreeing similarities (|sim(e, a) − sim(p, a')| small); greedy one-to-one on the
  score; matches below ``min_score`` are not guessed.
- the homomorphism-based variant (after Armknecht & Schäfer, PoPETs 2026(2)): for a linear
  diffusion layer (each stored bit the XOR of ``t`` CLK bits) the encoding is a homomorphism
  of (filters, XOR), so the Hamming distance of two stored filters is, up to tap collisions,
  ``L'·(1 − (1 − 2h)^t) / 2`` of the CLKs' Hamming fraction h. The attacker therefore builds
  her graph on her **plain** CLKs (no diffusion: no noise of her own) and maps each Hamming
  distance through that expectation, while the bank's graph uses Hamming similarity of the
  stored bits; then the same matching (``hamming=True``, ``transform``).

All functions are pure and deterministic; numpy only (no scipy): the assignment is greedy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Graph", "GraphMatch", "diffusion_hamming_transform", "feature_match",
           "graph_matching_attack", "greedy_one_to_one", "knn_graph", "node_features",
           "profile_match", "profiles", "propagate"]

_BLOCK = 1024


@dataclass
class Graph:
    """Top-``k`` neighbours of each node (``nbr``, -1 = none) with similarities (descending)
    and each filter's weight (fraction of bits set)."""

    nbr: np.ndarray
    sim: np.ndarray
    weight: np.ndarray


def _unpack(stored: np.ndarray) -> np.ndarray:
    return np.unpackbits(np.ascontiguousarray(stored, dtype=np.uint8), axis=1).astype(np.float32)


def knn_graph(stored: np.ndarray, *, k: int = 15, hamming: bool = False,
              transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Graph:
    """Exact top-``k`` neighbours by Dice (or 1 − Hamming fraction) over all pairs.

    ``transform`` maps the similarities (after the top-k selection; it must be monotone).

    >>> s = np.packbits(np.array([[1, 1, 1, 0] * 16, [1, 1, 0, 0] * 16, [0, 0, 0, 1] * 16],
    ...                          dtype=np.uint8), axis=1)
    >>> g = knn_graph(s, k=1)
    >>> g.nbr[:, 0].tolist(), [round(float(x), 2) for x in g.sim[:, 0]]
    ([1, 0, 0], [0.8, 0.8, 0.0])
    """
    bits = _unpack(stored)
    n, width = bits.shape
    k = min(k, n - 1)
    weight = bits.sum(axis=1)
    nbr = np.full((n, k), -1, dtype=np.int64)
    sim = np.zeros((n, k), dtype=np.float32)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        inter = bits[start:stop] @ bits.T
        if hamming:
            s = 1.0 - (weight[start:stop, None] + weight[None, :] - 2 * inter) / width
        else:
            total = weight[start:stop, None] + weight[None, :]
            s = np.divide(2 * inter, total, out=np.zeros_like(inter), where=total > 0)
        s[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        top = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < n - 1 else \
            np.argsort(-s, axis=1)[:, :k]
        vals = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        nbr[start:stop] = np.take_along_axis(top, order, axis=1)
        sim[start:stop] = np.take_along_axis(vals, order, axis=1)
    if transform is not None:
        sim = transform(sim).astype(np.float32)
    return Graph(nbr, sim, (weight / width).astype(np.float32))


def diffusion_hamming_transform(t: int) -> Callable[[np.ndarray], np.ndarray]:
    """Similarity 1 − h of two plain CLKs → expected 1 − h' of their diffused bits, where
    h' = (1 − (1 − 2h)^t) / 2 (the diffusion is linear: it diffuses the XOR of the two).

    >>> f = diffusion_hamming_transform(2)
    >>> [round(float(x), 3) for x in f(np.array([1.0, 0.9, 0.5]))]
    [1.0, 0.82, 0.5]
    """
    def f(sim: np.ndarray) -> np.ndarray:
        h = 1.0 - np.asarray(sim, dtype=np.float64)
        return 1.0 - (1.0 - (1.0 - 2.0 * h) ** t) / 2.0
    return f


THRESHOLDS = (0.6, 0.7, 0.8, 0.9)


def node_features(g: Graph) -> np.ndarray:
    """Per node: sorted top-k similarities, degree at ``THRESHOLDS`` (within the top k), the
    neighbours' mean top similarity and degree at 0.7, and the filter's weight."""
    sim = np.where(g.nbr >= 0, g.sim, 0.0)
    degrees = np.stack([(sim >= t).sum(axis=1) for t in THRESHOLDS], axis=1).astype(np.float32)
    safe = np.where(g.nbr >= 0, g.nbr, 0)
    top1 = sim[:, 0]
    deg7 = degrees[:, 1]
    nb_top = np.where(g.nbr >= 0, top1[safe], 0.0).mean(axis=1)
    nb_deg = np.where(g.nbr >= 0, deg7[safe], 0.0).mean(axis=1)
    return np.column_stack([sim, degrees, nb_top, nb_deg, g.weight]).astype(np.float32)


def greedy_one_to_one(left: np.ndarray, right: np.ndarray, score: np.ndarray, n_left: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Best-first one-to-one assignment over candidate pairs: (match of each left node or -1,
    its score).

    >>> m, s = greedy_one_to_one(np.array([0, 0, 1]), np.array([0, 1, 0]),
    ...                          np.array([0.9, 0.8, 0.95]), 2)
    >>> m.tolist()
    [1, 0]
    """
    match = np.full(n_left, -1, dtype=np.int64)
    best = np.zeros(n_left, dtype=np.float64)
    taken: set[int] = set()
    for i in np.argsort(-score, kind="stable").tolist():
        a, b = int(left[i]), int(right[i])
        if match[a] >= 0 or b in taken:
            continue
        match[a] = b
        best[a] = score[i]
        taken.add(b)
    return match, best


def feature_match(fe: np.ndarray, fp: np.ndarray, *, candidates: int = 10
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of standardized node features, top ``candidates`` per encoded node,
    greedy one-to-one: (match, cosine)."""
    both = np.vstack([fe, fp])
    mu, sd = both.mean(axis=0), both.std(axis=0)
    sd[sd == 0] = 1.0
    a = (fe - mu) / sd
    b = (fp - mu) / sd
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-9)
    c = min(candidates, len(fp))
    lefts, rights, scores = [], [], []
    for start in range(0, len(a), _BLOCK):
        s = a[start:start + _BLOCK] @ b.T
        top = np.argpartition(-s, c - 1, axis=1)[:, :c] if c < len(fp) else \
            np.tile(np.arange(len(fp)), (len(s), 1))
        lefts.append(np.repeat(np.arange(start, start + len(s)), top.shape[1]))
        rights.append(top.reshape(-1))
        scores.append(np.take_along_axis(s, top, axis=1).reshape(-1))
    return greedy_one_to_one(np.concatenate(lefts), np.concatenate(rights),
                             np.concatenate(scores), len(fe))


def propagate(ge: Graph, gp: Graph, anchors: np.ndarray, *, tolerance: float = 0.05
              ) -> tuple[np.ndarray, np.ndarray]:
    """One round of seed-and-extend: every (e, p) where an anchored neighbour a of e (a → a')
    has p among a''s neighbours scores 1 − |sim(e, a) − sim(a', p)| / tolerance (≥ 0), summed
    over anchors; greedy one-to-one on the sum: (match, score)."""
    n_e = len(ge.nbr)
    n_p = len(gp.nbr)
    a = ge.nbr
    a_safe = np.where(a >= 0, a, 0)
    ap = np.where(a >= 0, anchors[a_safe], -1)  # (n_e, k)
    ok = ap >= 0
    e_idx = np.broadcast_to(np.arange(n_e)[:, None], a.shape)[ok]
    s1 = ge.sim[ok]
    ap_ok = ap[ok]
    p = gp.nbr[ap_ok]  # (m, kp)
    s2 = gp.sim[ap_ok]
    w = 1.0 - np.abs(s1[:, None] - s2) / tolerance
    keep = (w > 0) & (p >= 0)
    left = np.broadcast_to(e_idx[:, None], p.shape)[keep]
    right = p[keep]
    if len(left) == 0:
        return np.full(n_e, -1, dtype=np.int64), np.zeros(n_e)
    key = left.astype(np.int64) * n_p + right
    uniq, inv = np.unique(key, return_inverse=True)
    total = np.bincount(inv.reshape(-1), weights=w[keep])
    return greedy_one_to_one(uniq // n_p, uniq % n_p, total, n_e)


def profiles(stored: np.ndarray, anchors: np.ndarray, *, hamming: bool = False,
             transform: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Similarity of every filter to each anchor (n, len(anchors)), each row centred and
    scaled to unit norm (so a dot product is a correlation)."""
    bits = _unpack(stored)
    width = bits.shape[1]
    weight = bits.sum(axis=1)
    anchor_bits = bits[anchors]
    inter = bits @ anchor_bits.T
    if hamming:
        s = 1.0 - (weight[:, None] + weight[anchors][None, :] - 2 * inter) / width
    else:
        s = 2 * inter / np.maximum(weight[:, None] + weight[anchors][None, :], 1)
    if transform is not None:
        s = transform(s).astype(np.float32)
    s = s - s.mean(axis=1, keepdims=True)
    return s / np.maximum(np.linalg.norm(s, axis=1, keepdims=True), 1e-9)


def profile_match(stored_e: np.ndarray, stored_p: np.ndarray, anchors: np.ndarray, *,
                  max_anchors: int = 1500, min_corr: float = 0.35, margin: float = 0.08,
                  hamming: bool = False,
                  transform: Callable[[np.ndarray], np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Anchor profiles: each encoded record's similarities to the anchored records against
    each plaintext record's similarities to the anchors' counterparts; correlation, greedy
    one-to-one; kept where the best correlation is ≥ ``min_corr`` and beats the record's
    second best by ``margin``: (match, correlation)."""
    pairs = np.flatnonzero(anchors >= 0)
    if len(pairs) > max_anchors:
        pairs = pairs[np.linspace(0, len(pairs) - 1, max_anchors).astype(np.int64)]
    n_e = len(stored_e)
    if len(pairs) < 20:
        return np.full(n_e, -1, dtype=np.int64), np.zeros(n_e)
    pe = profiles(stored_e, pairs, hamming=hamming)
    pp = profiles(stored_p, anchors[pairs], hamming=hamming, transform=transform)
    c = min(5, len(stored_p))
    lefts, rights, scores = [], [], []
    for start in range(0, n_e, _BLOCK):
        s = pe[start:start + _BLOCK] @ pp.T
        top = np.argpartition(-s, c - 1, axis=1)[:, :c] if c < len(stored_p) else \
            np.tile(np.arange(len(stored_p)), (len(s), 1))
        vals = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-vals, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        top = np.take_along_axis(top, order, axis=1)
        clear = (vals[:, 0] >= min_corr) & (vals[:, 0] - vals[:, 1] >= margin)
        rows = np.flatnonzero(clear)
        lefts.append(start + rows)
        rights.append(top[rows, 0])
        scores.append(vals[rows, 0])
    return greedy_one_to_one(np.concatenate(lefts), np.concatenate(rights),
                             np.concatenate(scores), n_e)


@dataclass
class GraphMatch:
    """The attack's final match of each encoded node (-1 = no guess), its score, and the
    first stage's (feature) match for the record."""

    match: np.ndarray
    score: np.ndarray
    feature_match: np.ndarray
    feature_score: np.ndarray
    propagated: np.ndarray


def graph_matching_attack(ge: Graph, gp: Graph, stored_e: np.ndarray, stored_p: np.ndarray,
                          *, rounds: int = 6, seed_share: float = 0.1, min_score: float = 2.0,
                          tolerance: float = 0.05, profile_rounds: int = 3,
                          hamming: bool = False,
                          transform: Callable[[np.ndarray], np.ndarray] | None = None,
                          known: np.ndarray | None = None, min_corr: float = 0.35,
                          margin: float = 0.08) -> GraphMatch:
    """Feature matching; ``rounds`` of propagation from the best ``seed_share`` of the feature
    matches (each round's matches with score ≥ ``min_score`` are the next anchors); then
    ``profile_rounds`` of anchor-profile matching (``profile_match``) from the propagated
    matches. Records without an accepted match get -1 (no guess). ``stored_p`` and the
    ``hamming``/``transform`` options are the plaintext side's, as for ``knn_graph``.
    ``known``: pairs the attacker knows beforehand (plaintext index per encoded record, -1
    elsewhere: a residual clear-attribute join, cases she knows); when given, they are the
    anchors of the profile rounds and the bootstrapping is skipped. ``min_corr``, ``margin``:
    the profile rounds' acceptance (``profile_match``; lower = a bolder attacker)."""
    fe, fp = node_features(ge), node_features(gp)
    fmatch, fscore = feature_match(fe, fp)
    if known is not None:
        rounds = 0
    anchors = np.full(len(fe), -1, dtype=np.int64)
    n_seed = max(1, int(seed_share * len(fe)))
    best = np.argsort(-fscore, kind="stable")[:n_seed]
    anchors[best] = fmatch[best]
    match, score = anchors.copy(), np.zeros(len(fe))
    for _ in range(rounds):
        match, score = propagate(ge, gp, anchors, tolerance=tolerance)
        match = np.where(score >= min_score, match, -1)
        if (match == anchors).all():
            break
        anchors = match
    propagated = match.copy()
    if known is not None:
        anchors = known.copy()
        match = known.copy()
    elif (anchors >= 0).sum() < 20:  # propagation found too little: start from the seeds
        anchors = np.full(len(fe), -1, dtype=np.int64)
        anchors[best] = fmatch[best]
        match = np.full(len(fe), -1, dtype=np.int64)
    for _ in range(profile_rounds):
        new, new_score = profile_match(stored_e, stored_p, anchors, hamming=hamming,
                                       transform=transform, min_corr=min_corr, margin=margin)
        if (new >= 0).sum() < (match >= 0).sum() // 2:
            break
        match, score = new, new_score
        if (match == anchors).all():
            break
        anchors = match
    return GraphMatch(match, score, fmatch, fscore, propagated)
