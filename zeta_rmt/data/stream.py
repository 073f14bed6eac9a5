r"""Streaming Cluster-GCN (``data=cluster data.backend=stream``): contiguous blocks built on the fly.

Clusters are the contiguous blocks of PyG's contiguous partition, part(i) = floor(i k / N) for
N nodes and k = ``num_parts``, so block j holds the 0-based nodes

    [s_j, s_{j+1}),    s_j = ceil(j N / k).

A batch of blocks B_1 .. B_b (the sampler's order) is built from index ranges only: nothing
global exists (no edge list of the whole graph, no permutation, no all-node tensor).

* Nodes, in local order: the core nodes of B_1, then of B_2, ... (as PyG's ``ClusterLoader``
  concatenates its clusters), then the halo: the nodes within ``h`` of a block that are in no
  block of the batch, in increasing order.  Halo features enter the GCN; halo nodes are out of
  the train and validation masks, so they carry no loss.
* Edges: the induced sub-graph of the adelic graph (i ~ i +- d for d in {1} U primes) on those
  nodes, rows in local order and each row's columns by increasing global id (the CSR order of
  ``ClusterData`` with the identity permutation of a contiguous partition), then one self-loop per
  node, weighted D^{-1/2}(A + I)D^{-1/2} with D the degree in the batch (``norm=subgraph``) or in the
  graph on N nodes (``norm=global``, closed form :func:`zeta_rmt.graph.node_degrees`).
* With h = 0 these are exactly the batches of ``ClusterData`` + ``ClusterLoader`` on a contiguous
  partition; with h >= L max(d) an L-layer GCN with the global normalisation gives every core node
  its output on the whole graph.
* Features and targets are computed per range from zeros read by range (:class:`ZeroRangeReader`),
  so memory is O(batch + halo) whatever N is.

Blocks go to ranks by :class:`BlockSampler`: each epoch a permutation of the blocks seeded by
(seed, epoch), cut to a multiple of the world size, rank r taking positions r, r + W, r + 2W, ...
(as ``DistributedSampler`` with ``set_epoch``, but dropping the few tail blocks instead of
repeating some, so the ranks' blocks are disjoint).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler
from torch_geometric.data import Data

from zeta_rmt.data.base import DataConfigError, node_features, smooth_heights, zero_targets
from zeta_rmt.data.cluster import ClusterDataModule
from zeta_rmt.graph import gcn_weights, node_degrees
from zeta_rmt.zeros import ZeroDataError
from zeta_rmt.zeros.sources import GeneratorSource, ShardedSource, TableSource, open_source
from zeta_rmt.zeros.textfile import check_values


# -- zeros by range ----------------------------------------------------------------------------
class ZeroRangeReader:
    """gamma_start .. gamma_{start+count-1} from a zero source, never holding more than a few chunks.

    * sharded datasets: each shard's sha256 is checked once (the first time it is touched), then
      ranges are read from its ``.npy`` by byte offset (``fs.cat_file``: local files and ``gs://``
      alike, no shared file position, safe in DataLoader workers);
    * the table and the generator: aligned chunks of ``chunk`` zeros, the last ``cache_chunks``
      kept (the table itself is at most 2·10⁶ zeros);
    * ``.npy`` files and text files: the source's own range read (memory-mapped when local).
    """

    def __init__(self, source: str, chunk: int = 1 << 17, cache_chunks: int = 4, *, allow_low_precision: bool = False):
        self.source_name = source
        self.src = open_source(source, allow_low_precision=allow_low_precision)
        self.first = self.src.first
        self.last = self.src.last
        self.chunk = int(chunk)
        self.cache_chunks = int(cache_chunks)
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()
        self._verified: set[str] = set()
        self._layout: dict[str, tuple[int, np.dtype]] = {}
        self._entries = None

    def holds(self, start: int, end: int) -> bool:
        """Whether zeros start..end (1-based, inclusive) are in the source."""
        return start >= self.first and (self.last is None or end <= self.last)

    def read(self, start: int, count: int) -> np.ndarray:
        start, count = int(start), int(count)
        if count <= 0:
            return np.zeros(0)
        end = start + count - 1
        if not self.holds(start, end):
            raise ZeroDataError(f"source {self.source_name!r} holds zeros {self.first}..{self.last}; "
                                f"requested {start}..{end}")
        if isinstance(self.src, ShardedSource):
            return self._read_sharded(start, count)
        if isinstance(self.src, (TableSource, GeneratorSource)):
            return self._read_chunked(start, count)
        return self.src.load(start, count)

    # sharded datasets: verify once, then read by byte range
    def _read_sharded(self, start: int, count: int) -> np.ndarray:
        ds = self.src.ds
        if self._entries is None:
            self._entries = sorted(ds.entries(), key=lambda e: int(e["start"]))
            self._starts = np.array([int(e["start"]) for e in self._entries], dtype=np.int64)
        out = np.empty(count, dtype=np.float64)
        end = start + count - 1
        i = max(0, int(np.searchsorted(self._starts, start, side="right")) - 1)
        while i < len(self._entries) and int(self._entries[i]["start"]) <= end:
            e = self._entries[i]
            s, c = int(e["start"]), int(e["count"])
            lo, hi = max(s, start), min(s + c - 1, end)
            if lo <= hi:
                out[lo - start: hi - start + 1] = self._shard_slice(e, lo - s, hi - lo + 1)
            i += 1
        return out

    def _shard_slice(self, entry: dict, offset: int, count: int) -> np.ndarray:
        ds = self.src.ds
        name = entry["file"]
        path = ds.path(name)
        if name not in self._verified:
            ds.read_shard(entry)  # checksum, length and ordering: refuses a corrupt shard by name
            self._verified.add(name)
        if name not in self._layout:
            head = ds.fs.cat_file(path, start=0, end=4096)
            import io
            fh = io.BytesIO(head)
            version = np.lib.format.read_magic(fh)
            shape, _, dtype = (np.lib.format.read_array_header_1_0(fh) if version == (1, 0)
                               else np.lib.format.read_array_header_2_0(fh))
            self._layout[name] = (fh.tell(), np.dtype(dtype))
        header, dtype = self._layout[name]
        a = header + offset * dtype.itemsize
        raw = ds.fs.cat_file(path, start=a, end=a + count * dtype.itemsize)
        vals = np.frombuffer(raw, dtype=dtype).astype(np.float64)
        first = int(entry["start"]) + offset
        check_values(vals, f"{ds.url}/{name}", unit="index", first=first)
        return vals

    # table / generator: aligned chunks, least recently used dropped
    def _read_chunked(self, start: int, count: int) -> np.ndarray:
        out = np.empty(count, dtype=np.float64)
        end = start + count - 1
        c = self.chunk
        for k in range((start - 1) // c, (end - 1) // c + 1):
            lo_k = k * c + 1
            vals = self._chunks.get(k)
            if vals is None:
                hi_k = lo_k + c - 1 if self.last is None else min(lo_k + c - 1, self.last)
                vals = self.src.load(lo_k, hi_k - lo_k + 1)
                self._chunks[k] = vals
                while len(self._chunks) > self.cache_chunks:
                    self._chunks.popitem(last=False)
            else:
                self._chunks.move_to_end(k)
            lo, hi = max(lo_k, start), min(lo_k + vals.size - 1, end)
            out[lo - start: hi - start + 1] = vals[lo - lo_k: hi - lo_k + 1]
        return out


# -- blocks ------------------------------------------------------------------------------------
def block_bounds(num_nodes: int, num_parts: int) -> np.ndarray:
    """s_0 .. s_k with s_j = ceil(j N / k): block j is nodes [s_j, s_{j+1}) of PyG's contiguous partition."""
    j = np.arange(num_parts + 1, dtype=np.int64)
    return (j * num_nodes + num_parts - 1) // num_parts


