import numpy as np
import pytest
import scipy.sparse as sp
import torch

from zeta_rmt.graph import GraphConfigError, adelic_graph, adelic_window, graph_offsets, undirected_edges


def brute_force_adjacency(n, primes):
    """A + I by explicit loops over nodes, as the groups described it, then D^-1/2 (A+I) D^-1/2."""
    a = np.zeros((n, n))
    for i in range(n):
        for d in [1, *primes]:
            if i + d < n:
                a[i, i + d] = a[i + d, i] = 1.0
        a[i, i] = 1.0
    deg = a.sum(1)
    return a / np.sqrt(np.outer(deg, deg))


def dense(g):
    m = np.zeros((g.num_nodes, g.num_nodes))
    ei = g.edge_index.numpy()
    np.add.at(m, (ei[0], ei[1]), g.edge_weight.numpy())
    return m


@pytest.mark.parametrize("n,primes", [(2, [2]), (10, [2, 3]), (37, [2, 3, 5, 7, 11, 13]), (60, [11, 13, 17, 19])])
def test_edges_and_weights_equal_brute_force(n, primes):
    g = adelic_graph(n, primes)
    want = brute_force_adjacency(n, primes)
    got = dense(g)
    assert set(map(tuple, g.edge_index.T.tolist())) == set(zip(*np.nonzero(want)))
    # no duplicate edges: each (i, j) appears once
    assert g.edge_index.shape[1] == len(set(map(tuple, g.edge_index.T.tolist())))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_duplicate_primes_do_not_duplicate_edges():
    g1, g2 = adelic_graph(50, [2, 3]), adelic_graph(50, [3, 2, 3, 2])
    assert torch.equal(g1.edge_index, g2.edge_index)


def test_edge_count_formula_large():
    n, primes = 100_000, [2, 3, 5, 7, 11, 13]
    offsets = graph_offsets(primes)
    g = adelic_graph(n, primes)
    assert g.edge_index.shape[1] == 2 * sum(n - d for d in offsets) + n
    assert g.edge_index.dtype == torch.int64 and g.edge_weight.dtype == torch.float32


def test_window_keeps_global_normalisation():
    n, primes = 300, [2, 3, 5]
    full = dense(adelic_graph(n, primes))
    w = adelic_window(n, primes, 120, 260)
    np.testing.assert_allclose(dense(w), full[120:260, 120:260], rtol=1e-6)


def test_window_two_hop_outputs_match_full_graph():
    n, primes = 400, [2, 3, 5, 7]
    full = adelic_graph(n, primes)
    x = torch.randn(n, 3, dtype=torch.float64)
    a = torch.sparse_coo_tensor(full.edge_index, full.edge_weight.double(), (n, n))
    y = torch.sparse.mm(a, torch.sparse.mm(a, x))
    first = n - 50 - 2 * 7
    win = adelic_window(n, primes, first, n)
    aw = torch.sparse_coo_tensor(win.edge_index, win.edge_weight.double(), (win.num_nodes, win.num_nodes))
    yw = torch.sparse.mm(aw, torch.sparse.mm(aw, x[first:]))
    torch.testing.assert_close(yw[-50:], y[-50:], rtol=1e-6, atol=1e-6)


def test_undirected_edges_symmetric_without_self_loops():
    ei = undirected_edges(40, [1, 2, 3])
    pairs = set(map(tuple, ei.T.tolist()))
    assert all((j, i) in pairs for i, j in pairs)
    assert all(i != j for i, j in pairs)


@pytest.mark.parametrize("primes,match", [([], "empty"), ([4], "prime"), ([2.5], "integer"), ([1], "prime")])
def test_bad_primes(primes, match):
    with pytest.raises(GraphConfigError, match=match):
        adelic_graph(10, primes)


def test_bad_window():
    with pytest.raises(GraphConfigError, match="window"):
        adelic_window(10, [2], 5, 11)
