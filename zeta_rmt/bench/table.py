"""``python -m zeta_rmt.bench table [FILE]``: the latest result of every case as Markdown tables."""
from __future__ import annotations

from typing import Callable

from zeta_rmt.bench.results import latest_results

Column = tuple[str, Callable[[dict], str]]


def num(v, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def sec(v) -> str:
    return "—" if v is None else f"{num(v)} s"


def gb(v) -> str:
    return "—" if v is None else f"{num(v)} GB"


def big(n) -> str:
    """10000 -> 10⁴, 2000000 -> 2·10⁶ (the README's style)."""
    if not isinstance(n, int) or n <= 0:
        return num(n)
    exp = len(str(n)) - 1
    lead, rest = divmod(n, 10 ** exp)
    sup = str(exp).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    if rest == 0 and exp >= 3:
        return f"10{sup}" if lead == 1 else f"{lead}·10{sup}"
    return f"{n:,}"


def status(line: dict) -> str:
    if line.get("status") == "ok":
        return "ok"
    err = " ".join(str(line.get("error") or "").split())
    return f"{line.get('status')}: {err[:110]}{'…' if len(err) > 110 else ''}"


def fig(key: str, fmt=num) -> Callable[[dict], str]:
    return lambda line: fmt((line.get("figures") or {}).get(key))


def par(key: str, fmt=str) -> Callable[[dict], str]:
    return lambda line: fmt((line.get("params") or {}).get(key))


def _config(line: dict) -> str:
    """MMD mode and conv the run used (read off the trained objects), else as configured."""
    notes = line.get("notes") or {}
    r = {**(notes.get("resolved") or {}), **{k: v for k, v in (notes.get("used") or {}).items() if v is not None}}
    parts = [f"{label}={r[k]}" for k, label in (("gue_mmd_mode", "mmd"), ("conv", "conv")) if r.get(k)]
    return ", ".join(parts) or ", ".join((line.get("params") or {}).get("overrides", [])) or "default"


def _blocks(line: dict) -> str:
    """Nodes per block (N / data.num_parts) x blocks per step, of a stream case."""
    params = line.get("params") or {}
    r = (line.get("notes") or {}).get("resolved") or {}
    parts = r.get("num_parts")
    for o in params.get("overrides", []):
        if o.startswith("data.num_parts="):
            parts = int(o.split("=", 1)[1])
    if not parts or not params.get("N"):
        return "—"
    return f"{big(int(params['N']) // int(parts))}" + (f" × {r['batch_size']}" if r.get("batch_size", 1) != 1 else "")


def _loss_mode(line: dict) -> str:
    return (line.get("params") or {}).get("mode", "")


def _measured(line: dict) -> str:
    notes = line.get("notes") or {}
    m = notes.get("measured_n")
    return big(m) + (" (n² extrapolated)" if notes.get("scaling", "").startswith("n^2") else
                     " (linear extrapolation)" if notes.get("scaling") else "")


SECTIONS: list[tuple[str, str, list[Column]]] = [
    ("graph_build", "Graph build (primes 2..13)", [
        ("N", par("N", big)), ("operator", par("conv")), ("build", fig("seconds", sec)),
        ("RSS increase", fig("rss_increase_gb", gb)), ("status", status)]),
    ("epoch", "Full-graph epoch, default config (`python -m zeta_rmt.train`)", [
        ("N", par("N", big)), ("config", _config), ("setup", fig("setup_s", sec)),
        ("first epoch", fig("first_epoch_s", sec)), ("steady epoch", fig("steady_epoch_s", sec)),
        ("peak RSS (epochs)", fig("peak_rss_epoch_gb", gb)), ("peak RSS (process)", fig("peak_rss_process_gb", gb)),
        ("status", status)]),
    ("loss", "Loss components, forward + backward", [
        ("component", par("component")), ("mode", _loss_mode), ("n spacings", par("n", big)),
        ("measured at n", _measured), ("time at n", fig("seconds_at_n", sec)),
        ("time at measured n", fig("seconds_at_measured_n", sec)), ("RSS increase", fig("rss_increase_gb", gb)),
        ("status", status)]),
    ("overhead", "Framework vs plain PyTorch loop vs the groups' script (steady epoch)", [
        ("N", par("N", big)), ("framework", fig("framework_epoch_s", sec)), ("plain loop", fig("plain_epoch_s", sec)),
        ("groups' script", fig("groups_script_epoch_s", sec)), ("framework / plain", fig("overhead_ratio")),
        ("groups' / framework", fig("speedup_vs_groups")), ("status", status)]),
    ("stream", "Streaming cluster backend, one epoch (`data=cluster data.backend=stream loss=rmt_only`)", [
        ("case", lambda line: line["case"]), ("N", par("N", big)), ("nodes per block", _blocks),
        ("epoch", fig("first_epoch_s", sec)),
        ("nodes/s", fig("nodes_per_s")),
        ("peak RSS (epoch)", fig("peak_rss_epoch_gb", gb)), ("peak RSS (process)", fig("peak_rss_process_gb", gb)),
        ("wall", fig("wall_s", sec)), ("status", status)]),
    ("dataset", "Datasets made for the stream cases", [
        ("dataset", lambda line: line["case"]),
        ("zeros generated", lambda line: "0 (already complete)" if (line.get("figures") or {}).get("generated") == 0
         else fig("generated")(line)),
        ("time", fig("seconds", sec)), ("zeros/s", fig("zeros_per_s")), ("status", status)]),
    ("threads", "Thread policy: the default run (N = 10⁴, no thread variable set), quiet and beside busy processes", [
        ("case", lambda line: line["case"]),
        ("threads chosen", lambda line: str((line.get("notes") or {}).get("thread_choice", ""))),
        ("steady epoch", fig("steady_epoch_s", sec)), ("wall", fig("wall_s", sec)), ("CPU time", fig("cpu_s", sec)),
        ("status", status)]),
    ("derived", "Ratios", [
        ("ratio", lambda line: (line.get("notes") or {}).get("ratio", line["case"])), ("value", fig("ratio")),
        ("target", lambda line: str((line.get("notes") or {}).get("target") or "")),
        ("note", lambda line: "inputs extrapolated: " + ", ".join((line.get("notes") or {})["extrapolated_inputs"])
         if (line.get("notes") or {}).get("extrapolated_inputs") else ""), ("status", status)]),
]


def machine_line(machine: dict, threads) -> str:
    v = machine.get("versions") or {}
    gpus = ", ".join(machine.get("gpus") or []) or "none"
    return (f"{machine.get('cpu_model') or '?'}, {machine.get('cores_usable')} usable core(s), "
            f"{num(machine.get('ram_total_gb'))} GB RAM, GPU: {gpus}; torch {v.get('torch')}, "
            f"PyG {v.get('torch_geometric')}, Lightning {v.get('pytorch-lightning')}; {threads} thread(s)")


def commit_label(machine: dict) -> str:
    git = machine.get("git") or {}
    return (git.get("commit") or "?")[:10] + (" (uncommitted changes)" if git.get("dirty") else "")


def _order(line: dict) -> tuple:
    """Registry order of the case (its kind's cases as ``python -m zeta_rmt.bench --list`` shows them)."""
    from zeta_rmt.bench.cases import all_cases

    names = [c.name for c in all_cases(False)] + [c.name for c in all_cases(True)]
    return (names.index(line["case"]) if line["case"] in names else len(names), line["case"])


def render(doc: dict, source: str = "") -> str:
    latest = latest_results(doc)
    if not latest:
        return f"No results in {source or 'the file'}.\n"
    out = [f"Benchmarks on {doc.get('host')}, {doc.get('date')}" + (f" (`{source}`)" if source else "") + "."]
    machines: dict[str, list[str]] = {}
    for line, machine in latest.values():
        commits = machines.setdefault(machine_line(machine, line.get("threads")), [])
        if commit_label(machine) not in commits:
            commits.append(commit_label(machine))
    for key, commits in machines.items():
        out.append(f"Machine: {key}; commit{'s' if len(commits) > 1 else ''} {', '.join(commits)}.")
    for kind, title, cols in SECTIONS:
        rows = sorted((line for line, _ in latest.values() if line.get("kind") == kind), key=_order)
        if not rows:
            continue
        out += ["", f"**{title}**", "", "| " + " | ".join(h for h, _ in cols) + " |",
                "|" + "|".join("---" for _ in cols) + "|"]
        for line in rows:
            out.append("| " + " | ".join(f(line).replace("|", "\\|") for _, f in cols) + " |")
    return "\n".join(out) + "\n"
