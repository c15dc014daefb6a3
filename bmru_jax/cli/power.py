"""``bmru-jax power``: power of the keyword network, scaling with d, spread over dies.

Writes ``DIR/power.json`` and ``DIR/power_scaling.png``. The JSON holds:

- ``keyword_d4``: the d = 4 two-layer keyword network on the test clips (clip-mean
  power of the whole network, the cells and the feedforward part: mean, min, max over
  clips, and energy per one-second inference) beside the published transistor-level
  figures, and the ``unit_current_nA`` it was mapped at;
- at top level, the unit current of each model (``unit_current_nA``, per d a list over
  models), the scaling arrays over ``state_dims`` (``core_nW``,
  ``feedforward_nW``, ``total_nW``, ``energy_nJ``: means over models and clips, one per
  d; the d = 4 entry of ``core_nW`` here is the same quantity as
  ``keyword_d4.core_nW.mean`` only when the same model is used) and the fitted
  exponents ``core_exponent``, ``feedforward_exponent`` with OLS and bootstrap
  intervals;
- ``mismatch``: the spread of power across sampled dies at each variation level.

``--unit-current-nA auto`` (the default) maps each model at its own nominal-cell unit
current (:func:`bmru_jax.circuit.unit_current_for_nominal_cell`): its median upper
threshold lands on the 350 pA on-threshold of the cell the static power was measured on.
"""

import argparse
import json
import math
import pathlib

PUBLISHED_D4 = {
    "total_nW": {"mean": 82.6, "min": 60.6, "max": 117.7},
    "core_nW": {"mean": 43.7, "min": 39.5, "max": 50.9},
    "feedforward_nW": {"mean": 39.7, "min": 20.3, "max": 69.1},
    "energy_nJ": {"mean": 83.0},
}
PUBLISHED_ACCURACY = {4: 0.942, 8: 0.972, 16: 0.979, 32: 0.979}
STATE_DIMS = (4, 8, 16, 32, 64, 128, 256, 512)
QUICK_DIMS = (4, 8, 16, 32)


def add_parser(subparsers) -> None:
    """Register ``power`` and its options."""
    parser = subparsers.add_parser(
        "power",
        help="power and energy of the keyword network, scaling with state size",
        description=(
            "Simulate the d = 4 keyword network on the test clips and report its power "
            "beside the published transistor-level figures; fit power against state "
            "size; sample dies to show the spread of power under mismatch."
        ),
    )
    parser.add_argument("--out", default="power", help="folder to write (./power)")
    parser.add_argument(
        "--quick", action="store_true", help="few sizes, clips and dies (a smoke run)"
    )
    parser.add_argument("--seed", type=int, default=0, help="models, dies, bootstrap")
    parser.add_argument(
        "--models-per-dim",
        type=int,
        default=3,
        help="randomly initialised models per size without a trained one (3)",
    )
    parser.add_argument("--dies", type=int, default=200, help="dies per level (200)")
    parser.add_argument("--clips", type=int, default=50, help="test clips used (50)")
    parser.add_argument(
        "--unit-current-nA",
        default="auto",
        help="nA per model unit, or auto: each model's median cell at the nominal "
        "cell's 350 pA on-threshold (auto)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Compute every figure, write the JSON and the plot, print a summary."""
    from tqdm import tqdm

    from bmru_jax._validate import check_non_negative_int, check_positive_int
    from bmru_jax.cli import output_folder
    from bmru_jax.power._report import check_clip_count, plot_scaling, power_report

    for name in ("models_per_dim", "dies", "clips"):
        check_positive_int("--" + name.replace("_", "-"), getattr(args, name))
    check_non_negative_int("--seed", args.seed)
    check_clip_count("--clips", args.clips)
    unit_current_nA = unit_current_argument(args.unit_current_nA)
    out = output_folder(args.out)
    dims = QUICK_DIMS if args.quick else STATE_DIMS
    models_per_dim = 1 if args.quick else args.models_per_dim
    clips = min(args.clips, 10) if args.quick else args.clips
    dies = min(args.dies, 20) if args.quick else args.dies
    with tqdm(
        total=len(dims) * models_per_dim, unit="model", desc="power", disable=None
    ) as bar:
        report = power_report(
            dims,
            seed=args.seed,
            models_per_dim=models_per_dim,
            clips=clips,
            dies=dies,
            resamples=200 if args.quick else 1000,
            unit_current_nA=unit_current_nA,
            published_d4=PUBLISHED_D4,
            published_accuracy=PUBLISHED_ACCURACY,
            progress=bar.update,
        )
    (out / "power.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_scaling(report, out / "power_scaling.png")
    if args.quick:
        print(
            f"quick: {clips} clips, {dies} dies per level, {models_per_dim} model per "
            f"size, {len(dims)} sizes (asked: --clips {args.clips}, --dies {args.dies}"
            f", --models-per-dim {args.models_per_dim})"
        )
    _print_summary(report, out, quick=args.quick)
    return 0


def unit_current_argument(text: str) -> float | str:
    """``--unit-current-nA``: ``"auto"``, or a positive finite number of nA."""
    from bmru_jax.errors import InputError

    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError(
            f"--unit-current-nA: must be a positive number or auto, got {text!r}"
        )
    return value


def _print_summary(report: dict, out: pathlib.Path, *, quick: bool) -> None:
    kw = report["keyword_d4"]
    print(
        f"d = 4 keyword network ({kw['model']}), {kw['clips']} clips, "
        f"{kw['unit_current_nA']:.3f} nA per model unit:"
    )
    for block in ("total_nW", "core_nW", "feedforward_nW"):
        ours, theirs = kw[block], PUBLISHED_D4[block]
        print(
            f"  {block:15s} ours {ours['mean']:7.1f} "
            f"({ours['min']:.1f}-{ours['max']:.1f})   published {theirs['mean']:.1f} "
            f"({theirs['min']}-{theirs['max']})"
        )
    print(f"  energy per inference {kw['energy_nJ']['mean']:.1f} nJ (published ~83)")
    for block in ("core_exponent", "feedforward_exponent"):
        fit = report[block]
        print(
            f"{block}: {fit['value']:.3f}, OLS 95% CI [{fit['ci95'][0]:.3f}, "
            f"{fit['ci95'][1]:.3f}], bootstrap [{fit['bootstrap_ci95'][0]:.3f}, "
            f"{fit['bootstrap_ci95'][1]:.3f}] (published ~{fit['published']})"
        )
    if quick:
        print(
            f"quick: the fits above have only {len(report['state_dims'])} sizes, so "
            "few points and wide intervals; run without --quick for the full fit"
        )
    for level in report["mismatch"]:
        total = level["total_nW"]
        print(
            f"mismatch {level['variation']}: total {total['mean']:.1f} nW, "
            f"std {total['std']:.2f} nW ({100 * total['relative_std']:.2f} %) over "
            f"{level['dies']} dies"
        )
    print(out / "power.json")
