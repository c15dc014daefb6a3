"""Netlist text for the current-mode BMRU circuit: devices, mirrors and the cell.

All transistors are 3.3 V GF180MCU devices (``nmos_3p3``, ``pmos_3p3``) run from a 1.8 V
supply with pA-nA currents, so they work in weak inversion. NMOS bulks go to ground,
PMOS bulks to ``vdd``. Widths and lengths are given in micrometres. The models ignore a
multiplier ``m=``, so parallel devices are written out one by one.

The BMRU cell (14 transistors plus the three bias diodes' mirrors) is a current-mode
Schmitt trigger::

        vdd ------+--------------+----------------+-----------------+
                  |              |                |                 |
          ith->[P1]=[P2]       [P6]--+          [P7]--+     igain->[P8]=[P9]
         (diode)   | I_thresh   |    |            |   |      (diode)   |
                   |            x   s            s   sb              [P10] gate sb
           cand    x------+----+    |            |   |                 |
           |       |      |   [N6]--+          [N7]--+                out -> alpha s
         [N1]=====[N2]  [N5] gate s
        (diode)    | c    |
                  gnd   [N4]====[N3]<-iwd (diode)
                          | I_width

``x`` is the comparator node: P2 sources ``I_thresh`` into it, N2 sinks a copy of the
candidate ``c``, and N4 (through the switch N5, on while ``s = 1``) sinks ``I_width``.
Two inverters give ``s = not x`` and ``sb = not s``; P10, gated by ``sb``, lets a copy
of ``I_gain`` out only while ``s = 1``. Hence

* ``s = 0``: ``x`` falls (``s`` rises) once ``c > I_thresh``: the upper threshold
  ``beta2 = I_thresh``;
* ``s = 1``: ``x`` rises (``s`` falls) once ``c + I_width < I_thresh``: the lower
  threshold ``beta1 = I_thresh - I_width``, hysteresis width ``delta = I_width``;
* output ``y = I_gain s``: ``alpha = I_gain``.

The candidate enters the cell through the diode N1, which cannot carry a negative
current: the ReLU of the first-quadrant cell costs nothing.
"""

from dataclasses import dataclass

from bmru_jax.errors import InputError

VDD_V = 1.8
# GF180MCU 3.3 V device limits of the ngspice model bins, in um.
W_MIN_UM = 0.22
W_MAX_UM = 100.0
L_MIN_UM = 0.28
L_MAX_UM = 50.0


@dataclass(frozen=True)
class CellSizes:
    """Transistor sizes of the BMRU cell, in um.

    Attributes:
        mirror_w_um, mirror_l_um: the current mirrors (candidate, bias copies); large
            so that their mismatch stays near a few percent.
        switch_w_um, switch_l_um: the inverters and the two switches.
    """

    mirror_w_um: float = 5.0
    mirror_l_um: float = 5.0
    switch_w_um: float = 1.0
    switch_l_um: float = 1.0


def mosfet(
    name: str,
    drain: str,
    gate: str,
    source: str,
    *,
    kind: str,
    w_um: float,
    l_um: float,
) -> str:
    """One transistor instance line.

    Args:
        name: instance name without the leading ``x``.
        drain, gate, source: node names.
        kind: ``"n"`` (bulk to ground) or ``"p"`` (bulk to ``vdd``).
        w_um, l_um: width and length in um, inside the model's range.

    Example:
        >>> mosfet("m1", "d", "g", "0", kind="n", w_um=5, l_um=5)
        'xm1 d g 0 0 nmos_3p3 w=5u l=5u'
    """
    if kind not in ("n", "p"):
        raise InputError(f"kind: must be 'n' or 'p', got {kind!r}")
    if not W_MIN_UM <= w_um <= W_MAX_UM:
        raise InputError(
            f"{name}: width must be in [{W_MIN_UM}, {W_MAX_UM}] um, got {w_um}"
        )
    if not L_MIN_UM <= l_um <= L_MAX_UM:
        raise InputError(
            f"{name}: length must be in [{L_MIN_UM}, {L_MAX_UM}] um, got {l_um}"
        )
    bulk, model = ("0", "nmos_3p3") if kind == "n" else ("vdd", "pmos_3p3")
    return f"x{name} {drain} {gate} {source} {bulk} {model} w={w_um:.6g}u l={l_um:.6g}u"


def cell_subckt(sizes: CellSizes = CellSizes()) -> str:
    """The ``.subckt bmru_cell cand ith iwd igain out s vdd`` definition.

    Pins: ``cand`` candidate current in (sourced into the cell); ``ith`` draws
    ``I_thresh`` (connect a current sink to ground); ``iwd`` takes ``I_width`` (connect
    a current source from ``vdd``); ``igain`` draws ``I_gain``; ``out`` sources
    ``alpha s``; ``s`` the state voltage (high = 1).
    """
    mw, ml = sizes.mirror_w_um, sizes.mirror_l_um
    sw, sl = sizes.switch_w_um, sizes.switch_l_um
    big = {"w_um": mw, "l_um": ml}
    small = {"w_um": sw, "l_um": sl}
    lines = [
        ".subckt bmru_cell cand ith iwd igain out s vdd",
        mosfet("n1", "cand", "cand", "0", kind="n", **big),
        mosfet("n2", "x", "cand", "0", kind="n", **big),
        mosfet("p1", "ith", "ith", "vdd", kind="p", **big),
        mosfet("p2", "x", "ith", "vdd", kind="p", **big),
        mosfet("n3", "iwd", "iwd", "0", kind="n", **big),
        mosfet("n4", "xw", "iwd", "0", kind="n", **big),
        mosfet("n5", "x", "s", "xw", kind="n", **small),
        mosfet("p6", "s", "x", "vdd", kind="p", **small),
        mosfet("n6", "s", "x", "0", kind="n", **small),
        mosfet("p7", "sb", "s", "vdd", kind="p", **small),
        mosfet("n7", "sb", "s", "0", kind="n", **small),
        mosfet("p8", "igain", "igain", "vdd", kind="p", **big),
        mosfet("p9", "g2", "igain", "vdd", kind="p", **big),
        mosfet("p10", "out", "sb", "g2", kind="p", **small),
        ".ends bmru_cell",
    ]
    return "\n".join(lines)


def cell_instance(
    name: str,
    cand: str,
    out: str,
    *,
    gain_A: float,
    thresh_A: float,
    width_A: float,
) -> str:
    """One cell with its three bias currents as ideal sources.

    Args:
        name: instance name; internal nodes are ``<name>_ith`` etc. and the state
            node is ``<name>_s``.
        cand, out: the candidate input and output nodes.
        gain_A, thresh_A, width_A: I_gain, I_thresh, I_width in amperes (>= 0).
    """
    for field, value in (
        ("I_gain", gain_A),
        ("I_thresh", thresh_A),
        ("I_width", width_A),
    ):
        if not value >= 0:
            raise InputError(f"{name}.{field}: bias current must be >= 0, got {value}")
    ith, iwd, igain, s = (f"{name}_{k}" for k in ("ith", "iwd", "igain", "s"))
    return "\n".join(
        [
            f"i{name}_th {ith} 0 {thresh_A:.6g}",
            f"i{name}_wd vdd {iwd} {width_A:.6g}",
            f"i{name}_gn {igain} 0 {gain_A:.6g}",
            f"x{name} {cand} {ith} {iwd} {igain} {out} {s} vdd bmru_cell",
        ]
    )


def supply() -> str:
    """The 1.8 V supply source ``vdd``."""
    return f"vdd vdd 0 {VDD_V}"
