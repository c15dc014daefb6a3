"""What a campaign runs on: the trained model and the labelled clips, checked.

Both are loaded and checked before anything is written, and both are fingerprinted
(:attr:`CampaignInputs.digest`), so that a campaign folder can refuse a run whose model
file or features changed under the same config.
"""

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Float, Int

from bmru_jax.campaign.config import CampaignConfig
from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone


@dataclasses.dataclass(frozen=True)
class CampaignInputs:
    """The model and clips of a campaign.

    Attributes:
        model: the trained hardware backbone (evaluated as a BMRU, ``eps = 0``).
        features: feature frames in model units, ``(clips, frames, features)`` float32.
        labels: the clip labels, ``(clips,)`` int32.
    """

    model: HardwareBackbone
    features: Float[np.ndarray, "clips frames features"]
    labels: Int[np.ndarray, " clips"]

    def __post_init__(self):
        _check_model(self.model, "model")
        _check_clips(self.features, self.labels, self.model, "data")

    @property
    def digest(self) -> bytes:
        """SHA-256 of the model's arrays, the features and the labels."""
        digest = hashlib.sha256()
        for leaf in jax.tree_util.tree_leaves(eqx.filter(self.model, eqx.is_array)):
            digest.update(np.asarray(leaf).tobytes())
        digest.update(self.features.tobytes())
        digest.update(self.labels.tobytes())
        return digest.digest()


def load_inputs(config: CampaignConfig) -> CampaignInputs:
    """Load and check the model and clips a config names.

    Raises:
        InputError: a file is missing or unreadable, or holds the wrong thing.
    """
    model = _load_model(config)
    features, labels, source = _load_clips(config)
    if config.data.clips is not None:
        if config.data.clips > len(labels):
            raise InputError(
                f"data.clips: {config.data.clips} asked, the data hold {len(labels)}"
            )
        features, labels = features[: config.data.clips], labels[: config.data.clips]
    # Checked before the casts below, which would wrap an out-of-range label.
    _check_clips(features, labels, model, source)
    return CampaignInputs(
        model=model,
        features=np.ascontiguousarray(features, np.float32),
        labels=np.ascontiguousarray(labels, np.int32),
    )


def _load_model(config: CampaignConfig) -> HardwareBackbone:
    from bmru_jax import assets, training

    if config.model.name is not None:
        if config.model.name not in assets.BUNDLED_MODELS:
            raise InputError(
                f"model.name: must be one of {', '.join(assets.BUNDLED_MODELS)}, "
                f"got {config.model.name!r}"
            )
        return assets.bundled_model(config.model.name)
    path = config.resolve(config.model.path)
    if not path.exists():
        raise InputError(f"{path}: model file not found")
    try:
        return training.load_model(path)
    except (UnicodeDecodeError, FileNotFoundError):
        raise InputError(f"{path}: not a bmru-jax model checkpoint") from None


def _load_clips(config: CampaignConfig) -> tuple[np.ndarray, np.ndarray, str]:
    """Features, labels, and the name of where they came from (for messages)."""
    if config.data.path is None:
        from bmru_jax import assets

        return *assets.bundled_test_features(), "data"
    path = config.resolve(config.data.path)
    return *read_features(path), str(path)


def read_features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Arrays ``features`` and ``labels`` of a features ``.npz`` file, checked.

    The layout of ``bmru_jax.data`` feature caches: ``features`` (clips, frames,
    coefficients), real numbers, and ``labels`` (clips,), integer class indices
    (whole-valued floats are accepted and returned as integers); other arrays are
    ignored. Object (pickled) arrays are refused: loading them could run code.

    Raises:
        InputError: the file is missing, not a ``.npz`` archive, or an array is
            missing or of the wrong kind.
    """
    if not path.is_file():
        raise InputError(f"{path}: features file not found")
    # np.load falls back to unpickling a file that is neither .npz nor .npy.
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a .npz file (not a zip archive of arrays)")
    try:
        with np.load(path, allow_pickle=False) as stored:
            features, labels = (_array(stored, path, n) for n in ("features", "labels"))
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{path}: not a readable .npz file ({error})") from None
    return _checked_features(features, path), _checked_labels(labels, path)


def _array(stored, path: Path, name: str) -> np.ndarray:
    if name not in stored.files:
        raise InputError(f"{path}: no array {name!r}")
    try:
        return stored[name]
    except ValueError as error:
        if "allow_pickle" not in str(error):
            raise
        raise InputError(
            f"{path}: array {name!r} holds object (pickled) data, which are refused"
        ) from None


def _checked_features(features: np.ndarray, path: Path) -> np.ndarray:
    # "f": floats, "i"/"u": integers; booleans, complex numbers and strings are not
    # feature values.
    if features.dtype.kind not in "fiu":
        raise InputError(
            f"{path}: array 'features' must hold real numbers (float or int), "
            f"got dtype {features.dtype}"
        )
    return features


def _checked_labels(labels: np.ndarray, path: Path) -> np.ndarray:
    if labels.dtype.kind in "iu":
        return labels
    whole = labels.dtype.kind == "f" and np.all(np.isfinite(labels))
    if not whole or not np.all(labels == np.round(labels)):
        raise InputError(
            f"{path}: array 'labels' must hold integer class indices (an integer "
            f"dtype, or whole-valued floats), got {_describe(labels)}"
        )
    return labels.astype(np.int64)


def _describe(labels: np.ndarray) -> str:
    if labels.dtype.kind != "f":
        return f"dtype {labels.dtype}"
    bad = labels[~np.isfinite(labels) | (labels != np.round(labels))]
    return f"{bad.size} non-integer value(s), e.g. {bad.flat[0]:g}"


def _check_model(model, where: str) -> None:
    if not isinstance(model, HardwareBackbone):
        raise InputError(
            f"{where}: must be a HardwareBackbone, got {type(model).__name__}"
        )


def _check_clips(features, labels, model: HardwareBackbone, where: str) -> None:
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 3 or features.shape[2] != model.n_features:
        raise InputError(
            f"{where}: features must be (clips, frames, {model.n_features}), "
            f"got {features.shape}"
        )
    if labels.shape != features.shape[:1] or len(labels) == 0:
        raise InputError(
            f"{where}: labels must be ({features.shape[0]},) with at least one clip, "
            f"got {labels.shape}"
        )
    if not np.all(np.isfinite(features)):
        raise InputError(f"{where}: features hold NaN or infinity")
    if not np.issubdtype(labels.dtype, np.integer) or not np.all(
        (labels >= 0) & (labels < model.n_classes)
    ):
        raise InputError(f"{where}: labels must be integers in [0, {model.n_classes})")
