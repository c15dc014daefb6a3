"""DC transfer of BMRU cells: thresholds, output levels, hysteresis at transistor level.

Many cells share one netlist. Each gets its own bias currents and an ideal copy
(a current-controlled current source) of one swept candidate current, so one
``.dc`` sweep up and one down measure them all. A DC sweep continues from the previous
point's solution, so sweeping up keeps a cell low until its upper threshold and
sweeping down keeps it high until its lower one: the two sweeps trace the hysteresis
loop without the switching delays a transient ramp would add near a threshold.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bmru_jax.spice._models import model_header
from bmru_jax.spice._netlist import VDD_V, CellSizes, cell_instance, cell_subckt, supply
from bmru_jax.spice._runner import Analysis, SpiceResult, run_many

OUTPUT_NODE_V = 0.45


@dataclass(frozen=True)
class CellBias:
    """The three bias currents of one cell, in pA."""

    gain_pA: float
    thresh_pA: float
    width_pA: float


def cell_bench(biases: Sequence[CellBias], sizes: CellSizes = CellSizes()) -> str:
    """Netlist body (no models) with one cell per bias set and a shared candidate.

    The swept source is ``icand``; cell ``k``'s output current is ``i(vo<k>)`` and
    its state voltage ``v(c<k>_s)``.

    Example:
        >>> text = cell_bench([CellBias(500, 350, 200)])
        >>> "ic0_th c0_ith 0 3.5e-10" in text
        True
    """
    lines = [supply(), cell_subckt(sizes), "icand 0 nref 0", "vref nref 0 0"]
    for k, bias in enumerate(biases):
        lines.append(f"f{k} vdd cand{k} vref 1")
        lines.append(
            cell_instance(
                f"c{k}",
                f"cand{k}",
                f"o{k}",
                gain_A=bias.gain_pA * 1e-12,
                thresh_A=bias.thresh_pA * 1e-12,
                width_A=bias.width_pA * 1e-12,
            )
        )
        lines.append(f"vo{k} o{k} 0 {OUTPUT_NODE_V}")
    return "\n".join(lines)


@dataclass(frozen=True)
class CellTransfer:
    """Measured DC behaviour of each cell of a bench (all currents in pA).

    Attributes:
        candidate_pA: the swept candidate, shape ``(points,)`` (rising).
        up_output_pA, down_output_pA: output current on the rising and falling
            sweeps, shape ``(cells, points)``, both ordered by rising candidate.
        on_pA: upper threshold (``beta2``), shape ``(cells,)``; NaN if never on.
        off_pA: lower threshold (``beta1``), shape ``(cells,)``; NaN if never off.
        low_pA: mean output while off on the rising sweep (leakage).
        high_pA: mean output while on on the rising sweep (``alpha``).
        droop: relative fall of the high level from switch-on to the sweep's end.
    """

    candidate_pA: np.ndarray
    up_output_pA: np.ndarray
    down_output_pA: np.ndarray
    on_pA: np.ndarray
    off_pA: np.ndarray
    low_pA: np.ndarray
    high_pA: np.ndarray
    droop: np.ndarray

    @property
    def delta_pA(self) -> np.ndarray:
        """Hysteresis width ``beta2 - beta1``."""
        return self.on_pA - self.off_pA


def cell_transfer(
    biases: Sequence[CellBias],
    *,
    stop_pA: float,
    step_pA: float = 1.0,
    sizes: CellSizes = CellSizes(),
    mismatch: bool = False,
    seed: int = 1,
    workers: int = 2,
    timeout_s: float = 120.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[CellTransfer, list[SpiceResult]]:
    """Sweep the candidate of every cell from 0 to ``stop_pA`` and back.

    Each cell runs in its own ngspice process: with several bistable cells in one
    netlist, a point where the solver has to restart from scratch (gmin stepping
    when one cell switches) would reset the others' states.

    Args:
        biases: one :class:`CellBias` per cell.
        stop_pA: top of the candidate sweep, in pA.
        step_pA: sweep step in pA; thresholds are resolved to half a step.
        sizes: the cell's transistor sizes.
        mismatch: draw the models' threshold mismatch for every transistor; cell
            ``k`` uses seed ``seed + k``.
        seed: random seed of the first cell's mismatch draw.
        workers: ngspice processes at once.
        timeout_s: limit per ngspice run.
        progress: called with 1 after each cell.

    Returns:
        ``(transfer, results)``: a :class:`CellTransfer` (rows of failed runs hold
        NaN) and one :class:`SpiceResult` per cell.
    """
    stop, step = stop_pA * 1e-12, step_pA * 1e-12
    vectors = ("i(vo0)", "v(c0_s)")
    analyses = [
        Analysis("up", f"dc icand 0 {stop:.6g} {step:.6g}", vectors),
        Analysis("down", f"dc icand {stop:.6g} 0 {-step:.6g}", vectors),
    ]
    jobs = []
    for k, bias in enumerate(biases):
        header = model_header(mismatch=mismatch, seed=seed + k)
        jobs.append((header + "\n" + cell_bench([bias], sizes), analyses))
    results = run_many(jobs, workers=workers, timeout_s=timeout_s, progress=progress)
    points = int(round(stop_pA / step_pA)) + 1
    rows = [_transfer(r.data) if r.ok else _failed(points, step_pA) for r in results]
    return _stack(rows), results


def _transfer(data) -> CellTransfer:
    """One cell's transfer (arrays with a leading axis of 1)."""
    up, down = data["up"], data["down"]
    candidate = up["scale"] * 1e12
    # The falling sweep is reversed so both read along a rising candidate.
    up_out = up["i(vo0)"] * 1e12
    down_out = down["i(vo0)"][::-1] * 1e12
    up_state = up["v(c0_s)"] > VDD_V / 2
    down_state = down["v(c0_s)"][::-1] > VDD_V / 2
    return CellTransfer(
        candidate,
        up_out[None],
        down_out[None],
        np.array([_first_edge(candidate, up_state)]),
        np.array([_last_edge(candidate, down_state)]),
        np.array([_masked_mean(up_out, ~up_state)]),
        np.array([_masked_mean(up_out, up_state)]),
        np.array([_droop(up_out, up_state)]),
    )


