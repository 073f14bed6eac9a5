"""The adelic graph over the zeros and its GCN normalisation.

Node ``i`` (0-based) is the ``(i+1)``-th zero.  For every offset ``d`` in ``{1} ∪ primes``
there is an undirected edge ``(i, i + d)`` for all ``i`` with ``i + d < n`` (an offset ``p``
links consecutive members of each residue class mod ``p``).  Duplicated offsets are
merged, so the graph is binary (no multi-edges).

GCN normalisation with self-loops, written out per edge:

    Â = D^{-1/2} (A + I) D^{-1/2},    D_ii = 1 + deg_A(i)
    Â_ij = 1 / sqrt(D_ii D_jj)

The degree of node ``i`` in the graph on ``n`` nodes is known in closed form,
``deg_A(i) = #{d : i - d >= 0} + #{d : i + d < n}``, so any window of the graph can be
built with the *global* normalisation without building the whole graph
(:func:`adelic_window`).  Everything is vectorised over nodes: one ``arange`` per offset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import Tensor


class GraphConfigError(ValueError):
    """The graph specification (primes, size) is invalid."""


def is_prime(p: int) -> bool:
    if p < 2:
        return False
    if p % 2 == 0:
        return p == 2
    f = 3
    while f * f <= p:
        if p % f == 0:
            return False
        f += 2
    return True


def graph_offsets(primes: Iterable[int]) -> list[int]:
    """Sorted distinct edge offsets ``{1} ∪ primes``, validating the primes."""
    primes = list(primes)
    if not primes:
        raise GraphConfigError("primes is empty: give at least one prime, e.g. primes=[2,3,5]")
    for p in primes:
        if isinstance(p, bool) or int(p) != p:
            raise GraphConfigError(f"primes must be integers, got {p!r}")
        if not is_prime(int(p)):
            raise GraphConfigError(f"primes must be prime numbers, got {p!r}")
    return sorted({1, *(int(p) for p in primes)})


def node_degrees(n_total: int, offsets: Sequence[int], nodes: Tensor) -> Tensor:
    """Degree of each node in ``A + I`` for the graph on ``n_total`` nodes (closed form)."""
    deg = torch.ones_like(nodes, dtype=torch.float64)
    for d in offsets:
        deg += (nodes - d >= 0).to(torch.float64)
        deg += (nodes + d < n_total).to(torch.float64)
    return deg


@dataclass
class AdelicGraph:
    """A (window of the) adelic graph.

    ``edge_index`` (2, E) int64 holds local node ids ``0..num_nodes-1`` for global nodes
    ``first .. first+num_nodes-1``; both directions of every edge and one self-loop per node.
    ``edge_weight`` (E,) float32 are the GCN weights of the graph on ``n_total`` nodes.
    """

    edge_index: Tensor
    edge_weight: Tensor
    num_nodes: int
    first: int
    n_total: int
    offsets: tuple[int, ...]


def undirected_edges(num_nodes: int, offsets: Sequence[int]) -> Tensor:
    """Binary undirected edge list (both directions, no self-loops) of the graph on ``num_nodes``."""
    parts = []
    for d in offsets:
        if d >= num_nodes:
            continue
        src = torch.arange(num_nodes - d, dtype=torch.int64)
        dst = src + d
        parts.append(torch.stack([src, dst]))
        parts.append(torch.stack([dst, src]))
    if not parts:
        return torch.empty(2, 0, dtype=torch.int64)
    return torch.cat(parts, dim=1)


def gcn_weights(edge_index: Tensor, num_nodes: int, deg: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Add one self-loop per node and return ``(edge_index, weights)`` of ``D^-1/2 (A+I) D^-1/2``.

    ``edge_index`` must hold both directions of each edge and no self-loops.  ``deg`` (degree in
    ``A + I`` of each node) defaults to the degree within ``edge_index`` itself (sub-graph
    normalisation, as PyG's ``gcn_norm`` on a Cluster-GCN batch); pass the global degrees to keep
    the full graph's normalisation on a sub-graph.
    """
    loops = torch.arange(num_nodes, dtype=edge_index.dtype, device=edge_index.device)
    ei = torch.cat([edge_index, torch.stack([loops, loops])], dim=1)
    if deg is None:
        deg = torch.bincount(ei[0], minlength=num_nodes).to(torch.float64)
    inv_sqrt = deg.to(torch.float64).rsqrt()
    w = (inv_sqrt[ei[0]] * inv_sqrt[ei[1]]).to(torch.float32)
    return ei, w


def adelic_graph(num_nodes: int, primes: Iterable[int]) -> AdelicGraph:
    """The whole adelic graph on ``num_nodes`` nodes, GCN-normalised."""
    return adelic_window(num_nodes, primes, first=0, last=num_nodes)


def adelic_window(n_total: int, primes: Iterable[int], first: int, last: int) -> AdelicGraph:
    """Nodes ``first .. last-1`` of the graph on ``n_total`` nodes, with the global normalisation.

    A ``k``-layer GCN output at node ``i`` is exact on the window when
    ``first + k * max(offsets) <= i`` (all its ``k``-hop neighbours are inside).
    """
    if int(n_total) != n_total or n_total < 2:
        raise GraphConfigError(f"the graph needs at least 2 nodes, got {n_total!r}")
    if not 0 <= first < last <= n_total:
        raise GraphConfigError(f"window [{first}, {last}) is not inside [0, {n_total})")
    offsets = graph_offsets(primes)
    m = last - first
    ei = undirected_edges(m, offsets)
    deg = node_degrees(n_total, offsets, torch.arange(first, last, dtype=torch.int64))
    ei, w = gcn_weights(ei, m, deg)
    return AdelicGraph(ei, w, m, first, n_total, tuple(offsets))
