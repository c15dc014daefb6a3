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
    features, labels = _load_clips(config)
    if config.data.clips is not None:
        if config.data.clips > len(labels):
            raise InputError(
                f"data.clips: {config.data.clips} asked, the data hold {len(labels)}"
            )
        features, labels = features[: config.data.clips], labels[: config.data.clips]
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


def _load_clips(config: CampaignConfig) -> tuple[np.ndarray, np.ndarray]:
    if config.data.path is None:
        from bmru_jax import assets

        return assets.bundled_test_features()
    return read_features(config.resolve(config.data.path))


def read_features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Arrays ``features`` and ``labels`` of a features ``.npz`` file.

    The layout of ``bmru_jax.data`` feature caches: ``features`` (clips, frames,
    coefficients) and ``labels`` (clips,); other arrays are ignored.
    """
    if not path.is_file():
        raise InputError(f"{path}: features file not found")
    try:
        with np.load(path, allow_pickle=False) as stored:
            missing = {"features", "labels"} - set(stored.files)
            if missing:
                raise InputError(f"{path}: no array {sorted(missing)[0]!r}")
            return stored["features"], stored["labels"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{path}: not a readable .npz file ({error})") from None


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
