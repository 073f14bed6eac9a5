"""The spacing-density plot of a run: predicted vs true zeros vs Gaudin vs the surmise."""
from __future__ import annotations

import io
import textwrap

import numpy as np
import pytorch_lightning as pl

from zeta_rmt.metrics.spectral import compare_spacings


def plot_spacing_density(pred: np.ndarray, true: np.ndarray, *, title: str = "", bins: int = 60,
                         s_max: float = 4.0) -> bytes:
    """PNG bytes of :func:`spacing_density_figure`."""
    fig = spacing_density_figure(pred, true, title=title, bins=bins, s_max=s_max)  # selects Agg first
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _fit_title(fig, text, max_rounds: int = 5) -> None:
    """Wrap ``text`` (the axes title) until it lies inside the figure after layout."""
    for _ in range(max_rounds):
        fig.tight_layout()
        fig.canvas.draw()
        bb, fb = text.get_window_extent(), fig.bbox
        if bb.x0 >= fb.x0 - 1 and bb.x1 <= fb.x1 + 1 and bb.y1 <= fb.y1 + 1:
            return
        lines = text.get_text().split("\n")
        width = max(10, int(max(map(len, lines)) * fb.width / max(bb.width, 1.0) * 0.92))
        new = "\n".join(textwrap.fill(line, width) or line for line in lines)
        if new == text.get_text():
            text.set_fontsize(max(5.0, text.get_fontsize() - 1))
        text.set_text(new)


def spacing_density_figure(pred: np.ndarray, true: np.ndarray, *, title: str = "", bins: int = 60,
                           s_max: float = 4.0):
    """Histogram of the predicted unfolded spacings, the true zeros' spacing density (a step
    histogram of the same window), Gaudin's exact GUE density and the Wigner surmise on
    [0, s_max].  The legend gives each sample's size, KS distances and the share outside [0, s_max]
    (all spacings enter the KS distances). The title is wrapped to fit the figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from zeta_rmt.rmt.gaudin import gaudin_pdf
    from zeta_rmt.rmt.surmise import wigner_pdf

    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    edges = np.linspace(0.0, s_max, bins + 1)
    s = np.linspace(0.0, s_max, 400)
    fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=110)
    finite = pred[np.isfinite(pred)]
    outside = float(np.mean((finite < 0) | (finite > s_max))) if finite.size else 1.0
    top = 1.3 * float(np.max(gaudin_pdf(s)))
    if true.size:
        top = max(top, 1.15 * float(np.max(np.histogram(true, bins=edges)[0] / (true.size * np.diff(edges)))))
    peak = 0.0
    if finite.size:
        # density of the whole sample restricted to the plotted range (so the areas compare)
        h, _ = np.histogram(finite, bins=edges)
        dens = h / (finite.size * np.diff(edges))
        peak = float(dens.max())
        ax.bar(edges[:-1], dens, width=np.diff(edges), align="edge",
               alpha=0.45, color="tab:blue",
               label=f"model, n={finite.size} ({100 * outside:.1f}% outside [0, {s_max:g}])")
    if true.size:
        ht, _ = np.histogram(true, bins=edges)
        ax.stairs(ht / (true.size * np.diff(edges)), edges, color="black", lw=1.4, label=f"true zeros, n={true.size}")
    ax.plot(s, gaudin_pdf(s), color="tab:red", lw=1.8, label="Gaudin (GUE, exact)")
    ax.plot(s, wigner_pdf(s), color="tab:green", lw=1.2, ls="--", label="Wigner surmise")
    if finite.size and true.size:
        st = compare_spacings(pred, true)
        ax.text(0.98, 0.55, f"KS to Gaudin {st['ks/gaudin']:.3f}\nKS to surmise {st['ks/surmise']:.3f}\n"
                            f"KS to true {st['ks/true']:.3f}", transform=ax.transAxes, ha="right", va="top", fontsize=8)
    ax.set_xlabel(r"unfolded spacing $s = N_0(\gamma_{n+1}) - N_0(\gamma_n)$")
    ax.set_ylabel("density")
    ax.set_xlim(0.0, s_max)
    ax.set_ylim(0.0, top)
    if peak > top:
        ax.text(0.98, 0.35, f"model histogram clipped: peak density {peak:.3g}", transform=ax.transAxes,
                ha="right", va="top", fontsize=8, color="tab:blue")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    _fit_title(fig, ax.title)
    return fig


class SpacingDensityPlot(pl.Callback):
    """At the end of ``fit`` write ``<dirpath>/<filename>`` (default ``spacing_density.png``): the
    model's locally unfolded predicted spacings over the validation zeros and the extrapolation
    window (:meth:`ZetaGNNModule.spacing_samples`), against the true zeros of the same windows,
    Gaudin's law and the surmise.  ``dirpath`` may be a ``gs://`` URL; ``None`` uses the trainer's
    ``default_root_dir``.  Skipped under ``fast_dev_run``."""

    def __init__(self, dirpath: str | None = None, filename: str = "spacing_density.png", bins: int = 60):
        self.dirpath = None if dirpath is None else str(dirpath)
        self.filename = filename
        self.bins = int(bins)
        self.path: str | None = None

    def on_fit_end(self, trainer: pl.Trainer, pl_module) -> None:
        if not trainer.is_global_zero or getattr(trainer, "fast_dev_run", False):
            return
        from zeta_rmt.launch import storage

        was_training = pl_module.training
        pl_module.eval()
        try:
            data = pl_module.spacing_samples()
        finally:
            if was_training:
                pl_module.train()
        dm = trainer.datamodule
        title = (f"{dm.regime} regime, N={dm.num_zeros}, after {trainer.current_epoch} epochs\n"
                 f"unfolded spacings over {data['window']}")
        png = plot_spacing_density(data["pred"], data["true"], title=title, bins=self.bins)
        self.path = storage.join(self.dirpath or trainer.default_root_dir, self.filename)
        storage.write_bytes(self.path, png)
