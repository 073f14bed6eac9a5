"""Errors raised by the zero sources."""


class ZeroDataError(ValueError):
    """Zero data is malformed, inconsistent, or a request falls outside what a source holds."""
