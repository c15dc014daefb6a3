"""Every experiment script, in its --quick version, writes a figure and sane numbers.

The scripts run in-process through their ``main(argv)``, into a temporary folder, with
the trained-model cache there too, so each test trains what it needs from scratch.
"""

import importlib
import json
import math
import pathlib

import numpy as np
import pytest

from bmru_jax import power

EXPERIMENTS = pathlib.Path(__file__).resolve().parent.parent / "experiments"


@pytest.fixture
def run_quick(tmp_path, monkeypatch, as_user):
    """Run ``experiments/<name>.py --quick`` into ``tmp_path``; return its JSON.

    The scripts are users of the library: they run without the tests' run-time
    annotation checks (``as_user``), as they do from the command line.
    """
    monkeypatch.syspath_prepend(str(EXPERIMENTS))

    def run(name: str, *extra: str) -> dict:
        module = importlib.import_module(name)
        argv = ["--quick", "--out", str(tmp_path), "--seed", "0", *extra]
        returned = module.main(argv)
        png = tmp_path / f"{name}.png"
        assert png.is_file() and png.stat().st_size > 10_000
        saved = json.loads((tmp_path / f"{name}.json").read_text())
        assert saved["experiment"] == name and saved["quick"] is True
        assert saved["wall_time_s"] == returned["wall_time_s"]
        return saved

    return run


def _cache(tmp_path) -> list[str]:
    return ["--cache", str(tmp_path / "cache")]


def test_cell_characterisation(run_quick):
    numbers = run_quick("cell_characterisation")
    nominal = numbers["nominal"]
    step = numbers["sweep_step_pA"]
    # The nominal cell: on ~350 pA, off ~150 pA, alpha ~500 pA (SPEC), read on a grid
    # of `step` through mirrors whose gain changes ~1 % over the range.
    assert abs(nominal["on_pA"] - 350) <= step + 10
    assert abs(nominal["off_pA"] - 150) <= step + 10
    assert abs(nominal["alpha_pA"] - 500) <= 15
    assert 2.9 <= nominal["low_min_pA"] <= nominal["low_max_pA"] <= 7.1
    for bias, entry in numbers["transfers"].items():
        assert 0.7 < entry["fit"]["slope"] < 1.3, bias
        parameter = entry["fit"]["parameter"]
        assert all(s > 0 for s in entry[parameter]["std"]), bias  # mismatch spreads


def test_noise_suppression(run_quick):
    numbers = run_quick("noise_suppression")
    for sweep in numbers["sweeps"]:
        assert sweep["min_factor_away"] > numbers["published_factor"]
        assert sweep["max_flip_probability_away"] < 1e-3
        # It breaks down near the thresholds: some stable points fall below 20x.
        assert sweep["points_below_published"] > 0
        flips = np.asarray(sweep["states"]["reset"]["flip_probability"])
        assert flips.max() > 0.1


def test_noise_accumulation(run_quick):
    numbers = run_quick("noise_accumulation")
    for entry in numbers["results"]:
        bmru, slowest = entry["bmru"], entry["analog"]["0.999"]
        # The analog state integrates its noise; the BMRU's error comes only from
        # flips (at most every cell off by its alpha) and stays below it.
        assert slowest["growth_exponent"] > 0.3
        assert slowest["late_mean_nA"] > 3 * slowest["early_mean_nA"]
        assert bmru["max_mean_nA"] <= numbers["alpha_max_nA"]
        assert bmru["late_mean_nA"] < entry["analog"]["0.99"]["late_mean_nA"]
        # The analog error follows sigma sqrt(t) for a -> 1: check its last frame
        # within 5 standard errors of the mean over its streams.
        frames = numbers["frames"]
        a, sigma = 0.999, entry["sigma_nA"]
        theory = sigma * math.sqrt((1 - a ** (2 * frames)) / (1 - a**2))
        runs = numbers["sequences"] * numbers["streams"]
        last_mean = slowest["mean_nA"][-1]
        assert abs(last_mean - theory) < 5 * slowest["std_nA"][-1] / math.sqrt(runs) + (
            0.15 * theory  # rms over only 8 units is a biased estimate of sigma
        )


