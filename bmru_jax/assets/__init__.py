"""Bundled trained models and the test features they were evaluated on.

Four hardware-backbone models for the binary "yes" task, trained on the synthetic
espeak-ng corpus with the published recipe (5000 steps), at width 4 and 16, each
normally and noise-aware (a fresh die per clip at 3x the measured analog mismatch):

    "kws-d4", "kws-d4-noise-aware", "kws-d16", "kws-d16-noise-aware"

The test features are clips of the corpus's testing voices (never heard in training),
stored as float16 and returned as float32. ``report.json`` holds their accuracies.
Regenerate everything with ``python experiments/make_bundled_models.py``.

Example:
    >>> model = bundled_model("kws-d4")
    >>> features, labels = bundled_test_features()
    >>> features.shape[1:], features.dtype
    ((101, 13), dtype('float32'))
"""

import json
from pathlib import Path

import numpy as np

from bmru_jax.errors import InputError

ASSETS = Path(__file__).parent
BUNDLED_MODELS = ("kws-d4", "kws-d4-noise-aware", "kws-d16", "kws-d16-noise-aware")
TEST_FEATURES_FILE = ASSETS / "test_features.npz"
REPORT_FILE = ASSETS / "report.json"


def bundled_model_path(name: str) -> Path:
    """The checkpoint JSON of bundled model ``name`` (one of ``BUNDLED_MODELS``)."""
    if name not in BUNDLED_MODELS:
        raise InputError(f"name: must be one of {BUNDLED_MODELS}, got {name!r}")
    return ASSETS / "models" / f"{name}.json"


def bundled_model(name: str):
    """Load bundled model ``name`` (a :class:`~bmru_jax.models.HardwareBackbone`).

    Example:
        >>> bundled_model("kws-d16").width
        16
    """
    from bmru_jax.training.checkpoint import load_model

    return load_model(bundled_model_path(name))


def bundled_test_features() -> tuple[np.ndarray, np.ndarray]:
    """Held-out test clips: features ``(clips, 101, 13)`` float32, labels int32.

    Label 1 is "yes", 0 is "other" (silence, "no", "up", "down", "left", "right").
    """
    with np.load(TEST_FEATURES_FILE, allow_pickle=False) as stored:
        features = stored["features"].astype(np.float32)
        labels = stored["labels"].astype(np.int32)
    return features, labels


def bundled_report() -> dict:
    """The accuracy report of the bundled models (``report.json``)."""
    return json.loads(REPORT_FILE.read_text())
