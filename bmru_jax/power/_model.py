"""Power of one simulated die on one clip: ``P = V_DD * sum of branch currents``.

Every supply-to-ground branch of the network, per 10 ms frame, in two blocks:

**Recurrent core (the BMRU cells)**, per cell

    I_cell = I_floor + I_gain + I_thresh + I_width + y_t

- ``I_gain, I_thresh, I_width``: the cell's three bias-generator branches as realised
  on this die (they follow the trained parameters and the die's mismatch);
- ``I_floor``: the rest of the cell's static current (comparator and latch branches),
  independent of the bias setting. The published figure is the whole static power of a
  nominal cell, ``cell_static_nW = 4.9 nW`` at 1.8 V (SPEC section 5); the floor is that
  figure less the three bias branches of the nominal cell it was measured on
  (on at 350 pA, off at 150 pA, alpha 500 pA: 1.068 nA through the measured
  transfers), i.e. ``4.9 nW / 1.8 V - 1.068 nA = 1.654 nA``. Set
  ``cell_static_bias_nA=0`` to read the 4.9 nW as a floor on top of the bias branches;
- ``y_t``: the output branch, ``alpha`` when the cell is set (leakage when reset).

**Feedforward (mirrors and bias sources)**

- each mirror output branch carries ``|g_ij| I_j`` (the simulator's recorded
  ``source_nA + sink_nA``);
- each *input node* of a mirror bank has one diode-connected reference branch carrying
  its current ``I_j``, counted **once per node** however many outputs share it (the
  fan-out): the chip's input currents ``|m_t|``, and each residual node ``x_l``
  (``l = 0..L``, both signed paths, ``|x_l|``) that feeds the next layer's ``W_c`` and
  the skip copy, or the readout ``W_fc``. Two nodes have no extra reference: a cell's
  output branch ``y`` *is* the reference of its ``W_p`` mirrors (already in the core),
  and the candidate node is the end of the ``W_c`` branches inside the cell;
- each residual skip ``x_l = o_l + x_{l-1}`` is a unit-gain copy of ``x_{l-1}`` (one
  current cannot feed both ``W_c`` and the next node): a branch of ``|x_{l-1}|``;
- each bias source ``|b_i|`` is one branch.

``mirror_reference="none"`` drops the reference branches except the chip's inputs:
each branch is then counted only where it starts, the convention of
:meth:`bmru_jax.circuit.BranchCurrents.total_nA` (which also leaves out the skips).

Energy of a clip: ``E = sum_t P_t * frame``; 101 frames of 10 ms is one inference.
"""

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from bmru_jax.circuit import (
    DeviceParameters,
    Die,
    SimulationResult,
    TemporalNoise,
    simulate,
)
from bmru_jax.circuit.devices import (
    NOMINAL_CELL_ALPHA_PA,
    NOMINAL_CELL_BETA2_PA,
    NOMINAL_CELL_DELTA_PA,
    bias_current_pA,
    mirror_input,
)
from bmru_jax.errors import InputError, require

_REFERENCES = ("per_input_node", "none")


def nominal_cell_bias_nA(device: DeviceParameters = DeviceParameters()) -> float:
    """``I_gain + I_thresh + I_width`` of the SPEC's nominal cell, nA (1.068 nA).

    Example:
        >>> round(nominal_cell_bias_nA(), 3)
        1.068
    """
    total_pA = (
        bias_current_pA(NOMINAL_CELL_ALPHA_PA, device.gain_slope, device.gain_offset_pA)
        + bias_current_pA(
            NOMINAL_CELL_BETA2_PA, device.thresh_slope, device.thresh_offset_pA
        )
        + bias_current_pA(
            NOMINAL_CELL_DELTA_PA, device.width_slope, device.width_offset_pA
        )
    )
    return float(total_pA) * 1e-3


