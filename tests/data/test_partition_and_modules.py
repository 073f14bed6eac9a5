import numpy as np
import pytest
import torch
from torch_geometric.loader import ClusterData

from zeta_rmt.data import ClusterDataModule, DataConfigError, FullGraphDataModule, PartitionedClusterData
from zeta_rmt.data.partition import contiguous_partition, metis_partition
from zeta_rmt.graph import adelic_graph, undirected_edges
from zeta_rmt.zeros import load_zeros


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZETA_RMT_CACHE", str(tmp_path / "cache"))


def graph_data(n, offsets=(1, 2, 3, 5, 7, 11)):
    from torch_geometric.data import Data
    return Data(edge_index=undirected_edges(n, offsets), node_index=torch.arange(n), num_nodes=n)


@pytest.mark.parametrize("partitioner", ["metis", "contiguous"])
def test_cluster_data_covers_every_node_once(partitioner, tmp_path):
    n, parts = 2000, 20
    cd = PartitionedClusterData(graph_data(n), parts, partitioner=partitioner, cache_dir=tmp_path, log=False)
    assert isinstance(cd, ClusterData) and len(cd) == parts
    seen = torch.cat([cd[i].node_index for i in range(parts)])
    assert torch.equal(torch.sort(seen).values, torch.arange(n))
    sizes = [cd[i].num_nodes for i in range(parts)]
    assert min(sizes) > 0 and max(sizes) <= 1.1 * n / parts + 1
    # every edge of a cluster is an edge of the graph between two of its nodes
    full = set(map(tuple, undirected_edges(n, (1, 2, 3, 5, 7, 11)).T.tolist()))
    for i in range(parts):
        c = cd[i]
        glob = c.node_index[c.edge_index]
        assert set(map(tuple, glob.T.tolist())) <= full


def test_metis_seeded_and_cut_like_contiguous():
    n, parts = 3000, 30
    ei = undirected_edges(n, (1, 2, 3, 5, 7, 11))
    a = metis_partition(ei, n, parts, seed=1)
    b = metis_partition(ei, n, parts, seed=1)
    assert torch.equal(a, b) and set(a.tolist()) == set(range(parts))
    cut = lambda part: int((part[ei[0]] != part[ei[1]]).sum())
    # on this banded graph contiguous blocks are (close to) optimal; METIS should be comparable
    assert cut(a) <= 1.5 * cut(contiguous_partition(n, parts))


def test_partition_cached_and_reloaded_weights_only(tmp_path, monkeypatch):
    calls = []
    real = metis_partition

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr("zeta_rmt.data.partition.metis_partition", spy)
    d = graph_data(1000)
    c1 = PartitionedClusterData(d, 10, cache_dir=tmp_path, graph_key="g", log=False)
    c2 = PartitionedClusterData(d, 10, cache_dir=tmp_path, graph_key="g", log=False)
    assert len(calls) == 1 and c2.partition_from_cache
    assert torch.equal(c1.partition.node_perm, c2.partition.node_perm)
    assert list(tmp_path.glob("g_metis_10_s0.pt"))


def test_full_graph_module_batch():
    dm = FullGraphDataModule(num_zeros=500, primes=[2, 3], extrapolation_window=10)
    dm.setup()
    (batch,) = list(dm.train_dataloader())
    assert batch.num_nodes == 500 and batch.x.shape == (500, 1)
    np.testing.assert_allclose(batch.x[:, 0].numpy(), np.log(np.arange(1, 501)), rtol=1e-6)
    np.testing.assert_allclose(batch.y.numpy(), load_zeros("odlyzko", 1, 500), rtol=1e-6)
    assert int(batch.train_mask.sum()) == 450 and bool(batch.val_mask[450:].all())
    g = adelic_graph(500, [2, 3])
    # the default batch carries the banded Â; data.graph=edges carries the edge list itself
    x = torch.randn(500, 3, dtype=torch.float64)
    a = torch.sparse_coo_tensor(g.edge_index, g.edge_weight.double(), (500, 500), check_invariants=True)
    torch.testing.assert_close(batch.adj @ x, a @ x, rtol=1e-6, atol=1e-7)
    edges = FullGraphDataModule(num_zeros=500, primes=[2, 3], extrapolation_window=10, graph="edges")
    edges.setup()
    assert torch.equal(edges.graph_data.edge_index, g.edge_index)
    data, idx, true = dm.extrapolation_batch(num_hops=2)
    assert list(idx) == list(range(500, 510))
    np.testing.assert_allclose(true, load_zeros("odlyzko", 501, 10))
    assert int(data.node_index[-1]) == 509


