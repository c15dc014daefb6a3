"""bmru_jax: fast behavioural simulation of analog BMRU circuits in JAX."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bmru-jax")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
