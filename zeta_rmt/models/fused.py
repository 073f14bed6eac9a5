r"""The hybrid GCN on a banded Â, forward and backward written out over reused buffers.

For the whole graph (N up to 10⁷) every activation is an (N, C) tensor of N·C·4 bytes (1 GB at
N = 2·10⁶, C = 128), and a fresh one costs its page faults on first touch (0.2–2 s per GB on a
shared CPU).  Plain autograd allocates ~20 of them per step.  Here one autograd node runs the
whole network:

    forward   h_l = ReLU(h_{l−1} W_lᵀ + b_l)                 l = 1..L   (MLP, h_0 = x)
              r_k = ReLU(Â (r_{k−1} Θ_k) + c_k)              k = 1..K−1 (r_0 = h_L)
              ŷ   = Â (r_{K−1} Θ_K) + c_K  [+ h_L w_skip]    (float64 when the head is)
    backward  with δ = ∂L/∂ŷ, going down the layers (⊙ 1[· > 0] for each ReLU, Â symmetric):
              ∂c_K = Σδ,  u = Â δ,  ∂Θ_K = r_{K−1}ᵀ u,  ∂r_{K−1} = u Θ_K (+ δ w_skipᵀ into ∂h_L)
              g = ∂r_k ⊙ 1[r_k > 0]:  ∂c_k = Σ g,  u = Â g,  ∂Θ_k = r_{k−1}ᵀ u,  ∂r_{k−1} = u Θ_k
              g = ∂h_l ⊙ 1[h_l > 0]:  ∂b_l = Σ g,  ∂W_l = gᵀ h_{l−1},  ∂h_{l−1} = g W_l

saving only the L + K − 1 post-ReLU activations (ReLU's mask is ``> 0`` of its output) in buffers
that are kept across steps, with two more as scratch (the no-gradient passes, such as the rg
penalty's, use the scratch pair and never touch a pending backward's activations).  Same values as
the layer-by-layer path to float32 rounding (tested).  Without graph-layer biases
(``model.net.bias=false``) the c_k and their gradients are left out.
"""
from __future__ import annotations

import weakref
from typing import Optional

import torch
from torch import Tensor, nn

from zeta_rmt.graph.banded import BandedAdjacency, banded_product_into
from zeta_rmt.models.kernels import head_input_grad, head_product, head_weight_grad, relu_backward_

#: workspaces kept per (N, C, dtype, device): the training graph and a few scoring windows
MAX_WORKSPACES = 4
#: activation sets kept for reuse per workspace (two grad passes per step: the scale rg penalty)
MAX_POOLED = 2


class _Workspace:
    """Buffers for one graph size: the activation sets of past forwards (reusable once their backward
    ran) and a scratch pair."""

    def __init__(self, n: int, c: int, n_saved: int, dtype, device):
        self.shape = (n, c)
        self.dtype, self.device = dtype, device
        self.n_saved = n_saved
        self.done: list["_Lease"] = []  # leases whose backward ran: their sets can be taken
        self.scratch = [torch.empty(n, c, dtype=dtype, device=device) for _ in range(2)]

    def take(self) -> list[Tensor]:
        while self.done:
            old = self.done.pop(0)
            if old.bufs is not None:
                bufs, old.bufs = old.bufs, None  # a later backward through the old graph is refused
                return bufs
        return [torch.empty(*self.shape, dtype=self.dtype, device=self.device) for _ in range(self.n_saved)]

    def backward_done(self, lease: "_Lease") -> None:
        if lease not in self.done:
            self.done.append(lease)
            del self.done[:-MAX_POOLED]


class _Lease:
    """The activation set of one forward.  After its backward the set may be taken by a later forward;
    until then (``retain_graph``) the graph can be backwarded again."""

    def __init__(self, ws: _Workspace):
        self.ws = ws
        self.bufs: Optional[list[Tensor]] = ws.take()


