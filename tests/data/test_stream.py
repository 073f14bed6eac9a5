"""The streaming cluster backend (``data.backend=stream``) against PyG's ClusterData + ClusterLoader."""
import json
import resource

import numpy as np
import pytest
import torch

from zeta_rmt.data import ClusterDataModule, DataConfigError
from zeta_rmt.data.stream import (
    BlockSampler, StreamClusterDataModule, ZeroRangeReader, batch_nodes, block_bounds, induced_edges,
)
from zeta_rmt.data.partition import contiguous_partition
from zeta_rmt.graph import adelic_graph, undirected_edges
from zeta_rmt.zeros import ZeroDataError, load_zeros

KEYS = ("x", "y", "node_index", "train_mask", "val_mask")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZETA_RMT_CACHE", str(tmp_path / "cache"))


def canonical(batch):
    """A batch up to the order of nodes inside a block: PyG's ClusterData orders each cluster's nodes
    by an unstable sort of the cluster ids (``index_sort`` -> ``torch.sort``), the stream backend by
    index.  Returns the block sequence, the per-node attributes by index and the edges by global ids."""
    order = torch.argsort(batch.node_index)
    nodes = {k: batch[k][order] for k in KEYS}
    g = batch.node_index[batch.edge_index]
    key = g[0] * (int(batch.node_index.max()) + 1) + g[1]
    eo = torch.argsort(key)
    return nodes, g[:, eo], batch.edge_weight[eo]


def block_sequence(batch, bounds):
    blocks = np.searchsorted(bounds, batch.node_index.numpy(), side="right") - 1
    keep = np.concatenate([[True], blocks[1:] != blocks[:-1]])
    return blocks[keep].tolist()


def assert_same_batches(pyg, stream, bounds):
    assert len(pyg) == len(stream) > 0
    for a, b in zip(pyg, stream):
        assert block_sequence(a, bounds) == block_sequence(b, bounds)
        assert a.num_nodes == b.num_nodes
        na, ea, wa = canonical(a)
        nb, eb, wb = canonical(b)
        for k in KEYS:
            assert torch.equal(na[k], nb[k]), k
        assert torch.equal(ea, eb)
        assert torch.equal(wa, wb)


def modules(**kw):
    common = dict(num_zeros=997, primes=[2, 3, 5, 7], num_parts=13, extrapolation_window=20,
                  far_window_start=None, **kw)
    pyg = ClusterDataModule(**common, partitioner="contiguous", cache_partitions=False)
    stream = ClusterDataModule(**common, backend="stream")
    pyg.setup()
    stream.setup()
    return pyg, stream


@pytest.mark.parametrize("norm", ["subgraph", "global"])
@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("target", ["raw", "spacing"])
def test_stream_equals_pyg_cluster_loader(norm, batch_size, target):
    pyg, stream = modules(norm=norm, batch_size=batch_size, target=target)
    assert isinstance(stream, StreamClusterDataModule) and type(pyg) is ClusterDataModule
    bounds = stream.bounds
    # the partition is PyG's contiguous one
    part = contiguous_partition(997, 13)
    assert np.array_equal(np.searchsorted(bounds, np.arange(997), side="right") - 1, part.numpy())
    for epoch_seed in (5, 6):  # the same shuffled block order under the same global seed
        torch.manual_seed(epoch_seed)
        a = list(pyg.train_dataloader())
        torch.manual_seed(epoch_seed)
        b = list(stream.train_dataloader())
        assert_same_batches(a, b, bounds)
    # validation: PyG's unshuffled batches that hold validation nodes, and nothing else
    a = [x for x in pyg.val_dataloader() if bool(x.val_mask.any())]
    b = list(stream.val_dataloader())
    assert_same_batches(a, b, bounds)
    assert all(bool(x.val_mask.any()) for x in b)
    assert sum(int(x.val_mask.sum()) for x in b) == sum(int(x.val_mask.sum()) for x in pyg.val_dataloader())


