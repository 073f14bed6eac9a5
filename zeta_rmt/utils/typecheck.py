"""Check a config node's values against the type hints of the callable it instantiates.

``data.num_zeros=abc`` used to fail deep inside a constructor with ``invalid literal for int()``,
naming no key. :func:`check_node` reads the signature of the node's ``_target_`` and refuses, with
the full key, a value whose type cannot be what the parameter declares::

    data.num_zeros must be an integer, got 'abc'

Only plain hints are checked (``int``, ``float``, ``bool``, ``str``, ``Optional``/``Union`` of
them, ``Sequence[...]``/``list[...]`` of them); anything else (modules, callables, ``Any``) is
left to the constructor. Integral floats pass as integers (``1e6`` is a valid ``num_zeros``).
Nested nodes with their own ``_target_`` (``model.net``, ``loss.components.*``) are checked too.
"""
from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from zeta_rmt.utils.errors import ConfigError

_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.Iterable, collections.abc.Collection)


def _target(path: str):
    try:
        from hydra.utils import get_method

        return get_method(path)
    except Exception:  # noqa: BLE001 - an unknown target fails with its own message at instantiation
        return None


def _hints(fn) -> dict[str, Any]:
    """Parameter name -> type hint; for a class whose ``__init__`` takes ``**kwargs``, the base
    classes' ``__init__`` parameters too (``FullGraphDataModule(**kwargs)`` -> the common base)."""
    out: dict[str, Any] = {}
    chain = [c.__init__ for c in fn.__mro__ if "__init__" in vars(c)] if inspect.isclass(fn) else [fn]
    for target in chain:
        try:
            hints = typing.get_type_hints(target)
            params = inspect.signature(target).parameters
        except Exception:  # noqa: BLE001 - unresolvable annotations: nothing to check here
            break
        for name, p in params.items():
            if name in hints and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                out.setdefault(name, hints[name])
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break
    return out


def _matches(value, hint) -> bool | None:
    """True/False when ``hint`` is checkable, None when it is not (left to the constructor)."""
    if hint is typing.Any:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        results = [_matches(value, h) for h in typing.get_args(hint)]
        if any(r is None for r in results):
            return None
        return any(results)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))
    if hint is float:
        return not isinstance(value, bool) and isinstance(value, (int, float))
    if hint is str:
        return isinstance(value, str)
    if origin in _SEQUENCES or hint in _SEQUENCES:
        if not isinstance(value, (list, tuple, ListConfig)):
            return False
        args = typing.get_args(hint)
        if not args:
            return True
        results = [_matches(v, args[0]) for v in value]
        return None if any(r is None for r in results) else all(results)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if inspect.isclass(hint) and origin is None:
        if isinstance(value, hint):
            return True
        if _numeric_class(hint) and isinstance(value, str):
            return False  # a tensor or number parameter cannot take a string
    return None


def _numeric_class(cls) -> bool:
    import numbers

    if issubclass(cls, numbers.Number):
        return True
    try:
        import torch

        return issubclass(cls, torch.Tensor)
    except ImportError:  # pragma: no cover - torch is a dependency
        return False


def _describe(hint) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_describe(h) for h in typing.get_args(hint) if h is not type(None)]
        none = type(None) in typing.get_args(hint)
        return " or ".join(parts) + (" (or null)" if none else "")
    if origin in _SEQUENCES or hint in _SEQUENCES:
        args = typing.get_args(hint)
        return "a list" + (f" of {_describe(args[0]).split(' ', 1)[-1]}s" if args and args[0] in _WORDS else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    if inspect.isclass(hint) and _numeric_class(hint) and hint not in _WORDS:
        return "a tensor" if "Tensor" in hint.__name__ else "a number"
    return _WORDS.get(hint, getattr(hint, "__name__", str(hint)))


def _shown(value) -> str:
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    return repr(value)


def check_node(node, key: str) -> None:
    """Raise :class:`ConfigError` naming ``key.<param>`` for a value that cannot have the declared type."""
    if not isinstance(node, DictConfig) or "_target_" not in node:
        return
    fn = _target(str(node._target_))
    hints = _hints(fn) if fn is not None else {}
    for name in node:
        name = str(name)
        if name.startswith("_"):
            continue
        full = f"{key}.{name}" if key else name
        if OmegaConf.is_missing(node, name):
            continue
        try:
            value = node[name]
        except Exception:  # noqa: BLE001 - an unresolvable interpolation fails with its own message later
            continue
        if isinstance(value, DictConfig):
            if "_target_" in value:
                check_node(value, full)
            else:  # a dict of instantiable entries (loss.components)
                for sub in value:
                    check_node(value[sub], f"{full}.{sub}")
            continue
        hint = hints.get(name)
        if hint is None:
            continue
        if _matches(value, hint) is False:
            raise ConfigError(f"{full} must be {_describe(hint)}, got {_shown(value)}")
