"""Converting configs and metrics into what Vertex AI Experiments accepts.

Run parameters and summary metrics are stored in a ``google.protobuf.Struct`` and the SDK
accepts only ``int``, ``float`` and ``str`` values: nested configs are flattened with dotted
keys, lists become their JSON text (cut to ``max_len`` characters), booleans and None
become ``"true"``/``"false"``/``"null"`` (as in the YAML configs), and non-finite floats
become ``"nan"``/``"inf"``/``"-inf"`` (a Struct cannot carry them).
"""
from __future__ import annotations

import json
import math
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

__all__ = ["flatten_params", "param_value", "summary_value", "scalar"]

MAX_PARAM_LEN = 500


def _to_container(params: Any) -> Any:
    try:  # a DictConfig / ListConfig: resolve interpolations
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(params, (DictConfig, ListConfig)):
            return OmegaConf.to_container(params, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    if isinstance(params, Namespace):
        return vars(params)
    return params


def _shorten(text: str, max_len: int) -> str:
    if len(text) <= max_len:
        return text
    return text[: max_len - 1] + "…"


def _plain(value: Any) -> Any:
    """JSON-friendly form of a list element."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def param_value(value: Any, max_len: int = MAX_PARAM_LEN) -> int | float | str:
    """One leaf value in a type Vertex accepts."""
    value = _to_container(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy / torch scalars
        if isinstance(value, bool):
            return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value).lower()
    if isinstance(value, str):
        return _shorten(value, max_len)
    if isinstance(value, (list, tuple, Mapping)):
        return _shorten(json.dumps(_plain(value), separators=(", ", ": "), allow_nan=True), max_len)
    return _shorten(str(value), max_len)


def flatten_params(params: Any, max_len: int = MAX_PARAM_LEN, sep: str = ".") -> dict[str, int | float | str]:
    """Flatten a (resolved) config into ``{"a.b.c": value}`` with Vertex-compatible values.

    Mappings are walked; sequences are kept as one parameter (their JSON text), so that
    e.g. ``graph.primes = "[2, 3, 5, 7]"`` stays one comparable column."""
    params = _to_container(params)
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"hyperparameters must be a mapping, got {type(params).__name__}")
    out: dict[str, int | float | str] = {}

    def walk(prefix: str, node: Any) -> None:
        node = _to_container(node)
        if isinstance(node, Mapping) and node:
            for k, v in node.items():
                walk(f"{prefix}{sep}{k}" if prefix else str(k), v)
        elif isinstance(node, Mapping):  # empty mapping
            out[prefix] = "{}"
        else:
            out[prefix] = param_value(node, max_len)

    walk("", params)
    return out


def scalar(value: Any) -> float | None:
    """A metric value as a float, or None when it is not a number."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, RuntimeError):  # a tensor with more than one element
            return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


def summary_value(value: float) -> float | str:
    """A summary metric for the run's Struct: non-finite values become strings."""
    return value if math.isfinite(value) else str(value).lower()

