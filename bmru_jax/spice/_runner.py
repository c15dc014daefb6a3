"""Running ngspice in batch mode and reading its results back.

One call writes a netlist into a fresh temporary folder, runs ``ngspice -b`` there with
one thread (faster than several for circuits of this size), and reads each analysis'
vectors from a ``wrdata`` file. The solver options are those that pA currents need:
``gmin`` and ``abstol`` near 1e-15 A (the defaults, 1e-12, add a false ~1 pA leakage at
every node) and Gear integration (trapezoidal integration rings on the steep edges of a
current comparator).

A failure (no convergence, a timestep too small, a timeout, a netlist error) is not an
exception: it comes back as a :class:`SpiceResult` with ``ok = False`` and a one-line
``failure``, so that one bad die does not stop a batch of hundreds.
"""

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bmru_jax.errors import InputError

SOLVER_OPTIONS = ".options gmin=1e-15 abstol=1e-15 method=gear"

# ngspice keeps going after most errors in batch mode; these lines mean that what it
# wrote afterwards may belong to an earlier analysis, so the whole run is discarded.
_FAILURE_PATTERNS = (
    r"timestep too small",
    r"no convergence",
    r"singular matrix",
    r"gmin stepping failed",
    r"source stepping failed",
    r"could not find",
    r"unknown (subckt|model|parameter)",
    r"error[: ]",
    r"fatal",
)
_FAILURE_RE = re.compile("|".join(_FAILURE_PATTERNS), re.IGNORECASE)
# Harmless lines that the pattern above would otherwise catch.
_BENIGN_RE = re.compile(r"warning|m=xx on \.subckt", re.IGNORECASE)


@dataclass(frozen=True)
class Analysis:
    """One analysis of a run and the vectors to read back from it.

    Attributes:
        name: a short identifier (letters, digits, underscores), the key of the
            result and the name of its data file.
        command: the ngspice control command, e.g. ``"dc icand 0 600p 1p"`` or
            ``"tran 10u 1"``.
        vectors: ngspice vector expressions to save, e.g. ``("i(vout)", "v(x1.s)")``.
    """

    name: str
    command: str
    vectors: tuple[str, ...]


@dataclass(frozen=True)
class SpiceResult:
    """What one ngspice run produced.

    Attributes:
        ok: whether every analysis ran and wrote its data.
        data: per analysis name, a dict from ``"scale"`` (sweep or time axis) and each
            vector expression to a 1-D float array (SI units: A, V, s).
        failure: one line saying what went wrong, or ``None``.
        seconds: wall time of the ngspice process.
        log: ngspice's standard output and error (for debugging failures).
    """

    ok: bool
    data: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    failure: str | None = None
    seconds: float = 0.0
    log: str = ""


def ngspice_path() -> str:
    """The ngspice executable, or an :class:`InputError` saying how to install it."""
    found = shutil.which("ngspice")
    if found is None:
        raise InputError(
            "ngspice: not found on PATH; install it with 'apt-get install ngspice' "
            "(version 39 or later)"
        )
    return found