def _failed(points: int, step_pA: float) -> CellTransfer:
    nan = np.full((1, points), np.nan)
    scalar = np.full(1, np.nan)
    candidate = np.arange(points) * step_pA
    return CellTransfer(candidate, nan, nan, scalar, scalar, scalar, scalar, scalar)


def _stack(rows: list[CellTransfer]) -> CellTransfer:
    def cat(name):
        return np.concatenate([getattr(row, name) for row in rows])

    names = ("up_output_pA", "down_output_pA", "on_pA", "off_pA", "low_pA")
    return CellTransfer(
        rows[0].candidate_pA, *(cat(n) for n in names), cat("high_pA"), cat("droop")
    )


def _first_edge(candidate: np.ndarray, state: np.ndarray) -> float:
    """Candidate half-way between the last low and first high point of a rise."""
    if not state.any() or state[0]:
        return float("nan")
    k = int(np.argmax(state))
    return float(0.5 * (candidate[k - 1] + candidate[k]))


def _last_edge(candidate: np.ndarray, state: np.ndarray) -> float:
    """Candidate half-way between the last low and the first high point, read along
    the falling sweep (where the cell stays high down to its lower threshold)."""
    if state.all() or not state[-1]:
        return float("nan")
    k = len(state) - int(np.argmax(~state[::-1]))
    return float(0.5 * (candidate[k - 1] + candidate[k]))


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else float("nan")


def _droop(output: np.ndarray, state: np.ndarray) -> float:
    if state.sum() < 2:
        return float("nan")
    high = output[state]
    return float((high[0] - high[-1]) / high[0])
