"""Simulate one die on one clip: the circuit's frames, in physical units.

The candidate of every frame depends only on the layer's input, not on the cell
state, so a layer is three bulk steps:

1. candidates for all frames with one matrix product (plus one bulk noise draw);
2. the cheap elementwise Schmitt-trigger scan over frames (``lax.scan``);
3. the post-projection for all frames with one matrix product.

Signed signals (the input projection and the residual path) are carried as the net
current of their positive and negative paths, which is all that the next
diode-connected mirror input or the readout sees. Where a signed current drives a
mirror bank (the input features, the readout) and the gain's input dependence is on,
the two paths go through their own mirrors: ``W f(x+) - W f(x-)``.

One die, one clip, no batch axis: a Monte Carlo batches clips (and noise streams) with
``jax.vmap`` and loops over dies with :func:`~bmru_jax.circuit.montecarlo.map_dies` (on
every CPU core), with keys from :func:`die_key` and :func:`noise_key`, so that a die's
numbers never depend on batch size or chunking.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from bmru_jax._validate import check_shape
from bmru_jax.circuit.devices import (
    bias_current_pA,
    cell_output_nA,
    mirror_input,
    schmitt_states,
)
from bmru_jax.circuit.die import Die
from bmru_jax.circuit.noise import TemporalNoise, candidate_noise_nA, draw_normals
from bmru_jax.errors import InputError

RECORDABLE = ("currents",)


class MirrorCurrents(eqx.Module):
    """Branch currents of one mirror bank, nA.

    Attributes:
        input_nA: current into each input (diode-connected) device, ``(time, inputs)``;
            for a signed input both paths together.
        source_nA: summed sourcing output branches into each output node,
            ``(time, outputs)``.
        sink_nA: summed sinking output branches, ``(time, outputs)``.
    """

    input_nA: Float[Array, "time inputs"]
    source_nA: Float[Array, "time outputs"]
    sink_nA: Float[Array, "time outputs"]


class CellCurrents(eqx.Module):
    """Branch currents of the cells of every layer, nA; ``(layers, ...)``.

    Attributes:
        candidate_nA: current into each cell's input diode, ``(layers, time, cells)``
            (it is the sum of the mirror outputs and bias source that feed it).
        output_nA: the output branch (alpha when set, leakage when reset).
        I_gain_nA, I_thresh_nA, I_width_nA: the static bias branches,
            ``(layers, cells)``, as realised on this die.
    """

    candidate_nA: Float[Array, "layers time cells"]
    output_nA: Float[Array, "layers time cells"]
    I_gain_nA: Float[Array, "layers cells"]
    I_thresh_nA: Float[Array, "layers cells"]
    I_width_nA: Float[Array, "layers cells"]


class BranchCurrents(eqx.Module):
    """Every branch current of a simulated clip, for the power model.

    ``P = V_DD * sum of branch currents``. Each supply-to-ground path should be counted
    once; the totals below count it where it starts: mirror output branches, bias
    sources, the cells' bias and output branches, and the chip's input currents
    (``mirrors["input.W_in"].input_nA``). A mirror's input branch (and a cell's
    candidate) is the end of branches counted upstream, so the totals leave it out.

    Attributes:
        mirrors: per bank, keyed ``"input.W_in"``, ``"layer1.W_c"``, ``"layer1.W_p"``,
            ..., ``"readout.W_fc"``.
        bias_sources_nA: magnitude of each bias source, keyed like the banks
            (``"layer1.b_c"`` ...), ``(sources,)``.
        cells: the cells' branches.

    Example:
        >>> import jax
        >>> from bmru_jax.models import HardwareBackbone
        >>> from bmru_jax.circuit.die import die_from_model
        >>> die = die_from_model(HardwareBackbone(width=4, key=jax.random.key(0)))
        >>> result = simulate(die, jnp.ones((5, 13)), record=("currents",))
        >>> result.currents.total_nA().shape
        (5,)
    """

    mirrors: dict[str, MirrorCurrents]
    bias_sources_nA: dict[str, Float[Array, " sources"]]
    cells: CellCurrents

    def cells_total_nA(self) -> Float[Array, " time"]:
        """Per frame: static bias branches plus output branches of all cells."""
        static = self.cells.I_gain_nA + self.cells.I_thresh_nA + self.cells.I_width_nA
        return jnp.sum(self.cells.output_nA, axis=(0, 2)) + jnp.sum(static)

    def mirrors_total_nA(self) -> Float[Array, " time"]:
        """Per frame: mirror output branches, bias sources and the chip's inputs."""
        outputs = sum(
            jnp.sum(bank.source_nA + bank.sink_nA, axis=1)
            for bank in self.mirrors.values()
        )
        sources = sum(jnp.sum(current) for current in self.bias_sources_nA.values())
        chip_inputs = jnp.sum(self.mirrors["input.W_in"].input_nA, axis=1)
        return outputs + sources + chip_inputs

    def total_nA(self) -> Float[Array, " time"]:
        """Per frame: every branch of the chip, each counted once."""
        return self.cells_total_nA() + self.mirrors_total_nA()


