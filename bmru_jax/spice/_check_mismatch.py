"""The ``mismatch`` check: SPICE Monte Carlo of mirrors and cells, and a Pelgrom fit.

In weak inversion a threshold difference ``dVT`` between the two devices of a mirror
multiplies its gain by ``exp(dVT / (n U_T))``. With Pelgrom's law
``sigma(dVT) = A_VT / sqrt(W L)`` the spread of the log-gain of a ``W x L`` mirror gives

    A_VT = n U_T sigma(ln gain) sqrt(W L)          [mV um]

using the drawn ``W``, ``L`` and the slope factor ``n`` measured on the same models.
The fitted ``A_VT`` then predicts the cell's threshold and level spreads through its
mirror pairs (all ``W x L`` = 5 x 5 um):

    alpha = I_gain g_P8P9,  beta2 = I_thresh g_P1P2 / g_N1N2,
    beta1 = (I_thresh g_P1P2 - I_width g_N3N4) / g_N1N2

and those predictions are compared with the cell's own Monte Carlo.
"""

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bmru_jax.spice._calibration import update_calibration
from bmru_jax.spice._cell import cell_transfer
from bmru_jax.spice._check_cell import NOMINAL_BIAS
from bmru_jax.spice._mirror import POLARITIES, mismatch_gains, slope_factor
from bmru_jax.spice._netlist import CellSizes
from bmru_jax.spice._report import new_figure, save_figure, sigma_with_error, write_json

MIRROR_W_UM = 5.0
MIRROR_L_UM = 5.0
MIRROR_INPUT_A = 1e-9
_BOLTZMANN_OVER_Q_V_PER_K = 8.617333262e-5


def thermal_voltage_V(temperature_C: float = 27.0) -> float:
    """``U_T = k T / q`` in volts."""
    return _BOLTZMANN_OVER_Q_V_PER_K * (temperature_C + 273.15)


def fit_a_vt(log_gains, *, n: float, w_um: float, l_um: float) -> dict:
    """Pelgrom coefficient from the spread of mirror log-gains.

    Args:
        log_gains: ``ln(gain)`` of Monte Carlo mirrors, shape ``(runs,)``.
        n: subthreshold slope factor of the devices.
        w_um, l_um: drawn width and length of both devices, um.

    Returns:
        ``{"A_VT_mV_um", "A_VT_error_mV_um", "sigma_dVT_mV"}``; the error is one
        standard error of the sample sigma.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> fit = fit_a_vt(rng.normal(0, 0.04, 20000), n=1.4, w_um=5, l_um=5)
        >>> round(fit["A_VT_mV_um"] / (1.4 * thermal_voltage_V() * 1e3 * 0.04 * 5), 2)
        1.0
    """
    spread = sigma_with_error(log_gains)
    scale = n * thermal_voltage_V() * 1e3 * math.sqrt(w_um * l_um)
    return {
        "A_VT_mV_um": spread["sigma"] * scale,
        "A_VT_error_mV_um": spread["sigma_error"] * scale,
        "sigma_dVT_mV": spread["sigma"] * n * thermal_voltage_V() * 1e3,
    }


def pelgrom_log_sigma(a_vt_mV_um: float, *, n: float, w_um: float, l_um: float):
    """``sigma(ln gain)`` of a ``w x l`` mirror pair under Pelgrom's law."""
    return a_vt_mV_um / math.sqrt(w_um * l_um) / (n * thermal_voltage_V() * 1e3)


def predicted_cell_sigmas(s_n: float, s_p: float, *, samples: int = 200_000) -> dict:
    """Behavioural (Pelgrom) spread of the nominal cell's alpha, beta2 and beta1, pA.

    Args:
        s_n, s_p: ``sigma(ln gain)`` of the cell's NMOS and PMOS mirror pairs.
        samples: draws of the log-normal mirror gains.
    """
    rng = np.random.default_rng(0)
    g_gain, g_thresh = np.exp(rng.normal(0.0, s_p, (2, samples)))
    g_cand, g_width = np.exp(rng.normal(0.0, s_n, (2, samples)))
    beta2 = NOMINAL_BIAS.thresh_pA * g_thresh / g_cand
    beta1 = beta2 - NOMINAL_BIAS.width_pA * g_width / g_cand
    return {
        "alpha_pA": float(np.std(NOMINAL_BIAS.gain_pA * g_gain)),
        "on_pA": float(np.std(beta2)),
        "off_pA": float(np.std(beta1)),
    }


