"""Evaluate a chunk of dies: draw each die, run every clip and noise stream, measure.

A chunk is a fixed number of ``(level, die)`` pairs. Each pair becomes one die, drawn
from the immutable nominal die with its own key

    key_die    = fold_in(fold_in(key(seed), level_index), die_index)
    key_stream = fold_in(fold_in(fold_in(key_die, 1), clip_index), stream_index)

so its numbers never depend on the chunk it was computed in, the chunk size or the
worker. Every die then runs every clip under ``streams`` independent temporal-noise
realisations; the measures against the nominal die (no variation, no noise) are

- ``decision``: the clip decision (majority vote of the per-frame argmax);
- ``flips``: frames, summed over clips, where a cell's state differs from the nominal
  die's state on the same clip and frame;
- ``high_level_rel``: a cell's mean output current over its set frames, divided by the
  nominal die's ``alpha`` of that cell (NaN if the cell is never set);
- ``low_level_pA``: its mean output current over its reset frames, pA (the leakage);
- ``power_nW`` (when ``campaign.power`` is on): the whole network's power
  (:mod:`bmru_jax.power`), mean over frames and clips.

One jitted function of fixed shape serves every chunk (the last one is padded), so it
compiles once per campaign.
"""

import dataclasses
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Int

from bmru_jax import circuit
from bmru_jax.campaign.config import CampaignConfig
from bmru_jax.campaign.inputs import CampaignInputs
from bmru_jax.circuit.montecarlo import DRAW_COMPILER_OPTIONS
from bmru_jax.errors import InputError
from bmru_jax.models import clip_decision

# Per-(pair, stream) measures a chunk returns, with their store dims after (level, die).
MEASURES = {
    "decision": ("stream", "clip"),
    "flips": ("stream", "layer", "cell"),
    "high_level_rel": ("stream", "layer", "cell"),
    "low_level_pA": ("stream", "layer", "cell"),
}
POWER_MEASURE = {"power_nW": ("stream",)}


def measures_of(config: CampaignConfig) -> dict[str, tuple[str, ...]]:
    """The measures a campaign records (power only when asked for)."""
    return MEASURES | POWER_MEASURE if config.campaign.power else MEASURES


@dataclasses.dataclass(frozen=True)
class Nominal:
    """The noise-free reference: the nominal die and what it does on every clip.

    Attributes:
        die: the nominal die (no variation, no temporal noise).
        states: its cell states, ``(clips, layers, frames, cells)`` in {0, 1}.
        decisions: its clip decisions, ``(clips,)``.
        alpha_nA: its set output level per cell, ``(layers, cells)``, nA.
        out_of_range: how many weights lie outside the realisable mirror range.
    """

    die: circuit.Die
    states: np.ndarray
    decisions: np.ndarray
    alpha_nA: np.ndarray
    out_of_range: int


