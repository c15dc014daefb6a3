"""Current-mirror test benches: gain against output width, input current and mismatch.

A weight ``w`` of the network is a mirror whose output transistor is ``|w|`` times as
wide as its diode-connected reference (``W_out = |w| W_ref``, same length). A positive
weight is a PMOS mirror sourcing current into the next node, a negative one an NMOS
mirror sinking it. In weak inversion the gain of a mirror is

    gain = (W_out / W_ref) exp(dVT / (n U_T)) (1 + DIBL and edge effects)

so threshold mismatch ``dVT`` between the two devices becomes a multiplicative error.
The output node is held by a voltage source at ``node_V`` (the ~0.45 V of a diode-
connected NMOS input at nA currents), whose current is the mirror's output.
"""

import numpy as np

from bmru_jax.errors import InputError
from bmru_jax.spice._models import model_header
from bmru_jax.spice._netlist import mosfet, supply
from bmru_jax.spice._runner import Analysis, SpiceResult, run_netlist

POLARITIES = ("sink", "source")


def _check_polarity(polarity: str) -> str:
    if polarity not in POLARITIES:
        raise InputError(f"polarity: must be 'sink' or 'source', got {polarity!r}")
    return "n" if polarity == "sink" else "p"


def _reference(
    polarity: str, tag: str, w_um: float, l_um: float, current_A: float = 0.0
) -> tuple[str, str]:
    """A diode-connected reference and the source that drives it (named ``i<tag>``)."""
    kind = _check_polarity(polarity)
    ref = f"r{tag}"
    # The input current flows into an NMOS diode, or out of a PMOS one.
    source = (
        f"i{tag} vdd {ref} {current_A:.6g}"
        if kind == "n"
        else (f"i{tag} {ref} 0 {current_A:.6g}")
    )
    rail = "0" if kind == "n" else "vdd"
    diode = mosfet(f"d{tag}", ref, ref, rail, kind=kind, w_um=w_um, l_um=l_um)
    return source + "\n" + diode, ref


def _output(polarity: str, tag: str, ref: str, w_um: float, l_um: float, node_V: float):
    kind = _check_polarity(polarity)
    source = "0" if kind == "n" else "vdd"
    return "\n".join(
        [
            mosfet(f"o{tag}", f"o{tag}", ref, source, kind=kind, w_um=w_um, l_um=l_um),
            f"vo{tag} o{tag} 0 {node_V:.6g}",
        ]
    )


def mirror_sweep_netlist(
    polarity: str,
    widths_um,
    *,
    w_ref_um: float = 5.0,
    l_um: float = 5.0,
    node_V: float = 0.45,
) -> str:
    """One reference diode with one output per width (netlist body, no models).

    The input source is ``i0``; output ``k`` is measured as ``i(vo<k>)``.

    Example:
        >>> text = mirror_sweep_netlist("sink", [2.5, 10.0])
        >>> "nmos_3p3 w=10u l=5u" in text
        True
    """
    reference, ref = _reference(polarity, "0", w_ref_um, l_um)
    lines = [supply(), reference]
    for k, width in enumerate(widths_um):
        lines.append(_output(polarity, str(k), ref, float(width), l_um, node_V))
    return "\n".join(lines)


def _gain_sign(polarity: str) -> float:
    # A sinking NMOS draws current out of the sense source's + terminal.
    return -1.0 if polarity == "sink" else 1.0