def test_induced_edges_are_the_graph_restricted_to_the_nodes():
    n, offsets = 300, (1, 2, 3, 5)
    full = set(map(tuple, undirected_edges(n, offsets).T.tolist()))
    nodes = np.concatenate([np.arange(120, 140), np.arange(10, 25), np.arange(141, 150)])
    ei = induced_edges(nodes, offsets, n)
    got = [tuple(p) for p in nodes[ei.numpy()].T.tolist()]
    want = {(i, j) for (i, j) in full if i in set(nodes.tolist()) and j in set(nodes.tolist())}
    assert len(got) == len(set(got)) and set(got) == want
    # rows in local order, each row's neighbours by increasing id
    rows = ei[0].numpy()
    assert np.all(np.diff(rows) >= 0)
    for r in np.unique(rows)[:10]:
        assert np.all(np.diff(nodes[ei[1].numpy()[rows == r]]) > 0)


def test_halo_enters_the_gcn_not_the_loss():
    dm = ClusterDataModule(num_zeros=1000, primes=[2, 3, 5], num_parts=10, backend="stream", halo=7,
                           shuffle=False, extrapolation_window=10, far_window_start=None)
    dm.setup()
    batches = list(dm.train_dataloader())
    b = batches[3]  # block 3: nodes 300..399, halo 293..299 and 400..406
    assert b.num_nodes == 114
    assert torch.equal(b.node_index[:100], torch.arange(300, 400))
    assert torch.equal(b.node_index[100:], torch.cat([torch.arange(293, 300), torch.arange(400, 407)]))
    assert bool(b.train_mask[:100].all()) and not bool(b.train_mask[100:].any())
    assert b.train_mask_count == 100 and b.val_mask_count == 0
    # every core node's training loss set is unchanged; the first block has only a right halo
    assert torch.equal(batches[0].node_index[100:], torch.arange(100, 107))
    # block-union halos do not repeat nodes of another block of the same batch
    nodes, core = batch_nodes(dm.bounds, [2, 3], 7, 1000)
    assert core == 200 and len(set(nodes.tolist())) == nodes.size == 214


def test_exact_halo_gives_full_graph_outputs_on_core_nodes():
    from zeta_rmt.models.hybrid_gcn import HybridGCN

    torch.manual_seed(0)
    net = HybridGCN(in_channels=1, hidden_channels=8, mlp_layers=1, gcn_layers=2).eval()
    n, primes = 800, [2, 3, 5]
    dm = ClusterDataModule(num_zeros=n, primes=primes, num_parts=8, backend="stream", halo=2 * 5,
                           norm="global", shuffle=False, extrapolation_window=10, far_window_start=None)
    dm.setup()
    g = adelic_graph(n, primes)
    x = dm.features_at(np.arange(1, n + 1))
    with torch.no_grad():
        full = net(x, g.edge_index, g.edge_weight)
        for b in dm.train_dataloader():
            out = net(b.x, b.edge_index, b.edge_weight)
            core = torch.arange(b.num_nodes) < 100
            assert torch.allclose(out[core], full[b.node_index[core]], atol=1e-5)
    # with h = 0 the block edges lose their outside neighbours: outputs differ near block ends
    dm0 = ClusterDataModule(num_zeros=n, primes=primes, num_parts=8, backend="stream", norm="global",
                            shuffle=False, extrapolation_window=10, far_window_start=None)
    dm0.setup()
    b = next(iter(dm0.train_dataloader()))
    with torch.no_grad():
        assert not torch.allclose(net(b.x, b.edge_index, b.edge_weight), full[b.node_index], atol=1e-5)