def run_netlist(
    circuit: str,
    analyses: Sequence[Analysis],
    *,
    timeout_s: float = 120.0,
    title: str = "bmru_jax",
) -> SpiceResult:
    """Simulate ``circuit`` with ngspice and return the requested vectors.

    Args:
        circuit: the netlist body: model includes, subcircuits, elements and
            sources, without title, ``.control`` block or ``.end``.
        analyses: the analyses to run, in order.
        timeout_s: wall-clock limit for the ngspice process, in seconds.
        title: the netlist's title line.

    Returns:
        A :class:`SpiceResult`; ``ok`` is ``False`` on any failure.

    Example:
        >>> body = "v1 a 0 1\\nr1 a 0 1k"
        >>> result = run_netlist(body, [Analysis("op", "op", ("i(v1)",))])
        >>> round(float(result.data["op"]["i(v1)"][0]) * 1e3, 6)
        -1.0
    """
    executable = ngspice_path()
    _check_analyses(analyses)
    with tempfile.TemporaryDirectory(prefix="bmru_spice_") as folder:
        work = Path(folder)
        # A local .spiceinit is read before the netlist: one thread is faster here.
        (work / ".spiceinit").write_text("set num_threads=1\n")
        (work / "circuit.cir").write_text(_compose(title, circuit, analyses))
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [executable, "-b", "circuit.cir"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            seconds = time.perf_counter() - start
            return SpiceResult(
                False, failure=f"timeout after {timeout_s:g} s", seconds=seconds
            )
        seconds = time.perf_counter() - start
        log = done.stdout + done.stderr
        return _collect(work, analyses, log, done.returncode, seconds)


def run_many(
    jobs: Sequence[tuple[str, Sequence[Analysis]]],
    *,
    workers: int = 2,
    timeout_s: float = 120.0,
    progress: Callable[[int], None] | None = None,
) -> list[SpiceResult]:
    """Run several netlists, ``workers`` ngspice processes at a time.

    Args:
        jobs: ``(circuit, analyses)`` pairs as for :func:`run_netlist`.
        workers: how many ngspice processes run at once (one per core).
        timeout_s: limit per process, in seconds.
        progress: called with 1 after each finished job.

    Returns:
        One :class:`SpiceResult` per job, in the order of ``jobs``.
    """
    if workers < 1:
        raise InputError(f"workers: must be a positive integer, got {workers}")

    def one(job):
        result = run_netlist(job[0], job[1], timeout_s=timeout_s)
        if progress is not None:
            progress(1)
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, jobs))


def _check_analyses(analyses: Sequence[Analysis]) -> None:
    names = [a.name for a in analyses]
    if not names:
        raise InputError("analyses: need at least one analysis")
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InputError(f"analyses: name {name!r} must be letters, digits, '_'")
    if len(set(names)) != len(names):
        raise InputError(f"analyses: names must be unique, got {names}")


def _compose(title: str, circuit: str, analyses: Sequence[Analysis]) -> str:
    lines = [f"* {title}", SOLVER_OPTIONS, circuit.strip(), ".control"]
    lines += ["set wr_singlescale", "set wr_vecnames", "option numdgt=9"]
    for analysis in analyses:
        lines.append(analysis.command)
        lines.append(f"wrdata {analysis.name}.dat " + " ".join(analysis.vectors))
    lines += [".endc", ".end", ""]
    return "\n".join(lines)


def _collect(work, analyses, log, returncode, seconds) -> SpiceResult:
    problem = _first_failure(log)
    # Batch ngspice exits with 1 whenever a netlist has no .print line, so only a
    # crash (a signal) counts by itself; other failures show as missing data.
    if problem is None and returncode < 0:
        problem = f"ngspice killed by signal {-returncode}"
    data = {}
    for analysis in analyses:
        path = work / f"{analysis.name}.dat"
        if problem is None and not path.is_file():
            problem = f"analysis {analysis.name!r} wrote no data"
        if problem is not None:
            break
        data[analysis.name] = _read_wrdata(path, analysis.vectors)
    if problem is not None:
        return SpiceResult(False, failure=problem, seconds=seconds, log=log)
    return SpiceResult(True, data=data, seconds=seconds, log=log)


def _first_failure(log: str) -> str | None:
    for line in log.splitlines():
        if _FAILURE_RE.search(line) and not _BENIGN_RE.search(line):
            return " ".join(line.split())[:200]
    return None


def _read_wrdata(path: Path, vectors: Sequence[str]) -> dict[str, np.ndarray]:
    """Read a ``wrdata`` file written with one shared scale column and a header."""
    table = np.loadtxt(path, skiprows=1, ndmin=2)
    columns = {"scale": table[:, 0]}
    for index, vector in enumerate(vectors):
        columns[vector] = table[:, index + 1]
    return columns