def runs_of(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of consecutive ids in ``nodes`` (local order): (global start, length, local start)."""
    if nodes.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    brk = np.flatnonzero(np.diff(nodes) != 1) + 1
    local = np.concatenate([[0], brk]).astype(np.int64)
    lengths = np.diff(np.concatenate([local, [nodes.size]])).astype(np.int64)
    return nodes[local].astype(np.int64), lengths, local


def batch_nodes(bounds: np.ndarray, blocks: Sequence[int], halo: int, num_nodes: int) -> tuple[np.ndarray, int]:
    """Global ids of a batch in local order (cores of ``blocks`` in order, then the halo ascending)
    and the number of core nodes."""
    cores = [np.arange(bounds[b], bounds[b + 1], dtype=np.int64) for b in blocks]
    core = np.concatenate(cores) if cores else np.zeros(0, dtype=np.int64)
    if halo <= 0:
        return core, core.size
    pieces = []
    for b in blocks:
        s, e = int(bounds[b]), int(bounds[b + 1])
        pieces.append(np.arange(max(0, s - halo), s, dtype=np.int64))
        pieces.append(np.arange(e, min(num_nodes, e + halo), dtype=np.int64))
    extra = np.setdiff1d(np.concatenate(pieces), core)  # sorted, unique, not in any block
    return np.concatenate([core, extra]), core.size


def induced_edges(nodes: np.ndarray, offsets: Sequence[int], num_nodes: int) -> torch.Tensor:
    """Edges (local ids, both directions, no self-loops) of the adelic graph on ``num_nodes`` nodes
    induced on ``nodes``: row-major over the local order, each row's neighbours by increasing id."""
    signed = np.array(sorted([-int(d) for d in offsets] + [int(d) for d in offsets]), dtype=np.int64)
    starts, lengths, local = runs_of(nodes)
    order = np.argsort(starts)
    starts, lengths, local = starts[order], lengths[order], local[order]
    nb = nodes[:, None] + signed[None, :]
    r = np.searchsorted(starts, nb, side="right") - 1
    rc = np.clip(r, 0, None)
    ok = (nb >= 0) & (nb < num_nodes) & (r >= 0) & (nb < starts[rc] + lengths[rc])
    rows = np.broadcast_to(np.arange(nodes.size, dtype=np.int64)[:, None], nb.shape)[ok]
    cols = (local[rc] + nb - starts[rc])[ok]
    return torch.from_numpy(np.stack([rows, cols]))


class BlockBatchBuilder:
    """Builds the PyG ``Data`` of a batch of blocks (see the module docstring for its exact layout)."""

    def __init__(self, dm: "StreamClusterDataModule"):
        self.num_nodes = dm.num_zeros
        self.num_train = dm.num_train
        self.offsets = list(dm.offsets)
        self.bounds = dm.bounds
        self.halo = dm.halo_nodes
        self.norm = dm.norm
        self.features = dm.features
        self.target = dm.target
        self.prime_cutoff = dm.prime_cutoff
        self.reader = dm.reader

    def targets(self, nodes: np.ndarray) -> np.ndarray:
        """y of the 0-based ``nodes`` (float64, NaN where undefined), read run by run."""
        y = np.empty(nodes.size, dtype=np.float64)
        starts, lengths, local = runs_of(nodes)
        for g, m, loc in zip(starts.tolist(), lengths.tolist(), local.tolist()):
            first = g + 1
            if self.target == "spacing" and first > 1:
                z = self.reader.read(first - 1, m + 1)
                y[loc: loc + m] = zero_targets("spacing", z[1:], first, previous=z[0])
            else:
                y[loc: loc + m] = zero_targets(self.target, self.reader.read(first, m), first)
        return y

    def item(self, item: tuple[list[int], bool]) -> Data:
        """A validation item (blocks, scored): unscored items pad the ranks to equal counts, masks empty."""
        blocks, scored = item
        return self(blocks, scored=scored)

    def __call__(self, blocks, scored: bool = True) -> Data:
        blocks = [int(b) for b in (blocks if isinstance(blocks, (list, tuple)) else torch.as_tensor(blocks).reshape(-1).tolist())]
        nodes, n_core = batch_nodes(self.bounds, blocks, self.halo, self.num_nodes)
        n = int(nodes.size)
        ei = induced_edges(nodes, self.offsets, self.num_nodes)
        node_index = torch.from_numpy(nodes)
        deg = node_degrees(self.num_nodes, self.offsets, node_index) if self.norm == "global" else None
        edge_index, edge_weight = gcn_weights(ei, n, deg)
        y = self.targets(nodes)
        defined = np.isfinite(y)
        core = (np.arange(n) < n_core) & scored
        train = core & (nodes < self.num_train) & defined
        val = core & (nodes >= self.num_train) & defined
        x = node_features(nodes + 1, self.features, num_zeros=self.num_nodes, prime_cutoff=self.prime_cutoff)
        # float64 as ZeroGraphDataModule.node_data: raw targets (gamma ~ 1e6) keep their spacings
        return Data(x=x, y=torch.from_numpy(np.nan_to_num(y, nan=0.0)), edge_index=edge_index,
                    edge_weight=edge_weight, node_index=node_index, train_mask=torch.from_numpy(train),
                    val_mask=torch.from_numpy(val), num_nodes=n,
                    train_mask_count=int(train.sum()), val_mask_count=int(val.sum()))


# -- which blocks each rank takes --------------------------------------------------------------
class BlockSampler(DistributedSampler):
    """Items (blocks, or groups of blocks) of one rank for one epoch.

    ``shuffle``: a permutation drawn with ``torch.Generator().manual_seed(seed + epoch)`` (else the
    items in order); ``drop_tail`` (default: as ``shuffle``) cuts it to ``W floor(n / W)`` items, so
    every rank gets the same count and DDP steps stay in lockstep; rank r takes positions r, r + W,
    ... (``set_epoch`` reshuffles).  Without ``drop_tail`` nothing is dropped and the counts may
    differ by one (the caller pads).  A ``DistributedSampler`` subclass, so Lightning keeps it as it is.
    """

    def __init__(self, num_items: int, *, shuffle: bool, seed: int = 0, rank: int = 0, world_size: int = 1,
                 drop_tail: bool | None = None):
        # deliberately not DistributedSampler.__init__ (it needs a dataset and pads); set what Lightning reads
        self.num_items = int(num_items)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.rank = int(rank)
        self.num_replicas = int(world_size)
        self.epoch = 0
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        self.drop_last = self.shuffle if drop_tail is None else bool(drop_tail)
        if self.drop_last and self.num_items < self.num_replicas:
            raise DataConfigError(f"data.num_parts: {self.num_items} blocks cannot give each of "
                                  f"{self.num_replicas} ranks at least one; use more parts or fewer devices")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self) -> list[int]:
        """The epoch's items in the order one process would take them (ranks interleaved)."""
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            items = torch.randperm(self.num_items, generator=g).tolist()
        else:
            items = list(range(self.num_items))
        if self.drop_last:
            items = items[: (self.num_items // self.num_replicas) * self.num_replicas]
        return items

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.rank:: self.num_replicas])

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_items // self.num_replicas
        return len(range(self.rank, self.num_items, self.num_replicas))