def test_block_sampler_disjoint_deterministic_reshuffled():
    k, world = 11, 3
    ranks = [BlockSampler(k, shuffle=True, seed=4, rank=r, world_size=world) for r in range(world)]
    epochs = []
    for epoch in (0, 1):
        for s in ranks:
            s.set_epoch(epoch)
        got = [list(s) for s in ranks]
        assert all(len(g) == k // world == len(s) for g, s in zip(got, ranks))
        flat = sum(got, [])
        assert len(set(flat)) == len(flat)  # disjoint across ranks
        one = BlockSampler(k, shuffle=True, seed=4, rank=0, world_size=world)
        one.set_epoch(epoch)
        assert one.order()[0::world] == got[0] and one.order()[1::world] == got[1]
        epochs.append(flat)
    assert epochs[0] != epochs[1]  # reshuffled every epoch
    again = BlockSampler(k, shuffle=True, seed=4, rank=1, world_size=world)
    again.set_epoch(1)
    assert list(again) == got[1]  # (seed, epoch) alone fix the order
    # validation order: every item once, in order, split across ranks
    val = [list(BlockSampler(5, shuffle=False, rank=r, world_size=2)) for r in range(2)]
    assert val == [[0, 2, 4], [1, 3]]
    # unshuffled training still gives every rank the same number of steps
    train = [list(BlockSampler(5, shuffle=False, rank=r, world_size=2, drop_tail=True)) for r in range(2)]
    assert train == [[0, 2], [1, 3]]


def test_ddp_validation_items_padded_to_equal_counts():
    from zeta_rmt.data.stream import BlockBatchBuilder, stream_loader, validation_groups

    dm = ClusterDataModule(num_zeros=400, primes=[2, 3], num_parts=8, backend="stream",
                           extrapolation_window=10, far_window_start=None)
    dm.setup()
    groups = validation_groups(dm.bounds, 1, dm.num_train)
    assert groups == [[7]]  # only the last block holds nodes >= M = 360
    loaders = [stream_loader(BlockBatchBuilder(dm), num_parts=8, batch_size=1, train=False, shuffle=False,
                             shuffle_seed=None, rank=r, world_size=2, num_workers=0, pin_memory=False,
                             val_groups=groups) for r in range(2)]
    b0, b1 = (list(x) for x in loaders)
    assert len(b0) == len(b1) == 1
    assert b0[0].val_mask_count == 40 and b1[0].val_mask_count == 0 and not bool(b1[0].val_mask.any())


def test_shuffle_seed_uses_block_sampler_in_one_process():
    dm = ClusterDataModule(num_zeros=500, primes=[2, 3], num_parts=10, backend="stream", shuffle_seed=3,
                           extrapolation_window=10, far_window_start=None)
    dm.setup()
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, BlockSampler)
    bounds = dm.bounds
    seq = lambda: [block_sequence(b, bounds)[0] for b in loader]
    first = seq()
    torch.manual_seed(123)  # the global RNG does not matter, only (seed, epoch)
    assert seq() == first
    loader.sampler.set_epoch(1)
    assert sorted(seq()) == sorted(first) == list(range(10)) and seq() != first


def test_sharded_source_read_by_range_and_checked(tmp_path):
    from zeta_rmt.zeros.sharded import Dataset

    vals = load_zeros("odlyzko", 1, 2500)
    ds = Dataset(str(tmp_path / "ds"))
    ds.write_plan(1, 2500, 1000, "test")
    for spec in ds.specs():
        ds.write_shard(spec, vals[spec.start - 1: spec.end], {})
    assert ds.finalize()
    r = ZeroRangeReader(str(tmp_path / "ds"))
    assert (r.first, r.last) == (1, 2500)
    assert np.array_equal(r.read(990, 30), vals[989:1019])  # across a shard boundary
    assert np.array_equal(r.read(1, 2500), vals)
    with pytest.raises(ZeroDataError, match="2501"):
        r.read(2490, 12)
    # a corrupt shard is refused on first touch, by name
    shard = sorted((tmp_path / "ds").glob("*.npy"))[2]
    raw = bytearray(shard.read_bytes())
    raw[-8:] = np.float64(1e9).tobytes()
    shard.write_bytes(bytes(raw))
    with pytest.raises(ZeroDataError, match=shard.name):
        ZeroRangeReader(str(tmp_path / "ds")).read(2100, 5)


def test_stream_refusals():
    with pytest.raises(DataConfigError, match="data.partitioner"):
        ClusterDataModule(num_zeros=500, num_parts=10, backend="stream", partitioner="metis")
    with pytest.raises(DataConfigError, match="data.halo"):
        ClusterDataModule(num_zeros=500, num_parts=10, backend="stream", halo=-1)
    with pytest.raises(DataConfigError, match="data.halo"):
        ClusterDataModule(num_zeros=500, num_parts=10, halo=3)  # pyg has no halo
    with pytest.raises(DataConfigError, match="data.backend"):
        ClusterDataModule(num_zeros=500, num_parts=10, backend="dask")
    dm = ClusterDataModule(num_zeros=2_001_000, num_parts=10, backend="stream", extrapolation_window=100,
                           far_window_start=None)
    with pytest.raises(DataConfigError, match="data.num_zeros=2001000"):
        dm.setup()


