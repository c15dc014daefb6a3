"""Regenerate the bundled models, their test features and their accuracy report.

    python experiments/make_bundled_models.py [--corpus DIR] [--runs DIR]

1. the synthetic espeak-ng corpus (generated when the folder has none);
2. MFCC features of the binary task (cached inside the corpus folder);
3. four trainings with the published recipe, two at a time (``bmru-jax train``):
   width 4 and 16, each normally and noise-aware (3x the measured mismatch per clip);
4. their best checkpoints copied to ``bmru_jax/assets/models/`` and the testing clips
   (voices never heard in training) to ``bmru_jax/assets/test_features.npz``;
5. ``bmru_jax/assets/report.json``: accuracy on the unseen voices, accuracy over
   sampled dies at 3x the measured analog mismatch, and training speed.

``--report-only`` redoes step 5 from the bundled files (and the run folders, when they
are there, for the training times).
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

from bmru_jax import assets, circuit
from bmru_jax.training import evaluate, load_model, mismatch_accuracy, read_metadata
from bmru_jax.training.checkpoint import save_checkpoint

RUNS = {
    "kws-d4": ["--width", "4"],
    "kws-d4-noise-aware": ["--width", "4", "--noise-aware", "3"],
    "kws-d16": ["--width", "16"],
    "kws-d16-noise-aware": ["--width", "16", "--noise-aware", "3"],
}
_CLI = "import sys; from bmru_jax.cli import main; sys.exit(main(sys.argv[1:]))"
MISMATCH_MULTIPLE = 3.0  # 3x the measured analog noise: p = 30 % at 3 sigma


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    if not args.report_only:
        _ensure_corpus(Path(args.corpus), args.clips_per_word)
        _train_all(Path(args.corpus), Path(args.runs), args)
        _export_models(Path(args.runs))
        _export_test_features(Path(args.corpus), args.test_clips)
    report = _report(Path(args.runs), Path(args.corpus), args.dies)
    # Only this invocation: a regeneration that resumed finished trainings says less.
    key = "wall_seconds_this_invocation"
    if not args.report_only:
        report[key] = round(time.perf_counter() - started, 1)
    elif assets.REPORT_FILE.is_file():
        report[key] = assets.bundled_report().get(key)
    assets.REPORT_FILE.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="corpus_default", help="corpus folder")
    parser.add_argument("--runs", default="runs/bundled", help="run folders")
    parser.add_argument("--steps", type=int, default=5000, help="steps per run")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once (2)")
    parser.add_argument("--dies", type=int, default=100, help="dies per model (100)")
    parser.add_argument(
        "--clips-per-word", type=int, default=2500, help="corpus size (2500)"
    )
    parser.add_argument(
        "--test-clips",
        type=int,
        default=500,
        help="bundled test clips, at most the testing split (500)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="only rewrite report.json"
    )
    return parser


def _ensure_corpus(corpus: Path, clips_per_word: int) -> None:
    if (corpus / "corpus.json").is_file() or (corpus / "testing_list.txt").is_file():
        return
    from bmru_jax.data import generate_corpus

    print(f"generating the corpus in {corpus}", file=sys.stderr)
    generate_corpus(corpus, clips_per_word=clips_per_word)


def _train_all(corpus: Path, runs: Path, args) -> None:
    """Run the four trainings as ``bmru-jax train`` processes, ``--jobs`` at once."""
    # Features once, before the parallel runs, so they do not extract them twice.
    from bmru_jax.training import load_training_data

    load_training_data(corpus, "binary")
    runs.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        jobs = [
            pool.submit(_train_one, corpus, runs / name, extra, args.steps)
            for name, extra in RUNS.items()
        ]
        for job in jobs:
            job.result()


def _train_one(corpus: Path, run_dir: Path, extra: list[str], steps: int) -> None:
    if (run_dir / "summary.json").is_file():  # finished earlier
        return
    resume = ["--resume"] if (run_dir / "last.json").is_file() else []
    command = [
        sys.executable, "-c", _CLI, "train", "--data", str(corpus),
        "--out", str(run_dir), "--steps", str(steps), *extra, *resume,
    ]  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(run_dir / "train.log", "w") as log:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed; see {run_dir / 'train.log'}")
    summary = json.loads(done.stdout)
    summary["process_wall_seconds"] = round(time.perf_counter() - started, 1)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def _export_models(runs: Path) -> None:
    """Copy each run's best model into the package, with its settings."""
    for name in RUNS:
        source = runs / name / "best.json"
        record = read_metadata(source)
        keep = ("contents", "model", "training", "data", "state")
        metadata = {key: record[key] for key in keep}
        metadata["data"] = {k: v for k, v in record["data"].items() if k != "root"}
        metadata["name"] = name
        target = assets.bundled_model_path(name)
        for old in target.parent.glob(f"{name}-*.eqx"):
            old.unlink()
        save_checkpoint(target, load_model(source), metadata)


