"""Transistor-level netlist of a BMRU network from its circuit description.

Signals are currents. Each signal that feeds weights enters an NMOS diode of width
``W_ref`` (its "sink" side); a unit NMOS copy feeds a PMOS diode (its "source" side).
A weight is then one output transistor of width ``W_out`` (from the description):
a PMOS on the source side for a positive weight (it sources into the next node), an
NMOS on the sink side for a negative one (it sinks from it). A node that sums them
is again an NMOS diode, which carries no negative current: the ReLU is free.

Per layer ``l`` (cells ``i``, signals ``k``)::

    u_l,k   input diode: layer 1 gets max(x0, 0); layer l > 1 gets copies of every
            earlier o_j,k plus x0 (an ideal source for max(x0, 0), an ideal sink for
            max(-x0, 0)): the residual path x_l = o_l + x_(l-1) on separate positive
            and negative branches, and its ReLU at the diode
    c_l,i   candidate = diode of cell i, fed by the W_c mirrors and the b_c source
    y_l,i   cell output alpha s into a diode (sensed by ``vy<l>_<i>``)
    o_l,k   post-projection node, W_p mirrors and b_p into a diode (``vo<l>_<k>``)

The input projection ``x0 = W_in m + b_in`` and the readout ``W_fc x_L + b_fc`` are
evaluated from the simulated currents outside the netlist: ``x0`` arrives as
piecewise-constant ideal current sources (one value per 10 ms frame), and the readout
is ``W_fc (x0 + sum_l o_l) + b_fc`` with the measured ``o_l``.
"""

from dataclasses import dataclass

import numpy as np

from bmru_jax.errors import InputError
from bmru_jax.spice._models import model_header
from bmru_jax.spice._netlist import (
    L_MAX_UM,
    VDD_V,
    W_MAX_UM,
    cell_instance,
    cell_subckt,
    mosfet,
    supply,
)
from bmru_jax.spice._runner import Analysis, SpiceResult, run_netlist

FRAME_S = 10e-3
SAMPLE_S = 9e-3
EDGE_S = 10e-6
# A 3e-3 relative tolerance halves the Newton iterations of a clip against the
# default 1e-3 and moves sampled currents by well under 0.1 %.
NETWORK_OPTIONS = ".options reltol=3e-3"


@dataclass(frozen=True)
class NetworkTrace:
    """Per-frame samples of a SPICE network run (currents in nA).

    Attributes:
        states: cell states in {0, 1}, ``(layers, time, cells)``.
        outputs_nA: cell output currents ``y``, ``(layers, time, cells)``.
        projections_nA: post-projection currents ``o``, ``(layers, time, width)``.
    """

    states: np.ndarray
    outputs_nA: np.ndarray
    projections_nA: np.ndarray


