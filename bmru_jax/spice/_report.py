"""Shared pieces of the checks: linear fits, JSON output and figures."""

import json
import math
from pathlib import Path

import numpy as np


def linear_fit(x, y) -> dict:
    """Least-squares line ``y = slope x + offset`` over the finite points.

    Example:
        >>> fit = linear_fit([0, 1, 2], [1, 3, 5])
        >>> round(fit["slope"], 9), round(fit["offset"], 9), fit["points"]
        (2.0, 1.0, 3)
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return {
            "slope": float("nan"),
            "offset": float("nan"),
            "points": int(keep.sum()),
        }
    slope, offset = np.polyfit(x[keep], y[keep], 1)
    return {"slope": float(slope), "offset": float(offset), "points": int(keep.sum())}


def relative_errors(predicted, measured, *, floor: float) -> dict:
    """Largest and mean relative error where ``measured >= floor``.

    The relative error is ``|predicted - measured| / measured``.
    Points below ``floor`` (e.g. an output level near zero) would turn a fraction of a
    pA into a huge percentage, so they are left out.
    """
    predicted, measured = np.asarray(predicted, float), np.asarray(measured, float)
    keep = np.isfinite(predicted) & np.isfinite(measured) & (np.abs(measured) >= floor)
    if not keep.any():
        return {"max": float("nan"), "mean": float("nan"), "points": 0}
    error = np.abs(predicted[keep] - measured[keep]) / np.abs(measured[keep])
    return {
        "max": float(error.max()),
        "mean": float(error.mean()),
        "points": int(keep.sum()),
    }


def sigma_with_error(values) -> dict:
    """Sample standard deviation and its standard error ``sigma / sqrt(2 (N - 1))``."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return {
            "mean": float("nan"),
            "sigma": float("nan"),
            "sigma_error": float("nan"),
            "samples": int(values.size),
        }
    sigma = float(values.std(ddof=1))
    return {
        "mean": float(values.mean()),
        "sigma": sigma,
        "sigma_error": sigma / math.sqrt(2 * (values.size - 1)),
        "samples": int(values.size),
    }


def write_json(out_dir: Path, name: str, result: dict) -> Path:
    """Write ``result`` to ``out_dir/<name>.json`` (NaN becomes ``null``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(_jsonable(result), indent=2, sort_keys=True) + "\n")
    return path


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def new_figure(panels: int):
    """A figure with ``panels`` side-by-side axes (non-interactive backend)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, panels, figsize=(4.2 * panels, 3.6))
    return figure, np.atleast_1d(axes)


def save_figure(figure, out_dir: Path, name: str) -> Path:
    """Save to ``out_dir/<name>.png`` and release the figure."""
    from matplotlib import pyplot

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path
