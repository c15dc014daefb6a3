"""Temporal noise in a BMRU network against a continuous analog recurrence.

The same per-frame Gaussian noise (fixed sigma per node and frame) is injected into

- the bundled d = 4 keyword network, simulated as a circuit: on every cell's candidate
  node (``bmru_jax.circuit.TemporalNoise(sigma_nA=...)``); the state error is the rms
  over cells of the output currents' deviation from the noiseless run;
- a leaky analog recurrence of the same size (one unit per BMRU cell), driven by the
  BMRU cells' own noiseless candidate currents and with the noise added to its state:

      h_t = a h_{t-1} + (1 - a) c_t + n_t,     n_t ~ N(0, sigma^2)

  for several leaks ``a``; its state error is the rms over units of ``h - h_clean``.

Both are run on the same sequences (test clips joined end to end) over many noise
streams; the figure shows the error against the time step (mean, and the spread over
streams as a band). The BMRU's error stays bounded: its outputs are re-created from
clean bias currents and a flip is undone by the next set or reset. The analog state
integrates its noise: ``std(e_t) = sigma sqrt((1 - a^(2t)) / (1 - a^2))`` (dotted),
which grows as ``sigma sqrt(t)`` while ``t << 1 / (1 - a)``.

    python experiments/noise_accumulation.py [--out figures] [--quick] [--seed 0]
"""

import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from _common import bundled_keyword_network, nominal_die, save, script_main
from tqdm import tqdm

from bmru_jax import circuit
from bmru_jax.models import linear_recurrence

NAME = "noise_accumulation"
SIGMAS_NA = (0.01, 0.03)
LEAKS = (0.9, 0.99, 0.999)
BAND_FLOOR_PA = 1e-3  # the log-scale plot shows no band below this


@eqx.filter_jit
def bmru_errors(die, sequences, noise, keys):
    """Rms output-current error of the cells, ``(sequences, streams, time)``, and the
    noiseless candidates ``(sequences, time, cells)`` (layers joined), nA."""

    def clean(x):
        result = circuit.simulate(die, x)
        return result.cell_outputs_nA, result.candidates_nA

    def error(x, y_clean, key):
        y = circuit.simulate(die, x, key=key, noise=noise).cell_outputs_nA
        return jnp.sqrt(jnp.mean((y - y_clean) ** 2, axis=(0, 2)))

    y_clean, c_clean = jax.vmap(clean)(sequences)
    per_stream = jax.vmap(error, in_axes=(None, None, 0))
    errors = jax.vmap(per_stream)(sequences, y_clean, keys)
    candidates = jnp.concatenate(list(jnp.moveaxis(c_clean, 1, 0)), axis=-1)
    return errors, candidates


@jax.jit
def analog_errors(drive, leak, sigma, keys):
    """Rms state error of the leaky analog recurrence, ``(sequences, streams, time)``.

    ``drive``: ``(sequences, time, units)`` in nA; the state starts at zero.
    """

    def run(c, noise):
        decay = jnp.full_like(c, leak)
        return linear_recurrence(decay, (1.0 - leak) * c + noise, jnp.zeros(c.shape[1]))

    def error(c, key):
        noise = sigma * jax.random.normal(key, c.shape)
        return jnp.sqrt(jnp.mean((run(c, noise) - run(c, 0.0 * noise)) ** 2, axis=1))

    return jax.vmap(lambda c, k: jax.vmap(error, in_axes=(None, 0))(c, k))(drive, keys)


def stream_keys(root, sigma_index: int, sequences: int, streams: int):
    """Key of each (sequence, stream): ``fold_in(fold_in(fold_in(root, s), i), j)``."""
    base = jax.random.fold_in(root, sigma_index)
    per_sequence = jax.vmap(lambda i: jax.random.fold_in(base, i))(
        jnp.arange(sequences)
    )
    return jax.vmap(
        lambda k: jax.vmap(lambda j: jax.random.fold_in(k, j))(jnp.arange(streams))
    )(per_sequence)


def growth_exponent(mean_error, start: int = 5) -> float:
    """Slope of log(error) against log(time step) from ``start`` on (0: bounded)."""
    t = np.arange(1, len(mean_error) + 1)[start:]
    y = np.asarray(mean_error)[start:]
    keep = y > 0
    if keep.sum() < 2:
        return 0.0
    return float(np.polyfit(np.log(t[keep]), np.log(y[keep]), 1)[0])