@dataclasses.dataclass(frozen=True)
class PowerSettings:
    """Named settings of the power model (see the module docstring).

    Attributes:
        vdd_V: supply voltage, V (SPEC: 1.8 V).
        cell_static_nW: published static power of one nominal cell, nW, measured at
            ``cell_static_vdd_V`` (SPEC: ~4.9 nW at 1.8 V), bias branches included.
        cell_static_vdd_V: the supply the static figure was measured at, V.
        cell_static_bias_nA: the part of that static current that is the nominal
            cell's three bias branches, nA; ``None`` derives it from the SPEC's nominal
            cell through the measured transfers (1.068 nA). ``0`` counts the whole
            figure as a floor on top of each cell's own bias branches.
        mirror_reference: ``"per_input_node"`` (one reference branch per mirror input
            node) or ``"none"`` (branches counted where they start only).
        frame_ms: duration of one frame, ms (energy = power x time).

    Example:
        >>> round(PowerSettings().cell_floor_nA, 3)
        1.654
    """

    vdd_V: float = 1.8
    cell_static_nW: float = 4.9
    cell_static_vdd_V: float = 1.8
    cell_static_bias_nA: float | None = None
    mirror_reference: str = "per_input_node"
    frame_ms: float = 10.0

    def __post_init__(self):
        _require_number("vdd_V", self.vdd_V, positive=True)
        _require_number("cell_static_nW", self.cell_static_nW, positive=False)
        _require_number("cell_static_vdd_V", self.cell_static_vdd_V, positive=True)
        if self.cell_static_bias_nA is not None:
            _require_number(
                "cell_static_bias_nA", self.cell_static_bias_nA, positive=False
            )
        _require_number("frame_ms", self.frame_ms, positive=True)
        require(
            self.mirror_reference in _REFERENCES,
            f"mirror_reference: must be one of {_REFERENCES}, "
            f"got {self.mirror_reference!r}",
        )
        require(
            self.cell_floor_nA >= 0,
            f"cell_static_nW: {self.cell_static_nW} nW at {self.cell_static_vdd_V} V "
            f"is below the nominal cell's bias branches "
            f"({self.static_bias_nA:.4g} nA); lower cell_static_bias_nA",
        )

    @property
    def static_bias_nA(self) -> float:
        """The nominal cell's bias branches inside ``cell_static_nW``, nA."""
        if self.cell_static_bias_nA is None:
            return nominal_cell_bias_nA()
        return float(self.cell_static_bias_nA)

    @property
    def cell_floor_nA(self) -> float:
        """Bias-independent static current of one cell, nA."""
        return self.cell_static_nW / self.cell_static_vdd_V - self.static_bias_nA


def _require_number(name: str, value, *, positive: bool) -> None:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = is_number and math.isfinite(value) and (value > 0 if positive else value >= 0)
    rule = "a positive" if positive else "a non-negative"
    require(ok, f"{name}: must be {rule} finite number, got {value!r}")


class PowerTrace(eqx.Module):
    """Power of every block of one die on one clip, nW, per frame where it varies.

    Attributes:
        cell_static_nW: floor plus bias branches per cell, ``(layers, cells)``.
        cell_output_nW: output branch per cell, ``(layers, time, cells)``.
        mirror_nW: output branches of each mirror bank, summed over the bank,
            ``(time,)``; keys ``"input.W_in"``, ``"layer1.W_c"``, ``"layer1.W_p"``,
            ``"layer1.skip"``, ..., ``"readout.W_fc"``.
        reference_nW: reference branch of each input node, ``(time,)``; keys
            ``"input.m"``, ``"x0"``, ..., ``"xL"``.
        bias_source_nW: each bias source, ``(sources,)``; keys ``"input.b_in"``, ...
        frame_ms: frame duration, ms (static).

    Example:
        >>> import jax
        >>> from bmru_jax.circuit import die_from_model
        >>> from bmru_jax.models import HardwareBackbone
        >>> die = die_from_model(HardwareBackbone(width=4, key=jax.random.key(0)))
        >>> trace = network_power(die, jnp.zeros((101, 13)))
        >>> trace.total_nW().shape, trace.energy_nJ().shape
        ((101,), ())
    """

    cell_static_nW: Float[Array, "layers cells"]
    cell_output_nW: Float[Array, "layers time cells"]
    mirror_nW: dict[str, Float[Array, " time"]]
    reference_nW: dict[str, Float[Array, " time"]]
    bias_source_nW: dict[str, Float[Array, " sources"]]
    frame_ms: float = eqx.field(static=True)

    def core_nW(self) -> Float[Array, " time"]:
        """Recurrent core per frame: every cell's static and output branches."""
        return jnp.sum(self.cell_output_nW, axis=(0, 2)) + jnp.sum(self.cell_static_nW)

    def feedforward_nW(self) -> Float[Array, " time"]:
        """Feedforward per frame: mirror outputs, references and bias sources."""
        frames = self.cell_output_nW.shape[1]
        total = jnp.zeros((frames,))
        for branch in (*self.mirror_nW.values(), *self.reference_nW.values()):
            total = total + branch
        for source in self.bias_source_nW.values():
            total = total + jnp.sum(source)
        return total

    def total_nW(self) -> Float[Array, " time"]:
        """The whole network per frame."""
        return self.core_nW() + self.feedforward_nW()

    def energy_nJ(self) -> Float[Array, ""]:
        """Energy of the clip, ``sum_t P_t * frame`` (nW x s = nJ)."""
        return jnp.sum(self.total_nW()) * self.frame_ms * 1e-3