class _Netlist:
    """Collects element lines and reports devices the models cannot build."""

    def __init__(self, desc):
        device = desc.settings.device
        self.w_ref = device.reference_width_um
        self.l_um = device.mirror_length_um
        # The narrowest point of each polarity's measured gain-width curve.
        self.narrowest = {
            "source": (device.mirror_widths_um[0], device.mirror_gains_source[0]),
            "sink": (device.mirror_widths_um[0], device.mirror_gains_sink[0]),
        }
        self.unit_nA = desc.settings.unit_current_nA
        self.lines: list[str] = []
        self.unbuildable: list[dict] = []

    def add(self, line: str) -> None:
        self.lines.append(line)

    def signal(self, node: str) -> None:
        """Diode ``node`` (sink side) and its PMOS copy ``node_p`` (source side)."""
        self.add(
            mosfet(
                f"d{node}", node, node, "0", kind="n", w_um=self.w_ref, l_um=self.l_um
            )
        )
        self.add(
            mosfet(
                f"k{node}",
                f"{node}_p",
                node,
                "0",
                kind="n",
                w_um=self.w_ref,
                l_um=self.l_um,
            )
        )
        self.add(
            mosfet(
                f"d{node}_p",
                f"{node}_p",
                f"{node}_p",
                "vdd",
                kind="p",
                w_um=self.w_ref,
                l_um=self.l_um,
            )
        )

    def mirror(
        self,
        name: str,
        signal: str,
        target: str,
        width_um: float,
        polarity: str,
        gain: float,
    ) -> None:
        """One weight from ``signal`` into (source) or out of (sink) ``target``.

        A gain below that of the narrowest measured width is built at that width with
        a longer channel (gain ~ W / L in weak inversion), not as a width the models
        cannot build.
        """
        if polarity == "none" or gain <= 0:
            return
        width, length = float(width_um), self.l_um
        narrow_um, narrow_gain = self.narrowest[polarity]
        if width < narrow_um:
            width, length = narrow_um, self.l_um * narrow_gain / gain
        if width > W_MAX_UM or length > L_MAX_UM:
            width, length = min(width, W_MAX_UM), min(length, L_MAX_UM)
            self.unbuildable.append(
                {
                    "mirror": name,
                    "gain": float(gain),
                    "width_um": width,
                    "length_um": length,
                }
            )
        kind, gate, rail = (
            ("p", f"{signal}_p", "vdd") if polarity == "source" else ("n", signal, "0")
        )
        self.add(mosfet(name, target, gate, rail, kind=kind, w_um=width, l_um=length))

    def bias(self, name: str, node: str, current_pA: float, polarity: str) -> None:
        if polarity == "source" and current_pA > 0:
            self.add(f"i{name} vdd {node} {current_pA * 1e-12:.6g}")
        elif polarity == "sink" and current_pA > 0:
            self.add(f"i{name} {node} 0 {current_pA * 1e-12:.6g}")


def _pwl(
    name: str, plus: str, minus: str, values_nA: np.ndarray, unit_nA: float
) -> str:
    """Ideal current source from ``plus`` to ``minus``, one value per frame."""
    points = []
    previous = float(values_nA[0])
    for k, value in enumerate(values_nA):
        start = k * FRAME_S
        if k > 0:
            points += [start, previous]
        points += [start + (EDGE_S if k > 0 else 0.0), float(value)]
        previous = float(value)
    pairs = " ".join(
        f"{t:.6g} {v * unit_nA * 1e-9:.6g}" for t, v in zip(points[::2], points[1::2])
    )
    return f"i{name} {plus} {minus} pwl({pairs})"


def network_netlist(desc, x0: np.ndarray) -> tuple[str, list[dict]]:
    """Netlist body (no models) of the network driven by ``x0`` for one clip.

    Args:
        desc: a :class:`bmru_jax.circuit.description.CircuitDescription`.
        x0: input projection in model units, ``(time, width)``.

    Returns:
        ``(body, unbuildable)``: the netlist text and the mirrors whose width was
        outside the models' range (each with the width used instead).
    """
    x0 = np.asarray(x0, float)
    if x0.ndim != 2 or x0.shape[1] != desc.width:
        raise InputError(f"x0: expected shape (time, {desc.width}), got {x0.shape}")
    net = _Netlist(desc)
    net.add(supply())
    net.add(cell_subckt())
    positive, negative = np.maximum(x0, 0.0), np.maximum(-x0, 0.0)
    for index, layer in enumerate(desc.layers):
        _layer(net, layer, index + 1, positive, negative)
    return "\n".join(net.lines), net.unbuildable