def _read_out(r: Tensor, theta: Tensor, bias: Tensor, adj: BandedAdjacency, skip_term: Optional[Tensor]) -> Tensor:
    """ŷ = Â (r Θ_Kᵀ) [+ c_K] [+ h_L w_skip], in the head's dtype; one column squeezed to (n,)."""
    t = head_product(r, theta).contiguous()
    y = torch.empty_like(t)
    banded_product_into(t, adj._dinv_for(t), adj.offsets, y)
    if bias is not None:
        y.add_(bias)
    if skip_term is not None:
        y.add_(skip_term)
    return y[:, 0] if y.shape[1] == 1 else y


def _linear_into(h: Tensor, weight: Tensor, bias: Optional[Tensor], out: Tensor) -> Tensor:
    if bias is None:
        return torch.mm(h, weight.t(), out=out)
    return torch.addmm(bias, h, weight.t(), out=out)


class _FusedGCN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, engine, lease, *params):
        mlp, convs, skip = engine.unpack(params)
        adj: BandedAdjacency = engine.adj
        dinv = adj._dinv_for(x)
        a, b = lease.ws.scratch
        saved = lease.bufs
        h_prev = x
        for i, (w, bias) in enumerate(mlp):  # h_l into saved[i]
            h_prev = _linear_into(h_prev, w, bias, saved[i]).relu_()
        h_l = h_prev
        r = h_l
        hidden = convs[:-1]
        for k, (theta, c) in enumerate(hidden):
            torch.mm(r, theta.t(), out=a)
            out = saved[len(mlp) + k]
            banded_product_into(a, dinv, adj.offsets, out, work=b)
            r = (out if c is None else out.add_(c)).relu_()
        out = _read_out(r, *convs[-1], adj, head_product(h_l, skip) if skip is not None else None)
        ctx.engine, ctx.lease = engine, lease
        ctx.save_for_backward(x, *params)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        engine, lease = ctx.engine, ctx.lease
        x, *params = ctx.saved_tensors
        mlp, convs, skip = engine.unpack(params)
        adj = engine.adj
        saved = lease.bufs
        if saved is None:
            raise RuntimeError(
                "fused GCN: this graph's activation buffers were reused by a later forward (they are kept across "
                "steps); backward through a retained graph only before the next forward, or set model.net.fused=false")
        g_scr, u_scr = lease.ws.scratch
        dinv = adj._dinv_for(x)
        grads_mlp, grads_conv = [], []
        delta = grad_out.reshape(grad_out.shape[0], -1).contiguous()
        n_mlp = len(mlp)
        acts = saved[: n_mlp + len(convs) - 1]  # h_1..h_L, r_1..r_{K-1}
        h_l = acts[n_mlp - 1]
        # head
        theta_k, _ = convs[-1]
        u = torch.empty_like(delta)
        banded_product_into(delta, adj._dinv_for(delta), adj.offsets, u)
        r_prev = acts[-1]
        d_theta = head_weight_grad(u, r_prev)
        grads_conv.append((d_theta, delta.sum(0) if convs[-1][1] is not None else None))
        d_r = head_input_grad(u, theta_k, g_scr)
        d_skip = None
        if skip is not None:
            d_skip = head_weight_grad(delta, h_l)
        # hidden convolutions, top down; g_scr holds ∂r_k
        for k in range(len(convs) - 2, -1, -1):
            theta, _ = convs[k]
            r_k = acts[n_mlp + k]
            g = relu_backward_(d_r, r_k)  # in place on g_scr
            d_c = g.sum(0) if convs[k][1] is not None else None
            banded_product_into(g, dinv, adj.offsets, u_scr)
            r_prev = acts[n_mlp + k - 1]
            d_theta = u_scr.t() @ r_prev
            grads_conv.append((d_theta, d_c))
            d_r = torch.mm(u_scr, theta, out=g_scr)
        grads_conv.reverse()
        # MLP, top down: d_r is ∂h_L
        if skip is not None:  # rank one: ∂h_L += δ w_skip, in place
            d_r.addcmul_(delta.to(d_r.dtype), skip.to(d_r.dtype))
        d_h = d_r
        for i in range(n_mlp - 1, -1, -1):
            w, _ = mlp[i]
            g = relu_backward_(d_h, acts[i])
            d_b = g.sum(0)
            below = acts[i - 1] if i > 0 else x
            d_w = g.t() @ below
            grads_mlp.append((d_w, d_b))
            if i > 0:  # into whichever scratch buffer g is not
                d_h = torch.mm(g, w, out=u_scr if g is g_scr else g_scr)
        grads_mlp.reverse()
        lease.ws.backward_done(lease)
        flat = []
        for d_w, d_b in grads_mlp:
            flat += [d_w, d_b]
        for d_theta, d_c in grads_conv:  # no entry for an absent bias (model.net.bias=false)
            flat += [d_theta] if d_c is None else [d_theta, d_c]
        if skip is not None:
            flat.append(d_skip)
        flat = [g_.to(p.dtype) for g_, p in zip(flat, params)]
        return (None, None, None, *flat)