def test_workers_build_the_same_batches():
    dm = ClusterDataModule(num_zeros=600, primes=[2, 3, 5], num_parts=6, backend="stream", shuffle=False,
                           halo=4, extrapolation_window=10, far_window_start=None)
    dm.setup()
    serial = list(dm.train_dataloader())
    dm.num_workers = 1  # built in a forked worker, prefetched
    loader = dm.train_dataloader()
    assert loader.num_workers == 1 and loader.prefetch_factor == 4
    for a, b in zip(serial, loader):
        for k in (*KEYS, "edge_index", "edge_weight"):
            assert torch.equal(a[k], b[k]), k


def test_configs_compose(make_cfg):
    c = make_cfg("experiment=team2_hyperscale", "data.source=/data/zeros")
    assert c.data.backend == "stream" and c.data.num_zeros == 100_000_000 and c.data.num_parts == 100_000
    assert c.loss.components.gue_mmd.mode == "fast" and c.loss.weights.rg == 0.0
    assert c.hardware.name == "l4" and c.trainer.enable_progress_bar is False
    d = make_cfg("data=cluster", "data.backend=stream", "trainer=ddp", "trainer.devices=2")
    assert d.trainer.strategy == "ddp" and d.trainer.devices == 2 and d.data.halo == 0
    dm = __import__("hydra").utils.instantiate(d.data)
    assert isinstance(dm, StreamClusterDataModule) and dm.describe()["backend"] == "stream"
    # the command line composes to the stream backend with contiguous blocks
    e = make_cfg("data=cluster", "data.backend=stream", "loss=rmt_only", "hardware=cpu", "data.num_zeros=20000")
    dm = __import__("hydra").utils.instantiate(e.data)
    assert dm.partitioner == "contiguous" and dm.bounds[1] == 200


def test_nothing_of_size_n_is_read(monkeypatch):
    """Every zero read is a range of at most max(block + halo, windows, baseline history) zeros, and the
    whole-array loader of the other backends is never called."""
    from zeta_rmt.models.module import BASELINE_HISTORY, VALIDATION_WINDOW_MAX

    from zeta_rmt.zeros.sources import ZeroSource

    n = 400_000
    whole = ZeroSource.load  # the other backends' whole-array read of zeros 1..N+K goes through it

    def no_whole_array(self, start, count):
        if count >= n:
            pytest.fail(f"zeros {start}..{start + count - 1} read at once (the whole-array loader)")
        return whole(self, start, count)

    monkeypatch.setattr(ZeroSource, "load", no_whole_array)
    reads = []
    real = ZeroRangeReader.read
    monkeypatch.setattr(ZeroRangeReader, "read", lambda self, s, c: reads.append(c) or real(self, s, c))
    dm = ClusterDataModule(num_zeros=n, primes=[2, 3, 5, 7, 11], num_parts=200, batch_size=2, backend="stream",
                           halo=22, target="spacing", extrapolation_window=100, far_window_start=None)
    dm.setup()
    assert sum(b.train_mask_count for b in dm.train_dataloader()) == dm.num_train - 1  # zero 1 has no target
    assert sum(b.val_mask_count for b in dm.val_dataloader()) == n - dm.num_train
    block_reads = max(reads)
    assert block_reads <= 2 * 2000 + 2 * 22 + 1  # at most two adjacent blocks and their halos (+ the zero before)
    _, idx, true = dm.extrapolation_batch(2)
    assert np.array_equal(true, load_zeros("odlyzko", n + 1, 100))
    dm.validation_batch(2, VALIDATION_WINDOW_MAX)
    gammas, start = dm.baseline_history(BASELINE_HISTORY)
    assert start == n - BASELINE_HISTORY + 1 and gammas.size == BASELINE_HISTORY
    assert max(reads) <= max(BASELINE_HISTORY, VALIDATION_WINDOW_MAX) < n