def summarise(errors) -> dict:
    """Mean and spread over (sequences x streams) per step, plus headline numbers."""
    flat = np.asarray(errors).reshape(-1, errors.shape[-1])
    mean, spread = flat.mean(0), flat.std(0)
    tenth, half = max(len(mean) // 10, 1), len(mean) // 2
    return {
        "mean_nA": mean,
        "std_nA": spread,
        "p16_nA": np.percentile(flat, 16, axis=0),
        "p84_nA": np.percentile(flat, 84, axis=0),
        "second_half_over_first": float(mean[half:].mean() / mean[:half].mean()),
        "early_mean_nA": float(mean[:tenth].mean()),
        "late_mean_nA": float(mean[-tenth:].mean()),
        "max_mean_nA": float(mean.max()),
        "growth_exponent": growth_exponent(mean),
    }


def run(args) -> dict:
    """Inject the noise into both systems for each sigma; plot; save."""
    joined, sequences, streams = (1, 2, 8) if args.quick else (4, 8, 100)
    model, features, _ = bundled_keyword_network(joined * sequences)
    frames = features.shape[1] * joined
    x = jnp.asarray(features.reshape(sequences, frames, features.shape[2]))
    die, out_of_range = nominal_die(model)
    root = jax.random.key(args.seed)
    results = []
    for index, sigma in enumerate(tqdm(SIGMAS_NA, desc="noise levels")):
        keys = stream_keys(root, index, sequences, streams)
        noise = circuit.TemporalNoise(sigma_nA=sigma)
        bmru, drive = bmru_errors(die, x, noise, keys)
        entry = {"sigma_nA": sigma, "bmru": summarise(bmru), "analog": {}}
        analog_keys = stream_keys(
            jax.random.fold_in(root, 1000), index, sequences, streams
        )
        for leak in LEAKS:
            errors = analog_errors(
                drive, jnp.float32(leak), jnp.float32(sigma), analog_keys
            )
            entry["analog"][str(leak)] = summarise(errors)
        results.append(entry)
    alpha = np.concatenate([np.asarray(layer.alpha_nA) for layer in die.layers])
    numbers = {
        "network": "bundled d = 4 keyword backbone (2 layers x 4 cells)",
        "alpha_max_nA": float(alpha.max()),
        "out_of_range_elements": out_of_range,
        "units": int(drive.shape[-1]),
        "frames": frames,
        "sequences": sequences,
        "streams": streams,
        "leaks": LEAKS,
        "results": results,
    }
    return save(NAME, args, plot(results, frames), numbers)


def plot(results, frames):
    """Error against time step per sigma: BMRU and each analog leak, with bands."""
    figure, axes = plt.subplots(1, len(results), figsize=(7 * len(results), 5))
    t = np.arange(1, frames + 1)
    for ax, entry in zip(np.atleast_1d(axes), results):
        sigma = entry["sigma_nA"]
        curves = [("BMRU network (cell outputs)", entry["bmru"], "C3")]
        curves += [
            (f"analog recurrence, a = {leak}", entry["analog"][leak], f"C{i}")
            for i, leak in enumerate(entry["analog"])
        ]
        for label, summary, colour in curves:
            mean, spread = summary["mean_nA"], summary["std_nA"]
            ax.plot(t, 1e3 * mean, colour, label=label)
            ax.fill_between(
                t,
                1e3 * (mean - spread),
                1e3 * (mean + spread),
                color=colour,
                alpha=0.15,
            )
        for i, leak in enumerate(entry["analog"]):
            a = float(leak)
            theory = sigma * np.sqrt((1 - a ** (2 * t)) / (1 - a**2))
            ax.plot(t, 1e3 * theory, f"C{i}:", lw=1)
        ax.set(
            title=f"Injected noise sigma = {1e3 * sigma:.0f} pA per node and frame",
            xlabel="time step (10 ms frames)",
            ylabel="rms state error (pA)",
            yscale="log",
        )
        ax.legend(fontsize=8, loc="upper left")
    figure.suptitle(
        "Noise accumulation: BMRU vs continuous analog recurrence "
        "(mean over streams; band: 16-84th percentile; dotted: theory)"
    )
    figure.tight_layout()
    return figure


main = script_main(__doc__, run)


if __name__ == "__main__":
    main(sys.argv[1:])
