"""The ``network`` and ``speed`` checks: a whole keyword network in SPICE and in JAX.

Each clip is simulated three ways: the software model (``model.trace``), the
behavioural circuit (:func:`bmru_jax.circuit.simulate.simulate` on the nominal die of
the calibrated description) and ngspice (:func:`simulate_network`). Compared per clip:
cell states per frame, clip decisions (majority vote of the per-frame argmax) and the
set output level against ``alpha``. The description is made with the device constants
measured by the ``cell`` check (``calibration.json``) when they exist, so the bias
currents and mirror widths are those that realise the model on these transistors.
"""

import dataclasses
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bmru_jax.errors import InputError
from bmru_jax.spice._calibration import load_calibration
from bmru_jax.spice._network import simulate_network
from bmru_jax.spice._report import new_figure, save_figure, write_json


def calibrated_settings(calibration: dict | None = None):
    """Circuit settings whose device constants are the SPICE-measured ones.

    Args:
        calibration: a loaded calibration (the packaged one when ``None``).

    Returns:
        A :class:`bmru_jax.circuit.description.CircuitSettings`; the defaults where
        nothing was measured.
    """
    from bmru_jax.circuit.description import CircuitSettings
    from bmru_jax.circuit.devices import DeviceParameters

    calibration = load_calibration() if calibration is None else calibration
    measured = calibration.get("device_parameters", {})
    names = {f.name for f in dataclasses.fields(DeviceParameters)}
    # Lists become tuples: the device constants are static (hashable) under jit.
    values = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in measured.items()
        if k in names
    }
    device = DeviceParameters(**values)
    return CircuitSettings(device=device)


