"""The one exception type for bad input.

Everything a user hands to bmru_jax (a config, a data folder, a model file, an
argument) is checked where it enters. A failed check raises :class:`InputError`, a
``ValueError`` whose message is one line that names the field or file and the rule it
broke, so that the command-line interface can print it as it is and exit with status 2.
"""


class InputError(ValueError):
    """Bad input: the message names the field or file and the rule it broke."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`InputError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise InputError(message)
