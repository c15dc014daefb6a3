"""BMRU cells and networks as Equinox modules, with surrogate gradients and scans."""

from bmru_jax.models._backbone import BackboneTrace as BackboneTrace
from bmru_jax.models._backbone import HardwareBackbone as HardwareBackbone
from bmru_jax.models._baselines import LRU as LRU
from bmru_jax.models._baselines import MinGRU as MinGRU
from bmru_jax.models._baselines import ResidualStack as ResidualStack
from bmru_jax.models._bipolar import BipolarBMRU as BipolarBMRU
from bmru_jax.models._fq_bmru import FQBMRU as FQBMRU
from bmru_jax.models._fq_bmru import fq_bmru_scan as fq_bmru_scan
from bmru_jax.models._fq_bmru import fq_bmru_states as fq_bmru_states
from bmru_jax.models._heaviside import heaviside as heaviside
from bmru_jax.models._heaviside import signum as signum
from bmru_jax.models._losses import clip_decision as clip_decision
from bmru_jax.models._losses import frame_confidence as frame_confidence
from bmru_jax.models._losses import frame_cross_entropy as frame_cross_entropy
from bmru_jax.models._scan import linear_recurrence as linear_recurrence