@pytest.mark.parametrize("norm", ["subgraph", "global"])
def test_cluster_module_batches(norm):
    dm = ClusterDataModule(num_zeros=1000, primes=[2, 3, 5], num_parts=10, batch_size=2, norm=norm)
    dm.setup()
    batches = list(dm.val_dataloader())
    assert len(batches) == 5
    seen = torch.cat([b.node_index for b in batches])
    assert torch.equal(torch.sort(seen).values, torch.arange(1000))
    b = batches[0]
    # one self-loop per node, weights 1/sqrt(d_i d_j)
    loops = b.edge_index[0] == b.edge_index[1]
    assert int(loops.sum()) == b.num_nodes
    if norm == "subgraph":
        deg = torch.bincount(b.edge_index[0], minlength=b.num_nodes).double()
    else:
        deg = b.deg.double()
    torch.testing.assert_close(b.edge_weight.double(), (deg[b.edge_index[0]] * deg[b.edge_index[1]]).rsqrt(),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs,match", [
    ({"num_zeros": 5}, "data.num_zeros"),
    ({"num_zeros": 3_000_000}, "holds zeros 1..2001052"),
    ({"primes": []}, "data.primes"),
    ({"train_fraction": 1.5}, "data.train_fraction"),
    ({"features": "foo"}, "data.features"),
    ({"extrapolation_window": 0}, "data.extrapolation_window"),
])
def test_bad_data_config(kwargs, match):

    with pytest.raises(DataConfigError, match=match):
        m = FullGraphDataModule(**{"num_zeros": 100, **kwargs})
        m.setup()


def test_bad_cluster_config():
    with pytest.raises(DataConfigError, match="data.num_parts"):
        ClusterDataModule(num_zeros=100, num_parts=80)
    with pytest.raises(DataConfigError, match="data.partitioner"):
        ClusterDataModule(num_zeros=100, num_parts=4, partitioner="spectral")


def test_extrapolation_padding_gives_full_neighbourhoods():
    """With padding, the scored window's GCN outputs equal those on a graph that goes on past N+K."""
    from zeta_rmt.graph import adelic_graph

    base = FullGraphDataModule(num_zeros=300, primes=[2, 3], extrapolation_window=10)
    padded = FullGraphDataModule(num_zeros=300, primes=[2, 3], extrapolation_window=10, extrapolation_padding=True)
    b0, idx0, true0 = base.extrapolation_batch(num_hops=2)
    b1, idx1, true1 = padded.extrapolation_batch(num_hops=2)
    assert list(idx0) == list(idx1) == list(range(300, 310)) and np.array_equal(true0, true1)
    assert int(b0.node_index[-1]) == 309 and int(b1.node_index[-1]) == 309 + 3 * 3

    def two_hops(batch):
        a = torch.sparse_coo_tensor(batch.edge_index, batch.edge_weight.double(), (batch.num_nodes,) * 2,
                                check_invariants=True)
        out = torch.sparse.mm(a, torch.sparse.mm(a, batch.x.double()))
        return out[(torch.as_tensor(idx0) - int(batch.node_index[0]))][:, 0]

    big = adelic_graph(400, [2, 3])
    x = torch.log(torch.arange(1, 401, dtype=torch.float64)).unsqueeze(-1)
    a = torch.sparse_coo_tensor(big.edge_index, big.edge_weight.double(), (400, 400), check_invariants=True)
    want = torch.sparse.mm(a, torch.sparse.mm(a, x))[300:310, 0]
    torch.testing.assert_close(two_hops(b1), want, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(two_hops(b0), want, rtol=1e-6, atol=1e-6)  # the unpadded window ends at N+K
    with pytest.raises(DataConfigError, match="data.extrapolation_padding"):
        FullGraphDataModule(num_zeros=300, extrapolation_padding="yes")
