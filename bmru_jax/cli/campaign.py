"""``bmru-jax campaign``: a Monte Carlo noise campaign into a resumable folder.

Without ``--config`` it runs the embedded default (``--print-default-config`` shows
it): the bundled noise-aware d = 4 keyword model on its test clips, 0x to 10x the
measured analog noise, 100 dies per level, with temporal noise. Stopped at any point
(Ctrl-C, a kill), the same command continues where it stopped.
"""

import argparse
import logging
import os
import sys
from pathlib import Path

from bmru_jax.errors import InputError

# Compiled chunk functions are kept here between runs (a resumed campaign, or the
# same campaign shape again, then starts at once); JAX_COMPILATION_CACHE_DIR wins.
_COMPILATION_CACHE = Path("~/.cache/bmru_jax/xla").expanduser()


def add_parser(subparsers) -> None:
    """Register ``campaign`` and its options."""
    parser = subparsers.add_parser(
        "campaign",
        help="Monte Carlo noise campaign: accuracy and state flips against noise",
        description=(
            "Sample many dies per noise level, run every test clip on each, and store "
            "accuracy, state flips against the nominal die, output levels and power "
            "in DIR/results.zarr, with DIR/summary.json and DIR/accuracy_vs_noise.png."
        ),
    )
    # One of the two is required: a campaign needs its folder, printing the default
    # config needs none.
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--out", type=Path, metavar="DIR", help="campaign folder (created or resumed)"
    )
    target.add_argument(
        "--print-default-config",
        action="store_true",
        help="print the embedded default config and exit",
    )
    parser.add_argument("--config", type=Path, help="campaign TOML (default: embedded)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="evaluate on a local Dask cluster of N processes",
    )
    scale.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="evaluate on the Dask cluster at ADDRESS (tcp://host:port)",
    )
    parser.add_argument(
        "--chunk-size", type=int, help="(level, die) pairs per compiled call"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run or resume the campaign; print where the results are and what they say."""
    from bmru_jax.campaign import default_config, default_config_text, load_config

    if args.print_default_config:
        print(default_config_text(), end="")
        return 0
    for name in ("workers", "chunk_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            raise InputError(f"{flag}: must be a positive integer, got {value}")
    config = default_config() if args.config is None else load_config(args.config)
    if args.chunk_size is not None:
        config = config.with_chunk_size(args.chunk_size)
    _use_compilation_cache()
    if args.workers is not None or args.scheduler is not None:
        # Dask logs worker start and shutdown chatter; the progress bar says enough.
        logging.getLogger("distributed").setLevel(logging.ERROR)
    total = len(config.noise.levels) * config.campaign.dies
    with _ProgressBar(total, quiet=args.quiet) as bar:
        try:
            summary = _run(config, args, bar)
        except KeyboardInterrupt:
            bar.close()
            print(
                f"bmru-jax campaign: interrupted; run the same command to resume "
                f"{args.out}",
                file=sys.stderr,
            )
            return 130
    print_summary(summary, args.out)
    return 0


def _run(config, args, bar) -> dict:
    from bmru_jax.campaign import run_campaign

    return run_campaign(
        config,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=bar.update_to,
    )


def _use_compilation_cache() -> None:
    """Keep compiled functions on disk, here and in Dask workers started from here."""
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_COMPILATION_CACHE))
    import jax

    jax.config.update(
        "jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"]
    )


class _ProgressBar:
    """A tqdm bar of dies done, started at the count a resumed campaign begins with.

    A resumed campaign is announced in one line first, bar or no bar.
    """

    def __init__(self, total: int, *, quiet: bool):
        self._total, self._quiet, self._bar = total, quiet, None
        self._started = False

    def update_to(self, done: int) -> None:
        if not self._started:
            self._started = True
            if done:
                print(
                    f"resuming: {done} of {self._total} (noise level, die) pairs "
                    "already done",
                    file=sys.stderr,
                )
        if self._quiet:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self._total, initial=done, unit="die", desc="dies", disable=None
            )
            return
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "_ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def print_summary(summary: dict, out: Path) -> None:
    """Accuracy per noise level, speed, and where the files are."""
    nominal, n_dies = 100 * summary["nominal_accuracy"], summary["n_dies"]
    print(
        f"nominal die: accuracy {nominal:.1f} % on {summary['n_clips']} clips; "
        f"{n_dies} dies per level, {summary['n_streams']} noise stream(s)"
    )
    print("  level   accuracy (mean +- std over dies)   flipped states")
    rows = zip(
        summary["noise_levels"],
        summary["accuracy_mean"],
        summary["accuracy_std"],
        summary["flip_rate_mean"],
        summary["dies_done"],
    )
    for level, mean, std, flips, done in rows:
        if mean is None:
            print(f"  {level:5g}x  not computed yet")
            continue
        partial = "" if done == n_dies else f"  ({done} of {n_dies} dies)"
        print(
            f"  {level:5g}x  {100 * mean:6.2f} % +- {100 * std:5.2f} %"
            f"{'':17s}{100 * flips:6.3f} %{partial}"
        )
    if summary.get("network_frames_per_second"):
        print(
            f"{summary['network_frames_per_second']:.3g} network-frames/s, "
            f"compile {summary['compile_seconds']:.1f} s, "
            f"wall {summary['wall_seconds']:.1f} s ({summary['backend']})"
        )
    if summary["out_of_range_weights"]:
        print(
            f"note: {summary['out_of_range_weights']} weights lie outside the "
            "realisable mirror range (see bmru_jax.circuit.describe)"
        )
    print(f"results: {out / 'results.zarr'}, {out / 'summary.json'}, ", end="")
    print(out / "accuracy_vs_noise.png")