class SimulationResult(eqx.Module):
    """What one die did on one clip.

    Attributes:
        states: cell states in {0, 1}, ``(layers, time, cells)``.
        candidates_nA: candidate currents (with noise, if any), same shape.
        cell_outputs_nA: cell output currents ``y``, same shape.
        outputs_nA: post-projection currents ``o`` added to the residual, same shape.
        logits: per-frame logits in model units (readout current / unit current),
            ``(time, classes)``.
        currents: branch currents, when ``"currents"`` was recorded, else None.
    """

    states: Float[Array, "layers time cells"]
    candidates_nA: Float[Array, "layers time cells"]
    cell_outputs_nA: Float[Array, "layers time cells"]
    outputs_nA: Float[Array, "layers time cells"]
    logits: Float[Array, "time classes"]
    currents: BranchCurrents | None


def simulate(
    die: Die,
    features: Float[Array, "time features"],
    *,
    key: PRNGKeyArray | None = None,
    noise: TemporalNoise | None = None,
    record: tuple[str, ...] = (),
    surrogate_slope: float = 1.0,
) -> SimulationResult:
    """Run one die on one clip of feature frames.

    With the nominal die of a model and ``NonIdealities.ideal()``, the states equal the
    software model's bit for bit and the logits to float rounding.

    Args:
        die: the chip (:func:`~bmru_jax.circuit.die.nominal_die`,
            :func:`~bmru_jax.circuit.mismatch.sample_die`, ...).
        features: feature frames in model units, ``(time, features)``; one unit is
            ``die.unit_current_nA`` of input current.
        key: key of this clip's temporal noise (needed when ``noise`` is given).
        noise: temporal noise on the candidate nodes, or None for none.
        record: extra outputs; ``("currents",)`` adds branch currents.
        surrogate_slope: slope of the Heaviside surrogate gradient.

    Returns:
        A :class:`SimulationResult`.

    Example:
        >>> import jax
        >>> from bmru_jax.models import HardwareBackbone
        >>> from bmru_jax.circuit.die import die_from_model
        >>> die = die_from_model(HardwareBackbone(width=4, key=jax.random.key(0)))
        >>> simulate(die, jnp.zeros((101, 13))).logits.shape
        (101, 2)
    """
    _check_arguments(die, features, key, noise, record)
    x = _signed_mirrors(die.W_in, features * die.unit_current_nA, die) + die.b_in_nA
    normals = _layer_normals(die, features.shape[0], key, noise)
    traces = []
    for layer, layer_normals in zip(die.layers, normals):
        trace = _layer(die, layer, x, layer_normals, noise, surrogate_slope)
        traces.append(trace)
        x = trace["o"] + x
    logits_nA = _signed_mirrors(die.W_fc, x, die) + die.b_fc_nA
    currents = None
    if "currents" in record:
        currents = _branch_currents(die, features * die.unit_current_nA, traces, x)
    stack = lambda name: jnp.stack([trace[name] for trace in traces])  # noqa: E731
    return SimulationResult(
        states=stack("s"),
        candidates_nA=stack("c"),
        cell_outputs_nA=stack("y"),
        outputs_nA=stack("o"),
        logits=logits_nA / die.unit_current_nA,
        currents=currents,
    )


def _check_arguments(die, features, key, noise, record):
    check_shape("features", features, (None, die.W_in.shape[1]))
    unknown = set(record) - set(RECORDABLE)
    if unknown:
        raise InputError(
            f"record: unknown entry {sorted(unknown)[0]!r}, use {RECORDABLE}"
        )
    if noise is not None and key is None:
        raise InputError("key: required when noise is given")


def _layer_normals(die, frames, key, noise) -> list:
    """Each layer's standard normals, drawn for all layers in one call (or Nones)."""
    if noise is None:
        return [None] * len(die.layers)
    sizes = [layer.alpha_nA.shape[0] for layer in die.layers]
    normals = draw_normals(key, noise, frames, sum(sizes))
    bounds = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
    return [normals[..., lo:hi] for lo, hi in zip(bounds, bounds[1:])]


