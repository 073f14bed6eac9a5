"""What both training regimes share: the zeros, features, targets, split and extrapolation window."""
from __future__ import annotations

import functools
import math
import warnings
from typing import Optional, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch_geometric.data import Data

from zeta_rmt.baselines.explicit import ExplicitFormulaBaseline
from zeta_rmt.graph import adelic_window, graph_offsets
from zeta_rmt.rmt.unfolding import (
    inverse_smooth_count, local_mean_spacing, local_mean_spacing_torch, smooth_count,
    smooth_density,
)
from zeta_rmt.zeros import ZeroDataError, open_source

FEATURES = ("log_n", "unfolded", "prime_sum")
TARGETS = ("raw", "residual", "spacing")
#: input columns of each feature set (the network's ``in_channels`` must match)
FEATURE_WIDTHS = {"log_n": 1, "unfolded": 1, "prime_sum": 3}
DEFAULT_PRIME_CUTOFF = 1000.0


class DataConfigError(ValueError):
    """A data setting is invalid (names the config key)."""


def identity_collate(batch):
    """Collate for loaders whose single item is already a PyG batch."""
    return batch


def smooth_heights(n) -> np.ndarray:
    """T0(n) = N0^{-1}(n - 1/2): the smooth-baseline height of zero n (1-based; real n >= 1 allowed)."""
    return inverse_smooth_count(np.asarray(n, dtype=np.float64) - 0.5)


def zero_targets(kind: str, zeros: np.ndarray, first: int, previous: float | None = None) -> np.ndarray:
    r"""Targets y_n of the zeros ``zeros`` = gamma_first .. gamma_{first+m-1} for ``data.target`` = ``kind``.

    raw: y_n = gamma_n; residual: (gamma_n - T0(n)) / mu(T0(n)); spacing: y_n = N0(gamma_n) - N0(gamma_{n-1}),
    which for the first zero needs ``previous`` = gamma_{first-1} (NaN where it is not given, as for n = 1).
    Every value depends on its own zero (and the one before) only, so targets of a range equal
    the same entries of the targets of 1..N.
    """
    if kind == "raw":
        return zeros
    if kind == "residual":
        t0 = smooth_heights(np.arange(first, first + zeros.size, dtype=np.float64))
        return (zeros - t0) / local_mean_spacing(t0)
    x = smooth_count(zeros)
    head = np.nan if previous is None else x[0] - smooth_count(np.asarray([previous], dtype=np.float64))[0]
    return np.concatenate([[head], np.diff(x)])


@functools.lru_cache(maxsize=4)
def _explicit(prime_cutoff: float) -> ExplicitFormulaBaseline:
    return ExplicitFormulaBaseline(prime_cutoff=prime_cutoff)


def prime_sum_columns(n, prime_cutoff: float = DEFAULT_PRIME_CUTOFF) -> np.ndarray:
    r"""The explicit-formula terms at the smooth position T0 = T0(n), shape (len(n), 2):

        S_X(T0)          = -(1/pi) sum_{p^m <= X} w sin(m T0 log p) / (m p^{m/2}),  w = 1 - log p^m / log X
        S_X'(T0) / N0'(T0),  S_X' = -(1/pi) sum w log p cos(m T0 log p) / p^{m/2}

    both in units of zeros (mean spacings).  Solving N0(T) + S_X(T) = n - 1/2 to first order around
    T0 gives the residual (gamma_n - T0) / mu(T0) ~ -S_X(T0): on zeros 1001..10^4 with X = 1000 that
    linear read-out of the first column has mean |error| 0.045 mean spacings, against 0.236 for the
    smooth baseline (the second column carries the slope, where F_X = N0 + S_X is not monotone).
    """
    t0 = smooth_heights(n)
    s, ds = _explicit(float(prime_cutoff)).oscillating_part(t0)
    return np.stack([s, ds / smooth_density(t0)], axis=-1)


