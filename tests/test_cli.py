"""The command line's handling of bad arguments and output folders."""

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


def test_bench_refuses_a_folder_as_its_json_file(tmp_path, capsys):
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 2
    assert "is a folder; give a JSON file name" in capsys.readouterr().err
