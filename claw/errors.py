"""The root of every error the `claw` package raises on purpose."""


class ClawError(Exception):
    """Base class for homeclaw agent errors; the message is safe to show to the owner."""


class ConfigError(ClawError):
    """The configuration is missing something or holds an invalid value."""


class LLMError(ClawError):
    """The language model could not be reached or answered something unusable."""


class SoulError(ClawError):
    """soul.md could not be read or is not usable."""