def _export_test_features(corpus: Path, clips: int) -> None:
    """A class-balanced subset of the testing split, float16."""
    from bmru_jax.data import load_features

    features, labels, names = load_features(corpus, "binary", "testing")
    rng = np.random.default_rng(0)
    per_class = [np.flatnonzero(labels == c) for c in (0, 1)]
    count = min(clips // 2, *(len(index) for index in per_class))
    chosen = np.concatenate([rng.choice(i, count, replace=False) for i in per_class])
    chosen.sort()
    np.savez_compressed(
        assets.TEST_FEATURES_FILE,
        features=features[chosen].astype(np.float16),
        labels=labels[chosen].astype(np.int8),
        class_names=np.array(names),
    )


def _report(runs: Path, corpus: Path, dies: int) -> dict:
    features16, labels16 = assets.bundled_test_features()
    full = _full_test_split(corpus)
    variation = circuit.Multiplicative.from_multiple(MISMATCH_MULTIPLE)
    models = {}
    for name in assets.BUNDLED_MODELS:
        model = assets.bundled_model(name)
        entry = {
            "width": model.width,
            "bundled_test": evaluate(model, features16, labels16),
        }
        if full is not None:
            x, y = full
            entry["full_test_split"] = evaluate(model, x, y)
            entry["float16_decision_changes"] = _float16_changes(model, x)
        key = jax.random.key(0)
        nominal = mismatch_accuracy(model, features16, labels16, None, dies=1, key=key)
        per_die = mismatch_accuracy(
            model, features16, labels16, variation, dies=dies, key=key
        )
        entry["circuit_nominal_accuracy"] = float(nominal[0])
        entry["mismatch_3x"] = _summary(per_die)
        entry["training"] = _training_summary(runs / name)
        models[name] = entry
    return {
        "task": "binary 'yes' vs other, synthetic espeak-ng corpus, unseen voices",
        "bundled_test_clips": int(len(labels16)),
        "mismatch": {
            "kind": "multiplicative, theta (1 + N(0, (p/3)^2)) on every element",
            "p": float(variation.p),
            "multiple_of_measured": MISMATCH_MULTIPLE,
            "dies": dies,
            "simulator": "bmru_jax.circuit.simulate, default non-idealities",
        },
        "models": models,
        "noise_aware_recovery": _recovery(models),
    }


def _full_test_split(corpus: Path):
    if not (corpus / "testing_list.txt").is_file():
        return None
    from bmru_jax.data import load_features

    features, labels, _ = load_features(corpus, "binary", "testing")
    return features, labels


def _float16_changes(model, features) -> int:
    """Clips whose decision changes when the features go through float16."""
    from bmru_jax.training.losses import clip_decisions

    exact = clip_decisions(model, features)
    rounded = clip_decisions(model, features.astype(np.float16).astype(np.float32))
    return int(np.sum(exact != rounded))


def _summary(per_die: np.ndarray) -> dict:
    return {
        "mean_accuracy": float(per_die.mean()),
        "std_accuracy": float(per_die.std(ddof=1)),
        "min_accuracy": float(per_die.min()),
        "p10_accuracy": float(np.percentile(per_die, 10)),
    }


def _recovery(models: dict) -> dict:
    """Share of the normal model's accuracy loss under mismatch that noise-aware
    training keeps: ``(acc_na_mismatch - acc_normal_mismatch) / (acc_normal_clean -
    acc_normal_mismatch)``; and the noise-aware model's own loss (clean minus
    mismatched) relative to the normal model's."""
    result = {}
    for width in (4, 16):
        normal, aware = models[f"kws-d{width}"], models[f"kws-d{width}-noise-aware"]
        clean = normal["bundled_test"]["accuracy"]
        lost = clean - normal["mismatch_3x"]["mean_accuracy"]
        gained = (
            aware["mismatch_3x"]["mean_accuracy"]
            - normal["mismatch_3x"]["mean_accuracy"]
        )
        aware_lost = (
            aware["bundled_test"]["accuracy"] - aware["mismatch_3x"]["mean_accuracy"]
        )
        result[f"d{width}"] = {
            "normal_loss": lost,
            "noise_aware_gain": gained,
            "share_recovered": gained / lost if lost > 0 else None,
            "noise_aware_own_loss": aware_lost,
            "own_loss_relative_to_normal": aware_lost / lost if lost > 0 else None,
        }
    return result


def _training_summary(run_dir: Path) -> dict | None:
    path = run_dir / "summary.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