def nominal_reference(config: CampaignConfig, inputs: CampaignInputs) -> Nominal:
    """Map the model onto the circuit and run the nominal die on every clip.

    Weights outside the realisable mirror range are counted, not warned about: the
    campaign records the count (``Nominal.out_of_range``) with its results.
    """
    settings = circuit.CircuitSettings(
        unit_current_nA=circuit.resolve_unit_current_nA(
            inputs.model, config.circuit.unit_current_nA
        ),
        out_of_range=config.circuit.out_of_range,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        desc = circuit.describe(inputs.model, settings)
    nonideal = (
        circuit.NonIdealities.ideal()
        if config.circuit.nonidealities == "ideal"
        else circuit.NonIdealities()
    )
    die = circuit.nominal_die(desc, nonideal)
    states, decisions = jax.jit(jax.vmap(_states_and_decision, (None, 0)))(
        die, jnp.asarray(inputs.features)
    )
    alpha = jnp.stack([layer.alpha_nA for layer in die.layers])
    return Nominal(
        die=die,
        states=np.asarray(states),
        decisions=np.asarray(decisions),
        alpha_nA=np.asarray(alpha),
        out_of_range=len(desc.out_of_range),
    )


def _states_and_decision(die, features):
    result = circuit.simulate(die, features)
    return result.states, clip_decision(result.logits)


def variation(config: CampaignConfig, level):
    """The frozen variation of one noise level (a multiple of the measured noise).

    ``level`` may be traced: the level is an array field of the variation, so every
    level runs through the same compiled function.
    """
    noise = config.noise
    shift = circuit.GlobalShift(
        corner=noise.corner, temperature_C=noise.temperature_C, vdd_V=noise.vdd_V
    )
    if noise.model == "pelgrom":
        return (shift, circuit.Pelgrom(scale=level))
    return (shift, circuit.Multiplicative.from_multiple(level))


def temporal_noise(config: CampaignConfig) -> circuit.TemporalNoise | None:
    """The temporal noise of the config, or None when it is off."""
    temporal = config.noise.temporal
    if not temporal.enabled:
        return None
    return circuit.TemporalNoise(
        scale=temporal.scale,
        sigma_nA=temporal.sigma_nA,
        flicker_rel=temporal.flicker_rel,
    )


def stream_key(key_die, clip_index, stream_index):
    """Key of one die's temporal noise on one clip in one stream."""
    return jax.random.fold_in(circuit.noise_key(key_die, clip_index), stream_index)


class ChunkEvaluator:
    """Evaluate chunks of ``(level, die)`` pairs with two compiled functions.

    The first draws the chunk's dies, the second runs them on every clip and stream
    and measures. They are compiled apart on purpose: fused into one program, XLA on
    CPU ran the simulation of freshly drawn dies ~20x slower than the same
    simulation of dies passed in, and the many small random draws of a die compile
    fast without backend optimisation while costing nothing at run time. Both loop
    over the dies of a chunk (:func:`_over_dies`), so a die's numbers are the same
    bits whatever the chunk size.

    Every call pads its pairs to ``size`` (the config's chunk size), so each function
    compiles once; the outputs are NumPy arrays with a leading pair axis, named and
    shaped as in :data:`MEASURES`, cut back to the pairs asked for.
    """

    def __init__(
        self, config: CampaignConfig, inputs: CampaignInputs, nominal: Nominal
    ):
        self.size = config.campaign.chunk_size
        self._levels = jnp.asarray(config.noise.levels, jnp.float32)
        self._root = jax.random.key(config.campaign.seed)
        self._nominal_die = nominal.die
        self._clips = (
            jnp.asarray(inputs.features),
            jnp.asarray(nominal.states),
            jnp.asarray(nominal.alpha_nA),
        )
        self._sample = jax.jit(_sample_dies(config))
        self._measure = jax.jit(_over_dies(_die_measures(config)))
        self._compiled = None

    def compile(self) -> float:
        """Compile ahead of the first chunk; returns the seconds it took."""
        start = time.perf_counter()
        pairs = jnp.zeros((self.size,), jnp.int32)
        draw = (self._nominal_die, self._levels, self._root, pairs, pairs)
        sample = self._sample.lower(*draw).compile(DRAW_COMPILER_OPTIONS)
        dies = jax.eval_shape(self._sample, *draw)
        measure = self._measure.lower(dies, self._root, *self._clips, pairs, pairs)
        self._compiled = (sample, circuit.compile_for_cpu(measure))
        return time.perf_counter() - start

    def __call__(
        self, levels: Int[np.ndarray, " pairs"], dies: Int[np.ndarray, " pairs"]
    ) -> dict[str, np.ndarray]:
        """Measures of the pairs ``(levels[i], dies[i])``; at most ``size`` pairs.

        Args:
            levels: index into the config's noise levels of each pair.
            dies: die index of each pair.

        Returns:
            Each measure of :data:`MEASURES` (and ``power_nW``), ``(pairs, ...)``.
        """
        count = len(levels)
        if not 0 < count <= self.size or len(dies) != count:
            raise InputError(
                f"levels, dies: need 1 to {self.size} pairs of equal length, "
                f"got {len(levels)} and {len(dies)}"
            )
        if self._compiled is None:
            self.compile()
        sample, measure = self._compiled
        padding = self.size - count
        # Padding repeats the first pair: its numbers are discarded below.
        level = jnp.asarray(np.pad(levels, (0, padding), mode="edge"), jnp.int32)
        index = jnp.asarray(np.pad(dies, (0, padding), mode="edge"), jnp.int32)
        sampled = sample(self._nominal_die, self._levels, self._root, level, index)
        outputs = measure(sampled, self._root, *self._clips, level, index)
        return {name: np.asarray(value)[:count] for name, value in outputs.items()}


def _over_dies(measures):
    """``measures`` of one die applied to each die of a batch (:func:`map_dies`).

    The dies are looped, not batched, on every CPU device: the program that
    measures one die is then the same whatever the chunk size, and so are its float
    sums to the last bit (batched, XLA reordered them differently for different
    batch sizes).
    """

    def over_dies(dies, root, features, reference, alpha, level, index):
        def one(pair, root, features, reference, alpha):
            die, level_index, die_index = pair
            return measures(
                die, root, features, reference, alpha, level_index, die_index
            )

        return circuit.map_dies(
            one, (dies, level, index), root, features, reference, alpha
        )

    return over_dies


def _sample_dies(config: CampaignConfig):
    """The traceable draw of a batch of dies, looped like the measures."""

    def sample(nominal, levels, root, level, index):
        def one(pair, nominal, levels, root):
            level_index, die_index = pair
            key_die = circuit.die_key(root, level_index, die_index)
            variation_ = variation(config, levels[level_index])
            return circuit.perturb_die(nominal, variation_, key=key_die)

        return circuit.map_dies(one, (level, index), nominal, levels, root)

    return sample


def _die_measures(config: CampaignConfig):
    """The traceable measures of one die on every clip and temporal-noise stream."""
    streams = config.noise.temporal.streams
    noise = temporal_noise(config)
    power = config.campaign.power
    record = ("currents",) if power else ()

    def measures(die, root, features, reference, alpha, level, index):
        key_die = circuit.die_key(root, level, index)

        def one_run(stream, clip, clip_features, clip_reference):
            key = None if noise is None else stream_key(key_die, clip, stream)
            result = circuit.simulate(
                die, clip_features, key=key, noise=noise, record=record
            )
            measured = _measure(result, clip_reference)
            if power:
                measured["power_nW"] = _mean_power_nW(die, result)
            return measured

        over_clips = jax.vmap(one_run, (None, 0, 0, 0))
        runs = jax.vmap(over_clips, (0, None, None, None))(
            jnp.arange(streams), jnp.arange(features.shape[0]), features, reference
        )
        frames = features.shape[0] * features.shape[1]
        return _reduce_over_clips(runs, alpha, frames)

    return measures


def _measure(result: circuit.SimulationResult, reference) -> dict:
    """Per-run sums over frames; ``reference`` is the nominal die's states."""
    states, outputs = result.states, result.cell_outputs_nA
    return {
        "decision": clip_decision(result.logits).astype(jnp.int8),
        "flips": jnp.sum(states != reference, axis=1, dtype=jnp.int32),
        "set_frames": jnp.sum(states, axis=1),
        "high_sum_nA": jnp.sum(states * outputs, axis=1),
        "low_sum_nA": jnp.sum((1.0 - states) * outputs, axis=1),
    }


def _reduce_over_clips(runs: dict, alpha_nA, frames: int) -> dict:
    """From per-(stream, clip) sums to per-stream measures (clips are axis 1).

    ``frames`` is the number of frames of all clips together.
    """
    set_frames = jnp.sum(runs["set_frames"], axis=1)
    reset_frames = frames - set_frames
    high = jnp.sum(runs["high_sum_nA"], axis=1) / set_frames
    low = jnp.sum(runs["low_sum_nA"], axis=1) / reset_frames
    reduced = {
        "decision": runs["decision"],
        "flips": jnp.sum(runs["flips"], axis=1),
        "high_level_rel": jnp.where(set_frames > 0, high / alpha_nA, jnp.nan),
        "low_level_pA": jnp.where(reset_frames > 0, 1e3 * low, jnp.nan),
    }
    if "power_nW" in runs:
        reduced["power_nW"] = jnp.mean(runs["power_nW"], axis=1)
    return reduced


def _mean_power_nW(die: circuit.Die, result: circuit.SimulationResult):
    """Mean over frames of the whole network's power (``bmru_jax.power``), nW."""
    from bmru_jax.power import power_from_currents

    return jnp.mean(power_from_currents(die, result).total_nW())
