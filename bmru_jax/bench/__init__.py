"""Library benchmark routines; ``bmru-jax bench`` and ``benchmarks/`` call them."""

from bmru_jax.bench.simulator import benchmark_simulator as benchmark_simulator
