"""Argument checks shared by the numerical modules.

Shapes are checked at trace time, so a wrong shape fails before anything is compiled.
Values (NaN, sign) are only checked when the array is concrete: inside ``jit`` the value
is unknown, and a traced check would cost a device round trip on every call.
"""

import math
import os
import pathlib
import tempfile

import jax
import numpy as np

from bmru_jax.errors import InputError


def check_shape(name: str, x, shape: tuple) -> None:
    """Raise :class:`InputError` unless ``x.shape`` matches ``shape``.

    ``shape`` holds ints for fixed sizes and ``None`` for sizes that may be anything.

    >>> import numpy as np
    >>> check_shape("candidates", np.zeros((3, 4)), (None, 4))
    """
    actual = tuple(getattr(x, "shape", ()))
    fits = len(actual) == len(shape) and all(
        want is None or want == got for want, got in zip(shape, actual)
    )
    if not fits:
        expected = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise InputError(f"{name}: expected shape {expected}, got {actual}")


def is_concrete(x) -> bool:
    """Whether ``x`` holds values now, not a tracer inside ``jit``/``vmap``/``grad``."""
    return not isinstance(x, jax.core.Tracer)


def check_finite(name: str, x) -> None:
    """Raise :class:`InputError` if a concrete ``x`` holds NaN or infinity."""
    if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
        raise InputError(f"{name}: must be finite, found NaN or infinity")


def check_non_negative(name: str, x) -> None:
    """Raise :class:`InputError` if a concrete ``x`` holds a negative or NaN value."""
    if is_concrete(x):
        values = np.asarray(x)
        if np.any(np.isnan(values)) or np.any(values < 0):
            raise InputError(f"{name}: must be non-negative and not NaN")


def check_positive_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise :class:`InputError` unless it is >= 1."""
    return _check_int(name, value, minimum=1, rule="a positive integer")


def check_non_negative_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise :class:`InputError` unless it is >= 0.

    >>> check_non_negative_int("seed", 0)
    0
    """
    return _check_int(name, value, minimum=0, rule="a non-negative integer")


def _check_int(name: str, value, *, minimum: int, rule: str) -> int:
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not is_int or value < minimum:
        raise InputError(f"{name}: must be {rule}, got {value!r}")
    return int(value)


def check_real(name: str, value, *, low=-math.inf, high=math.inf) -> float:
    """Return ``value`` as a float; raise unless it is a number in ``[low, high]``."""
    is_number = isinstance(value, int | float | np.number) and not isinstance(
        value, bool
    )
    if not is_number or not low <= float(value) <= high:
        raise InputError(f"{name}: must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def check_out_dir(out_dir: pathlib.Path) -> None:
    """Refuse an output folder that cannot be created or written, touching nothing.

    Raises:
        InputError: naming the folder and why.
    """
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(f"{out_dir}: exists and is not a folder")
        if not _is_writable_folder(out_dir):
            raise InputError(f"{out_dir}: output folder is not writable")
        return
    parent = out_dir.parent
    while not parent.exists():
        parent = parent.parent
    if not _is_writable_folder(parent):
        raise InputError(
            f"{out_dir}: cannot create the output folder ({parent} is not writable)"
        )


def check_out_file(name: str, path: pathlib.Path) -> None:
    """Refuse an output file that could not be written, touching nothing.

    The file's folder must already exist (nothing is created for it) and take new
    files, and the path must not be a folder. Checked before any work, so that a bad
    path fails at once instead of after the results are computed.

    Args:
        name: the argument, as the user gave it (e.g. ``"--out"``).
        path: the file to be written later.

    Raises:
        InputError: naming the argument, the path and the rule.

    >>> import tempfile
    >>> check_out_file("--out", pathlib.Path(tempfile.gettempdir()) / "results.json")
    """
    path = pathlib.Path(path)
    folder = path.parent
    if path.is_dir():
        raise InputError(f"{name} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise InputError(f"{name} {path}: the folder {folder} must already exist")
    if not _is_writable_folder(folder):
        raise InputError(f"{name} {path}: the folder {folder} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{name} {path}: the file is not writable")


def _is_writable_folder(folder: pathlib.Path) -> bool:
    """Whether ``folder`` is a folder that takes new files.

    Permission bits are not enough: the superuser passes ``os.access`` everywhere, and
    folders such as ``/proc`` refuse new files whatever the bits say. So a nameless
    temporary file is made there and dropped at once.
    """
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True
