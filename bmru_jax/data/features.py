"""MFCC features of 1 s clips, z-scored per coefficient, cached on disk.

Each clip (16 kHz, 16000 samples) becomes 13 MFCCs on 101 frames: a 512-point FFT with a
hop of 160 samples, centred frames, so ``1 + 16000 // 160 = 101``. Each coefficient
``c`` is then normalised over time:

- ``"clip"`` (published): ``(x[t, c] - mean(x[:, c])) / (std(x[:, c]) + eps)``
  with mean and standard deviation over the whole clip;
- ``"causal"``: mean and standard deviation of frames ``0 .. t`` only, so frame ``t``
  never depends on the future (the first frame is therefore always 0);
- ``"none"``: raw MFCCs.

Example:
    >>> import numpy as np
    >>> clip = np.random.default_rng(0).normal(size=(1, 16000)).astype(np.float32)
    >>> mfcc_features(clip).shape
    (1, 101, 13)
"""

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Int

from bmru_jax.data._audio import SAMPLE_RATE
from bmru_jax.data.speech_commands import ClipList, list_clips, load_waveforms
from bmru_jax.errors import InputError

NORMALISATIONS = ("clip", "causal", "none")
CACHE_FOLDER = ".bmru_cache"
_CACHE_FORMAT = 1  # bump when the cached arrays change meaning


@dataclasses.dataclass(frozen=True)
class FeatureSettings:
    """How clips become features.

    Attributes:
        n_mfcc: coefficients per frame.
        n_fft: FFT length, samples (32 ms at 16 kHz).
        hop_length: frame step, samples (10 ms at 16 kHz).
        n_mels: mel bands before the DCT (librosa's default).
        normalisation: ``"clip"``, ``"causal"`` or ``"none"`` (module docstring).
        eps: added to the standard deviation so silent clips stay finite.
    """

    n_mfcc: int = 13
    n_fft: int = 512
    hop_length: int = 160
    n_mels: int = 128
    normalisation: str = "clip"
    eps: float = 1e-6

    def __post_init__(self) -> None:
        if self.normalisation not in NORMALISATIONS:
            raise InputError(
                f"normalisation: must be one of {', '.join(NORMALISATIONS)}, "
                f"got {self.normalisation!r}"
            )
        for name in ("n_mfcc", "n_fft", "hop_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name}: must be a positive integer, got {value!r}")
        if not self.eps > 0:
            raise InputError(f"eps: must be positive, got {self.eps!r}")


class FeatureSet(NamedTuple):
    """Features of a task's split; unpacks as ``features, labels, class_names``."""

    features: Float[np.ndarray, "clips frames coefficients"]
    labels: Int[np.ndarray, " clips"]
    class_names: tuple[str, ...]


def raw_mfcc(
    waveforms: Float[np.ndarray, "clips samples"],
    settings: FeatureSettings = FeatureSettings(),
) -> Float[np.ndarray, "clips frames coefficients"]:
    """MFCCs of each clip, exactly as ``librosa.feature.mfcc`` gives them clip by clip.

    librosa clamps the log-mel spectrum at 80 dB below its maximum, and over a batch
    that maximum would be the batch's; here it is each clip's own, so a clip's features
    do not depend on the clips it is batched with.

    Args:
        waveforms: 16 kHz mono audio, shape (clips, samples).
        settings: frame and filterbank sizes.

    Returns:
        float32, shape (clips, 1 + samples // hop_length, n_mfcc).
    """
    import librosa

    power = librosa.feature.melspectrogram(
        y=np.asarray(waveforms, dtype=np.float32),
        sr=SAMPLE_RATE,
        n_fft=settings.n_fft,
        hop_length=settings.hop_length,
        n_mels=settings.n_mels,
    )
    log_power = _power_to_db_per_clip(power)
    mfcc = librosa.feature.mfcc(S=log_power, n_mfcc=settings.n_mfcc)
    return np.swapaxes(mfcc, -1, -2).astype(np.float32)


def _power_to_db_per_clip(power: np.ndarray, top_db: float = 80.0) -> np.ndarray:
    """``librosa.power_to_db`` (ref 1, amin 1e-10, top_db 80) with a per-clip clamp."""
    log_power = 10.0 * np.log10(np.maximum(power, 1e-10))
    ceiling = log_power.max(axis=(-2, -1), keepdims=True)
    return np.maximum(log_power, ceiling - top_db)


