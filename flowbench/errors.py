"""The error every config check raises (a leaf module: the tasks and the methods raise it too)."""


class ConfigError(ValueError):
    """A bad config key or value; the message names the key."""