def network(
    out_dir: str | Path,
    model,
    features: np.ndarray,
    *,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Simulate ``model`` on each clip in SPICE and behaviourally; write
    ``network.json`` and ``network.png`` into ``out_dir``.

    Args:
        out_dir: folder for the results.
        model: a :class:`bmru_jax.models.HardwareBackbone`.
        features: held-out clips, ``(clips, frames, features)``.
        workers: ngspice processes at once.
        progress: called with 1 after each clip.

    Returns:
        The dict written to ``network.json``: agreement of states and decisions with
        the software model and with the behavioural circuit, output-level error, and
        timing.
    """
    features = np.asarray(features, float)
    if features.ndim != 3 or features.shape[2] != model.n_features:
        raise InputError(
            f"features: expected shape (clips, frames, {model.n_features}), "
            f"got {features.shape}"
        )
    runs = _run_clips(model, features, workers=workers, progress=progress)
    result = _summarise(runs)
    _figure(Path(out_dir), runs)
    write_json(Path(out_dir), "network", result)
    return result


def _describe(model):
    from bmru_jax.circuit.description import describe

    with warnings.catch_warnings():
        # Out-of-range weights are listed in the result instead.
        warnings.simplefilter("ignore")
        return describe(model, calibrated_settings())


def _run_clips(model, features, *, workers, progress) -> list[dict]:
    from concurrent.futures import ThreadPoolExecutor

    desc = _describe(model)
    software, behavioural, seconds = _jax_runs(model, desc, features)
    x0 = features @ np.asarray(model.W_in, float).T + np.asarray(model.b_in, float)

    def one(index):
        trace, result, unbuildable = simulate_network(desc, x0[index])
        if progress is not None:
            progress(1)
        return {
            "spice": trace,
            "failure": result.failure,
            "spice_seconds": result.seconds,
            "software": {k: v[index] for k, v in software.items()},
            "behavioural": {k: v[index] for k, v in behavioural.items()},
            "behavioural_seconds": seconds,
            "unbuildable": unbuildable,
            "x0": x0[index],
            "model": model,
            "desc": desc,
        }

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(len(features))))


def _jax_runs(model, desc, features):
    """Software and behavioural traces of every clip, and the behavioural seconds per
    die-clip (measured after compilation)."""
    import jax
    import jax.numpy as jnp

    from bmru_jax.circuit.die import nominal_die
    from bmru_jax.circuit.simulate import simulate

    clips = jnp.asarray(features, jnp.float32)
    software = jax.jit(jax.vmap(model.trace))(clips)
    die = nominal_die(desc)
    run = jax.jit(jax.vmap(lambda f: simulate(die, f)))
    jax.block_until_ready(run(clips))
    start = time.perf_counter()
    behaviour = jax.block_until_ready(run(clips))
    seconds = (time.perf_counter() - start) / len(features)
    return (
        {"states": np.asarray(software.states), "logits": np.asarray(software.logits)},
        {
            "states": np.asarray(behaviour.states),
            "logits": np.asarray(behaviour.logits),
            "outputs_nA": np.asarray(behaviour.cell_outputs_nA),
        },
        seconds,
    )


def _decision(logits: np.ndarray) -> int:
    votes = np.bincount(np.argmax(logits, axis=-1), minlength=logits.shape[-1])
    return int(np.argmax(votes))


def _spice_logits(run: dict) -> np.ndarray:
    model, trace = run["model"], run["spice"]
    hidden = (
        run["x0"]
        + trace.projections_nA.sum(axis=0) / run["desc"].settings.unit_current_nA
    )
    return hidden @ np.asarray(model.W_fc, float).T + np.asarray(model.b_fc, float)


def _summarise(runs: list[dict]) -> dict:
    done = [run for run in runs if run["spice"] is not None]
    summary = {
        "clips": len(runs),
        "failures": [run["failure"] for run in runs if run["spice"] is None],
        "unbuildable_mirrors": runs[0]["unbuildable"] if runs else [],
    }
    if not done:
        return summary
    for reference in ("software", "behavioural"):
        states = np.concatenate(
            [(r["spice"].states == r[reference]["states"]).ravel() for r in done]
        )
        decisions = [
            _decision(_spice_logits(r)) == _decision(r[reference]["logits"])
            for r in done
        ]
        summary[reference] = {
            "state_agreement": float(states.mean()),
            "decision_agreement": float(np.mean(decisions)),
            "decisions_equal": int(np.sum(decisions)),
        }
    summary["output_level"] = _level_error(done)
    summary["switching_fraction"] = float(
        np.mean([np.mean(np.diff(r["software"]["states"], axis=1) != 0) for r in done])
    )
    summary["seconds_per_clip"] = {
        "spice": float(np.mean([r["spice_seconds"] for r in done])),
        "behavioural": float(done[0]["behavioural_seconds"]),
    }
    return summary


def _level_error(done: list[dict]) -> dict:
    """Relative error of the set output level against the cell's ``alpha``."""
    errors = []
    for run in done:
        alpha = np.stack(
            [np.asarray(layer.alpha, float) for layer in run["model"].layers]
        )
        high = run["spice"].states > 0
        measured = run["spice"].outputs_nA / run["desc"].settings.unit_current_nA
        ratio = measured / alpha[:, None, :]
        errors.append(np.abs(ratio[high] - 1.0))
    errors = np.concatenate(errors)
    if errors.size == 0:
        return {"mean": float("nan"), "max": float("nan"), "frames": 0}
    return {
        "mean": float(errors.mean()),
        "max": float(errors.max()),
        "frames": int(errors.size),
    }


def _figure(out: Path, runs: list[dict]) -> None:
    run = next((r for r in runs if r["spice"] is not None), None)
    figure, axes = new_figure(2)
    if run is not None:
        spice, software = run["spice"].states, run["software"]["states"]
        layers, frames, cells = spice.shape
        for layer in range(layers):
            for cell in range(cells):
                offset = 1.5 * (layer * cells + cell)
                for states, style in ((software, "k"), (spice, "r--")):
                    trace = states[layer, :, cell] + offset
                    axes[0].step(range(frames), trace, style, lw=0.8, where="post")
        axes[0].set(xlabel="frame", yticks=[], title="states: software (k), SPICE (r)")
        logits = _spice_logits(run)
        axes[1].plot(logits[:, 1] - logits[:, 0], "r", label="SPICE")
        reference = run["software"]["logits"]
        axes[1].plot(reference[:, 1] - reference[:, 0], "k", label="software")
        axes[1].set(xlabel="frame", ylabel="logit difference", title="readout")
        axes[1].legend()
    save_figure(figure, out, "network")


def speed(network_result: dict) -> dict:
    """SPICE against behavioural seconds per die-clip, from a ``network`` run."""
    timing = network_result.get("seconds_per_clip", {})
    spice, behavioural = timing.get("spice"), timing.get("behavioural")
    ratio = spice / behavioural if spice and behavioural else float("nan")
    return {
        "spice_seconds_per_clip": spice,
        "behavioural_seconds_per_clip": behavioural,
        "speedup": ratio,
    }