def node_features(indices, kind: str, *, num_zeros: int | None = None,
                  prime_cutoff: float = DEFAULT_PRIME_CUTOFF) -> torch.Tensor:
    r"""Features of nodes with 1-based zero indices ``n`` (integers, or real for dilated indices).

    * ``log_n``:     [log n]  (the groups'), shape (N, 1);
    * ``unfolded``:  [(n - 1/2) / N_train]: the unfolded coordinate N0(gamma_n) ~ n - 1/2 of the
      zero, divided by the number of zeros ``num_zeros`` of the run so the training range is
      (0, 1]; extrapolation nodes have values > 1; shape (N, 1);
    * ``prime_sum``: [log n, S_X(T0), S_X'(T0)/N0'(T0)], the explicit-formula terms at the smooth
      position T0 = N0^{-1}(n - 1/2) for prime powers up to ``prime_cutoff`` (see
      :func:`prime_sum_columns`); shape (N, 3).
    """
    n = np.asarray(indices, dtype=np.float64)
    if kind == "log_n":
        cols = np.log(n)[:, None]
    elif kind == "unfolded":
        if num_zeros is None:
            raise DataConfigError("data.features=unfolded needs the run's num_zeros as its scale")
        cols = ((n - 0.5) / float(num_zeros))[:, None]
    elif kind == "prime_sum":
        cols = np.concatenate([np.log(n)[:, None], prime_sum_columns(n, prime_cutoff)], axis=1)
    else:
        raise DataConfigError(f"data.features: unknown feature set {kind!r}; known: {FEATURES}")
    return torch.from_numpy(np.ascontiguousarray(cols)).to(torch.float32)


def _inverse_smooth_count_torch(x: torch.Tensor) -> torch.Tensor:
    """T = N0^{-1}(x) in float64 with the implicit-function gradient dT/dx = 1 / N0'(T)."""
    t = torch.from_numpy(inverse_smooth_count(np.maximum(x.detach().double().cpu().numpy(), 1e-3))).to(x.device)
    return t + (x - x.detach()) * local_mean_spacing_torch(t)


