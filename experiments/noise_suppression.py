"""Noise entering a BMRU cell against noise leaving it, across operating points.

A nominal cell (on at 350 pA, off at 150 pA, alpha 500 pA, leakage and droop on) is held
at a constant candidate current ``c0`` with fresh Gaussian noise of sigma ``sigma`` on
the candidate every 10 ms frame, starting reset (``s0 = 0``) or set (``s0 = 1``).
``bmru_jax.circuit.noise_suppression`` measures the noise power in (variance of the
candidate) and out (mean square deviation of the output current from the noiseless
cell's, flips included); their ratio is the suppression factor (a power ratio; the
amplitude ratio is its square root, also saved). The published claim is a suppression of
at least 20x at each cell boundary; it breaks down within a few sigma of a threshold,
where noise flips the state (flip probability, also plotted).

Error bars: mean and standard deviation over independent Monte Carlo repeats.

    python experiments/noise_suppression.py [--out figures] [--quick] [--seed 0]
"""

import functools
import sys

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from _common import mean_and_spread, save, script_main
from tqdm import tqdm

from bmru_jax import circuit

NAME = "noise_suppression"
BETA1_NA, DELTA_NA, ALPHA_NA = 0.15, 0.2, 0.5
PUBLISHED_FACTOR = 20.0
# Candidate noise sigmas, nA. The physical shot-like noise of a nominal candidate node
# (``circuit.TemporalNoise``) is ~2 pA per frame; 10 and 30 pA are 5x and 15x that.
SIGMAS_NA = (0.002, 0.01, 0.03)
# Operating points at least this many sigma from both thresholds count as "away".
AWAY_SIGMAS = 4.0


@functools.partial(jax.jit, static_argnames=("frames", "trials"))
def suppression_grid(candidates, sigma, states, keys, *, frames, trials):
    """Suppression of every (repeat, state, candidate): fields of shape (R, S, C)."""

    def one(c, s0, key):
        return circuit.noise_suppression(
            candidate_nA=c,
            sigma_nA=sigma,
            initial_state=s0,
            key=key,
            alpha_nA=ALPHA_NA,
            beta1_nA=BETA1_NA,
            delta_nA=DELTA_NA,
            frames=frames,
            trials=trials,
        )

    over_c = jax.vmap(one, in_axes=(0, None, 0))
    over_s = jax.vmap(over_c, in_axes=(None, 0, 0))
    return jax.vmap(over_s, in_axes=(None, None, 0))(candidates, states, keys)


def keys_for(root, sigma_index: int, repeats: int, states: int, points: int):
    """One key per (repeat, state, candidate), folded from the root."""
    base = jax.random.fold_in(root, sigma_index)
    flat = jax.vmap(lambda i: jax.random.fold_in(base, i))(
        jnp.arange(repeats * states * points)
    )
    return flat.reshape(repeats, states, points)


def summarise(candidates_nA, sigma_nA, result) -> dict:
    """Per state: mean/std of factor, powers, flip probability; and headline numbers."""
    factor = np.asarray(result.factor, float)
    factor = np.where(np.isfinite(factor), factor, np.nan)
    flips = np.asarray(result.flip_probability, float)
    entry = {"sigma_nA": sigma_nA, "states": {}}
    for index, state in enumerate(("reset", "set")):
        f_mean, f_std = mean_and_spread(factor[:, index])
        p_in = np.asarray(result.input_power_nA2)[:, index].mean(0)
        p_out = np.asarray(result.output_power_nA2)[:, index].mean(0)
        entry["states"][state] = {
            "factor_mean": f_mean,
            "factor_std": f_std,
            "input_rms_pA": 1e3 * np.sqrt(p_in),
            "output_rms_pA": 1e3 * np.sqrt(p_out),
            "flip_probability": flips[:, index].mean(0),
        }
    entry.update(headline(candidates_nA, sigma_nA, factor, flips))
    return entry


