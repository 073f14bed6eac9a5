"""Helpers for config groups whose node is either one instantiable config or a dict of them."""
from __future__ import annotations

from omegaconf import DictConfig


def group_entries(group) -> dict[str, DictConfig]:
    """The instantiable entries of a config group node.

    A node with its own ``_target_`` (e.g. ``logger=vertex``) is one entry under the key ``""``;
    otherwise (``logger=many``, ``callbacks=default``) each value with a ``_target_`` is an entry
    under its key.
    """
    if not group:
        return {}
    if isinstance(group, DictConfig) and "_target_" in group:
        return {"": group}
    return {str(k): v for k, v in group.items() if isinstance(v, DictConfig) and "_target_" in v}


def entry_path(group_name: str, key: str) -> str:
    """Config path of an entry: ``logger`` for a single config, ``logger.csv`` in a dict."""
    return f"{group_name}.{key}" if key else group_name


def _div(a, b) -> int:
    """``${zeta_div:a,b}``: the integer a // b, at least 1 (e.g. clusters of ~b nodes for N = a)."""
    try:
        a, b = int(a), int(b)
    except (TypeError, ValueError):
        raise ValueError(f"${{zeta_div:a,b}} needs two integers, got {a!r}, {b!r}") from None
    if b <= 0:
        raise ValueError(f"${{zeta_div:a,b}} needs b > 0, got {b}")
    return max(1, a // b)


def register_resolvers() -> None:
    """Config arithmetic the experiment files use (``${zeta_div:${data.num_zeros},100}``)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("zeta_div"):
        OmegaConf.register_new_resolver("zeta_div", _div)
