"""``bmru-jax report DIR``: summary and figures of a campaign folder, from its store."""

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    """Register ``report`` and its argument."""
    parser = subparsers.add_parser(
        "report",
        help="redraw a campaign's summary and figures from its results store",
        description=(
            "Read DIR/results.zarr (a finished or partial campaign) and write "
            "DIR/summary.json and DIR/accuracy_vs_noise.png again."
        ),
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="campaign folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and print the summary."""
    from bmru_jax.campaign import write_report
    from bmru_jax.cli.campaign import print_summary

    print_summary(write_report(args.dir), args.dir)
    return 0
