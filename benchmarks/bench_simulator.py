"""Simulator speed: ``python benchmarks/bench_simulator.py [--quick] [--out FILE]``.

A thin wrapper of :func:`bmru_jax.bench.benchmark_simulator` (also ``bmru-jax bench``).
"""

import argparse
import json

from bmru_jax.bench import benchmark_simulator

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    report = benchmark_simulator(quick=args.quick)
    text = json.dumps(report, indent=2)
    if args.out:
        with open(args.out, "w") as file:
            file.write(text + "\n")
    print(text)