def normalise(
    mfcc: Float[np.ndarray, "clips frames coefficients"],
    normalisation: str = "clip",
    *,
    eps: float = 1e-6,
) -> Float[np.ndarray, "clips frames coefficients"]:
    """Z-score each coefficient over time: whole clip, causal prefix, or not at all.

    ``causal``: ``(x[t] - m[t]) / (s[t] + eps)`` with ``m[t]``, ``s[t]`` the mean and
    (population) standard deviation of frames ``0 .. t``.

    Args:
        mfcc: shape (clips, frames, coefficients).
        normalisation: ``"clip"``, ``"causal"`` or ``"none"``.
        eps: added to the standard deviation.

    Returns:
        float32 array of the same shape.
    """
    x = np.asarray(mfcc, dtype=np.float64)
    if normalisation == "none":
        return x.astype(np.float32)
    if normalisation == "clip":
        mean = x.mean(axis=-2, keepdims=True)
        std = x.std(axis=-2, keepdims=True)
    elif normalisation == "causal":
        mean, std = _running_moments(x)
    else:
        raise InputError(
            f"normalisation: must be one of {', '.join(NORMALISATIONS)}, "
            f"got {normalisation!r}"
        )
    return ((x - mean) / (std + eps)).astype(np.float32)


def _running_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over frames ``0 .. t`` for every ``t`` (axis -2).

    Centred on the first frame before accumulating: the zeroth MFCC sits near -500, and
    raw running sums of squares would lose the small variance to cancellation.
    """
    shifted = x - x[..., :1, :]
    count = np.arange(1, x.shape[-2] + 1).reshape(-1, 1)
    mean = np.cumsum(shifted, axis=-2) / count
    mean_square = np.cumsum(shifted**2, axis=-2) / count
    std = np.sqrt(np.maximum(mean_square - mean**2, 0.0))
    return mean + x[..., :1, :], std


def mfcc_features(
    waveforms: Float[np.ndarray, "clips samples"],
    settings: FeatureSettings = FeatureSettings(),
) -> Float[np.ndarray, "clips frames coefficients"]:
    """MFCCs normalised as ``settings`` says: (clips, 16000) -> (clips, 101, 13)."""
    mfcc = raw_mfcc(waveforms, settings)
    return normalise(mfcc, settings.normalisation, eps=settings.eps)


def load_features(
    root: str | Path,
    task: str,
    split: str,
    *,
    settings: FeatureSettings = FeatureSettings(),
    seed: int = 0,
    max_per_class: int | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> FeatureSet:
    """Features and labels of a task's split, from the cache when it holds them.

    The cache file is named by a hash of the settings, the clip list (paths, offsets,
    labels) and each file's size and modification time, so any change misses it. It is
    written to a temporary file and renamed, so an interrupted run leaves no half file.

    Args:
        root: Speech Commands folder (see :mod:`bmru_jax.data.speech_commands`).
        task: ``"binary"`` or ``"keywords11"``.
        split: ``"training"``, ``"validation"`` or ``"testing"``.
        settings: feature settings.
        seed: clip selection seed (:func:`list_clips`).
        max_per_class: clip cap (:func:`list_clips`).
        cache_dir: where cache files go; default ``<root>/.bmru_cache``. When the
            default cannot be created, a warning is given and nothing is cached.
        progress: called with 1 per clip read (not called on a cache hit).

    Returns:
        :class:`FeatureSet`: features float32 (clips, 101, 13), labels int32 (clips,),
        class names.

    Example:
        >>> x, y, names = load_features("corpus", "binary", "testing")  # doctest: +SKIP
    """
    clips = list_clips(root, task, split, seed=seed, max_per_class=max_per_class)
    folder = Path(root) / CACHE_FOLDER if cache_dir is None else Path(cache_dir)
    path = folder / f"{task}-{split}-{_cache_key(clips, settings)}.npz"
    if path.is_file():
        return _read_cache(path)
    waveforms = load_waveforms(clips, progress=progress)
    result = FeatureSet(
        mfcc_features(waveforms, settings), clips.labels, clips.class_names
    )
    _write_cache(path, result, warn_only=cache_dir is None)
    return result


def _cache_key(clips: ClipList, settings: FeatureSettings) -> str:
    stats = {path: os.stat(clips.root / path) for path in set(clips.paths)}
    description = {
        "format": _CACHE_FORMAT,
        "settings": dataclasses.asdict(settings),
        "class_names": clips.class_names,
        "clips": [
            [
                path,
                int(offset),
                int(label),
                stats[path].st_size,
                stats[path].st_mtime_ns,
            ]
            for path, offset, label in zip(
                clips.paths, clips.offsets, clips.labels, strict=True
            )
        ],
    }
    encoded = json.dumps(description, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:20]


def _read_cache(path: Path) -> FeatureSet:
    with np.load(path, allow_pickle=False) as stored:
        return FeatureSet(
            stored["features"], stored["labels"], tuple(str(n) for n in stored["names"])
        )


def _write_cache(path: Path, result: FeatureSet, *, warn_only: bool) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=".partial-", suffix=".npz", delete=False
        )
    except OSError as error:
        if not warn_only:
            raise
        warnings.warn(f"features not cached: {error}", stacklevel=3)
        return
    with handle:
        np.savez(
            handle,
            features=result.features,
            labels=result.labels,
            names=np.array(result.class_names),
        )
    os.replace(handle.name, path)
