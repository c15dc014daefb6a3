"""Test-wide settings: run-time shape checking of the public signatures.

Two CPU devices are set up before any computation (see below).

jaxtyping's import hook checks every annotated signature of the numerical modules
against the shapes it names, at trace time, so a shape mismatch between modules fails a
test even when the numbers would broadcast.
"""

from jaxtyping import install_import_hook

with install_import_hook(["bmru_jax.models", "bmru_jax.circuit"], "beartype.beartype"):
    import bmru_jax  # noqa: F401
    from bmru_jax.circuit.montecarlo import use_cpu_cores

# Two CPU devices, as the command line gives JAX on a two-core machine, so that the
# Monte Carlo paths that split dies across devices are the ones tested.
use_cpu_cores(2)


import jaxtyping  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def as_user():
    """Turn the run-time annotation checks off, to see what a user's call raises."""
    jaxtyping.config.update("jaxtyping_disable", True)
    yield
    jaxtyping.config.update("jaxtyping_disable", False)
