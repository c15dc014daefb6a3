"""Power and energy of BMRU circuits from their simulated branch currents."""

from bmru_jax.power._model import PowerSettings as PowerSettings
from bmru_jax.power._model import PowerTrace as PowerTrace
from bmru_jax.power._model import mirror_power_nW as mirror_power_nW
from bmru_jax.power._model import network_power as network_power
from bmru_jax.power._model import nominal_cell_bias_nA as nominal_cell_bias_nA
from bmru_jax.power._model import power_from_currents as power_from_currents
from bmru_jax.power._scaling import PowerLawFit as PowerLawFit
from bmru_jax.power._scaling import bootstrap_exponent as bootstrap_exponent
from bmru_jax.power._scaling import fit_power_law as fit_power_law
from bmru_jax.power._study import ScalingResult as ScalingResult
from bmru_jax.power._study import clip_power as clip_power
from bmru_jax.power._study import mapped_die as mapped_die
from bmru_jax.power._study import mismatch_power as mismatch_power
from bmru_jax.power._study import scaling_study as scaling_study
