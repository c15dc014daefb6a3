"""The ``cell`` check: DC transfer of one BMRU cell, its tuning, and the mirrors.

Measured at transistor level and compared with the behavioural cell:

    alpha = a_g I_gain + o_g,  beta2 = a_t I_thresh + o_t,  delta = a_w I_width + o_w

"before" uses the behavioural model's default constants
(:class:`bmru_jax.circuit.devices.DeviceParameters`, from the published measurements),
"after" the constants fitted here. The mirrors' gain against output width and input
current is measured in the same check, as it sets every weight of the network.
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bmru_jax.spice._calibration import update_calibration
from bmru_jax.spice._cell import CellBias, cell_transfer
from bmru_jax.spice._mirror import POLARITIES, mirror_gains
from bmru_jax.spice._report import (
    linear_fit,
    new_figure,
    relative_errors,
    save_figure,
    write_json,
)

NOMINAL_BIAS = CellBias(gain_pA=500.0, thresh_pA=350.0, width_pA=200.0)
MIRROR_WIDTHS_UM = (0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 12.5, 15.0)
# Points below this are left out of relative errors (a near-zero alpha or delta).
_ERROR_FLOOR_PA = 50.0


def _sweeps(quick: bool) -> dict[str, list[CellBias]]:
    """Bias sets of the three tuning sweeps (SPEC ranges)."""
    count = 4 if quick else 11
    gains = np.linspace(0.0, 500.0, count)
    threshes = np.linspace(100.0, 400.0, count)
    widths = np.linspace(10.0, 300.0, count)
    return {
        "alpha": [
            CellBias(g, NOMINAL_BIAS.thresh_pA, NOMINAL_BIAS.width_pA) for g in gains
        ],
        # A narrow window keeps beta1 positive down to I_thresh = 100 pA.
        "beta2": [CellBias(NOMINAL_BIAS.gain_pA, t, 50.0) for t in threshes],
        # A high threshold keeps beta1 = I_thresh - I_width positive up to 300 pA.
        "delta": [CellBias(NOMINAL_BIAS.gain_pA, 400.0, w) for w in widths],
    }


def _behavioural_constants() -> dict[str, tuple[float, float]]:
    """The behavioural cell's default (slope, offset_pA) per parameter."""
    try:
        from bmru_jax.circuit.devices import DeviceParameters
    except ImportError:
        # Without the circuit package the behavioural cell is the ideal one.
        return {"alpha": (1.0, 0.0), "beta2": (1.0, 0.0), "delta": (1.0, 0.0)}
    device = DeviceParameters()
    return {
        "alpha": (device.gain_slope, device.gain_offset_pA),
        "beta2": (device.thresh_slope, device.thresh_offset_pA),
        "delta": (device.width_slope, device.width_offset_pA),
    }


def _bias_of(parameter: str, bias: CellBias) -> float:
    return {"alpha": bias.gain_pA, "beta2": bias.thresh_pA, "delta": bias.width_pA}[
        parameter
    ]


def _realised(parameter: str, transfer) -> np.ndarray:
    return {
        "alpha": transfer.high_pA,
        "beta2": transfer.on_pA,
        "delta": transfer.delta_pA,
    }[parameter]


