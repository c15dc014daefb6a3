"""What every experiment script shares: its command line, and how it saves results.

Each script is one command, ``python experiments/<name>.py [--out DIR] [--quick]
[--seed N]``, and writes ``<out>/<name>.png`` (the figure) and ``<out>/<name>.json``
(the numbers behind it). ``--quick`` runs a small version in seconds, for the tests.
"""

import argparse
import json
import math
import pathlib
import time

import matplotlib

matplotlib.use("Agg")  # scripts run headless, in tests and in the background

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPOSITORY / "figures"
# Trained checkpoints of the experiments; gitignored (runs/), so a rerun does not
# retrain.
RUNS = REPOSITORY / "runs" / "experiments"


def parse_arguments(description: str, argv, extra=None) -> argparse.Namespace:
    """The shared options ``--out``, ``--quick``, ``--seed``, plus ``extra(parser)``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--out", type=pathlib.Path, default=DEFAULT_OUT, help="output folder"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small, fast version (for the tests)"
    )
    parser.add_argument("--seed", type=int, default=0, help="root random seed")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.started = time.perf_counter()
    return args


def save(name: str, args: argparse.Namespace, figure, numbers: dict) -> dict:
    """Write ``<out>/<name>.png`` and ``<out>/<name>.json``; return the JSON dict.

    The JSON gets the run's settings (quick, seed) and wall time added.
    """
    numbers = {
        "experiment": name,
        "quick": bool(args.quick),
        "seed": int(args.seed),
        "wall_time_s": round(time.perf_counter() - args.started, 2),
        **numbers,
    }
    figure.savefig(args.out / f"{name}.png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    text = json.dumps(_plain(numbers), indent=1, allow_nan=False)
    (args.out / f"{name}.json").write_text(text + "\n")
    print(f"wrote {args.out / name}.png and .json ({numbers['wall_time_s']} s)")
    return numbers


def _plain(value):
    """NumPy/JAX scalars and arrays to JSON types; non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(np.asarray(value).tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def mean_and_spread(values, axis=0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof 1 where there are two samples or more)."""
    values = np.asarray(values, dtype=float)
    ddof = 1 if values.shape[axis] > 1 else 0
    return values.mean(axis=axis), values.std(axis=axis, ddof=ddof)
