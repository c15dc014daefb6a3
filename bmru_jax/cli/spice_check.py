"""``bmru-jax spice-check``: transistor-level cross-checks with ngspice + GF180MCU."""

import argparse
import json


def add_parser(subparsers) -> None:
    """Register ``spice-check`` and its options."""
    from bmru_jax.spice import CHECKS

    parser = subparsers.add_parser(
        "spice-check",
        help="cross-check the behavioural circuit against ngspice",
        description=(
            "Simulate the BMRU cell, current mirrors and the d = 4 keyword network "
            "with ngspice and the open GF180MCU 180 nm models (fetched on first use), "
            "and compare with the behavioural simulator. Writes DIR/<check>.json and "
            "a PNG figure per check."
        ),
    )
    parser.add_argument("--out", required=True, help="folder for the results")
    parser.add_argument(
        "--check",
        nargs="+",
        choices=CHECKS,
        default=list(CHECKS),
        help="checks to run (all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for CI: 40 Monte Carlo runs, 4 clips, coarse sweeps",
    )
    parser.add_argument(
        "--calibration",
        default=None,
        help="also store measured device constants and A_VT in this JSON file",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="ngspice processes at once (2)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks with a progress counter; prints a one-line summary per check."""
    from tqdm import tqdm

    from bmru_jax.cli import output_folder
    from bmru_jax.spice import spice_check

    output_folder(args.out)
    with tqdm(unit="run", desc="spice-check", disable=None) as bar:
        results = spice_check(
            args.out,
            args.check,
            quick=args.quick,
            calibration_path=args.calibration,
            workers=args.workers,
            progress=bar.update,
        )
    for check in args.check:
        print(f"{check}: {json.dumps(_headline(check, results[check]))}")
    seconds = {k: round(v, 1) for k, v in results["seconds"].items()}
    print(f"seconds: {json.dumps(seconds)}")
    return 0


def _headline(check: str, result: dict) -> dict:
    """The few numbers worth a line on the terminal."""
    if check == "cell":
        nominal = result["nominal"]
        return {
            "on_pA": nominal["on_pA"],
            "off_pA": nominal["off_pA"],
            "alpha_pA": round(nominal["high_pA"], 1),
            "slopes": [
                round(result["tuning"][p]["slope"], 3)
                for p in ("alpha", "beta2", "delta")
            ],
        }
    if check == "mismatch":
        mirrors = result["mirrors"]
        return {
            p: round(mirrors[p]["fit"]["A_VT_mV_um"], 2)
            for p in mirrors
            if "fit" in mirrors[p]
        } | {"cell_within_20_percent": result["behavioural"].get("within_20_percent")}
    if check == "network":
        return {k: result.get(k) for k in ("software", "behavioural")}
    return {k: v for k, v in result.items()}
