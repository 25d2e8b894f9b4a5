"""Domain errors: one exception family, each printed as one line by the CLI."""

__all__ = ["DiscaError", "UnknownNameError"]


class DiscaError(Exception):
    """An expected failure caused by user input or the environment (one-line message)."""


class UnknownNameError(DiscaError, KeyError):
    """An unknown model, country, category or dataset name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""