class ZeroGraphDataModule(pl.LightningDataModule):
    r"""Common base: loads gamma_1 .. gamma_{N+K} and builds train/val masks and the extrapolation window.

    ``num_zeros`` N zeros are used for training and validation: the first ``train_fraction``
    of indices train, the rest validate (an extrapolation split).  The next
    ``extrapolation_window`` K zeros (N+1 .. N+K) are never trained on; they score
    extrapolation.  ``far_window_start`` F (optional) adds a far window, zeros F .. F+K-1, scored
    the same way when the source holds them and F > N + K.

    Targets (``data.target``), with T0(n) = N0^{-1}(n - 1/2) and mu(T) = 2 pi / log(T / 2 pi):

    * ``raw``:      y_n = gamma_n (the groups');                 gamma_hat = y_hat;
    * ``residual``: y_n = (gamma_n - T0(n)) / mu(T0(n)), the offset from the smooth baseline in local
      mean spacings;                                             gamma_hat = T0(n) + mu(T0(n)) y_hat;
    * ``spacing``:  y_n = N0(gamma_n) - N0(gamma_{n-1}), the unfolded spacing by which the sequence
      advances to zero n (the "next spacing" after zero n-1).  No target uses a zero beyond its
      own node, so nothing crosses the train / validation / extrapolation boundaries; zero 1 has
      no target and is left out of the training mask.  Heights are cumulative from the true zero
      just before each run of consecutive nodes (see :meth:`to_gamma`): in the extrapolation
      window that is gamma_N, the last known zero, and the window is predicted free-running.

    Heights from ``residual`` and ``spacing`` outputs are float64 (float32 has 1e-3 resolution at
    heights 1e4, 0.06 at 6e5 - a tenth of a mean spacing).
    """

    regime = "base"

    def __init__(
        self,
        source: str = "odlyzko",
        num_zeros: int = 10_000,
        primes: Sequence[int] = (2, 3, 5, 7, 11, 13),
        train_fraction: float = 0.9,
        extrapolation_window: int = 100,
        features: str = "log_n",
        target: str = "raw",
        prime_cutoff: float = DEFAULT_PRIME_CUTOFF,
        far_window_start: Optional[int] = None,
        extrapolation_padding: bool = False,
        allow_low_precision: bool = False,
    ):
        super().__init__()
        if not isinstance(allow_low_precision, bool):
            raise DataConfigError(f"data.allow_low_precision must be true or false, got {allow_low_precision!r}")
        self.allow_low_precision = allow_low_precision
        if isinstance(num_zeros, bool) or int(num_zeros) != num_zeros or num_zeros < 20:
            raise DataConfigError(f"data.num_zeros must be an integer >= 20, got {num_zeros!r}")
        if not (isinstance(train_fraction, (int, float)) and 0.0 < train_fraction < 1.0):
            raise DataConfigError(f"data.train_fraction must be in (0, 1), got {train_fraction!r}")
        if isinstance(extrapolation_window, bool) or int(extrapolation_window) != extrapolation_window or extrapolation_window < 1:
            raise DataConfigError(f"data.extrapolation_window must be an integer >= 1, got {extrapolation_window!r}")
        if features not in FEATURES:
            raise DataConfigError(f"data.features: unknown feature set {features!r}; known: {FEATURES}")
        if target not in TARGETS:
            raise DataConfigError(f"data.target: unknown target {target!r}; known: {TARGETS}")
        if isinstance(prime_cutoff, bool) or not isinstance(prime_cutoff, (int, float)) or not prime_cutoff >= 2:
            raise DataConfigError(f"data.prime_cutoff must be a number >= 2 (prime powers p^m <= X), got {prime_cutoff!r}")
        if far_window_start is not None and (isinstance(far_window_start, bool) or int(far_window_start) != far_window_start
                                             or far_window_start < 2):
            raise DataConfigError(f"data.far_window_start must be null or a zero index >= 2, got {far_window_start!r}")
        try:
            self.offsets = graph_offsets(list(primes))
        except ValueError as exc:
            raise DataConfigError(f"data.primes: {exc}") from exc
        self.source = source
        self.num_zeros = int(num_zeros)
        self.primes = [int(p) for p in primes]
        self.train_fraction = float(train_fraction)
        self.window = int(extrapolation_window)
        self.features = features
        self.target = target
        self.prime_cutoff = float(prime_cutoff)
        self.far_window_start = None if far_window_start is None else int(far_window_start)
        if not isinstance(extrapolation_padding, bool):
            raise DataConfigError(f"data.extrapolation_padding must be true or false, got {extrapolation_padding!r}")
        self.extrapolation_padding = extrapolation_padding
        self.far_window_note: str | None = None
        self.num_train = int(math.floor(self.train_fraction * self.num_zeros))
        if not 2 <= self.num_train <= self.num_zeros - 2:
            raise DataConfigError(
                f"data.train_fraction={train_fraction} leaves {self.num_train} train and "
                f"{self.num_zeros - self.num_train} validation zeros; both need at least 2"
            )
        if self.far_window_start is not None and self.far_window_start <= self.num_zeros + self.window:
            self.far_window_note = (
                f"data.far_window_start={self.far_window_start} is not beyond the extrapolation window "
                f"(zeros up to N+K = {self.num_zeros + self.window}): far-window metrics are off"
            )
            warnings.warn(self.far_window_note + " (set data.far_window_start=null or a larger index)", stacklevel=2)
            self.far_window_start = None
        self._source = None  # the opened data.source (see _open_source)
        self.zeros: np.ndarray | None = None
        self.far_zeros: np.ndarray | None = None  # gamma_{F-1} .. gamma_{F+K-1}
        self._smooth_cache: torch.Tensor | None = None
        self._feature_cache: dict = {}

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        # PyG batches move themselves; Lightning's generic collection walk is ~10x slower here. (On the
        # data module, where Lightning looks first: on the model it warned on every run.)
        if hasattr(batch, "to") and (hasattr(batch, "edge_index") or hasattr(batch, "adj")):
            return batch.to(device, non_blocking=True)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    # -- loading ---------------------------------------------------------------------------
    def check_source(self):
        """Open ``data.source`` and check it holds zeros 1..N+K, reading no zeros: called before anything
        is built, so a missing or malformed source is the first thing a user reads.  Returns the source."""
        need = self.num_zeros + self.window
        src = self._open_source()
        if src.first > 1 or (src.last is not None and src.last < need):
            held = f"zeros {src.first}..{src.last}" if src.last is not None else f"zeros from {src.first}"
            raise DataConfigError(
                f"data.source={self.source!r} holds {held}, but data.num_zeros={self.num_zeros} plus "
                f"data.extrapolation_window={self.window} need zeros 1..{need}: lower data.num_zeros or use a "
                f"source that holds them (data.source=odlyzko holds 1..2001052, data.source=generate any)"
            )
        return src

    def _open_source(self):
        """The opened ``data.source``, once per module (train() checks it first, load() reads from it)."""
        if self._source is None:
            try:
                self._source = open_source(self.source, allow_low_precision=self.allow_low_precision)
            except ZeroDataError as exc:  # the message names the file, line or shard
                raise DataConfigError(f"data.source={self.source!r}: {exc}") from None
        return self._source

    def load(self) -> np.ndarray:
        """gamma_1 .. gamma_{N+K} (float64); cached on the module.  Also loads the far window."""
        if self.zeros is None:
            need = self.num_zeros + self.window
            src = self.check_source()
            try:
                self.zeros = np.asarray(src.load(1, need), dtype=np.float64)
            except ZeroDataError as exc:  # bad values inside the range: the message names file and index
                raise DataConfigError(f"data.source={self.source!r}: {exc}") from None
            if self.far_window_start is not None:
                f = self.far_window_start
                try:
                    self.far_zeros = np.asarray(src.load(f - 1, self.window + 1), dtype=np.float64)
                except ZeroDataError as exc:
                    self.far_window_note = (f"data.far_window_start={f}: data.source={self.source!r} does not hold "
                                            f"zeros {f - 1}..{f + self.window - 1} ({exc}); far-window metrics are off")
                    warnings.warn(self.far_window_note + " (set data.far_window_start=null to silence)", stacklevel=2)
                    self.far_window_start = None
        return self.zeros

    @property
    def num_features(self) -> int:
        """Input columns of ``data.features`` (the network's ``in_channels``)."""
        return FEATURE_WIDTHS[self.features]

    @property
    def has_far_window(self) -> bool:
        self.load()
        return self.far_window_start is not None

    def features_at(self, n) -> torch.Tensor:
        """Feature rows for 1-based zero indices ``n`` (array or tensor; real values allowed).

        Cached by the index values (the rg penalty asks for the same dilated batch every step).
        """
        arr = n.detach().double().cpu().numpy() if torch.is_tensor(n) else np.asarray(n, dtype=np.float64)
        key = (arr.size, float(arr[0]) if arr.size else 0.0, hash(arr.tobytes()))
        hit = self._feature_cache.get(key)
        if hit is None:
            hit = node_features(arr, self.features, num_zeros=self.num_zeros, prime_cutoff=self.prime_cutoff)
            if len(self._feature_cache) >= 256:
                self._feature_cache.clear()
            self._feature_cache[key] = hit
        return hit

    def _targets(self, zeros: np.ndarray) -> np.ndarray:
        """Training targets of zeros 1..N (float64) for ``data.target``; NaN where undefined."""
        return zero_targets(self.target, zeros, first=1)

    def zeros_range(self, start: int, count: int) -> np.ndarray:
        """Known zeros gamma_start .. gamma_{start+count-1} (1-based, float64).

        Here a slice of :meth:`load`; the streaming backend reads the range from its source instead.
        """
        zeros = self.load()
        if start < 1 or start + count - 1 > zeros.size:
            raise ValueError(f"zeros {start}..{start + count - 1} are outside the loaded 1..{zeros.size}")
        return zeros[start - 1: start - 1 + count]

    def baseline_history(self, count: int) -> tuple[np.ndarray, int]:
        """The last ``count`` (at most) training/validation zeros and the 1-based index of the first."""
        start = max(1, self.num_zeros - int(count) + 1)
        return self.zeros_range(start, self.num_zeros - start + 1), start

    def node_data(self) -> Data:
        """Node attributes of the N training/validation nodes (no edges)."""
        zeros = self.load()
        n = np.arange(1, self.num_zeros + 1)
        x = node_features(n, self.features, num_zeros=self.num_zeros, prime_cutoff=self.prime_cutoff)
        y = self._targets(zeros[: self.num_zeros])
        defined = torch.from_numpy(np.isfinite(y))
        y = torch.from_numpy(np.nan_to_num(y, nan=0.0))  # float64: raw targets (gamma ~ 1e6) keep their spacings
        node_index = torch.arange(self.num_zeros, dtype=torch.int64)
        train_mask = (node_index < self.num_train) & defined
        val_mask = (node_index >= self.num_train) & defined
        return Data(x=x, y=y, node_index=node_index, train_mask=train_mask, val_mask=val_mask,
                    num_nodes=self.num_zeros)

    # -- from model outputs to heights -----------------------------------------------------
    def _smooth_at(self, n: torch.Tensor) -> torch.Tensor:
        """T0(n) (float64) for 1-based indices n; integer n <= N+K from a cached table."""
        if self._smooth_cache is None:
            self._smooth_cache = torch.from_numpy(smooth_heights(np.arange(1, self.num_zeros + self.window + 1)))
        if not torch.is_floating_point(n) and n.numel() and int(n.max()) <= self._smooth_cache.numel() and int(n.min()) >= 1:
            return self._smooth_cache.to(n.device)[n - 1]
        arr = n.detach().double().cpu().numpy()
        key = ("T0", arr.size, hash(arr.tobytes()))
        hit = self._feature_cache.get(key)
        if hit is None:  # dilated indices of the scale rg penalty: the same every step
            hit = torch.from_numpy(smooth_heights(arr))
            if len(self._feature_cache) >= 256:
                self._feature_cache.clear()
            self._feature_cache[key] = hit
        return hit.to(n.device)

    def known_zero(self, k: np.ndarray) -> np.ndarray:
        """True heights of the *known* zeros k (1-based): zeros 1..N, and gamma_{F-1} as the anchor of
        the far window.  Anything else (the extrapolation window, unseen zeros) raises."""
        k = np.asarray(k, dtype=np.int64)
        self.load()
        out = np.empty(k.shape)
        inside = (k >= 1) & (k <= self.num_zeros)
        for i in np.flatnonzero(inside):  # a few run anchors per batch
            out[i] = self.zeros_range(int(k[i]), 1)[0]
        far = ~inside & (self.far_window_start is not None) & (k == (self.far_window_start or 0) - 1)
        out[far] = self.far_zeros[0] if self.far_zeros is not None else np.nan
        bad = ~(inside | far)
        if bad.any():
            raise ValueError(
                f"data.target=spacing: a run of consecutive nodes starting at zero {int(k[bad][0]) + 1} needs the true "
                f"zero {int(k[bad][0])} as its anchor, which is not a known zero (known: 1..{self.num_zeros})"
            )
        return out

    def to_gamma(self, pred: torch.Tensor, node_index: torch.Tensor) -> torch.Tensor:
        r"""Map model outputs (target space) of the nodes ``node_index`` (0-based) to heights gamma.

        raw: identity.  residual: T0(n) + mu(T0(n)) y_hat (n = node_index + 1).  spacing: nodes are
        sorted by index and split into runs of consecutive indices; a run a..b starting at zero
        n_a = a + 1 is anchored at the true previous zero gamma_{n_a - 1} (which must be known, see
        :meth:`known_zero`) and

            gamma_hat_n = N0^{-1}( N0(gamma_{n_a - 1}) + sum_{k = n_a}^{n} s_hat_k ),   n in run,

        so consecutive predicted heights differ by exactly the predicted unfolded spacings.
        Gradients flow to ``pred`` (N0^{-1} by the implicit-function rule).
        """
        if self.target == "raw":
            return pred
        if self.target == "residual":
            t0 = self._smooth_at(node_index + 1)
            return t0 + local_mean_spacing_torch(t0) * pred.double()
        if pred.numel() == 0:
            return pred.double()
        order = torch.argsort(node_index)
        idx = node_index[order]
        s = pred[order].double()
        start = torch.ones_like(idx, dtype=torch.bool)
        start[1:] = (idx[1:] - idx[:-1]) != 1
        run = torch.cumsum(start.long(), 0) - 1
        csum = torch.cumsum(s, 0)
        offset = (csum - s)[start]  # cumulative sum before each run's first node
        anchors = torch.from_numpy(smooth_count(self.known_zero(idx[start].cpu().numpy()))).to(s.device)
        x = anchors[run] + csum - offset[run]
        gamma = _inverse_smooth_count_torch(x)
        out = torch.empty_like(gamma)
        out[order] = gamma
        return out

    def gamma_at(self, pred: torch.Tensor, n: torch.Tensor) -> Optional[torch.Tensor]:
        """Pointwise height of an output at a (possibly non-integer) 1-based index ``n``, for the
        dilated predictions of the scale rg penalty: raw -> y_hat, residual -> T0(n) + mu y_hat;
        ``None`` for the spacing target (its heights are cumulative, not pointwise)."""
        if self.target == "raw":
            return pred
        if self.target == "residual":
            t0 = self._smooth_at(n)
            return t0 + local_mean_spacing_torch(t0) * pred.double()
        return None

    # -- extrapolation ---------------------------------------------------------------------
    def window_batch(self, n_total: int, num_hops: int, last_k: int, pad: int = 0) -> tuple[Data, np.ndarray]:
        """A graph window holding the last ``last_k`` nodes of the graph on ``n_total`` nodes.

        It starts ``num_hops · max(offset)`` nodes earlier, so a ``num_hops``-layer GCN gives the
        same outputs on those ``last_k`` nodes as on the whole graph (global normalisation).
        ``pad > 0`` builds the graph on ``n_total + pad`` nodes instead (features only, nothing
        scored there), so the scored nodes keep their forward neighbours.
        Returns the batch and the 0-based indices of the scored nodes.
        """
        self.load()
        first = max(0, n_total - last_k - num_hops * max(self.offsets))
        end = n_total + int(pad)
        g = adelic_window(end, self.primes, first, end)
        n = np.arange(first + 1, end + 1)
        data = Data(x=self.features_at(n), edge_index=g.edge_index, edge_weight=g.edge_weight,
                    node_index=torch.arange(first, end, dtype=torch.int64), num_nodes=g.num_nodes)
        return data, np.arange(n_total - last_k, n_total)

    def _true_heights(self, idx: np.ndarray) -> np.ndarray:
        """gamma of the consecutive 0-based nodes ``idx`` (zeros idx[0]+1 .. idx[-1]+1)."""
        return np.array(self.zeros_range(int(idx[0]) + 1, int(idx.size)))

    def _padding(self, num_hops: int) -> int:
        """Nodes added after a scored window when ``data.extrapolation_padding`` is on: enough for
        every scored node to have all its ``num_hops``-hop neighbours with their own full degrees
        (hence one hop more), as interior training nodes do."""
        return (num_hops + 1) * max(self.offsets) if self.extrapolation_padding else 0

    def extrapolation_batch(self, num_hops: int) -> tuple[Data, np.ndarray, np.ndarray]:
        """Batch for predicting zeros N+1 .. N+K on the graph of N+K nodes (N+K+padding with
        ``data.extrapolation_padding``), the 0-based indices scored and their true heights."""
        data, idx = self.window_batch(self.num_zeros + self.window, num_hops, self.window, self._padding(num_hops))
        return data, idx, self._true_heights(idx)

    def next_zero_batch(self, num_hops: int) -> tuple[Data, np.ndarray, np.ndarray]:
        """The groups' check: rebuild the graph for N+1 nodes and predict zero N+1."""
        data, idx = self.window_batch(self.num_zeros + 1, num_hops, 1)
        return data, idx, self._true_heights(idx)

    def validation_batch(self, num_hops: int, max_nodes: Optional[int] = None) -> tuple[Data, np.ndarray, np.ndarray]:
        """The validation zeros M+1 .. N (the last ``max_nodes`` of them if given) predicted on the
        training graph (N nodes, global normalisation): batch, 0-based indices, true heights."""
        count = self.num_zeros - self.num_train
        if max_nodes is not None:
            count = min(count, int(max_nodes))
        data, idx = self.window_batch(self.num_zeros, num_hops, count)
        return data, idx, self._true_heights(idx)

    def far_batch(self, num_hops: int) -> tuple[Data, np.ndarray, np.ndarray] | None:
        """Zeros F .. F+K-1 on the graph of F+K-1 nodes (``None`` without a far window)."""
        if not self.has_far_window:
            return None
        data, idx = self.window_batch(self.far_window_start + self.window - 1, num_hops, self.window,
                                      self._padding(num_hops))
        return data, idx, self.far_zeros[1:]

    def describe(self) -> dict:
        self.load()
        return {
            "regime": self.regime, "source": self.source, "num_zeros": self.num_zeros,
            "num_train": self.num_train, "num_val": self.num_zeros - self.num_train,
            "extrapolation_window": self.window, "primes": self.primes,
            "features": self.features, "target": self.target,
            "far_window_start": self.far_window_start, "far_window_note": self.far_window_note,
        }
