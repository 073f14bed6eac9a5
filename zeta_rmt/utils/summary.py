"""The end-of-run summary table."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

LOSS_KEYS = ("loss", "mse", "rg", "gue_nll", "gue_mmd")


def _fmt(v) -> str:
    if v is None:
        return "-"
    try:
        return f"{float(v):.6g}"
    except (TypeError, ValueError):
        return str(v)


def print_summary(result: dict, console: Console | None = None) -> None:
    """Print final losses by component (train / val) and extrapolation errors vs the baselines."""
    console = console or Console()
    final = result["final"]
    data = result.get("data", {})
    t = Table(title=f"zeta_rmt run: regime={result['regime']}  N={result['num_zeros']}  "
                    f"epochs={result['epochs']}  wall={result['wall_time_s']:.1f}s")
    t.add_column("loss component")
    t.add_column("train", justify="right")
    t.add_column("val", justify="right")
    for k in LOSS_KEYS:
        tr, va = final.get(f"train/{k}"), final.get(f"val/{k}")
        if tr is not None or va is not None:
            t.add_row(k, _fmt(tr), _fmt(va))
    console.print(t)
    k = data.get("extrapolation_window", "K")
    n = result["num_zeros"]
    e = Table(title=f"extrapolation: zeros {n + 1}..{n + k}" if isinstance(k, int) else "extrapolation")
    e.add_column("predictor")
    e.add_column("MSE", justify="right")
    e.add_column("MAE", justify="right")
    e.add_column("MAE (mean spacings)", justify="right")
    e.add_column("skill", justify="right")
    e.add_row("model", _fmt(final.get("extrap/mse")), _fmt(final.get("extrap/mae")),
              _fmt(final.get("extrap/mae_spacings")), "")
    names = sorted({key.split("/")[2] for key in final if key.startswith("extrap/baseline/")})
    for name in names:
        p = f"extrap/baseline/{name}/"
        e.add_row(f"baseline: {name}", _fmt(final.get(p + "mse")), _fmt(final.get(p + "mae")),
                  _fmt(final.get(p + "mae_spacings")), _fmt(final.get(f"extrap/skill/{name}")))
    console.print(e)
    if "extrap/next_zero_abs_error" in final:
        console.print(f"groups' check, |predicted - true| for zero {n + 1}: "
                      f"{_fmt(final['extrap/next_zero_abs_error'])}")