class FusedBandedEngine:
    """Runs a :class:`~zeta_rmt.models.hybrid_gcn.HybridGCN` (``conv=banded``) on a banded Â with reused
    buffers.  ``net`` supplies the parameters; one engine per network, workspaces per graph size."""

    def __init__(self, net: nn.Module):
        self._net = weakref.ref(net)
        self._ws: dict = {}
        self.adj: Optional[BandedAdjacency] = None

    def params(self) -> list[Tensor]:
        net = self._net()
        out: list[Tensor] = []
        for layer in net.mlp:
            if isinstance(layer, nn.Linear):
                out += [layer.weight, layer.bias]
        for conv in net.convs:
            out += [conv.lin.weight] if conv.bias is None else [conv.lin.weight, conv.bias]
        if net.skip is not None:
            out.append(net.skip.weight)
        return out

    def unpack(self, params):
        net = self._net()
        n_mlp = sum(1 for layer in net.mlp if isinstance(layer, nn.Linear))
        it = iter(params)
        mlp = [(next(it), next(it)) for _ in range(n_mlp)]
        convs = [(next(it), None if conv.bias is None else next(it)) for conv in net.convs]
        skip = next(it) if net.skip is not None else None
        return mlp, convs, skip

    def _workspace(self, x: Tensor, hidden: int, n_saved: int) -> _Workspace:
        key = (x.shape[0], hidden, x.dtype, x.device)
        ws = self._ws.get(key)
        if ws is None:
            if len(self._ws) >= MAX_WORKSPACES:
                self._ws.pop(next(iter(self._ws)))
            ws = _Workspace(x.shape[0], hidden, n_saved, x.dtype, x.device)
            self._ws[key] = ws
        return ws

    def __call__(self, x: Tensor, adj: BandedAdjacency) -> Tensor:
        net = self._net()
        params = self.params()
        hidden = net.convs[0].lin.weight.shape[1]
        n_mlp = sum(1 for layer in net.mlp if isinstance(layer, nn.Linear))
        n_saved = n_mlp + len(net.convs) - 1
        x = x.contiguous()
        ws = self._workspace(x, hidden, n_saved)
        self.adj = adj
        if torch.is_grad_enabled() and any(p.requires_grad for p in params):
            lease = _Lease(ws)
            # the set is offered for reuse after backward; a graph dropped without one frees it with its ctx
            return _FusedGCN.apply(x, self, lease, *params)
        with torch.no_grad():
            return self._forward_no_grad(x, adj, ws, params)

    def _forward_no_grad(self, x: Tensor, adj: BandedAdjacency, ws: _Workspace, params) -> Tensor:
        mlp, convs, skip = self.unpack(params)
        dinv = adj._dinv_for(x)
        a, b = ws.scratch
        # ping-pong between the scratch pair (the skip read-out's term is taken from h_L first)
        h = x
        bufs = [a, b]
        for i, (w, bias) in enumerate(mlp):
            h = _linear_into(h, w, bias, bufs[i % 2]).relu_()
        skip_term = head_product(h, skip) if skip is not None else None
        r = h
        for theta, c in convs[:-1]:
            other = a if r is b else b
            torch.mm(r, theta.t(), out=other)  # r is not needed after this product: its buffer takes Â·
            banded_product_into(other, dinv, adj.offsets, r)
            r = (r if c is None else r.add_(c)).relu_()
        return _read_out(r, *convs[-1], adj, skip_term)
