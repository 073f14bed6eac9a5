"""The adelic graph on the zeros and its normalised adjacency (no Lightning, no Hydra)."""
from zeta_rmt.graph.adelic import (
    AdelicGraph,
    GraphConfigError,
    adelic_graph,
    adelic_window,
    gcn_weights,
    graph_offsets,
    node_degrees,
    undirected_edges,
)

__all__ = [
    "AdelicGraph", "GraphConfigError", "adelic_graph", "adelic_window", "gcn_weights",
    "graph_offsets", "node_degrees", "undirected_edges",
]