def mirror_gains(
    polarity: str,
    widths_um,
    input_A: tuple[float, float, float],
    *,
    w_ref_um: float = 5.0,
    l_um: float = 5.0,
    node_V: float = 0.45,
) -> tuple[np.ndarray, np.ndarray, SpiceResult]:
    """Nominal mirror gain for each output width over a linear input-current sweep.

    Args:
        polarity: ``"sink"`` (NMOS) or ``"source"`` (PMOS).
        widths_um: output widths in um, shape ``(widths,)``.
        input_A: ``(start, stop, step)`` of the input current in A.
        w_ref_um, l_um: reference width and common length in um.
        node_V: voltage of the output nodes.

    Returns:
        ``(inputs_A (currents,), gains (currents, widths), result)``; the arrays are
        empty when the run failed (see ``result.failure``).
    """
    start, stop, step = input_A
    body = (
        model_header()
        + "\n"
        + mirror_sweep_netlist(
            polarity, widths_um, w_ref_um=w_ref_um, l_um=l_um, node_V=node_V
        )
    )
    vectors = tuple(f"i(vo{k})" for k in range(len(widths_um)))
    analysis = Analysis("sweep", f"dc i0 {start:.6g} {stop:.6g} {step:.6g}", vectors)
    result = run_netlist(body, [analysis])
    if not result.ok:
        return np.zeros(0), np.zeros((0, len(widths_um))), result
    data = result.data["sweep"]
    inputs = data["scale"]
    outputs = np.stack([data[v] for v in vectors], axis=1) * _gain_sign(polarity)
    return inputs, outputs / inputs[:, None], result


def mismatch_netlist(
    polarity: str,
    copies: int,
    *,
    w_um: float,
    l_um: float,
    input_A: float,
    node_V: float,
) -> str:
    """``copies`` independent 1:1 mirrors, each with its own reference and source."""
    lines = [supply()]
    for k in range(copies):
        reference, ref = _reference(polarity, f"m{k}", w_um, l_um, input_A)
        lines.append(reference)
        lines.append(_output(polarity, f"m{k}", ref, w_um, l_um, node_V))
    return "\n".join(lines)


def mismatch_gains(
    polarity: str,
    copies: int,
    *,
    w_um: float = 5.0,
    l_um: float = 5.0,
    input_A: float = 1e-9,
    node_V: float = 0.45,
    seed: int = 1,
) -> tuple[np.ndarray, SpiceResult]:
    """Gains of ``copies`` 1:1 mirrors drawn from the models' mismatch statistics.

    Every instance of a model subcircuit draws its own threshold shift, so one
    netlist holds ``copies`` independent mirrors (one operating point).

    Returns:
        ``(gains (copies,), result)``; ``gains`` is empty when the run failed.
    """
    if copies < 1:
        raise InputError(f"copies: must be a positive integer, got {copies}")
    body = model_header(mismatch=True, seed=seed) + "\n"
    body += mismatch_netlist(
        polarity, copies, w_um=w_um, l_um=l_um, input_A=input_A, node_V=node_V
    )
    vectors = tuple(f"i(vom{k})" for k in range(copies))
    result = run_netlist(body, [Analysis("op", "op", vectors)], timeout_s=300)
    if not result.ok:
        return np.zeros(0), result
    data = result.data["op"]
    gains = np.array([data[v][0] for v in vectors]) * _gain_sign(polarity) / input_A
    return gains, result


def slope_factor(
    polarity: str, *, w_um: float = 5.0, l_um: float = 5.0, temperature_C: float = 27.0
) -> tuple[float, SpiceResult]:
    """Subthreshold slope factor ``n`` from a diode's voltage at 0.1 nA and 1 nA.

    In weak inversion ``I ~ exp(V_GS / (n U_T))``, so a decade of current moves the
    gate of a diode-connected device by ``n U_T ln 10``.

    Returns:
        ``(n, result)``; ``n`` is NaN when the run failed.
    """
    body = model_header() + "\n" + supply() + "\n"
    body += _reference(polarity, "0", w_um, l_um)[0]
    result = run_netlist(body, [Analysis("decade", "dc i0 0.1n 1n 0.9n", ("v(r0)",))])
    if not result.ok:
        return float("nan"), result
    volts = result.data["decade"]["v(r0)"]
    thermal_V = 8.617333262e-5 * (temperature_C + 273.15)
    return float(abs(volts[1] - volts[0]) / (thermal_V * np.log(10.0))), result
