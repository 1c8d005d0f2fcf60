"""Attacks on the linear diffusion layer (benchmarks/attack.py ``--diffusion`` runs them).

A diffusion schema stores y = D·x over GF(2): each of the L' stored bits is the XOR of ``t``
keyed CLK bits (``client_sdk.hardening.diffuse``). The layer is linear, so for two records
y_a ⊕ y_b = D·(x_a ⊕ x_b): the XOR of two encodings of one person (a pair the bank has
linked) is the diffusion of a *sparse* vector, the few CLK bits where the two records differ.
When CLK bit u flips, exactly the stored bits tapping u flip together.

- ``coflip_adjacency``: over many linked pairs, stored bits j, k that flip together far more
  often than chance (phi coefficient of their flip indicators ≥ ``min_phi``) are predicted to
  share an input bit: the structure of the layer, recovered from stored encodings and links
  (``adjacency_quality`` scores it against the real taps, which only the benchmark knows).
- ``equality_features``: for each recovered adjacent pair (j, k) = ((u, v), (u, w)) the bit
  1 ⊕ y_j ⊕ y_k = [x_v = x_w], free of the shared bit u: where v and w are both in a frequent
  name's signature it is 1 in every record with that name, so the pattern-mining attack runs
  on these bits.
- ``undo_known_taps`` (t = 2, an upper bound): with the real taps, the tap graph (input bits as
  nodes, stored bits as edges) is inverted on each connected component: x is known up to a
  complement per component, resolved per record by weight (the CLK sets under half its bits).
  Untapped and small-component bits stay 0. The mining attack then runs on that estimate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["adjacency_quality", "coflip_adjacency", "equality_features", "true_adjacency",
           "undo_known_taps"]


def coflip_adjacency(stored: np.ndarray, left: np.ndarray, right: np.ndarray, *,
                     min_phi: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (j < k) of stored bits whose flips across linked pairs correlate (phi ≥
    ``min_phi``).

    >>> y = np.packbits(np.array([[1, 1, 0, 0] * 16, [0, 0, 0, 0] * 16, [1, 1, 1, 1] * 16,
    ...                           [1, 1, 1, 1] * 16], dtype=np.uint8), axis=1)
    >>> j, k = coflip_adjacency(y, np.array([0, 2]), np.array([1, 3]), min_phi=0.9)
    >>> (int(j[0]), int(k[0]))
    (0, 1)
    """
    bits = np.unpackbits(np.ascontiguousarray(stored, dtype=np.uint8), axis=1)
    delta = (bits[left] ^ bits[right]).astype(np.float32)
    m = float(len(delta))
    r = delta.sum(axis=0)
    both = delta.T @ delta
    var = r * (m - r)
    denom = np.sqrt(np.outer(var, var))
    phi = np.divide(both * m - np.outer(r, r), denom, out=np.zeros_like(both), where=denom > 0)
    j, k = np.nonzero(np.triu(phi >= min_phi, k=1))
    return j.astype(np.int64), k.astype(np.int64)


def true_adjacency(taps: np.ndarray) -> set[tuple[int, int]]:
    """Pairs (j < k) of stored bits that share an input bit (from the real taps)."""
    by_input: dict[int, list[int]] = {}
    for j, row in enumerate(taps.tolist()):
        for u in row:
            by_input.setdefault(u, []).append(j)
    out: set[tuple[int, int]] = set()
    for outs in by_input.values():
        for a in range(len(outs)):
            for b in range(a + 1, len(outs)):
                out.add((min(outs[a], outs[b]), max(outs[a], outs[b])))
    return out


def adjacency_quality(j: np.ndarray, k: np.ndarray, taps: np.ndarray) -> tuple[float, float]:
    """(precision, recall) of predicted adjacent pairs against the real taps."""
    truth = true_adjacency(taps)
    predicted = set(zip(j.tolist(), k.tolist(), strict=True))
    hit = len(predicted & truth)
    return (hit / len(predicted) if predicted else float("nan"),
            hit / len(truth) if truth else float("nan"))


def equality_features(stored: np.ndarray, j: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(n, len(j)) 0/1: 1 where stored bits j and k are equal.

    >>> y = np.packbits(np.array([[1, 0, 1] + [0] * 61], dtype=np.uint8), axis=1)
    >>> equality_features(y, np.array([0, 0]), np.array([1, 2])).tolist()
    [[0, 1]]
    """
    bits = np.unpackbits(np.ascontiguousarray(stored, dtype=np.uint8), axis=1)
    return (1 ^ bits[:, j] ^ bits[:, k]).astype(np.uint8)


def undo_known_taps(stored: np.ndarray, taps: np.ndarray, input_bits: int, *,
                    min_component: int = 20) -> np.ndarray:
    """Invert a t = 2 layer with its real taps: (n, input_bits) 0/1 estimate of the CLK bits.

    >>> x = np.zeros((1, 64), dtype=np.uint8); x[0, [3, 4, 5]] = 1
    >>> taps = np.array([[i, i + 1] for i in range(63)] + [[0, 63]])
    >>> y = (x[:, taps[:, 0]] ^ x[:, taps[:, 1]])
    >>> undo_known_taps(np.packbits(y, axis=1), taps, 64, min_component=2)[0, :8].tolist()
    [0, 0, 0, 1, 1, 1, 0, 0]
    """
    if taps.shape[1] != 2:
        raise ValueError("undo_known_taps inverts t = 2 layers only")
    y = np.unpackbits(np.ascontiguousarray(stored, dtype=np.uint8), axis=1)[:, :len(taps)]
    n = len(y)
    adjacency: dict[int, list[tuple[int, int]]] = {}
    for j, (u, v) in enumerate(taps.tolist()):
        adjacency.setdefault(u, []).append((v, j))
        adjacency.setdefault(v, []).append((u, j))
    x = np.zeros((n, input_bits), dtype=np.uint8)
    seen: set[int] = set()
    for root in range(input_bits):
        if root in seen or root not in adjacency:
            continue
        seen.add(root)
        order = [root]
        parent_edge: dict[int, tuple[int, int]] = {}
        stack = [root]
        while stack:
            u = stack.pop()
            for v, j in adjacency[u]:
                if v not in seen:
                    seen.add(v)
                    parent_edge[v] = (u, j)
                    order.append(v)
                    stack.append(v)
        if len(order) < min_component:
            continue
        for v in order[1:]:
            u, j = parent_edge[v]
            x[:, v] = x[:, u] ^ y[:, j]
        comp = np.asarray(order)
        heavy = x[:, comp].sum(axis=1) * 2 > len(comp)
        x[np.ix_(heavy, comp)] ^= 1
    return x
