"""Exceptions raised by whybox on bad input.

Every message is one sentence that names the argument, says what was expected,
what was given, and how to fix it. The CLI prints the message on one line and
exits with status 2.
"""


class InputError(ValueError):
    """Bad input from the user: a wrong shape, type, value, file or column."""


class UnsupportedModelError(InputError, TypeError):
    """The model's type or objective is not one whybox can explain with the chosen method."""
