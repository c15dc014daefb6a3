"""The analog BMRU circuit: mapping, devices, variation, noise and simulation.

    desc = describe(model)                         # circuit elements, physical units
    die = sample_die(desc, Multiplicative(0.1), key=die_key(root, level, i))
    result = simulate(die, features, key=noise_key(k_die, clip), noise=TemporalNoise())

One die and one clip per call, no batch axis. A Monte Carlo batches the clips of a
die with ``jax.vmap`` and loops over dies with :func:`map_dies`, which spreads them
over every CPU core once :func:`use_cpu_cores` has given JAX one device per core.
"""

from bmru_jax.circuit.description import BiasSources as BiasSources
from bmru_jax.circuit.description import CellBiases as CellBiases
from bmru_jax.circuit.description import CircuitDescription as CircuitDescription
from bmru_jax.circuit.description import CircuitSettings as CircuitSettings
from bmru_jax.circuit.description import LayerDescription as LayerDescription
from bmru_jax.circuit.description import MirrorBank as MirrorBank
from bmru_jax.circuit.description import OutOfRange as OutOfRange
from bmru_jax.circuit.description import describe as describe
from bmru_jax.circuit.description import (
    resolve_unit_current_nA as resolve_unit_current_nA,
)
from bmru_jax.circuit.description import (
    unit_current_for_nominal_cell as unit_current_for_nominal_cell,
)
from bmru_jax.circuit.devices import DeviceParameters as DeviceParameters
from bmru_jax.circuit.devices import NonIdealities as NonIdealities
from bmru_jax.circuit.devices import mirror_gain_from_width as mirror_gain_from_width
from bmru_jax.circuit.devices import mirror_width_from_gain as mirror_width_from_gain
from bmru_jax.circuit.die import Die as Die
from bmru_jax.circuit.die import DieLayer as DieLayer
from bmru_jax.circuit.die import die_from_model as die_from_model
from bmru_jax.circuit.die import nominal_die as nominal_die
from bmru_jax.circuit.mismatch import GlobalShift as GlobalShift
from bmru_jax.circuit.mismatch import Multiplicative as Multiplicative
from bmru_jax.circuit.mismatch import Pelgrom as Pelgrom
from bmru_jax.circuit.mismatch import perturb_die as perturb_die
from bmru_jax.circuit.mismatch import perturb_model as perturb_model
from bmru_jax.circuit.mismatch import sample_die as sample_die
from bmru_jax.circuit.montecarlo import compile_for_cpu as compile_for_cpu
from bmru_jax.circuit.montecarlo import map_dies as map_dies
from bmru_jax.circuit.montecarlo import use_cpu_cores as use_cpu_cores
from bmru_jax.circuit.noise import TemporalNoise as TemporalNoise
from bmru_jax.circuit.simulate import BranchCurrents as BranchCurrents
from bmru_jax.circuit.simulate import SimulationResult as SimulationResult
from bmru_jax.circuit.simulate import die_key as die_key
from bmru_jax.circuit.simulate import noise_key as noise_key
from bmru_jax.circuit.simulate import simulate as simulate
from bmru_jax.circuit.suppression import Suppression as Suppression
from bmru_jax.circuit.suppression import noise_suppression as noise_suppression
