"""The power report of ``bmru-jax power``: keyword figures, scaling, mismatch spread.

Models: the bundled trained models where they exist (``bmru_jax.assets``), else
randomly initialised :class:`~bmru_jax.models.HardwareBackbone` models with the
published initialisation; clips: the bundled test features, else z-scored Gaussian
frames. The report says which it used. Each model is mapped at its own nominal-cell
unit current by default (:func:`bmru_jax.circuit.unit_current_for_nominal_cell`), and
the report records the unit current of each.
"""

import dataclasses
import pathlib
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from bmru_jax._validate import check_non_negative_int
from bmru_jax.assets import bundled_model, bundled_test_features
from bmru_jax.circuit import Multiplicative, Pelgrom, simulate
from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone, clip_decision
from bmru_jax.power._model import PowerSettings
from bmru_jax.power._study import (
    clip_power,
    mapped_die,
    mismatch_power,
    scaling_study,
    summarise,
)

FRAMES = 101  # one-second clip, 10 ms frames
N_FEATURES = 13
_RANDOM = "random init (published initialisation)"


def power_report(
    dims: Sequence[int],
    *,
    seed: int = 0,
    models_per_dim: int = 3,
    clips: int = 50,
    dies: int = 200,
    resamples: int = 1000,
    settings: PowerSettings = PowerSettings(),
    unit_current_nA: float | str = "auto",
    published_d4: dict | None = None,
    published_accuracy: dict | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Every figure of the power report, as a JSON-ready dict (see ``bmru-jax power``).

    Args:
        dims: state sizes of the scaling study.
        seed: seed of the random models, dies and bootstrap (a non-negative int,
            recorded in the report's ``settings``).
        models_per_dim: models per size (a trained model is repeated, since there is
            one; random models are drawn with different keys).
        clips: number of test clips used; at most as many as are bundled.
        dies: dies per mismatch level.
        resamples: bootstrap replicates.
        settings: the power model's settings.
        unit_current_nA: nA per model unit for every model, or ``"auto"``: each model
            at its own nominal-cell unit current.
        published_d4: published d = 4 figures to set beside ours.
        published_accuracy: published accuracy per d.
        progress: called with 1 after each model of the scaling study.

    Raises:
        InputError: for a negative seed or more clips than are bundled.
    """
    seed = check_non_negative_int("seed", seed)
    root = jax.random.key(seed)
    features, labels, feature_source = test_clips(
        clips, key=jax.random.fold_in(root, 0)
    )
    trained = trained_models()
    models, kinds = {}, {}
    for d in dims:
        if d in trained:
            models[d], kinds[d] = [trained[d]] * models_per_dim, "trained (bundled)"
        else:
            keys = [
                jax.random.fold_in(jax.random.fold_in(root, 1), d * 100 + i)
                for i in range(models_per_dim)
            ]
            models[d] = [HardwareBackbone(width=d, key=k) for k in keys]
            kinds[d] = _RANDOM
    if 4 in models:
        d4, d4_kind = models[4][0], kinds[4]
    else:
        d4 = trained.get(4, HardwareBackbone(width=4, key=jax.random.fold_in(root, 2)))
        d4_kind = "trained (bundled)" if 4 in trained else _RANDOM
    report = {
        "settings": {
            **_settings_dict(settings),
            "unit_current_nA": unit_current_nA,
            "seed": seed,
        },
        "features": {"source": feature_source, "clips": int(features.shape[0])},
        "keyword_d4": _keyword_figures(
            mapped_die(d4, unit_current_nA), d4_kind, features, settings, published_d4
        ),
    }
    scaling = scaling_study(
        models,
        features,
        settings,
        key=jax.random.fold_in(root, 3),
        unit_current_nA=unit_current_nA,
        resamples=resamples,
        progress=progress,
    )
    report.update(_scaling_dict(scaling, kinds))
    report["accuracy"] = _accuracy(
        trained, unit_current_nA, features, labels, published_accuracy or {}
    )
    report["mismatch"] = _mismatch(
        mapped_die(d4, unit_current_nA),
        features,
        settings,
        dies,
        jax.random.fold_in(root, 4),
    )
    return report


def trained_models() -> dict[int, HardwareBackbone]:
    """The bundled trained hardware backbones by width, where the package has them."""
    found = {}
    for name, d in (("kws-d4", 4), ("kws-d16", 16)):
        try:
            found[d] = bundled_model(name)
        except FileNotFoundError:
            continue
    return found


def test_clips(count: int, *, key) -> tuple[jnp.ndarray, np.ndarray | None, str]:
    """``(features, labels, source)``: bundled test clips, else Gaussian frames.

    The Gaussian stand-in is N(0, 1) per coefficient, z-scored over each clip like the
    MFCC features, so its input currents have the right scale; it has no labels.

    Raises:
        InputError: if ``count`` exceeds the bundled test clips.
    """
    check_clip_count("clips", count)
    try:
        features, labels = bundled_test_features()
    except FileNotFoundError:
        pass
    else:
        chosen = _balanced(np.asarray(labels), count)
        features = jnp.asarray(features[chosen], jnp.float32)
        return features, np.asarray(labels)[chosen], "bundled test clips"
    frames = jax.random.normal(key, (count, FRAMES, N_FEATURES))
    frames = (frames - frames.mean(1, keepdims=True)) / frames.std(1, keepdims=True)
    return frames, None, "z-scored Gaussian frames (no bundled test clips)"


def check_clip_count(name: str, count: int) -> None:
    """Refuse more clips than the bundled test set holds (any count without one).

    Cheap enough to call before a long run, so that the error comes first.

    Args:
        name: the argument, as the user gave it (``"clips"``, ``"--clips"``).
        count: clips asked for.

    Raises:
        InputError: naming ``name``, the count asked and the count held.

    >>> check_clip_count("clips", 10)
    """
    try:
        _, labels = bundled_test_features()
    except FileNotFoundError:
        return
    if count > len(labels):
        raise InputError(
            f"{name}: {count} asked, the bundled test clips hold {len(labels)}"
        )


def _balanced(labels: np.ndarray, count: int) -> np.ndarray:
    """The first clips of each class in turn, ``count`` in all, in stored order."""
    per_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    order = [i for group in zip(*per_class) for i in group]
    rest = sorted(set(range(len(labels))) - set(order))
    return np.sort(np.asarray((order + rest)[:count], int))


def _keyword_figures(die, kind, features, settings, published) -> dict:
    ideal_runs = {
        convention: clip_power(
            die, features, dataclasses.replace(settings, mirror_reference=convention)
        )
        for convention in ("per_input_node", "none")
    }
    runs = ideal_runs[settings.mirror_reference]
    figures = {
        "model": kind,
        "clips": int(features.shape[0]),
        "unit_current_nA": die.unit_current_nA,
    }
    for block in ("total_nW", "core_nW", "feedforward_nW", "energy_nJ"):
        figures[block] = summarise(runs[block])
    other = (
        "none" if settings.mirror_reference == "per_input_node" else "per_input_node"
    )
    figures["other_convention"] = {
        "mirror_reference": other,
        **{b: summarise(ideal_runs[other][b]) for b in ("total_nW", "feedforward_nW")},
    }
    if published:
        figures["published"] = published
        figures["ratio_to_published"] = {
            b: figures[b]["mean"] / published[b]["mean"] for b in published
        }
    return figures


def _scaling_dict(scaling, kinds) -> dict:
    def exponent(block, published):
        fit = scaling.fits[block]
        return {
            "value": fit.exponent,
            "stderr": fit.stderr,
            "ci95": list(fit.ci),
            "bootstrap_ci95": list(scaling.bootstrap_ci[block]),
            "prefactor": fit.prefactor,
            "published": published,
        }

    return {
        "state_dims": list(scaling.state_dims),
        "models": [kinds[d] for d in scaling.state_dims],
        "unit_current_nA": scaling.unit_current_nA.tolist(),
        **{
            block: scaling.mean(block).tolist()
            for block in (
                "core_nW",
                "feedforward_nW",
                "square_banks_nW",
                "total_nW",
                "energy_nJ",
            )
        },
        **{
            f"{block}_std": scaling.std(block).tolist()
            for block in ("core_nW", "feedforward_nW", "total_nW", "energy_nJ")
        },
        "core_exponent": exponent("core_nW", 1.0),
        "feedforward_exponent": exponent("feedforward_nW", 2.0),
        "square_banks_exponent": exponent("square_banks_nW", 2.0),
        "total_exponent": exponent("total_nW", None),
    }


def _accuracy(trained, unit_current_nA, features, labels, published) -> list:
    if labels is None:
        return []
    rows = []
    for d, model in sorted(trained.items()):
        die = mapped_die(model, unit_current_nA)
        software = jax.vmap(lambda f: clip_decision(model(f)))(features)
        circuit = jax.vmap(lambda f: clip_decision(simulate(die, f).logits))(features)
        rows.append(
            {
                "state_dim": d,
                "unit_current_nA": die.unit_current_nA,
                "software": float(np.mean(np.asarray(software) == labels)),
                "circuit": float(np.mean(np.asarray(circuit) == labels)),
                "published": published.get(d),
            }
        )
    return rows


def _mismatch(die, features, settings, dies, key) -> list:
    levels = (
        ("multiplicative p=0.10 (1x)", Multiplicative(0.10)),
        ("multiplicative p=0.30 (3x)", Multiplicative(0.30)),
        ("pelgrom A_VT calibrated (1x)", Pelgrom()),
    )
    rows = []
    for index, (name, variation) in enumerate(levels):
        runs = mismatch_power(
            die,
            features,
            variation,
            settings,
            key=jax.random.fold_in(key, index),
            dies=dies,
        )
        row = {"variation": name, "dies": dies, "clips": int(features.shape[0])}
        for block in ("total_nW", "core_nW", "feedforward_nW", "energy_nJ"):
            # Spread across dies of each die's mean over the clips.
            row[block] = summarise(np.asarray(runs[block]).mean(axis=1))
        rows.append(row)
    return rows


def _settings_dict(settings: PowerSettings) -> dict:
    return {
        **dataclasses.asdict(settings),
        "static_bias_nA_used": settings.static_bias_nA,
        "cell_floor_nA": settings.cell_floor_nA,
    }


def plot_scaling(report: dict, path: pathlib.Path) -> None:
    """Log-log plot of core and feedforward power against d, fits and error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = np.asarray(report["state_dims"], float)
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    line = np.geomspace(dims[0], dims[-1], 50)
    for block, label, colour in (
        ("core_nW", "recurrent core (cells)", "tab:blue"),
        ("feedforward_nW", "feedforward (mirrors, sources)", "tab:orange"),
    ):
        fit = report[block.replace("_nW", "_exponent")]
        ax.errorbar(
            dims,
            report[block],
            yerr=report[f"{block}_std"],
            fmt="o",
            color=colour,
            capsize=3,
            label=label,
        )
        ax.plot(
            line,
            fit["prefactor"] * line ** fit["value"],
            "-",
            color=colour,
            label=f"fit: d^{fit['value']:.2f} "
            f"[{fit['bootstrap_ci95'][0]:.2f}, {fit['bootstrap_ci95'][1]:.2f}]",
        )
    square = report["square_banks_exponent"]
    ax.plot(
        dims,
        report["square_banks_nW"],
        "s",
        color="tab:green",
        mfc="none",
        label="of which d x d banks (W_c, W_p)",
    )
    ax.plot(
        line,
        square["prefactor"] * line ** square["value"],
        "--",
        color="tab:green",
        label=f"fit: d^{square['value']:.2f}",
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("state size d (cells per layer)")
    ax.set_ylabel("mean power per clip (nW)")
    ax.set_title("Power against state size, 2-layer network, 1.8 V")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
