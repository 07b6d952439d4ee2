"""The one exception type users see: its message names the problem and what to do about it."""


class ExplorerError(ValueError):
    """Bad input, a bad path or file, or a request a model cannot serve."""


class TruncationWarning(UserWarning):
    """Input longer than the model's context was cut to fit."""
