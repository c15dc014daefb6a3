"""``bmru-jax train``: train a keyword model on a Speech Commands-style folder."""

import argparse
import json


def add_parser(subparsers) -> None:
    """Register ``train`` and its options."""
    parser = subparsers.add_parser(
        "train",
        help="train a keyword-spotting model (BMRU backbone or a baseline)",
        description=(
            "Train with the published recipe (AdamW, cosine learning rate, eps "
            "annealed from 1 to 0) and keep the model with the best validation loss "
            "at eps = 0 in RUN_DIR/best.json; RUN_DIR/last.json lets --resume "
            "continue the run."
        ),
    )
    parser.add_argument("--data", required=True, help="Speech Commands-style folder")
    parser.add_argument("--out", required=True, help="run folder to write (RUN_DIR)")
    parser.add_argument(
        "--task", default="binary", choices=("binary", "keywords11"), help="(binary)"
    )
    parser.add_argument(
        "--model",
        default="backbone",
        choices=("backbone", "mingru", "lru"),
        help="hardware backbone or a baseline (backbone)",
    )
    parser.add_argument("--width", type=int, default=4, help="model width d (4)")
    parser.add_argument("--layers", type=int, default=2, help="recurrent layers (2)")
    parser.add_argument("--steps", type=int, default=5000, help="steps (5000)")
    parser.add_argument("--batch-size", type=int, default=256, help="clips/step (256)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0, help="run seed (0)")
    parser.add_argument(
        "--data-seed", type=int, default=0, help="clip selection seed (0)"
    )
    parser.add_argument(
        "--eval-every", type=int, default=250, help="steps between evaluations (250)"
    )
    parser.add_argument(
        "--normalisation",
        default="clip",
        choices=("clip", "causal", "none"),
        help="per-coefficient z-scoring of the MFCCs (clip)",
    )
    parser.add_argument(
        "--noise-aware",
        type=float,
        metavar="LEVEL",
        help="train on sampled dies: multiplicative mismatch at LEVEL x the measured "
        "analog noise (3 means p = 30 %%)",
    )
    parser.add_argument(
        "--pelgrom", type=float, default=0.0, help="with --noise-aware: Pelgrom scale"
    )
    parser.add_argument(
        "--temporal",
        type=float,
        default=0.0,
        help="with --noise-aware: scale of the temporal (shot) noise",
    )
    parser.add_argument(
        "--die-per",
        default="example",
        choices=("example", "batch"),
        help="with --noise-aware: one die per clip or per batch (example)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue RUN_DIR/last.json"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load features, train with a progress bar, print the best checkpoint."""
    from tqdm import tqdm

    from bmru_jax.data import FeatureSettings
    from bmru_jax.training import (
        ModelSpec,
        NoiseAware,
        TrainConfig,
        load_training_data,
        train,
    )

    n_classes = 2 if args.task == "binary" else 11
    noise = None
    if args.noise_aware is not None:
        noise = NoiseAware(
            multiple=args.noise_aware,
            pelgrom_scale=args.pelgrom,
            temporal_scale=args.temporal,
            per=args.die_per,
        )
    config = TrainConfig(
        model=ModelSpec(
            args.model, width=args.width, n_layers=args.layers, n_classes=n_classes
        ),
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        eval_every=args.eval_every,
        noise_aware=noise,
    )
    with tqdm(unit="clip", desc="features", leave=False, disable=None) as bar:
        data = load_training_data(
            args.data,
            args.task,
            settings=FeatureSettings(normalisation=args.normalisation),
            seed=args.data_seed,
            progress=bar.update,
        )
    with tqdm(total=config.steps, unit="step", desc="train", disable=None) as bar:

        def progress(report):
            bar.update(report.step - bar.n)
            shown = {"loss": f"{report.loss:.3f}", "acc": f"{report.accuracy:.3f}"}
            shown["eps"] = f"{report.eps:.2f}"
            if report.validation is not None:
                shown["val_acc"] = f"{report.validation['accuracy']:.3f}"
            bar.set_postfix(shown)

        result = train(config, data, args.out, resume=args.resume, progress=progress)
    summary = {
        "best": str(result.run_dir / "best.json"),
        "best_step": result.best_step,
        "validation": result.best_validation,
        "steps_per_second": round(result.steps_per_second, 2),
        "wall_seconds": round(result.wall_seconds, 1),
    }
    print(json.dumps(summary, indent=2))
    return 0
