"""All transistor-level checks in one call, as ``bmru-jax spice-check`` runs them."""

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bmru_jax.errors import InputError
from bmru_jax.spice._check_cell import cell_dc
from bmru_jax.spice._check_mismatch import mismatch
from bmru_jax.spice._check_network import network, speed
from bmru_jax.spice._models import model_dir
from bmru_jax.spice._report import write_json
from bmru_jax.spice._runner import ngspice_path

CHECKS = ("cell", "mismatch", "network", "speed")


def default_network_inputs(clips: int):
    """The bundled d = 4 keyword network and ``clips`` of its held-out test clips.

    The clips alternate between the two classes, so that both decisions are exercised.

    Returns:
        ``(model, features (clips, 101, 13), description)``.
    """
    import numpy as np

    from bmru_jax.assets import bundled_model, bundled_test_features

    features, labels = bundled_test_features()
    by_class = [np.flatnonzero(labels == label) for label in (1, 0)]
    order = np.stack([index[: (clips + 1) // 2] for index in by_class], axis=1)
    chosen = order.reshape(-1)[:clips]
    origin = (
        f"bundled kws-d4-noise-aware, bundled test clips {chosen.tolist()} "
        "(unseen voices, alternating classes)"
    )
    return bundled_model("kws-d4-noise-aware"), features[chosen], origin


def spice_check(
    out_dir: str | Path,
    checks: Sequence[str] = CHECKS,
    *,
    quick: bool = False,
    calibration_path: str | Path | None = None,
    model=None,
    features=None,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> dict[str, dict]:
    """Run the chosen checks; each writes ``out_dir/<check>.json`` and a figure.

    Args:
        out_dir: folder for the results.
        checks: any of ``"cell"``, ``"mismatch"``, ``"network"``, ``"speed"``.
        quick: small sizes for continuous integration (40 Monte Carlo runs, 4 clips,
            coarse sweeps) instead of the full ones (200 runs, 24 clips).
        calibration_path: store the measured device constants and ``A_VT`` there.
        model, features: the network and held-out clips ``(clips, frames, 13)`` for
            the ``network`` and ``speed`` checks; synthetic ones when ``None``.
        workers: ngspice processes at once.
        progress: called with 1 after each ngspice run.

    Returns:
        Per check, the dict written to its JSON file, plus ``"seconds"`` per check.
    """
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise InputError(f"checks: unknown {unknown}, choose from {list(CHECKS)}")
    ngspice_path()
    model_dir()
    out = Path(out_dir)
    results, seconds = {}, {}
    kwargs = {"workers": workers, "progress": progress}
    for check in CHECKS:
        if check not in checks:
            continue
        start = time.perf_counter()
        if check == "cell":
            results[check] = cell_dc(
                out, quick=quick, calibration_path=calibration_path, **kwargs
            )
        elif check == "mismatch":
            results[check] = mismatch(
                out,
                runs=40 if quick else 200,
                calibration_path=calibration_path,
                **kwargs,
            )
        elif check == "network" or "network" not in results:
            results["network"] = _network(out, quick, model, features, kwargs)
            if check == "speed":
                seconds["network"] = time.perf_counter() - start
        if check == "speed":
            results[check] = speed(results["network"])
            write_json(out, "speed", results[check])
        seconds[check] = time.perf_counter() - start
    results["seconds"] = seconds
    return results


def _network(out: Path, quick: bool, model, features, kwargs) -> dict:
    origin = "given"
    if model is None or features is None:
        model, features, origin = default_network_inputs(4 if quick else 24)
    result = network(out, model, features, **kwargs)
    result["inputs"] = origin
    write_json(out, "network", result)
    return result