def resolve_halo(halo, num_hops: int | None, offsets: Sequence[int]) -> int:
    """``data.halo``: an integer h >= 0, or ``exact`` = num_hops · max(offset) (interior outputs exact)."""
    if halo == "exact":
        if num_hops is None:
            raise DataConfigError("data.halo=exact needs the model's number of GCN layers; give an integer halo")
        return int(num_hops) * max(offsets)
    if isinstance(halo, bool) or not isinstance(halo, int) or halo < 0:
        raise DataConfigError(f"data.halo must be an integer >= 0 or 'exact', got {halo!r}")
    return int(halo)


def loader_seed(shuffle_seed) -> int:
    """The shuffle seed of :class:`BlockSampler`: ``data.shuffle_seed``, else the run's seed (as Lightning's
    DistributedSampler takes it), else 0."""
    if shuffle_seed is not None:
        return int(shuffle_seed)
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


def stream_loader(builder: BlockBatchBuilder, *, num_parts: int, batch_size: int, train: bool, shuffle: bool,
                  shuffle_seed, rank: int, world_size: int, num_workers: int, pin_memory: bool,
                  val_groups: list[list[int]] | None = None) -> DataLoader:
    """The DataLoader of one stage.

    Training, one process, no ``shuffle_seed``: ``range(num_parts)`` with torch's ``RandomSampler``
    (or in order) and ``batch_size`` blocks per batch: PyG ``ClusterLoader``'s own sampling, so a
    fixed ``seed`` gives the same order as ``data.backend=pyg``.  Otherwise :class:`BlockSampler`.
    Validation: only the groups of ``batch_size`` consecutive blocks that hold validation nodes
    (with W ranks, padded by unscored copies of the last group to a multiple of W).
    """
    extra = dict(num_workers=num_workers, pin_memory=pin_memory, persistent_workers=num_workers > 0)
    if num_workers > 0:
        extra["prefetch_factor"] = 4
    if train:
        if world_size == 1 and shuffle_seed is None:
            return DataLoader(range(num_parts), batch_size=batch_size, shuffle=shuffle, collate_fn=builder, **extra)
        sampler = BlockSampler(num_parts, shuffle=shuffle, seed=loader_seed(shuffle_seed), rank=rank,
                               world_size=world_size, drop_tail=True)
        return DataLoader(range(num_parts), batch_size=batch_size, sampler=sampler, collate_fn=builder, **extra)
    groups = list(val_groups or [])
    # DDP: every rank runs the same number of validation steps; the padding items score nothing
    items = [(g, True) for g in groups] + [(groups[-1], False)] * ((-len(groups)) % world_size)
    sampler = BlockSampler(len(items), shuffle=False, rank=rank, world_size=world_size)
    return DataLoader(items, batch_size=None, sampler=sampler, collate_fn=builder.item, **extra)