def power_from_currents(
    die: Die, result: SimulationResult, settings: PowerSettings = PowerSettings()
) -> PowerTrace:
    """Power of a simulated clip from its recorded branch currents (pure, vmappable).

    Args:
        die: the die that was simulated (for its bias sources).
        result: :func:`bmru_jax.circuit.simulate` output with ``record=("currents",)``.
        settings: supply, static cell current, counting convention.

    Returns:
        A :class:`PowerTrace`.
    """
    currents = result.currents
    if currents is None:
        raise InputError(
            "result: has no branch currents, simulate with record=('currents',)"
        )
    vdd = settings.vdd_V
    cells = currents.cells
    static_nA = (
        settings.cell_floor_nA + cells.I_gain_nA + cells.I_thresh_nA + cells.I_width_nA
    )
    mirror_nW = {
        name: vdd * jnp.sum(bank.source_nA + bank.sink_nA, axis=1)
        for name, bank in currents.mirrors.items()
    }
    nodes = _residual_nodes_nA(die, result)
    for index in range(len(die.layers)):
        mirror_nW[f"layer{index + 1}.skip"] = vdd * jnp.sum(jnp.abs(nodes[index]), 1)
    reference_nW = {
        "input.m": vdd * jnp.sum(currents.mirrors["input.W_in"].input_nA, 1)
    }
    if settings.mirror_reference == "per_input_node":
        for index, node in enumerate(nodes):
            reference_nW[f"x{index}"] = vdd * jnp.sum(jnp.abs(node), axis=1)
    return PowerTrace(
        cell_static_nW=vdd * static_nA,
        cell_output_nW=vdd * cells.output_nA,
        mirror_nW=mirror_nW,
        reference_nW=reference_nW,
        bias_source_nW={k: vdd * v for k, v in currents.bias_sources_nA.items()},
        frame_ms=float(settings.frame_ms),
    )


def _require_currents(result: SimulationResult) -> None:
    if result.currents is None:
        raise InputError(
            "result: has no branch currents, simulate with record=('currents',)"
        )


def mirror_power_nW(
    die: Die, result: SimulationResult, settings: PowerSettings = PowerSettings()
) -> dict[str, Float[Array, "outputs inputs"]]:
    """Clip-mean power of every single mirror output branch, ``V_DD |g_ij| I_j``.

    ``I_j`` is the current the bank copies from input ``j`` (through the gain's input
    dependence when it is on); a signed input has one path conducting at a time, so
    it is ``|x_j|``. Each bank's matrix sums to the clip mean of
    ``PowerTrace.mirror_nW[bank]``.

    Args:
        die: the simulated die.
        result: its :func:`~bmru_jax.circuit.simulate` output with
            ``record=("currents",)``.
        settings: the power model's settings.

    Returns:
        Per bank (``"input.W_in"``, ``"layer1.W_c"``, ...), ``(outputs, inputs)`` nW.
    """
    _require_currents(result)
    copy = lambda i: mirror_input(i, die.nonideal, die.device)  # noqa: E731
    nodes = _residual_nodes_nA(die, result)
    chip_inputs = result.currents.mirrors["input.W_in"].input_nA
    inputs = {"input.W_in": (die.W_in, copy(chip_inputs))}
    for index, layer in enumerate(die.layers):
        name = f"layer{index + 1}"
        inputs[f"{name}.W_c"] = (layer.W_c, copy(jax.nn.relu(nodes[index])))
        inputs[f"{name}.W_p"] = (layer.W_p, copy(result.cell_outputs_nA[index]))
    inputs["readout.W_fc"] = (die.W_fc, copy(jnp.abs(nodes[-1])))
    return {
        bank: settings.vdd_V * jnp.abs(gains) * current.mean(axis=0)
        for bank, (gains, current) in inputs.items()
    }


def _residual_nodes_nA(die: Die, result: SimulationResult) -> list:
    """Signed residual node currents ``x_0 ... x_L``, each ``(time, width)``.

    The simulator records the input bank's sourced and sunk outputs; ``x_0`` is their
    difference plus ``b_in``, and ``x_l = o_l + x_{l-1}`` with the recorded ``o_l``.
    """
    bank = result.currents.mirrors["input.W_in"]
    nodes = [bank.source_nA - bank.sink_nA + die.b_in_nA]
    for outputs in result.outputs_nA:
        nodes.append(outputs + nodes[-1])
    return nodes


def network_power(
    die: Die,
    features: Float[Array, "time features"],
    settings: PowerSettings = PowerSettings(),
    *,
    key: PRNGKeyArray | None = None,
    noise: TemporalNoise | None = None,
) -> PowerTrace:
    """Simulate one die on one clip and return its power (pure, jit/vmap over dies).

    Args:
        die: the chip (nominal or sampled).
        features: feature frames in model units, ``(time, features)``.
        settings: the power model's settings.
        key: key of the clip's temporal noise (with ``noise``).
        noise: temporal noise on the candidate nodes, or None.

    Returns:
        A :class:`PowerTrace`; ``.total_nW()`` per frame, ``.energy_nJ()`` per clip.

    Example:
        >>> import jax
        >>> from bmru_jax.circuit import die_from_model
        >>> from bmru_jax.models import HardwareBackbone
        >>> die = die_from_model(HardwareBackbone(width=4, key=jax.random.key(0)))
        >>> float(network_power(die, jnp.zeros((3, 13))).core_nW()[0]) > 8 * 4.9
        True
    """
    result = simulate(die, features, key=key, noise=noise, record=("currents",))
    return power_from_currents(die, result, settings)
