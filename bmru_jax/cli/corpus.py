"""``bmru-jax corpus``: write the synthetic keyword corpus (Speech Commands layout)."""

import argparse


def add_parser(subparsers) -> None:
    """Register ``corpus`` and its options."""
    from bmru_jax.data.corpus import KEYWORDS

    parser = subparsers.add_parser(
        "corpus",
        help="generate the offline espeak-ng keyword corpus",
        description=(
            "Speak the keywords with many espeak-ng voices, speeds and pitches over "
            "synthetic background noise, and write them in the Speech Commands layout. "
            "Validation and testing voices never occur in training."
        ),
    )
    parser.add_argument("--out", required=True, help="new or empty folder to write")
    parser.add_argument("--seed", type=int, default=0, help="fixes every file (0)")
    parser.add_argument(
        "--clips-per-word",
        type=int,
        default=None,
        help="clips of each word (default 2500 of 'yes', 1000 of each other word)",
    )
    parser.add_argument(
        "--words", nargs="+", default=list(KEYWORDS), help="words to say (all keywords)"
    )
    parser.add_argument(
        "--noise-seconds",
        type=float,
        default=60.0,
        help="length of each background recording, s (60)",
    )
    parser.add_argument(
        "--workers", type=int, default=4, help="espeak-ng processes at once (4)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate the corpus with a progress bar; prints the folder."""
    from tqdm import tqdm

    from bmru_jax.data.corpus import generate_corpus, total_clips

    total = total_clips(args.clips_per_word, args.words)
    with tqdm(total=total, unit="clip", desc="corpus", disable=None) as bar:
        out = generate_corpus(
            args.out,
            seed=args.seed,
            clips_per_word=args.clips_per_word,
            words=args.words,
            noise_seconds=args.noise_seconds,
            workers=args.workers,
            progress=bar.update,
        )
    print(out)
    return 0
