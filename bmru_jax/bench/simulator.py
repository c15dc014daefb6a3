"""Speed of the circuit simulator against NumPy and against bare random draws.

Workload (SPEC section 8): the two-layer keyword network over 101-frame clips, many
dies with frozen multiplicative mismatch, optionally with per-frame temporal noise.
Each JAX rate stands beside, measured in the same run,

- a plain NumPy implementation of the same simulation, vectorised over dies and clips
  (:func:`numpy_simulate`, also the tests' independent reference);
- the bare rate of drawing the same normal samples with ``jax.random`` (same keys,
  shapes and devices, nothing else computed).

Dies are processed in chunks of a fixed size, so the peak memory is that of one chunk,
and keys come from ``fold_in(root, die_index)``, so chunking does not change a number.
Within a chunk the dies are looped on every CPU device JAX has
(:func:`~bmru_jax.circuit.montecarlo.map_dies`); ``bmru-jax bench`` gives JAX one
device per core. NumPy runs as it comes (one core, its BLAS may use more).
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

from bmru_jax.circuit.devices import ELEMENTARY_CHARGE_C, SLOPE_FACTOR_NMOS
from bmru_jax.circuit.die import Die, die_from_model
from bmru_jax.circuit.mismatch import Multiplicative, perturb_die
from bmru_jax.circuit.montecarlo import (
    DRAW_COMPILER_OPTIONS,
    compile_for_cpu,
    map_dies,
)
from bmru_jax.circuit.noise import TemporalNoise
from bmru_jax.circuit.simulate import die_key, noise_key, simulate
from bmru_jax.models import HardwareBackbone, clip_decision

FRAMES = 101
FEATURES = 13


def numpy_simulate(
    die: Die,
    features: np.ndarray,
    *,
    noise: TemporalNoise | None = None,
    normals: np.ndarray | None = None,
) -> dict:
    """The circuit simulation in plain NumPy, vectorised over a batch of dies and clips.

    Same equations as :func:`bmru_jax.circuit.simulate.simulate` (mirror gain
    dependence, leakage and droop as the die's ``nonideal`` says; no settling), written
    independently with a Python loop over frames.

    Args:
        die: a die whose array leaves carry leading batch axes ``batch`` (any shape
            broadcastable against ``features``' leading axes).
        features: ``(*batch, time, features)`` in model units.
        noise: temporal noise (physical or fixed sigma, no flicker), or None.
        normals: standard normals ``(*batch, layers, time, cells)`` for the noise;
            drawn here when None.

    Returns:
        ``{"states": (*batch, layers, time, cells),
        "logits": (*batch, time, classes)}``.
    """
    d = jax.tree.map(np.asarray, die)
    nonideal, device = die.nonideal, die.device
    i_sat, i_ref = device.mirror_saturation_nA, device.mirror_reference_nA

    def copy(current):
        if not nonideal.mirror_gain_dependence:
            return current
        return current * (1 + i_ref / i_sat) / (1 + current / i_sat)

    def bank(gains, x):
        if not nonideal.mirror_gain_dependence:
            return x @ np.swapaxes(gains, -1, -2)
        net = copy(np.maximum(x, 0)) - copy(np.maximum(-x, 0))
        return net @ np.swapaxes(gains, -1, -2)

    expand = lambda a: a[..., None, :]  # noqa: E731  (cells -> time, cells)
    x = bank(d.W_in, features * die.unit_current_nA) + expand(d.b_in_nA)
    states_all = []
    for index, layer in enumerate(d.layers):
        u = copy(np.maximum(x, 0))
        pre = u @ np.swapaxes(layer.W_c, -1, -2) + expand(layer.b_c_nA)
        if noise is not None:
            clean = np.maximum(pre, 0)
            z = (
                np.random.default_rng(index).standard_normal(pre.shape, np.float32)
                if normals is None
                else normals[..., index, :, :]
            )
            pre = pre + _numpy_sigma(noise, die, d, layer, u, clean) * z
        c = np.maximum(pre, 0)
        beta1, delta = expand(layer.beta1_nA), expand(layer.delta_nA)
        s = np.broadcast_to(expand(layer.s0), c[..., :1, :].shape)[..., 0, :]
        states = np.empty_like(c)
        for t in range(c.shape[-2]):
            a = c[..., t, :] >= beta1[..., 0, :]
            b = c[..., t, :] >= beta1[..., 0, :] + delta[..., 0, :]
            s = np.where(b, 1.0, np.where(a, s, 0.0)).astype(c.dtype)
            states[..., t, :] = s
        y = _numpy_cell_output(states, c, layer, d, nonideal, device)
        o = np.maximum(
            copy(y) @ np.swapaxes(layer.W_p, -1, -2) + expand(layer.b_p_nA), 0
        )
        x = o + x
        states_all.append(states)
    logits = bank(d.W_fc, x) + expand(d.b_fc_nA)
    return {
        "states": np.stack(states_all, axis=-3),
        "logits": logits / die.unit_current_nA,
    }


def _numpy_sigma(noise, die, d, layer, u, clean):
    if noise.sigma_nA is not None:
        return np.asarray(noise.sigma_nA)
    branches = (
        u @ np.abs(np.swapaxes(layer.W_c, -1, -2)) + np.abs(layer.b_c_nA)[..., None, :]
    )
    branches = branches + clean
    u_t = 1.380649e-23 * d.temperature_K / ELEMENTARY_CHARGE_C
    g_m = clean * 1e-9 / (SLOPE_FACTOR_NMOS * np.asarray(u_t)[..., None, None])
    bandwidth = g_m / (2 * np.pi * np.asarray(noise.capacitance_fF) * 1e-15)
    variance = 2 * ELEMENTARY_CHARGE_C * branches * bandwidth * 1e9
    return np.asarray(noise.scale) * np.sqrt(np.maximum(variance, 1e-12))


def _numpy_cell_output(states, c, layer, d, nonideal, device):
    alpha = layer.alpha_nA[..., None, :]
    high = alpha * np.ones_like(c)
    if nonideal.droop:
        high = high * (
            1 - device.droop_fraction * np.minimum(c / device.droop_range_nA, 1)
        )
    y = states * high
    if nonideal.leakage:
        beta2 = (layer.beta1_nA + layer.delta_nA)[..., None, :]
        rise = np.minimum(c / np.maximum(beta2, 1e-6), 1)
        span = device.leakage_high_pA - device.leakage_low_pA
        scale = np.asarray(d.leakage_scale)[..., None, None]
        y = y + (1 - states) * scale * (device.leakage_low_pA + span * rise) * 1e-3
    return y


def keyword_network(width: int, *, seed: int = 0) -> HardwareBackbone:
    """A random two-layer keyword network of width ``width``: 13 features, 2 classes."""
    return HardwareBackbone(FEATURES, width, 2, 2, key=jax.random.key(seed))


def _chunk_runner(nominal: Die, noise: TemporalNoise | None):
    """Decisions ``(dies, clips)`` for one chunk of die indices, as two programs.

    The first draws the chunk's dies, the second simulates them, each die's clips
    batched and the dies looped on every CPU device (:func:`map_dies`). Fused into
    one program, XLA on CPU recomputed the dies' random draws inside the
    simulation's loops (about 8x slower, and 3x the compile time); apart, the draw
    is a few hundred normals per die. Returns ``(sample, simulate_dies)``, jitted.
    """

    def one_die(die_index, root, level, p):
        return perturb_die(
            nominal, Multiplicative(p), key=die_key(root, level, die_index)
        )

    def run_die(die_and_index, root, level, clips):
        die, die_index = die_and_index
        k_die = die_key(root, level, die_index)

        def one_clip(clip_index, features):
            k_noise = noise_key(k_die, clip_index) if noise is not None else None
            result = simulate(die, features, key=k_noise, noise=noise)
            return clip_decision(result.logits)

        return jax.vmap(one_clip)(jnp.arange(clips.shape[0]), clips)

    sample = jax.jit(
        lambda root, level, p, indices: map_dies(one_die, indices, root, level, p)
    )
    simulate_dies = jax.jit(
        lambda dies, root, level, indices, clips: map_dies(
            run_die, (dies, indices), root, level, clips
        )
    )
    return sample, simulate_dies


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def benchmark_width(
    width: int,
    *,
    dies: int,
    chunk: int,
    clips: int,
    numpy_dies: int,
    repeats: int,
    seed: int = 0,
) -> dict:
    """Rates for one network width, with and without temporal noise.

    Returns a dict per case (``"mismatch"``, ``"mismatch_noise"``) with the JAX,
    NumPy and bare-draw rates (network-frames/s, cell-updates/s, normals/s), the
    ratios the targets are stated in, the compile seconds and the workload sizes.
    """
    model = keyword_network(width, seed=seed)
    nominal = die_from_model(model)
    features = jax.random.normal(jax.random.key(seed + 1), (clips, FRAMES, FEATURES))
    cells = sum(layer.alpha_nA.shape[0] for layer in nominal.layers)
    root, level, p = jax.random.key(seed + 2), 0, jnp.asarray(0.1)
    report = {
        "width": width,
        "cells": cells,
        "frames": FRAMES,
        "clips": clips,
        "devices": len(jax.local_devices()),
    }
    for name, noise in (("mismatch", None), ("mismatch_noise", TemporalNoise())):
        sample, simulate_dies = _chunk_runner(nominal, noise)
        indices = [jnp.arange(start, start + chunk) for start in range(0, dies, chunk)]
        start = time.perf_counter()
        sample_c = sample.lower(root, level, p, indices[0]).compile(
            DRAW_COMPILER_OPTIONS
        )
        shapes = jax.eval_shape(sample, root, level, p, indices[0])
        simulate_c = compile_for_cpu(
            simulate_dies.lower(shapes, root, level, indices[0], features)
        )
        compile_s = time.perf_counter() - start

        def run_all():
            return [
                simulate_c(sample_c(root, level, p, i), root, level, i, features)
                for i in indices
            ]

        jax_s = _median_seconds(run_all, repeats)
        network_frames = len(indices) * chunk * clips * FRAMES
        entry = {
            "compile_s": compile_s,
            "jax_s": jax_s,
            "jax_network_frames_per_s": network_frames / jax_s,
            "jax_cell_updates_per_s": network_frames * cells / jax_s,
            "dies": len(indices) * chunk,
            "chunk_dies": chunk,
        }
        entry.update(_numpy_rate(nominal, features, noise, numpy_dies, cells, repeats))
        entry["speedup_vs_numpy"] = (
            entry["jax_network_frames_per_s"] / entry["numpy_network_frames_per_s"]
        )
        if noise is not None:
            entry.update(_draw_rate(root, level, indices, clips, cells, repeats))
            entry["jax_s_over_draws_s"] = jax_s / entry["draws_s"]
        report[name] = entry
    return report


def _numpy_rate(nominal, features, noise, numpy_dies, cells, repeats) -> dict:
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(7), i))(
        jnp.arange(numpy_dies)
    )
    dies = jax.vmap(lambda k: perturb_die(nominal, Multiplicative(0.1), key=k))(keys)
    batched = jax.tree.map(lambda a: np.asarray(a)[:, None], dies)
    feats = np.asarray(features)[None]
    seconds = _median_seconds(
        lambda: numpy_simulate(batched, feats, noise=noise)["logits"], repeats
    )
    network_frames = numpy_dies * features.shape[0] * FRAMES
    return {
        "numpy_s": seconds,
        "numpy_dies": numpy_dies,
        "numpy_network_frames_per_s": network_frames / seconds,
    }


def _draw_rate(
    root, level, indices: list, clips: int, cells: int, repeats: int
) -> dict:
    """The bare draws: the simulation's normals alone, drawn as it draws them.

    The same keys and shapes (one ``(1, frames, cells)`` draw per die and clip),
    over the same devices; each clip's normals are summed so that nothing but the
    draw is timed (the sum fuses into it, no array is written).
    """

    def one_die(die_index, root, level):
        k_die = die_key(root, level, die_index)

        def one_clip(clip_index):
            draw = jax.random.normal(noise_key(k_die, clip_index), (1, FRAMES, cells))
            return jnp.sum(draw)

        return jax.vmap(one_clip)(jnp.arange(clips))

    draw = jax.jit(lambda root, level, i: map_dies(one_die, i, root, level))
    jax.block_until_ready(draw(root, level, indices[0]))
    seconds = _median_seconds(lambda: [draw(root, level, i) for i in indices], repeats)
    normals = len(indices) * indices[0].shape[0] * clips * FRAMES * cells
    return {"draws_s": seconds, "draws_normals_per_s": normals / seconds}


def benchmark_simulator(*, quick: bool = False, progress=None) -> dict:
    """The simulator benchmark: d = 4 and d = 64 keyword networks.

    Args:
        quick: a small workload (seconds) for smoke checks; numbers are noisier.
        progress: called with 1 after each width, if given.

    Returns:
        ``{"d4": {...}, "d64": {...}, "targets": {...}}`` (see :func:`benchmark_width`).
    """
    sizes = {
        4: dict(dies=400, chunk=100, clips=50, numpy_dies=50, repeats=5),
        64: dict(dies=40, chunk=10, clips=50, numpy_dies=10, repeats=5),
    }
    if quick:
        sizes = {
            4: dict(dies=20, chunk=10, clips=10, numpy_dies=4, repeats=2),
            64: dict(dies=4, chunk=2, clips=10, numpy_dies=2, repeats=2),
        }
    report = {}
    for width, size in sizes.items():
        report[f"d{width}"] = benchmark_width(width, **size)
        if progress is not None:
            progress(1)
    report["targets"] = {
        "speedup_vs_numpy_mismatch": 30.0,
        "speedup_vs_numpy_mismatch_noise": 5.0,
        "noise_over_draws_max": 2.0,
        "d4_network_frames_per_s": 2e7,
        "d4_compile_s_max": 5.0,
    }
    return report
