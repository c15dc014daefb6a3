"""The ``bmru-jax`` command line: the only part of the package that prints.

Each subcommand lives in its own module with two functions, ``add_parser(subparsers)``
and ``run(args) -> int``. Bad input (:class:`bmru_jax.errors.InputError`, missing files,
unwritable folders) becomes one line on stderr and exit status 2, without a traceback.
"""

import argparse
import importlib
import os
import pathlib
import signal
import sys

from bmru_jax._validate import check_out_dir
from bmru_jax.circuit.montecarlo import use_cpu_cores
from bmru_jax.errors import InputError

# Subcommand modules, in the order ``bmru-jax --help`` lists them.
_COMMANDS = ("campaign", "report", "bench", "power", "train", "corpus", "spice_check")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="bmru-jax",
        description="Simulate analog BMRU circuits: noise campaigns, power, training.",
    )
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f"bmru_jax.cli.{name}")
        module.add_parser(subparsers)
    parser.set_defaults(command_parsers=subparsers.choices)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command is None:
        parser.error("a command is required")
    if unknown:
        # Name the subcommand and show its usage, not the top-level one.
        args.command_parsers[args.command].error(
            f"unrecognized arguments: {' '.join(unknown)}"
        )
    # Before any JAX computation: one CPU device per core, so that Monte Carlo runs
    # spread their dies over every core (bmru_jax.circuit.montecarlo).
    use_cpu_cores()
    try:
        status = args.run(args)
        # Flushed here rather than at exit, so that a closed pipe is caught below.
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader of stdout went away (``bmru-jax ... | head``): stop quietly,
        # with the status a shell reports for a command killed by SIGPIPE.
        _discard_stdout()
        return 128 + signal.SIGPIPE
    except (InputError, OSError) as error:
        print(f"bmru-jax {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"bmru-jax {args.command}: interrupted", file=sys.stderr)
        return 130


def output_folder(path) -> pathlib.Path:
    """Create the folder ``path`` for a command's results, or raise :class:`InputError`.

    Checked before any work starts, so that a bad ``--out`` costs nothing.
    """
    folder = pathlib.Path(path)
    check_out_dir(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"{folder}: cannot create the output folder ({error.strerror})"
        )
    return folder


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit finds no pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor
        pass


def _one_line(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split())


def _version() -> str:
    from bmru_jax import __version__

    return f"bmru-jax {__version__}"


if __name__ == "__main__":
    sys.exit(main())
