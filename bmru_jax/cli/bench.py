"""``bmru-jax bench``: measure the simulator's speed and write the numbers as JSON."""

import json
import sys
from pathlib import Path

from bmru_jax._validate import check_out_file


def add_parser(subparsers) -> None:
    """Register ``bench``."""
    parser = subparsers.add_parser(
        "bench",
        help="measure simulation speed against NumPy and bare random draws",
        description=(
            "Time the circuit simulator on the d=4 and d=64 keyword networks, with "
            "frozen mismatch and with per-frame temporal noise, beside a NumPy "
            "implementation and the bare normal-draw rate measured in the same run."
        ),
    )
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    parser.add_argument(
        "--quick", action="store_true", help="small workload for a smoke check"
    )
    parser.add_argument(
        "--campaign",
        action="store_true",
        help="also time a whole campaign, in-process and on 2 Dask workers",
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    """Run the benchmarks, print a summary, optionally write JSON."""
    from tqdm import tqdm

    from bmru_jax.bench import benchmark_simulator

    if args.out is not None:  # check where the JSON goes before the minutes of work
        check_out_file("--out", args.out)
    with tqdm(
        total=2, desc="bench", unit="width", file=sys.stderr, disable=None
    ) as bar:
        report = {
            "quick": args.quick,
            "simulator": benchmark_simulator(quick=args.quick, progress=bar.update),
        }
    if args.quick:
        print(
            "quick: a smoke check on a tiny workload; its rates and ratios are not "
            "representative (run without --quick to measure)"
        )
    for name in ("d4", "d64"):
        entry = report["simulator"][name]
        for case in ("mismatch", "mismatch_noise"):
            row = entry[case]
            extra = (
                f", {row['jax_s_over_draws_s']:.2f}x the bare draws"
                if "jax_s_over_draws_s" in row
                else ""
            )
            print(
                f"{name} {case}: {row['jax_network_frames_per_s']:.3g} network-frames/s"
                f" ({row['jax_cell_updates_per_s']:.3g} cell-updates/s), "
                f"{row['speedup_vs_numpy']:.1f}x NumPy{extra}, "
                f"compile {row['compile_s']:.1f} s"
            )
    if args.campaign:
        report["campaign"] = _campaign(args.quick)
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


def _campaign(quick: bool) -> dict:
    """Time a campaign (``bmru_jax.bench.campaign``) and print its rates."""
    import logging

    from bmru_jax.bench.campaign import benchmark_campaign

    # Dask logs worker start and shutdown chatter that says nothing about speed.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    report = benchmark_campaign(quick=quick)
    load = report["workload"]
    print(
        f"campaign ({load['levels']} levels x {load['dies']} dies x {load['clips']} "
        f"clips x {load['frames']} frames):"
    )
    for name in ("in_process", "dask"):
        if name in report:
            row = report[name]
            print(
                f"  {name} ({row['workers']} workers): "
                f"{row['network_frames_per_second']:.3g} network-frames/s, "
                f"compile {row['compile_seconds']:.1f} s, "
                f"wall {row['wall_seconds']:.1f} s"
            )
    return report