def validation_groups(bounds: np.ndarray, batch_size: int, num_train: int) -> list[list[int]]:
    """Groups of ``batch_size`` consecutive blocks (as an unshuffled ClusterLoader batches them) that
    hold at least one validation node (index >= num_train)."""
    k = bounds.size - 1
    groups = [list(range(i, min(i + batch_size, k))) for i in range(0, k, batch_size)]
    return [g for g in groups if int(bounds[g[-1] + 1]) > num_train]


# -- the data module --------------------------------------------------------------------------
class StreamClusterDataModule(ClusterDataModule):
    """``data=cluster data.backend=stream``: contiguous blocks of ``N / num_parts`` nodes streamed per batch.

    Holds no array of N entries: zeros are read by range for each batch, the validation loss runs
    over the blocks that hold validation nodes only, and the scoring windows (extrapolation, next
    zero, validation statistics, far window) and the baselines' history (the last 10⁵ zeros) are read
    by range too.  Peak memory is O(batch nodes + halo + the windows), whatever N is.
    """

    backend = "stream"

    #: the predictions dump (validation + extrapolation heights) keeps the last this many nodes
    max_window_nodes = 100_000

    def __init__(self, *args, halo=0, shuffle_seed: int | None = None, **kwargs):
        kwargs.pop("backend", None)
        partitioner = kwargs.get("partitioner")
        if partitioner not in (None, "contiguous"):
            raise DataConfigError(f"data.partitioner={partitioner!r}: data.backend=stream cuts contiguous blocks "
                                  f"only; set data.partitioner=contiguous (or null), or use data.backend=pyg for METIS")
        kwargs["partitioner"] = "contiguous"
        super().__init__(*args, backend="stream", **kwargs)
        if not (halo == "exact" or (isinstance(halo, int) and not isinstance(halo, bool) and halo >= 0)):
            raise DataConfigError(f"data.halo must be an integer >= 0 or 'exact', got {halo!r}")
        if shuffle_seed is not None and (isinstance(shuffle_seed, bool) or not isinstance(shuffle_seed, int)):
            raise DataConfigError(f"data.shuffle_seed must be null or an integer, got {shuffle_seed!r}")
        self.halo = halo
        self.halo_nodes = 0 if halo == "exact" else int(halo)
        self.shuffle_seed = shuffle_seed
        self.bounds = block_bounds(self.num_zeros, self.num_parts)
        self._reader: ZeroRangeReader | None = None
        self._checked = False

    # -- zeros by range -------------------------------------------------------------------
    @property
    def reader(self) -> ZeroRangeReader:
        if self._reader is None:
            try:
                self._reader = ZeroRangeReader(self.source, allow_low_precision=self.allow_low_precision)
            except ZeroDataError as exc:
                raise DataConfigError(f"data.source={self.source!r}: {exc}") from None
        return self._reader

    def _open_source(self):
        return self.reader.src

    def load(self) -> None:
        """Check that the source holds zeros 1..N+K and read the far window (K + 1 zeros); loads nothing else."""
        if self._checked:
            return None
        self.check_source()
        if self.far_window_start is not None:
            f = self.far_window_start
            if self.reader.holds(f - 1, f + self.window - 1):
                self.far_zeros = self.reader.read(f - 1, self.window + 1)
            else:
                self.far_window_note = (f"data.far_window_start={f}: data.source={self.source!r} does not hold "
                                        f"zeros {f - 1}..{f + self.window - 1}; far-window metrics are off")
                import warnings
                warnings.warn(self.far_window_note + " (set data.far_window_start=null to silence)", stacklevel=2)
                self.far_window_start = None
        self._checked = True
        return None

    def zeros_range(self, start: int, count: int) -> np.ndarray:
        self.load()
        if start < 1 or start + count - 1 > self.num_zeros + self.window:
            raise ValueError(f"zeros {start}..{start + count - 1} are outside the run's 1..{self.num_zeros + self.window}")
        try:
            return self.reader.read(start, count)
        except ZeroDataError as exc:
            raise DataConfigError(f"data.source={self.source!r}: {exc}") from exc

    def node_data(self):
        raise RuntimeError("data.backend=stream never builds all N nodes at once; its loaders build each batch")

    def _smooth_at(self, n: torch.Tensor) -> torch.Tensor:
        """T0(n) computed for the batch's own indices (no table of N + K heights)."""
        return torch.from_numpy(smooth_heights(n.detach().double().cpu().numpy())).to(n.device)

    # -- loaders --------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        self.load()
        if self.halo == "exact":
            net = getattr(getattr(self.trainer, "lightning_module", None), "net", None) if self.trainer else None
            self.halo_nodes = resolve_halo("exact", getattr(net, "num_hops", None), self.offsets)

    def _rank(self) -> tuple[int, int]:
        t = self.trainer
        if t is None:
            return 0, 1
        return int(t.global_rank), int(t.world_size)

    def _stream(self, train: bool) -> DataLoader:
        rank, world = self._rank()
        groups = None if train else validation_groups(self.bounds, self.batch_size, self.num_train)
        return stream_loader(BlockBatchBuilder(self), num_parts=self.num_parts, batch_size=self.batch_size,
                             train=train, shuffle=self.shuffle, shuffle_seed=self.shuffle_seed, rank=rank,
                             world_size=world, num_workers=self.num_workers, pin_memory=self._pin(),
                             val_groups=groups)

    def train_dataloader(self):
        return self._stream(True)

    def val_dataloader(self):
        return self._stream(False)

    def describe(self) -> dict:
        d = super().describe()
        sizes = np.diff(self.bounds)
        d.update(backend="stream", halo=self.halo_nodes, block_nodes=[int(sizes.min()), int(sizes.max())],
                 shuffle_seed=self.shuffle_seed)
        return d
