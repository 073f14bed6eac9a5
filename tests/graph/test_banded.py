"""The banded Â (shifted copies) and the CSR edge-list operator against the explicit adelic graph."""
import pytest
import torch

from zeta_rmt.graph import adelic_graph, adelic_window, gcn_weights, undirected_edges
from zeta_rmt.graph.banded import banded_graph, banded_product, banded_window
from zeta_rmt.graph.sparse import SparseAdjacency

PRIMES = [2, 3, 5, 7, 11, 13]


def dense(g):
    a = torch.zeros(g.num_nodes, g.num_nodes, dtype=torch.float64)
    a.index_put_((g.edge_index[1], g.edge_index[0]), g.edge_weight.double(), accumulate=True)
    return a


@pytest.mark.parametrize("first,last,n_total", [(0, 300, 300), (40, 260, 300), (0, 17, 1000), (990, 1000, 1000)])
def test_banded_window_equals_the_adelic_window(first, last, n_total):
    x = torch.randn(last - first, 5, dtype=torch.float64)
    want = dense(adelic_window(n_total, PRIMES, first, last)) @ x
    got = banded_window(n_total, PRIMES, first, last) @ x
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)  # the edge list stores float32 weights


def test_subgraph_norm_is_the_window_as_its_own_graph():
    x = torch.randn(120, 3, dtype=torch.float64)
    ei, w = gcn_weights(undirected_edges(120, [1, *PRIMES]), 120)  # degrees within the block
    a = torch.zeros(120, 120, dtype=torch.float64)
    a.index_put_((ei[1], ei[0]), w.double(), accumulate=True)
    torch.testing.assert_close(banded_window(5000, PRIMES, 300, 420, norm="subgraph") @ x, a @ x,
                               rtol=1e-6, atol=1e-7)


def test_float32_product_and_1d_inputs():
    g = adelic_graph(2000, PRIMES)
    x = torch.randn(2000, 64)
    want = (dense(g) @ x.double()).float()
    adj = banded_graph(2000, PRIMES)
    torch.testing.assert_close(adj @ x, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(adj @ x[:, 0], want[:, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(banded_product(x, adj.dinv.float(), adj.offsets), want, rtol=1e-5, atol=1e-5)


def test_backward_is_the_same_operator():
    adj = banded_graph(30, [2, 3])
    x = torch.randn(30, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: adj @ v, (x,))
    sp = SparseAdjacency(*adj.edge_list(), 30)
    assert torch.autograd.gradcheck(lambda v: sp @ v, (x,))


def test_edge_list_and_csr_operator_reproduce_the_graph():
    g = adelic_graph(500, PRIMES)
    adj = banded_graph(500, PRIMES)
    ei, w = adj.edge_list()
    assert ei.shape == g.edge_index.shape
    a1, a2 = dense(g), torch.zeros(500, 500, dtype=torch.float64)
    a2.index_put_((ei[1], ei[0]), w.double(), accumulate=True)
    torch.testing.assert_close(a2, a1, rtol=1e-6, atol=1e-7)
    x = torch.randn(500, 7)
    torch.testing.assert_close(SparseAdjacency(g.edge_index, g.edge_weight, 500) @ x, (a1 @ x.double()).float(),
                               rtol=1e-5, atol=1e-5)


def test_bad_windows_and_shapes_are_refused():
    with pytest.raises(ValueError, match="window"):
        banded_window(100, PRIMES, 50, 150)
    with pytest.raises(ValueError, match="norm"):
        banded_window(100, PRIMES, 0, 100, norm="local")
    with pytest.raises(ValueError, match="100 nodes"):
        banded_graph(100, PRIMES) @ torch.zeros(99, 2)