def headline(candidates_nA, sigma_nA, factor, flips) -> dict:
    """Minimum suppression away from the thresholds, and where it falls below 20x.

    Only stable operating points count: reset below ``beta2``, set above ``beta1``
    (the other state cannot be held there).
    """
    c = np.asarray(candidates_nA)
    beta2 = BETA1_NA + DELTA_NA
    stable = np.stack([c < beta2, c >= BETA1_NA])  # (state, candidate)
    distance = np.minimum(np.abs(c - BETA1_NA), np.abs(c - beta2)) / sigma_nA
    away = stable & (distance >= AWAY_SIGMAS)[None, :]
    mean_factor = np.nanmean(factor, axis=0)  # (state, candidate)
    below = stable & (mean_factor < PUBLISHED_FACTOR)
    return {
        "min_factor_away": float(np.nanmin(np.where(away, mean_factor, np.inf))),
        "median_factor_away": float(np.nanmedian(mean_factor[away])),
        "max_flip_probability_away": float(np.max(np.where(away, flips.mean(0), 0))),
        "below_published_within_sigmas": float(
            np.max(np.where(below, distance[None, :], 0.0))
        ),
        "points_below_published": int(below.sum()),
        "stable_points": int(stable.sum()),
    }


def run(args) -> dict:
    """Sweep the operating point for each noise sigma; plot and save."""
    step_nA, trials, repeats = (0.02, 200, 3) if args.quick else (0.005, 500, 4)
    sigmas = SIGMAS_NA[1:2] if args.quick else SIGMAS_NA
    candidates = jnp.arange(0.0, 0.6 + step_nA / 2, step_nA, dtype=jnp.float32)
    states = jnp.asarray([0.0, 1.0])
    root = jax.random.key(args.seed)
    sweeps = []
    for index, sigma in enumerate(tqdm(sigmas, desc="noise levels")):
        keys = keys_for(root, index, repeats, 2, len(candidates))
        result = suppression_grid(
            candidates, jnp.float32(sigma), states, keys, frames=101, trials=trials
        )
        sweeps.append(summarise(candidates, sigma, result))
    numbers = {
        "cell": {"beta1_nA": BETA1_NA, "delta_nA": DELTA_NA, "alpha_nA": ALPHA_NA},
        "frames": 101,
        "trials_per_repeat": trials,
        "repeats": repeats,
        "published_factor": PUBLISHED_FACTOR,
        "away_sigmas": AWAY_SIGMAS,
        "candidates_nA": candidates,
        "sweeps": sweeps,
    }
    return save(NAME, args, plot(np.asarray(candidates), sweeps), numbers)


def plot(candidates, sweeps):
    """Noise in and out, suppression factor, flip probability against ``c0``."""
    figure, axes = plt.subplots(1, 3, figsize=(17, 5))
    c_pA = 1e3 * candidates
    for index, sweep in enumerate(sweeps):
        colour = f"C{index}"
        sigma_pA = 1e3 * sweep["sigma_nA"]
        for state, style in (("reset", "-"), ("set", "--")):
            entry = sweep["states"][state]
            label = f"sigma {sigma_pA:.0f} pA, start {state}"
            axes[0].plot(c_pA, entry["output_rms_pA"], colour + style, label=label)
            axes[1].errorbar(
                c_pA,
                entry["factor_mean"],
                yerr=entry["factor_std"],
                fmt=colour + style,
                capsize=2,
                elinewidth=0.7,
                label=label,
            )
            axes[2].plot(c_pA, entry["flip_probability"], colour + style, label=label)
        axes[0].axhline(sigma_pA, color=colour, lw=0.8, ls=":")
    axes[0].set(
        yscale="log",
        title="Noise in (dotted) and out (lines), rms",
        ylabel="rms current noise (pA)",
    )
    axes[1].axhline(PUBLISHED_FACTOR, color="k", lw=1, label="published: 20x")
    axes[1].set(
        yscale="log",
        title="Suppression factor (noise power in / out)",
        ylabel="suppression factor",
    )
    axes[2].set(
        yscale="log",
        ylim=(1e-6, 1.5),
        title="Flip probability per frame",
        ylabel="probability",
    )
    for ax in axes:
        for threshold in (BETA1_NA, BETA1_NA + DELTA_NA):
            ax.axvline(1e3 * threshold, color="grey", lw=0.8)
        ax.set_xlabel("operating point: candidate current c0 (pA); thresholds grey")
        ax.legend(fontsize=7)
    figure.suptitle("Noise suppression of one BMRU cell (on 350 pA, off 150 pA)")
    figure.tight_layout()
    return figure


main = script_main(__doc__, run)


if __name__ == "__main__":
    main(sys.argv[1:])