def mismatch(
    out_dir: str | Path,
    *,
    runs: int = 200,
    cell_runs: int | None = None,
    seed: int = 1,
    calibration_path: str | Path | None = None,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Monte Carlo of 5/5 um mirrors (NMOS, PMOS) at 1 nA and of the nominal cell; fit
    ``A_VT``; write ``mismatch.json`` and ``mismatch.png`` into ``out_dir``.

    Args:
        out_dir: folder for the results.
        runs: Monte Carlo mirrors per polarity (one netlist, ``runs`` instances).
        cell_runs: Monte Carlo cells (one ngspice run each); ``runs`` when ``None``.
        seed: first random seed (mirror netlists use ``seed``, cell ``k`` ``seed + k``).
        calibration_path: also store ``A_VT`` and ``n`` there.
        workers: ngspice processes at once.
        progress: called with 1 after each ngspice run.

    Returns:
        The dict written to ``mismatch.json``.
    """
    out = Path(out_dir)
    cell_runs = runs if cell_runs is None else cell_runs
    mirrors, pelgrom, gains_by_polarity = {}, {}, {}
    for polarity in POLARITIES:
        mirrors[polarity], gains_by_polarity[polarity] = _mirror_mc(
            polarity, runs, seed
        )
        pelgrom[polarity] = mirrors[polarity].get("fit", {})
    transfer, cell_results = cell_transfer(
        [NOMINAL_BIAS] * cell_runs,
        stop_pA=700.0,
        step_pA=2.0,
        mismatch=True,
        seed=seed,
        workers=workers,
        progress=progress,
    )
    cell = {
        "on_pA": sigma_with_error(transfer.on_pA),
        "off_pA": sigma_with_error(transfer.off_pA),
        "alpha_pA": sigma_with_error(transfer.high_pA),
        "failures": [r.failure for r in cell_results if not r.ok],
    }
    comparison = _compare_cell(cell, pelgrom, mirrors)
    result = {
        "mirrors": mirrors,
        "cell": cell,
        "behavioural": comparison,
        "runs": {"mirrors": runs, "cells": cell_runs},
    }
    _figure(out, gains_by_polarity, transfer)
    write_json(out, "mismatch", result)
    if calibration_path is not None and all(
        "A_VT_mV_um" in p for p in pelgrom.values()
    ):
        update_calibration(
            calibration_path, "pelgrom", _pelgrom_values(mirrors), runs=runs
        )
    return result


def _mirror_mc(polarity: str, runs: int, seed: int) -> tuple[dict, np.ndarray]:
    n, _ = slope_factor(polarity, w_um=MIRROR_W_UM, l_um=MIRROR_L_UM)
    gains, result = mismatch_gains(
        polarity,
        runs,
        w_um=MIRROR_W_UM,
        l_um=MIRROR_L_UM,
        input_A=MIRROR_INPUT_A,
        seed=seed,
    )
    if not result.ok:
        return {"failure": result.failure, "slope_factor": n}, gains
    spread = sigma_with_error(gains / gains.mean())
    return {
        "slope_factor": n,
        "gain": {
            **sigma_with_error(gains),
            "relative_sigma": spread["sigma"],
            "relative_sigma_error": spread["sigma_error"],
        },
        "fit": fit_a_vt(np.log(gains), n=n, w_um=MIRROR_W_UM, l_um=MIRROR_L_UM),
        "spice_seconds": result.seconds,
    }, gains


def _compare_cell(cell: dict, pelgrom: dict, mirrors: dict) -> dict:
    if not all("A_VT_mV_um" in p for p in pelgrom.values()):
        return {"skipped": "mirror Monte Carlo failed"}
    size = {"w_um": CellSizes().mirror_w_um, "l_um": CellSizes().mirror_l_um}
    s_n = pelgrom_log_sigma(
        pelgrom["sink"]["A_VT_mV_um"], n=mirrors["sink"]["slope_factor"], **size
    )
    s_p = pelgrom_log_sigma(
        pelgrom["source"]["A_VT_mV_um"], n=mirrors["source"]["slope_factor"], **size
    )
    predicted = predicted_cell_sigmas(s_n, s_p)
    ratio = {key: predicted[key] / cell[key]["sigma"] for key in predicted}
    return {
        "predicted_sigma_pA": predicted,
        "measured_sigma_pA": {key: cell[key]["sigma"] for key in predicted},
        "predicted_over_measured": ratio,
        "within_20_percent": bool(all(abs(r - 1.0) <= 0.2 for r in ratio.values())),
    }


def _pelgrom_values(mirrors: dict) -> dict:
    return {
        "A_VT_nmos_mV_um": mirrors["sink"]["fit"]["A_VT_mV_um"],
        "A_VT_pmos_mV_um": mirrors["source"]["fit"]["A_VT_mV_um"],
        "slope_factor_nmos": mirrors["sink"]["slope_factor"],
        "slope_factor_pmos": mirrors["source"]["slope_factor"],
        "mirror_relative_sigma_nmos_5x5_1nA": mirrors["sink"]["gain"]["relative_sigma"],
        "mirror_relative_sigma_pmos_5x5_1nA": mirrors["source"]["gain"][
            "relative_sigma"
        ],
    }


def _figure(out: Path, gains: dict, transfer) -> None:
    figure, axes = new_figure(2)
    for polarity in POLARITIES:
        if gains[polarity].size:
            axes[0].hist(gains[polarity], bins=30, alpha=0.6, label=polarity)
    axes[0].set(xlabel="mirror gain (5/5 um, 1 nA)", ylabel="runs", title="mirrors")
    axes[0].legend()
    axes[1].hist(
        transfer.on_pA[np.isfinite(transfer.on_pA)],
        bins=30,
        alpha=0.6,
        label="on (beta2)",
    )
    axes[1].hist(
        transfer.off_pA[np.isfinite(transfer.off_pA)],
        bins=30,
        alpha=0.6,
        label="off (beta1)",
    )
    axes[1].set(xlabel="threshold (pA)", ylabel="runs", title="cell thresholds")
    axes[1].legend()
    save_figure(figure, out, "mismatch")
