"""The command line's handling of bad arguments and output folders."""

import json
import signal
import subprocess
import sys

import pytest

from bmru_jax.cli import main


def _run(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


def test_no_command_is_an_error_on_stderr(capsys):
    code, err = _run(capsys, [])
    assert code == 2
    assert "a command is required" in err


def test_unknown_option_names_the_subcommand(capsys):
    code, err = _run(capsys, ["report", "somewhere", "--bogus"])
    assert code == 2
    assert "bmru-jax report: error: unrecognized arguments: --bogus" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["power", "--quick", "--out", "{file}"],
        ["spice-check", "--quick", "--out", "{file}"],
    ],
)
def test_output_folder_that_is_a_file_is_refused_before_work(tmp_path, capsys, argv):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    argv = [a.replace("{file}", str(target)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"bmru-jax {argv[0]}: error: {target}: exists and is not a folder"]
    assert target.read_text() == "keep me"


def _no_benchmark(monkeypatch):
    """Make any timing fail loudly, so a test shows a bad --out stops before it."""
    import bmru_jax.bench

    def timed(**_):
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(bmru_jax.bench, "benchmark_simulator", timed)


@pytest.mark.parametrize(
    "out, rule",
    [
        ("{tmp}", "{tmp}: is a folder; give a file name"),
        ("/proc/x.json", "/proc/x.json: the folder /proc is not writable"),
        (
            "{tmp}/nonexist/sub/b.json",
            "{tmp}/nonexist/sub/b.json: the folder {tmp}/nonexist/sub must already "
            "exist",
        ),
    ],
)
def test_bench_refuses_a_bad_json_path_before_timing(
    tmp_path, capsys, monkeypatch, out, rule
):
    _no_benchmark(monkeypatch)
    out, rule = (text.replace("{tmp}", str(tmp_path)) for text in (out, rule))
    assert main(["bench", "--quick", "--out", out]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [f"bmru-jax bench: error: --out {rule}"]
    assert captured.out == ""
    assert not (tmp_path / "nonexist").exists()


def test_bench_quick_says_its_rates_are_not_representative(
    tmp_path, capsys, monkeypatch
):
    import bmru_jax.bench

    row = {
        "jax_network_frames_per_s": 9.13e5,
        "jax_cell_updates_per_s": 3.65e6,
        "speedup_vs_numpy": 0.5,
        "compile_s": 0.4,
    }
    measured = {
        width: {"mismatch": row, "mismatch_noise": row} for width in ("d4", "d64")
    }
    monkeypatch.setattr(bmru_jax.bench, "benchmark_simulator", lambda **_: measured)
    out = tmp_path / "b.json"
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    warned = [line for line in lines if "not representative" in line]
    assert len(warned) == 1 and "smoke check" in warned[0]
    assert json.loads(out.read_text())["quick"] is True


def test_campaign_needs_out_unless_printing_the_default_config(tmp_path, capsys):
    code, err = _run(capsys, ["campaign", "--config", str(tmp_path / "c.toml")])
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        "bmru-jax campaign: error: one of the arguments --out "
        "--print-default-config is required"
    )
    assert "(--out DIR | --print-default-config)" in err  # the usage says so too
    assert main(["campaign", "--print-default-config"]) == 0
    assert "[campaign]" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_closed_stdout_ends_quietly_with_the_sigpipe_status():
    """As ``bmru-jax ... | head`` whose reader has gone: no message, status 141."""
    with subprocess.Popen(
        [sys.executable, "-c", _CLI, "campaign", "--print-default-config"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        child.stdout.close()  # before the child, still importing, has written a byte
        stderr = child.stderr.read()
    assert child.returncode == 128 + signal.SIGPIPE
    assert stderr == b""


_CLI = "import sys; from bmru_jax.cli import main; sys.exit(main(sys.argv[1:]))"
