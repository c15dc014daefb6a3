"""bmru_jax: fast behavioural simulation of analog BMRU circuits in JAX.

The sub-packages are the parts of a campaign: ``models`` (the BMRU networks),
``circuit`` (mapping, devices, variation, noise, simulation), ``power``, ``data``,
``training``, ``campaign`` and ``spice``. Below are the names most scripts need.
"""

from importlib.metadata import PackageNotFoundError, version

from bmru_jax import circuit as circuit
from bmru_jax import data as data
from bmru_jax import models as models
from bmru_jax.errors import InputError as InputError
from bmru_jax.models import FQBMRU as FQBMRU
from bmru_jax.models import LRU as LRU
from bmru_jax.models import BipolarBMRU as BipolarBMRU
from bmru_jax.models import HardwareBackbone as HardwareBackbone
from bmru_jax.models import MinGRU as MinGRU
from bmru_jax.models import ResidualStack as ResidualStack
from bmru_jax.models import fq_bmru_scan as fq_bmru_scan
from bmru_jax.models import fq_bmru_states as fq_bmru_states
from bmru_jax.models import heaviside as heaviside

try:
    __version__ = version("bmru-jax")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
