"""Campaigns end to end on a tiny problem: keys, determinism, resume, refusals, CLI.

One d = 4 model, 4 clips of 30 frames, 2 levels x 5 dies x 2 temporal-noise streams.
Every run of the same config must give the same bits, whatever the chunk size, the
worker count, or a SIGKILL in the middle.
"""

import dataclasses
import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
import zarr

from bmru_jax import circuit
from bmru_jax.campaign import (
    load_config,
    load_inputs,
    nominal_reference,
    run_campaign,
    store,
)
from bmru_jax.cli import campaign as campaign_cli
from bmru_jax.cli import main
from bmru_jax.errors import InputError
from bmru_jax.models import clip_decision
from bmru_jax.power import power_from_currents
from bmru_jax.training.checkpoint import ModelSpec, save_checkpoint

CONFIG = """
[model]
path = "model.json"
[data]
path = "features.npz"
[noise]
levels = [0, 2]
[noise.temporal]
streams = 2
[campaign]
dies = 5
seed = 7
chunk_size = 4
power = true
"""
VARIABLES = ("decision", "accuracy", "flips", "high_level_rel", "low_level_pA")


@pytest.fixture(scope="module")
def config_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    spec = ModelSpec("backbone", width=4)
    model = spec.build(key=jax.random.key(0))
    save_checkpoint(
        folder / "model.json",
        model,
        {"contents": "model", "model": dataclasses.asdict(spec)},
    )
    rng = np.random.default_rng(0)
    np.savez(
        folder / "features.npz",
        features=rng.normal(size=(4, 30, 13)).astype(np.float32),
        labels=np.array([0, 1, 1, 0]),
    )
    (folder / "campaign.toml").write_text(CONFIG)
    return folder / "campaign.toml"


@pytest.fixture(scope="module")
def reference(config_path, tmp_path_factory) -> Path:
    """An uninterrupted in-process run with chunk size 4."""
    out = tmp_path_factory.mktemp("reference") / "run"
    run_campaign(load_config(config_path), out)
    return out


def _results(out: Path) -> xr.Dataset:
    with store.open_results(out) as results:
        return results.load()


def _assert_same_results(out: Path, expected: Path) -> None:
    got, want = _results(out), _results(expected)
    for name in VARIABLES + ("power_nW",):
        np.testing.assert_array_equal(got[name].values, want[name].values, name)
    assert got.attrs["config_hash"] == want.attrs["config_hash"]


