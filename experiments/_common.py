"""What every experiment script shares: its command line, and how it saves results.

Each script is one command, ``python experiments/<name>.py [--out DIR] [--quick]
[--seed N]``, and writes ``<out>/<name>.png`` (the figure) and ``<out>/<name>.json``
(the numbers behind it). ``--quick`` runs a small version in seconds, for the tests.
"""

import argparse
import json
import math
import pathlib
import sys
import time

import matplotlib

matplotlib.use("Agg")  # scripts run headless, in tests and in the background

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
# The scripts import the package from this checkout, installed or not.
if str(REPOSITORY) not in sys.path:
    sys.path.insert(1, str(REPOSITORY))
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


# The bundled d = 4 keyword network (noise-aware training), as campaigns use it.
BUNDLED_KEYWORD_MODEL = "kws-d4-noise-aware"


def bundled_keyword_network(clips: int | None = None):
    """The bundled d = 4 keyword model and the first ``clips`` of its test features.

    Returns ``(model, features (clips, 101, 13), labels (clips,))``.
    """
    from bmru_jax.assets import bundled_model, bundled_test_features

    model = bundled_model(BUNDLED_KEYWORD_MODEL)
    features, labels = bundled_test_features()
    features, labels = np.asarray(features), np.asarray(labels)
    if clips is not None:
        features, labels = features[:clips], labels[:clips]
    return model, features, labels


def nominal_die(model, nonideal=None, unit_current_nA=1.0):
    """The nominal die of a trained model, and how many of its elements are out of
    the realisable range (the description's report; its warning is recorded instead of
    shown, since the count is saved with the numbers). ``unit_current_nA``: nA per
    model unit, or ``"auto"`` (``circuit.unit_current_for_nominal_cell``)."""
    import warnings

    from bmru_jax import circuit

    unit = circuit.resolve_unit_current_nA(model, unit_current_nA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        desc = circuit.describe(model, circuit.CircuitSettings(unit_current_nA=unit))
    nonideal = circuit.NonIdealities() if nonideal is None else nonideal
    return circuit.nominal_die(desc, nonideal), len(desc.out_of_range)


def script_main(doc: str, run, extra=None):
    """The ``main(argv=None) -> dict`` of a script: parse the options, ``run(args)``.

    The first line of the script's docstring is its command-line description.
    """

    def main(argv=None) -> dict:
        return run(parse_arguments(doc.splitlines()[0], argv, extra))

    return main