def _layer(die, layer, x, normals, noise, slope) -> dict:
    nonideal, device = die.nonideal, die.device
    u = mirror_input(jax.nn.relu(x), nonideal, device)
    pre = u @ layer.W_c.T + layer.b_c_nA
    if noise is not None:
        clean = jax.nn.relu(pre)
        branches = u @ jnp.abs(layer.W_c).T + jnp.abs(layer.b_c_nA) + clean
        pre = pre + candidate_noise_nA(
            noise, branches, clean, die.temperature_K, normals
        )
    c = jax.nn.relu(pre)
    s = schmitt_states(
        c, layer.beta1_nA, layer.delta_nA, layer.s0, nonideal, device, slope=slope
    )
    y = cell_output_nA(
        s, c, layer.alpha_nA, layer.beta2_nA, die.leakage_scale, nonideal, device
    )
    o = jax.nn.relu(mirror_input(y, nonideal, device) @ layer.W_p.T + layer.b_p_nA)
    return {"x": x, "u": u, "c": c, "s": s, "y": y, "o": o}


def _signed_mirrors(gains, x_nA, die):
    """``W x`` for a signed input, ``W (f(x+) - f(x-))`` when the gain depends.

    The two paths go through their own mirrors, ``W f(x+) - W f(x-)``; the bank is
    linear, so that is one product of the net copied current (one product instead of
    two made the Monte Carlo about 1.3x faster).
    """
    if not die.nonideal.mirror_gain_dependence:
        return x_nA @ gains.T
    positive, negative = _paths(x_nA, die)
    return (positive - negative) @ gains.T


def _paths(x_nA, die):
    """The positive and negative path currents as the mirrors copy them."""
    copy = lambda i: mirror_input(i, die.nonideal, die.device)  # noqa: E731
    return copy(jax.nn.relu(x_nA)), copy(jax.nn.relu(-x_nA))


def _bank(gains, positive, negative, column_current) -> MirrorCurrents:
    source, sink = jax.nn.relu(gains).T, jax.nn.relu(-gains).T
    return MirrorCurrents(
        input_nA=column_current,
        source_nA=positive @ source + negative @ sink,
        sink_nA=positive @ sink + negative @ source,
    )


def _branch_currents(die, inputs_nA, traces, x_last) -> BranchCurrents:
    zeros = lambda t: jnp.zeros_like(t)  # noqa: E731
    mirrors = {
        "input.W_in": _bank(die.W_in, *_paths(inputs_nA, die), jnp.abs(inputs_nA))
    }
    sources = {"input.b_in": jnp.abs(die.b_in_nA)}
    for i, (layer, trace) in enumerate(zip(die.layers, traces)):
        name = f"layer{i + 1}"
        u, y = trace["u"], mirror_input(trace["y"], die.nonideal, die.device)
        mirrors[f"{name}.W_c"] = _bank(layer.W_c, u, zeros(u), jax.nn.relu(trace["x"]))
        mirrors[f"{name}.W_p"] = _bank(layer.W_p, y, zeros(y), trace["y"])
        sources[f"{name}.b_c"] = jnp.abs(layer.b_c_nA)
        sources[f"{name}.b_p"] = jnp.abs(layer.b_p_nA)
    mirrors["readout.W_fc"] = _bank(die.W_fc, *_paths(x_last, die), jnp.abs(x_last))
    sources["readout.b_fc"] = jnp.abs(die.b_fc_nA)
    return BranchCurrents(
        mirrors=mirrors, bias_sources_nA=sources, cells=_cell_currents(die, traces)
    )


def _cell_currents(die, traces) -> CellCurrents:
    device = die.device

    def bias_nA(field, slope, offset_pA):
        params_pA = jnp.stack([getattr(layer, field) for layer in die.layers]) * 1e3
        return jnp.maximum(bias_current_pA(params_pA, slope, offset_pA), 0.0) * 1e-3

    return CellCurrents(
        candidate_nA=jnp.stack([t["c"] for t in traces]),
        output_nA=jnp.stack([t["y"] for t in traces]),
        I_gain_nA=bias_nA("alpha_nA", device.gain_slope, device.gain_offset_pA),
        I_thresh_nA=bias_nA("beta2_nA", device.thresh_slope, device.thresh_offset_pA),
        I_width_nA=bias_nA("delta_nA", device.width_slope, device.width_offset_pA),
    )


def die_key(root: PRNGKeyArray, level_index, die_index) -> PRNGKeyArray:
    """Key of one die's frozen variation: ``fold_in(fold_in(root, level), die)``.

    Example:
        >>> die_key(jax.random.key(0), 0, 3).shape
        ()
    """
    return jax.random.fold_in(jax.random.fold_in(root, level_index), die_index)


def noise_key(key_die: PRNGKeyArray, clip_index) -> PRNGKeyArray:
    """Key of one die's temporal noise on one clip: ``fold_in(fold_in(k, 1), clip)``."""
    return jax.random.fold_in(jax.random.fold_in(key_die, 1), clip_index)
