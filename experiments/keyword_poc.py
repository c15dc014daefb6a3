"""One keyword clip through the bundled d = 4 network, frame by frame, as a circuit.

The bundled noise-aware d = 4 keyword model (2 layers x 4 cells) is mapped onto its
circuit and its nominal die simulated (``bmru_jax.circuit.simulate``, default
non-idealities) on one test clip with a "yes" (the first positive clip, or the clip
``--clip``). The figure shows the clip's MFCCs, the output current of each of the 8
cells per 10 ms frame, the per-frame class probabilities with the running vote and the
clip decision (majority vote) and its confidence (share of frames voting for it), and
the instantaneous power of the network (``bmru_jax.power``) with the cumulative energy.

    python experiments/keyword_poc.py [--out figures] [--quick] [--seed 0] [--clip N]
"""

import sys

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from _common import bundled_keyword_network, nominal_die, save, script_main

from bmru_jax import circuit, power
from bmru_jax.models import clip_decision, frame_confidence

NAME = "keyword_poc"
FRAME_MS = 10.0


def extra_arguments(parser) -> None:
    """Options of this experiment."""
    parser.add_argument(
        "--clip", type=int, default=None, help="test clip index (default: first yes)"
    )


def run(args) -> dict:
    """Simulate the clip, measure power; plot; save."""
    model, features, labels = bundled_keyword_network()
    index = int(np.argmax(labels == 1)) if args.clip is None else args.clip
    x = jnp.asarray(features[index])
    # Mapped as the campaign and `bmru-jax power` map it: median cell at the
    # nominal cell's on-threshold.
    die, out_of_range = nominal_die(model, unit_current_nA="auto")
    result = jax.jit(circuit.simulate)(die, x)
    trace = jax.jit(power.network_power)(die, x)
    decision = int(clip_decision(result.logits))
    votes = np.asarray(frame_confidence(result.logits))
    total_nW = np.asarray(trace.total_nW())
    energy_nJ = np.cumsum(total_nW) * FRAME_MS * 1e-3
    numbers = {
        "clip_index": index,
        "label": int(labels[index]),
        "decision": decision,
        "correct": decision == int(labels[index]),
        "confidence": float(votes[decision]),
        "votes": votes,
        "out_of_range_elements": out_of_range,
        "unit_current_nA": die.unit_current_nA,
        "cell_outputs_pA": 1e3 * np.asarray(result.cell_outputs_nA),
        "states": np.asarray(result.states).astype(int),
        "power_nW": {
            "total_mean": float(total_nW.mean()),
            "total_min": float(total_nW.min()),
            "total_max": float(total_nW.max()),
            "core_mean": float(np.mean(trace.core_nW())),
            "feedforward_mean": float(np.mean(trace.feedforward_nW())),
            "per_frame": total_nW,
        },
        "energy_nJ": float(trace.energy_nJ()),
        "published": {"total_nW": 82.6, "cells_nW": 43.7, "mirrors_nW": 39.7},
    }
    figure = plot(np.asarray(features[index]), result, trace, energy_nJ, numbers)
    return save(NAME, args, figure, numbers)


def plot(features, result, trace, energy_nJ, numbers):
    """Four stacked panels sharing the time axis."""
    figure, axes = plt.subplots(4, 1, figsize=(11, 12), sharex=True)
    frames = features.shape[0]
    t_ms = FRAME_MS * np.arange(frames)
    axes[0].imshow(
        features.T,
        aspect="auto",
        origin="lower",
        extent=(0, FRAME_MS * frames, -0.5, features.shape[1] - 0.5),
        cmap="viridis",
    )
    axes[0].set(ylabel="MFCC index", title="Input: 13 MFCCs per 10 ms frame (z-scored)")
    outputs = 1e3 * np.asarray(result.cell_outputs_nA)
    for layer in range(outputs.shape[0]):
        for cell in range(outputs.shape[2]):
            style = "-" if layer == 0 else "--"
            axes[1].step(
                t_ms,
                outputs[layer, :, cell],
                style,
                where="post",
                label=f"layer {layer + 1} cell {cell + 1}",
            )
    axes[1].set(ylabel="cell output current (pA)", title="Output current of each cell")
    axes[1].legend(fontsize=7, ncol=4)
    probability = np.asarray(jax.nn.softmax(result.logits, axis=-1))
    for k in range(probability.shape[1]):
        axes[2].plot(t_ms, probability[:, k], label=f"P(class {k}) per frame")
    axes[2].axhline(0.5, color="grey", lw=0.8, ls=":")
    axes[2].set(
        ylim=(-0.02, 1.02),
        ylabel="probability",
        title=(
            f"Decision: class {numbers['decision']} (label {numbers['label']}), "
            f"confidence {100 * numbers['confidence']:.0f} % of frames"
        ),
    )
    axes[2].legend(fontsize=8)
    axes[3].plot(t_ms, trace.total_nW(), label="whole network")
    axes[3].plot(t_ms, trace.core_nW(), label="cells")
    axes[3].plot(t_ms, trace.feedforward_nW(), label="mirrors and sources")
    axes[3].set(xlabel="time (ms)", ylabel="power (nW)", title="Instantaneous power")
    axes[3].legend(fontsize=8, loc="upper left")
    energy = axes[3].twinx()
    energy.plot(t_ms, energy_nJ, "k:", label="cumulative energy")
    energy.set_ylabel("cumulative energy (nJ)")
    energy.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


main = script_main(__doc__, run, extra_arguments)


if __name__ == "__main__":
    main(sys.argv[1:])