def cell_dc(
    out_dir: str | Path,
    *,
    quick: bool = False,
    calibration_path: str | Path | None = None,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Measure one cell's hysteresis, its tuning by the three bias currents, and the
    mirrors; write ``cell.json`` and ``cell.png`` into ``out_dir``.

    Args:
        out_dir: folder for the results.
        quick: coarser sweeps (2 pA candidate steps, 4 points per tuning sweep).
        calibration_path: also store the fitted constants there (e.g. the packaged
            ``bmru_jax/spice/calibration.json``).
        workers: ngspice processes at once.
        progress: called with 1 after each ngspice run.

    Returns:
        The dict written to ``cell.json``: ``nominal`` (thresholds in pA, levels,
        hysteresis), ``tuning`` (fits per parameter), ``behavioural`` (relative errors
        before and after calibration), ``mirrors`` (gain against width and input).
    """
    out = Path(out_dir)
    step = 2.0 if quick else 1.0
    nominal, runs = cell_transfer(
        [NOMINAL_BIAS], stop_pA=700.0, step_pA=step, workers=workers, progress=progress
    )
    failures = [r.failure for r in runs if not r.ok]
    tuning, measured, behaviour = {}, {}, {}
    before = _behavioural_constants()
    for parameter, biases in _sweeps(quick).items():
        transfer, runs = cell_transfer(
            biases, stop_pA=700.0, step_pA=step, workers=workers, progress=progress
        )
        failures += [r.failure for r in runs if not r.ok]
        bias = np.array([_bias_of(parameter, b) for b in biases])
        realised = _realised(parameter, transfer)
        measured[parameter] = (bias, realised)
        fit = linear_fit(bias, realised)
        tuning[parameter] = {"bias_pA": bias, "realised_pA": realised, **fit}
        behaviour[parameter] = {
            "before": relative_errors(
                _line(bias, *before[parameter]), realised, floor=_ERROR_FLOOR_PA
            ),
            "after": relative_errors(
                _line(bias, fit["slope"], fit["offset"]),
                realised,
                floor=_ERROR_FLOOR_PA,
            ),
            "constants_before": before[parameter],
        }
    mirrors = _mirror_section(quick)
    result = {
        "nominal": _nominal_section(nominal),
        "tuning": tuning,
        "behavioural": behaviour,
        "mirrors": mirrors,
        "failures": failures,
        # One run per swept cell, plus the nominal cell and the two mirror sweeps.
        "runs": 1 + sum(len(b) for b in _sweeps(quick).values()) + 2,
    }
    _figure(out, nominal, tuning, mirrors)
    write_json(out, "cell", result)
    if calibration_path is not None:
        update_calibration(
            calibration_path,
            "device_parameters",
            _device_parameters(result),
            runs=result["runs"],
        )
    return result


def _line(x, slope, offset):
    return slope * np.asarray(x, float) + offset


def _nominal_section(transfer) -> dict:
    return {
        "bias_pA": dataclasses.asdict(NOMINAL_BIAS),
        "on_pA": float(transfer.on_pA[0]),
        "off_pA": float(transfer.off_pA[0]),
        "hysteresis_pA": float(transfer.delta_pA[0]),
        "low_pA": float(transfer.low_pA[0]),
        "high_pA": float(transfer.high_pA[0]),
        "droop": float(transfer.droop[0]),
        "low_max_pA": float(
            np.nanmax(
                transfer.up_output_pA[0][
                    transfer.up_output_pA[0] < 0.5 * transfer.high_pA[0]
                ]
            )
        ),
    }


def _mirror_section(quick: bool) -> dict:
    section = {}
    step = 0.3e-9 if quick else 0.1e-9
    for polarity in POLARITIES:
        inputs, gains, result = mirror_gains(
            polarity, MIRROR_WIDTHS_UM, (0.1e-9, 3.0e-9, step)
        )
        if not result.ok:
            section[polarity] = {"failure": result.failure}
            continue
        at_1nA = gains[int(np.argmin(np.abs(inputs - 1e-9)))]
        section[polarity] = {
            "widths_um": MIRROR_WIDTHS_UM,
            "gain_at_1nA": at_1nA,
            "per_um": linear_fit(MIRROR_WIDTHS_UM, at_1nA),
            "input_nA": inputs * 1e9,
            "gain_at_5um": gains[:, MIRROR_WIDTHS_UM.index(5.0)],
            "gain_change_0p1_to_3nA": float(gains[-1, 4] / gains[0, 4] - 1.0),
        }
    return section


def _device_parameters(result: dict) -> dict:
    """Fitted constants under the names the behavioural model uses."""
    tuning, nominal = result["tuning"], result["nominal"]
    values = {
        "gain_slope": tuning["alpha"]["slope"],
        "gain_offset_pA": tuning["alpha"]["offset"],
        "thresh_slope": tuning["beta2"]["slope"],
        "thresh_offset_pA": tuning["beta2"]["offset"],
        "width_slope": tuning["delta"]["slope"],
        "width_offset_pA": tuning["delta"]["offset"],
        "leakage_low_pA": nominal["low_pA"],
        "leakage_high_pA": nominal["low_max_pA"],
        "droop_fraction": nominal["droop"],
    }
    for polarity in POLARITIES:
        mirror = result["mirrors"].get(polarity, {})
        if "gain_at_1nA" in mirror:
            values[f"mirror_gains_{polarity}"] = [
                float(g) for g in mirror["gain_at_1nA"]
            ]
            values["mirror_widths_um"] = list(MIRROR_WIDTHS_UM)
    return values


def _figure(out: Path, nominal, tuning: dict, mirrors: dict) -> None:
    figure, axes = new_figure(3)
    candidate = nominal.candidate_pA
    axes[0].plot(candidate, nominal.up_output_pA[0], label="rising")
    axes[0].plot(candidate, nominal.down_output_pA[0], "--", label="falling")
    axes[0].set(xlabel="candidate (pA)", ylabel="output (pA)", title="cell hysteresis")
    axes[0].legend()
    for parameter, marker in zip(("alpha", "beta2", "delta"), "osd"):
        entry = tuning[parameter]
        axes[1].plot(entry["bias_pA"], entry["realised_pA"], marker, label=parameter)
    axes[1].plot([0, 500], [0, 500], "k:", lw=0.8)
    axes[1].set(xlabel="bias current (pA)", ylabel="realised (pA)", title="tuning")
    axes[1].legend()
    for polarity in POLARITIES:
        if "gain_at_1nA" in mirrors.get(polarity, {}):
            axes[2].plot(
                MIRROR_WIDTHS_UM, mirrors[polarity]["gain_at_1nA"], "o-", label=polarity
            )
    axes[2].set(xlabel="W_out (um)", ylabel="gain at 1 nA", title="mirrors")
    axes[2].legend()
    save_figure(figure, out, "cell")
