"""The benchmark suite, ``python -m zeta_rmt.bench`` (:mod:`zeta_rmt.bench.cli`).

Each case (:mod:`~zeta_rmt.bench.cases`) runs in a fresh child process with an explicit thread
count, a time limit and a memory cap (:mod:`~zeta_rmt.bench.runner`), prints one JSON line and is
appended to ``docs/benchmarks/results-<host>-<date>.json`` (:mod:`~zeta_rmt.bench.results`) with the
machine's description (:mod:`~zeta_rmt.bench.machine`); ``table`` renders the newest results as
Markdown (:mod:`~zeta_rmt.bench.table`).  Nothing here is imported by training.
"""
