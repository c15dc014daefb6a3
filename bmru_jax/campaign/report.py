"""Summary and figures of a campaign, from its store alone.

``write_report(DIR)`` reads ``DIR/results.zarr`` and writes ``DIR/summary.json`` and
``DIR/accuracy_vs_noise.png``; it works on a partial store too (statistics over the
dies done so far, ``"complete": false``).

Per level: a die's accuracy is its mean over temporal-noise streams; the summary gives
the mean and the sample standard deviation of that over the dies, and the mean share of
frames whose cell state differs from the nominal die's (``flip_rate``).
"""

import json
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bmru_jax.campaign import store

SUMMARY_NAME = "summary.json"
FIGURE_NAME = "accuracy_vs_noise.png"


def write_report(out_dir: str | Path) -> dict:
    """Write ``summary.json`` and ``accuracy_vs_noise.png`` from the folder's store.

    Returns:
        The summary.

    Raises:
        InputError: the folder holds no readable results store.
    """
    out_dir = Path(out_dir)
    with store.open_results(out_dir) as results:
        summary = summarize(results)
    store.write_json(out_dir / SUMMARY_NAME, summary)
    figure = accuracy_figure(summary)
    figure.savefig(out_dir / FIGURE_NAME, dpi=120)
    return summary


def summarize(results: xr.Dataset) -> dict:
    """Per-level statistics of a results Dataset, as plain JSON-ready values."""
    accuracy = results["accuracy"].mean("stream").values  # (level, die); NaN: not done
    done = ~np.isnan(accuracy)
    frames_per_cell = results["flips"].attrs["frames_per_cell"]
    flips = results["flips"].where(results["flips"] >= 0)
    flip_rate = (flips / frames_per_cell).mean(("stream", "layer", "cell")).values
    run = json.loads(results.attrs.get("run", "{}"))
    summary = {
        "nominal_accuracy": results.attrs["nominal_accuracy"],
        "noise_levels": results["level"].values.tolist(),
        "accuracy_mean": _per_level(np.mean, accuracy, done),
        "accuracy_std": _per_level(_sample_std, accuracy, done),
        "flip_rate_mean": _per_level(np.mean, flip_rate, done),
        "high_level_rel_mean": _level_mean(results["high_level_rel"], done),
        "low_level_pA_mean": _level_mean(results["low_level_pA"], done),
        "n_dies": results.sizes["die"],
        "dies_done": done.sum(axis=1).tolist(),
        "n_clips": results.sizes["clip"],
        "n_streams": results.sizes["stream"],
        "frames_per_clip": results.attrs["frames_per_clip"],
        "network_frames_per_second": run.get("network_frames_per_second"),
        "wall_seconds": run.get("wall_seconds"),
        "compile_seconds": run.get("compile_seconds"),
        "backend": run.get("backend"),
        "complete": bool(done.all()),
        "noise_model": json.loads(results.attrs["config"])["noise"]["model"],
        "root_seed": results.attrs["root_seed"],
        "config_hash": results.attrs["config_hash"],
        "bmru_jax_version": results.attrs["bmru_jax_version"],
        "out_of_range_weights": results.attrs["out_of_range_weights"],
    }
    if "power_nW" in results:
        summary["power_nW_mean"] = _level_mean(results["power_nW"], done)
    if "p" in results.coords:
        summary["noise_p"] = results["p"].values.tolist()
    return summary


def _per_level(statistic, values: np.ndarray, done: np.ndarray) -> list:
    """``statistic`` over the done dies of each level, NaN left out.

    None where no die of the level has a value (none done, or e.g. a cell that is
    never reset has no low level).
    """
    kept = done & ~np.isnan(values)
    return [
        float(statistic(row[mask])) if mask.any() else None
        for row, mask in zip(values, kept)
    ]


def _sample_std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _level_mean(variable: xr.DataArray, done: np.ndarray) -> list:
    axes = [d for d in variable.dims if d not in ("level", "die")]
    per_die = variable.mean(axes, skipna=True)
    return _per_level(np.mean, per_die.values, done)


def accuracy_figure(summary: dict) -> Figure:
    """Accuracy (mean, standard deviation over dies) and state flips against noise."""
    levels = np.asarray(summary["noise_levels"])
    mean = _as_percent(summary["accuracy_mean"])
    std = _as_percent(summary["accuracy_std"])
    figure = Figure(figsize=(9.0, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    left.errorbar(
        levels, mean, yerr=std, marker="o", capsize=3, label="dies: mean +- std"
    )
    left.axhline(
        100 * summary["nominal_accuracy"], color="grey", ls="--", label="nominal die"
    )
    left.set_ylabel("accuracy (%)")
    left.set_title(
        f"{summary['n_dies']} dies x {summary['n_clips']} clips per level"
        + ("" if summary["complete"] else " (partial)")
    )
    left.legend(loc="lower left")
    right.plot(levels, _as_percent(summary["flip_rate_mean"]), marker="o")
    right.set_ylabel("cell states differing from nominal (% of frames)")
    right.set_title("state flips against the nominal die")
    one_x = {"multiplicative": "; 1x = +-10 % at 3 sigma"}.get(
        summary["noise_model"], ""
    )
    figure.supxlabel(
        f"{summary['noise_model']} variation (x measured analog noise{one_x})"
    )
    for axes in (left, right):
        axes.set_xlabel("noise level (x)")
        axes.grid(alpha=0.3)
    return figure


def _as_percent(values: list) -> np.ndarray:
    return 100 * np.array([np.nan if v is None else v for v in values], dtype=float)