def test_robustness_sweep(run_quick, tmp_path):
    numbers = run_quick("robustness_sweep", *_cache(tmp_path))
    assert numbers["levels_percent"][0] == 0
    for task in numbers["tasks"].values():
        for kind, model in task["models"].items():
            mean = np.asarray(model["accuracy_mean"])
            assert np.all((mean >= 0) & (mean <= 1)), kind
            assert mean[0] > task["chance"], kind  # trained: above chance at p = 0
            # At p = 0 every die is the nominal one: no spread.
            assert model["accuracy_std"][0] == pytest.approx(0.0, abs=1e-12), kind
            assert np.all(np.asarray(model["accuracy_min"]) <= mean + 1e-12)


def test_power_scaling(run_quick, tmp_path):
    numbers = run_quick("power_scaling", *_cache(tmp_path))
    widths = numbers["widths"]
    entries = [numbers["per_width"][str(w)] for w in widths]
    for entry in entries:
        assert 0 < entry["core_nW"]["mean"] < entry["total_nW"]["mean"]
        assert entry["feedforward_nW"]["mean"] > 0
        assert 0 <= entry["software_accuracy"] <= 1
        assert 0 <= entry["accuracy_1x"]["mean"] <= 1
    # Every cell draws at least its static floor (the published 4.9 nW of a nominal
    # cell less its bias branches), plus its trained bias and output branches.
    settings = power.PowerSettings()
    floor_nW = settings.vdd_V * settings.cell_floor_nA
    per_cell = numbers["fits"]["core_per_cell_nW"]
    assert all(floor_nW < p < 10 * floor_nW for p in per_cell)
    assert entries[-1]["core_nW"]["mean"] > 1.5 * entries[0]["core_nW"]["mean"]


def test_keyword_poc(run_quick):
    numbers = run_quick("keyword_poc")
    power = numbers["power_nW"]
    assert 0 < power["total_min"] <= power["total_mean"] <= power["total_max"]
    frames = len(power["per_frame"])
    # E = sum_t P_t * 10 ms.
    expected_nJ = power["total_mean"] * frames * 10e-3
    assert numbers["energy_nJ"] == pytest.approx(expected_nJ, rel=1e-4)
    assert numbers["decision"] in (0, 1)
    assert 0.5 <= numbers["confidence"] <= 1.0
    outputs = np.asarray(numbers["cell_outputs_pA"])
    states = np.asarray(numbers["states"])
    assert outputs.shape == states.shape == (2, frames, 4)
    # A reset cell leaks a few pA, a set cell carries its alpha (hundreds of pA).
    assert np.all(outputs[states == 0] < 10)


def test_pelgrom_vs_multiplicative(run_quick):
    numbers = run_quick("pelgrom_vs_multiplicative")
    scales, sigmas = numbers["A_VT_scales"], numbers["effective_sigma"]
    assert sigmas == sorted(sigmas) and sigmas[0] > 0
    # dVT scales with A_VT; the spread of exp(dVT / n U_T) grows a little faster.
    ratio = (sigmas[-1] / sigmas[0]) / (scales[-1] / scales[0])
    assert 0.9 < ratio < 1.6
    assert numbers["nominal_accuracy"] > 0.5  # the bundled model, above chance
    for entry in numbers["results"].values():
        mean = np.asarray(entry["accuracy_mean"])
        assert np.all((mean >= 0) & (mean <= 1))


def test_digit_tasks_are_offline_sequences(monkeypatch):
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    from _tasks import PERMUTATION_SEED, load_task

    plain = load_task("digits", quick=True)
    permuted = load_task("digits_permuted", quick=True)
    assert plain.train[0].shape[1:] == (64, 1) and plain.n_classes == 10
    assert abs(float(plain.train[0].mean())) < 0.1  # z-scored pixels
    # The permuted task holds the same pixels, in one fixed order for every image.
    order = np.random.default_rng(PERMUTATION_SEED).permutation(64)
    assert not np.array_equal(order, np.arange(64))
    assert np.array_equal(plain.train[0][:, order], permuted.train[0])
    assert np.array_equal(plain.test[1], permuted.test[1])
    assert load_task("mnist", quick=True, mnist=None) is None
