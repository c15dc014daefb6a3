"""All transistor-level checks in one call, as ``bmru-jax spice-check`` runs them."""

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bmru_jax.errors import InputError
from bmru_jax.spice._check_cell import cell_dc
from bmru_jax.spice._check_mismatch import mismatch
from bmru_jax.spice._check_network import (
    exercising_model,
    network,
    speed,
    synthetic_clips,
)
from bmru_jax.spice._models import model_dir
from bmru_jax.spice._report import write_json
from bmru_jax.spice._runner import ngspice_path

CHECKS = ("cell", "mismatch", "network", "speed")


def default_network_inputs(clips: int, *, seed: int = 0):
    """A d = 4 keyword network and held-out clips for the ``network`` check.

    Without a trained model on disk this is a randomly initialised
    ``HardwareBackbone(width=4)`` whose thresholds are set inside its candidates'
    range (so that cells switch), driven by synthetic slowly drifting features.

    Returns:
        ``(model, features (clips, 101, 13), description)``.
    """
    import jax

    from bmru_jax.models import HardwareBackbone

    features = synthetic_clips(clips, seed=seed + 1)
    model = exercising_model(
        HardwareBackbone(width=4, key=jax.random.key(seed)), features
    )
    origin = (
        f"random HardwareBackbone(width=4, key={seed}), thresholds at the 35th/"
        "65th percentile of its candidates; synthetic drifting features"
    )
    return model, features, origin


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