def _layer(net: _Netlist, layer, number: int, positive, negative) -> None:
    width = positive.shape[1]
    for k in range(width):
        u = f"u{number}_{k}"
        net.signal(u)
        net.add(_pwl(f"xp{number}_{k}", "vdd", u, positive[:, k], net.unit_nA))
        if number > 1:
            # Residual: x_(l-1) = x0 + o_1 + ... + o_(l-1), ReLU'd at this diode.
            net.add(_pwl(f"xn{number}_{k}", u, "0", negative[:, k], net.unit_nA))
            for j in range(1, number):
                net.mirror(
                    f"r{number}_{j}_{k}", f"o{j}_{k}", u, net.w_ref, "source", 1.0
                )
    cells = layer.cells
    for i in range(len(cells.I_gain_pA)):
        cand = f"c{number}_{i}"
        for k in range(width):
            net.mirror(
                f"wc{number}_{i}_{k}",
                f"u{number}_{k}",
                cand,
                layer.W_c.width_um[i][k],
                layer.W_c.polarity[i][k],
                layer.W_c.gain[i][k],
            )
        net.bias(
            f"bc{number}_{i}", cand, layer.b_c.current_pA[i], layer.b_c.polarity[i]
        )
        net.add(
            cell_instance(
                f"l{number}c{i}",
                cand,
                f"y{number}_{i}_s",
                gain_A=cells.I_gain_pA[i] * 1e-12,
                thresh_A=cells.I_thresh_pA[i] * 1e-12,
                width_A=cells.I_width_pA[i] * 1e-12,
            )
        )
        net.add(f"vy{number}_{i} y{number}_{i}_s y{number}_{i} 0")
        net.signal(f"y{number}_{i}")
        net.add(f".ic v(l{number}c{i}_s)={VDD_V * cells.initial_state[i]:.3g}")
    for k in range(width):
        o = f"o{number}_{k}"
        for i in range(len(cells.I_gain_pA)):
            net.mirror(
                f"wp{number}_{k}_{i}",
                f"y{number}_{i}",
                f"{o}_s",
                layer.W_p.width_um[k][i],
                layer.W_p.polarity[k][i],
                layer.W_p.gain[k][i],
            )
        net.bias(
            f"bp{number}_{k}", f"{o}_s", layer.b_p.current_pA[k], layer.b_p.polarity[k]
        )
        net.add(f"vo{number}_{k} {o}_s {o} 0")
        net.signal(o)


def simulate_network(
    desc, x0: np.ndarray, *, timeout_s: float = 600.0
) -> tuple[NetworkTrace | None, SpiceResult, list[dict]]:
    """Transient of the network over one clip, sampled at ``SAMPLE_S`` of each frame.

    Args:
        desc: the circuit description.
        x0: input projection in model units, ``(time, width)``.
        timeout_s: limit for the ngspice run.

    Returns:
        ``(trace, result, unbuildable)``; ``trace`` is ``None`` if the run failed.
    """
    body, unbuildable = network_netlist(desc, x0)
    frames, width = x0.shape
    layers = len(desc.layers)
    vectors = []
    for number in range(1, layers + 1):
        vectors += [f"v(l{number}c{i}_s)" for i in range(width)]
        vectors += [f"i(vy{number}_{i})" for i in range(width)]
        vectors += [f"i(vo{number}_{k})" for k in range(width)]
    stop = frames * FRAME_S
    command = f"tran {FRAME_S / 20:.6g} {stop:.6g} 0 {FRAME_S / 10:.6g}"
    analysis = Analysis("tran", command, tuple(vectors))
    text = "\n".join([model_header(), NETWORK_OPTIONS, body])
    result = run_netlist(text, [analysis], timeout_s=timeout_s)
    if not result.ok:
        return None, result, unbuildable
    data = result.data["tran"]
    times = np.arange(frames) * FRAME_S + SAMPLE_S

    def sample(name):
        return np.interp(times, data["scale"], data[name])

    unit = 1e9 / desc.settings.unit_current_nA
    states = np.array(
        [
            [sample(f"v(l{number}c{i}_s)") > VDD_V / 2 for i in range(width)]
            for number in range(1, layers + 1)
        ]
    ).transpose(0, 2, 1)
    outputs = np.array(
        [
            [sample(f"i(vy{number}_{i})") * unit for i in range(width)]
            for number in range(1, layers + 1)
        ]
    ).transpose(0, 2, 1)
    projections = np.array(
        [
            [sample(f"i(vo{number}_{k})") * unit for k in range(width)]
            for number in range(1, layers + 1)
        ]
    ).transpose(0, 2, 1)
    return NetworkTrace(states.astype(float), outputs, projections), result, unbuildable