def _snapshot(out: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_store_layout_and_summary(reference):
    results = _results(reference)
    assert dict(results.sizes) == {
        "level": 2,
        "die": 5,
        "stream": 2,
        "clip": 4,
        "layer": 2,
        "cell": 4,
    }
    assert results["flips"].dims == ("level", "die", "stream", "layer", "cell")
    assert (results["decision"] >= 0).all() and (results["flips"] >= 0).all()
    np.testing.assert_array_equal(results["p"].values, [0.0, 0.2])
    assert json.loads(results.attrs["config"])["campaign"]["dies"] == 5
    assert results.attrs["root_seed"] == 7 and results.attrs["bmru_jax_version"]
    correct = (results["decision"] == results["label"]).mean("clip")
    np.testing.assert_allclose(results["accuracy"], correct, rtol=1e-6)
    summary = json.loads((reference / "summary.json").read_text())
    per_die = results["accuracy"].mean("stream")
    np.testing.assert_allclose(summary["accuracy_mean"], per_die.mean("die"), 1e-6)
    np.testing.assert_allclose(
        summary["accuracy_std"], per_die.std("die", ddof=1), rtol=1e-5
    )
    assert summary["n_dies"] == 5 and summary["noise_levels"] == [0.0, 2.0]
    assert summary["network_frames_per_second"] > 0 and summary["complete"]
    assert (reference / "accuracy_vs_noise.png").stat().st_size > 10_000


def test_one_die_matches_a_hand_derived_simulation(config_path, reference):
    """Level 1, die 3, stream 1, rebuilt from the documented key derivation."""
    config = load_config(config_path)
    inputs = load_inputs(config)
    nominal = nominal_reference(config, inputs)
    # The default unit current is "auto": initial beta2 = 0.5 units -> 350 pA.
    assert nominal.die.unit_current_nA == pytest.approx(0.7)
    key_die = jax.random.fold_in(jax.random.fold_in(jax.random.key(7), 1), 3)
    variation = (circuit.GlobalShift(), circuit.Multiplicative(0.2))
    die = circuit.sample_die(nominal.die, variation, key=key_die)
    noise = circuit.TemporalNoise()

    @jax.jit
    def run(features, clip):
        noise_key = jax.random.fold_in(jax.random.fold_in(key_die, 1), clip)
        key = jax.random.fold_in(noise_key, 1)
        result = circuit.simulate(
            die,
            features,
            key=key,
            noise=noise,
            record=("currents",),
        )
        power = jnp.mean(power_from_currents(die, result).total_nW())
        return result.states, clip_decision(result.logits), power

    runs = [run(jnp.asarray(f), c) for c, f in enumerate(inputs.features)]
    stored = _results(reference).isel(level=1, die=3, stream=1)
    decisions = [int(decision) for _, decision, _ in runs]
    flips = sum(
        np.sum(np.asarray(states) != nominal.states[clip], axis=1)
        for clip, (states, _, _) in enumerate(runs)
    )
    np.testing.assert_array_equal(stored["decision"].values, decisions)
    np.testing.assert_array_equal(stored["flips"].values, flips)
    power = np.mean([float(p) for _, _, p in runs])
    np.testing.assert_allclose(float(stored["power_nW"]), power, rtol=1e-5)


def test_dask_workers_give_the_in_process_numbers(config_path, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        run_campaign(
            load_config(config_path),
            tmp_path / "run",
            scheduler=cluster.scheduler_address,
        )
    _assert_same_results(tmp_path / "run", reference)


_KILLABLE = """
import sys, time
from bmru_jax.campaign import load_config, run_campaign

def progress(done):
    print(done, flush=True)
    time.sleep(0.5)

config = load_config(sys.argv[1]).with_chunk_size(1)
run_campaign(config, sys.argv[2], progress=progress)
"""


def test_sigkill_then_resume_ends_as_an_uninterrupted_run(
    config_path, reference, tmp_path
):
    out = tmp_path / "run"
    command = [sys.executable, "-c", _KILLABLE, str(config_path), str(out)]
    root = Path(__file__).parent.parent
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, cwd=root
    ) as child:
        for line in child.stdout:
            if int(line) >= 3:
                child.send_signal(signal.SIGKILL)
                break
        child.kill()
    done = int(store.done_mask(store.read_manifest(out)).sum())
    assert 3 <= done < 10
    counts = []
    run_campaign(load_config(config_path), out, progress=counts.append)
    assert counts[0] == done  # finished chunks were not computed again
    assert counts[-1] == 10
    _assert_same_results(out, reference)


def test_other_config_on_the_folder_is_refused_and_changes_nothing(
    config_path, reference
):
    before = _snapshot(reference)
    other = config_path.parent / "other.toml"
    other.write_text(CONFIG.replace("dies = 5", "dies = 6"))
    with pytest.raises(InputError, match="holds a campaign with a different config"):
        run_campaign(load_config(other), reference)
    assert _snapshot(reference) == before


def test_second_campaign_on_a_busy_folder_is_refused(config_path, reference):
    with store.folder_lock(reference):
        with pytest.raises(InputError, match="another campaign is running"):
            run_campaign(load_config(config_path), reference)


def test_report_redraws_figures_and_summary_from_the_store(reference, capsys):
    summary = json.loads((reference / "summary.json").read_text())
    (reference / "summary.json").unlink()
    (reference / "accuracy_vs_noise.png").unlink()
    assert main(["report", str(reference)]) == 0
    assert json.loads((reference / "summary.json").read_text()) == summary
    assert (reference / "accuracy_vs_noise.png").is_file()
    assert "2x" in capsys.readouterr().out


@pytest.fixture
def no_disk_cache(monkeypatch):
    """Keep the CLI from switching this test process to a persistent XLA cache."""
    monkeypatch.setattr(campaign_cli, "_use_compilation_cache", lambda: None)


def test_cli_run_matches_the_library_run(
    config_path, reference, tmp_path, no_disk_cache
):
    out = tmp_path / "run"
    args = ["campaign", "--config", str(config_path), "--out", str(out), "--quiet"]
    assert main(args) == 0
    _assert_same_results(out, reference)


@pytest.mark.parametrize(
    "old, new, extra, message",
    [
        ("[campaign]\n", "[campaign\n", [], "not valid TOML"),
        ("levels = [0, 2]", "levels = [0, 11]", [], r"noise.levels\[1\]: must be"),
        ("dies = 5", "dies = 0", [], "campaign.dies: must be a positive integer"),
        ("dies = 5", "dies = 5\nbogus = 0", [], "campaign.bogus: unknown key"),
        ('"model.json"', '"missing.json"', [], "missing.json: model file not found"),
        ('"model.json"', '"garbage.json"', [], "garbage.json: not valid JSON"),
        ('"features.npz"', '"model.json"', [], "model.json: not a .npz file"),
        ("", "", ["--chunk-size", "0"], "--chunk-size: must be a positive integer"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_leaves_the_store(
    config_path, reference, capsys, no_disk_cache, old, new, extra, message
):
    folder = config_path.parent
    (folder / "garbage.json").write_text("{not json")
    bad = folder / "bad.toml"
    bad.write_text(CONFIG.replace(old, new) if old else CONFIG)
    before = _snapshot(reference)
    code = main(["campaign", "--config", str(bad), "--out", str(reference), *extra])
    stderr = capsys.readouterr().err
    assert code == 2
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith("bmru-jax campaign: error: ")
    assert re.search(message, stderr)
    assert _snapshot(reference) == before


_FEATURES = np.zeros((4, 30, 13), np.float32)


@pytest.mark.parametrize(
    "arrays, message",
    [
        (
            {"features": _FEATURES, "labels": np.array(["yes"] * 4)},
            r"bad\.npz: array 'labels' must hold integer class indices .* dtype <U3$",
        ),
        (
            {"features": _FEATURES, "labels": np.array([0.5, 1.5, 0.0, 1.0])},
            r"bad\.npz: array 'labels' must hold integer .* 2 non-integer value\(s\)",
        ),
        (
            {"features": _FEATURES.astype(str), "labels": np.arange(4) % 2},
            r"bad\.npz: array 'features' must hold real numbers \(float or int\)",
        ),
        (
            {"features": _FEATURES, "labels": np.array([0, 1, 1, 2**32])},
            r"bad\.npz: labels must be integers in \[0, 2\)$",
        ),
        (
            {"features": _FEATURES, "labels": np.array([0, 1, 1, None], object)},
            r"bad\.npz: array 'labels' holds object \(pickled\) data, "
            "which are refused",
        ),
        (b"random bytes, not an archive", r"bad\.npz: not a \.npz file"),
    ],
)
def test_cli_bad_features_file_is_one_line_exit_2_and_creates_nothing(
    config_path, tmp_path, capsys, no_disk_cache, arrays, message
):
    bad = config_path.parent / "bad.npz"
    if isinstance(arrays, bytes):
        bad.write_bytes(arrays)
    else:
        np.savez(bad, **arrays)
    toml = config_path.parent / "bad_features.toml"
    toml.write_text(CONFIG.replace('"features.npz"', '"bad.npz"'))
    out = tmp_path / "run"
    assert main(["campaign", "--config", str(toml), "--out", str(out)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert re.search(message, stderr.strip())
    assert not out.exists()


def test_whole_valued_float_labels_are_read_as_integers(config_path):
    features = np.ones((4, 30, 13), np.int16)  # integer features are numbers too
    whole = config_path.parent / "whole.npz"
    np.savez(whole, features=features, labels=np.array([0.0, 1, 1, 0]))
    toml = config_path.parent / "whole.toml"
    toml.write_text(CONFIG.replace('"features.npz"', '"whole.npz"'))
    inputs = load_inputs(load_config(toml))
    np.testing.assert_array_equal(inputs.labels, [0, 1, 1, 0])
    assert inputs.labels.dtype == np.int32 and inputs.features.dtype == np.float32


def test_cli_unwritable_output_folder_is_one_line_exit_2(
    config_path, tmp_path, capsys, no_disk_cache
):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    args = ["campaign", "--config", str(config_path), "--out", str(blocker / "run")]
    assert main(args) == 2
    stderr = capsys.readouterr().err
    assert "cannot create the output folder" in stderr and stderr.count("\n") == 1


def test_cli_workers_without_dask_is_one_line_exit_2(
    config_path, tmp_path, capsys, monkeypatch, no_disk_cache
):
    monkeypatch.setitem(sys.modules, "distributed", None)
    args = ["campaign", "--config", str(config_path), "--out", str(tmp_path / "r")]
    assert main([*args, "--workers", "2"]) == 2
    stderr = capsys.readouterr().err
    assert "bmru-jax[dask]" in stderr and stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()


def _half_done(reference: Path, out: Path) -> Path:
    """A copy of the reference folder whose manifest marks level 1 not done."""
    shutil.copytree(reference, out)
    manifest = store.read_manifest(out)
    manifest["done"] = ["11111", "00000"]
    store.write_manifest(out, manifest)
    return out


def test_cli_resume_says_how_much_was_done_then_finishes_the_rest(
    config_path, reference, tmp_path, capsys, no_disk_cache
):
    out = _half_done(reference, tmp_path / "run")
    args = ["campaign", "--config", str(config_path), "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert capsys.readouterr().err.splitlines() == [
        "resuming: 5 of 10 (noise level, die) pairs already done"
    ]
    _assert_same_results(out, reference)


def test_report_marks_levels_with_fewer_dies_done(reference, tmp_path, capsys):
    out = tmp_path / "partial"
    shutil.copytree(reference, out)
    accuracy = zarr.open_group(out / store.STORE_NAME, mode="r+")["accuracy"]
    accuracy[1, 2:] = np.nan  # dies 2 to 4 of level 1 not computed
    assert main(["report", str(out)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "x  " in line]
    assert len(rows) == 2
    assert "dies)" not in rows[0]
    assert rows[1].startswith("      2x") and rows[1].endswith("  (2 of 5 dies)")


def test_cli_malformed_scheduler_address_is_one_line_exit_2_and_creates_nothing(
    config_path, tmp_path, capsys, no_disk_cache
):
    pytest.importorskip("distributed")
    out = tmp_path / "run"
    args = ["campaign", "--config", str(config_path), "--out", str(out)]
    assert main([*args, "--scheduler", "banana"]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert "error: scheduler: 'banana' is not a Dask scheduler address" in stderr
    assert not out.exists()


@pytest.fixture
def damaged(reference, tmp_path) -> Path:
    """A copy of the reference folder with half its dies to do and garbage in place
    of one array's metadata."""
    out = _half_done(reference, tmp_path / "damaged")
    (out / store.STORE_NAME / "accuracy" / "zarr.json").write_text("garbage")
    return out


def test_cli_resume_on_an_unreadable_store_is_refused_before_work(
    config_path, damaged, capsys, no_disk_cache
):
    before = _snapshot(damaged)
    args = ["campaign", "--config", str(config_path), "--out", str(damaged)]
    assert main(args) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert "results.zarr: not a readable results store (" in stderr
    assert _snapshot(damaged) == before


def test_report_on_an_unreadable_store_says_one_line(damaged):
    """In a process of its own: zarr's pending reads would be reported at its exit."""
    command = [sys.executable, "-c", _CLI, "report", str(damaged)]
    child = subprocess.run(command, capture_output=True, text=True, check=False)
    assert child.returncode == 2
    assert child.stderr.splitlines() == [
        f"bmru-jax report: error: {damaged / store.STORE_NAME}: not a readable "
        "results store (Expecting value: line 1 column 1 (char 0))"
    ]


_CLI = "import sys; from bmru_jax.cli import main; sys.exit(main(sys.argv[1:]))"


# Last of the runs: a new chunk size compiles a new function, which replaces the
# one the other runs share.
def test_chunk_size_does_not_change_a_number(config_path, reference, tmp_path):
    run_campaign(load_config(config_path).with_chunk_size(3), tmp_path / "run")
    _assert_same_results(tmp_path / "run", reference)
