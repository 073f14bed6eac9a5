"""User-facing errors raised before training starts."""


class ConfigError(ValueError):
    """A config value is invalid; the message names the key and what to do."""


class HardwareError(RuntimeError):
    """The requested hardware is not available on this machine."""
