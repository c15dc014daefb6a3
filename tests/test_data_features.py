"""MFCC features against librosa, normalisation against slow loops, and the cache."""

from pathlib import Path

import jaxtyping
import librosa
import numpy as np
import pytest
import soundfile
from beartype import beartype

from bmru_jax.data import (
    FeatureSettings,
    load_features,
    mfcc_features,
    normalise,
    raw_mfcc,
)
from bmru_jax.data import features as features_module
from bmru_jax.errors import InputError

RATE = 16_000


def _clips(count: int = 3, seed: int = 0) -> np.ndarray:
    """Noise bursts and a tone at very different levels (one nearly silent)."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(RATE) / RATE
    clips = 0.2 * rng.standard_normal((count, RATE))
    clips[0] = 0.5 * np.sin(2 * np.pi * 440 * time_s) * (time_s > 0.3)
    clips[-1] *= 1e-4
    return clips.astype(np.float32)


def test_mfcc_shape_and_values_match_librosa_clip_by_clip():
    clips = _clips()
    batch = raw_mfcc(clips)
    assert batch.shape == (3, 101, 13) and batch.dtype == np.float32
    for clip, mfcc in zip(clips, batch, strict=True):
        direct = librosa.feature.mfcc(
            y=clip, sr=RATE, n_mfcc=13, n_fft=512, hop_length=160
        ).T
        np.testing.assert_allclose(mfcc, direct, rtol=1e-4, atol=2e-3)


def test_clip_normalisation_is_a_z_score_per_coefficient():
    normalised = mfcc_features(_clips())
    raw = raw_mfcc(_clips()).astype(np.float64)
    expected = (raw - raw.mean(axis=1, keepdims=True)) / (
        raw.std(axis=1, keepdims=True) + 1e-6
    )
    np.testing.assert_allclose(normalised, expected, atol=1e-4)
    np.testing.assert_allclose(normalised.mean(axis=1), 0.0, atol=1e-4)


def _causal_loop(x: np.ndarray, eps: float) -> np.ndarray:
    out = np.zeros_like(x)
    for clip in range(x.shape[0]):
        for t in range(x.shape[1]):
            past = x[clip, : t + 1]
            out[clip, t] = (x[clip, t] - past.mean(axis=0)) / (past.std(axis=0) + eps)
    return out


def test_causal_normalisation_matches_slow_loop():
    rng = np.random.default_rng(1)
    # MFCC-like magnitudes: c0 near -500 with small variation, as the real ones.
    x = rng.normal(size=(2, 101, 13)) * np.linspace(20, 1, 13) - np.r_[500, [0] * 12]
    fast = normalise(x, "causal", eps=1e-6)
    np.testing.assert_allclose(fast, _causal_loop(x, 1e-6), atol=1e-4)
    assert np.all(fast[:, 0] == 0.0)


def test_causal_output_ignores_the_future():
    x = np.random.default_rng(2).normal(size=(1, 101, 13))
    changed = x.copy()
    changed[:, 60:] += 5.0
    np.testing.assert_array_equal(
        normalise(x, "causal")[:, :60], normalise(changed, "causal")[:, :60]
    )


def test_none_returns_raw_mfcc():
    settings = FeatureSettings(normalisation="none")
    np.testing.assert_array_equal(
        mfcc_features(_clips(), settings), raw_mfcc(_clips(), settings)
    )


def test_annotated_shapes_hold():
    checked_mfcc = jaxtyping.jaxtyped(typechecker=beartype)(mfcc_features)
    checked_normalise = jaxtyping.jaxtyped(typechecker=beartype)(normalise)
    out = checked_mfcc(_clips(2))
    assert checked_normalise(out, "causal").shape == (2, 101, 13)


@pytest.mark.parametrize(
    ("field", "value"),
    [("normalisation", "global"), ("n_mfcc", 0), ("hop_length", 1.5), ("eps", 0.0)],
)
def test_bad_settings(field, value):
    with pytest.raises(InputError, match=field):
        FeatureSettings(**{field: value})


def test_bad_normalisation_argument():
    with pytest.raises(InputError, match="normalisation"):
        normalise(np.zeros((1, 101, 13)), "batch")


def _tiny_folder(root: Path) -> None:
    rng = np.random.default_rng(5)
    lists = {"validation": [], "testing": []}
    for word in ("yes", "no", "up", "down", "left", "right"):
        (root / word).mkdir(parents=True)
        for speaker, split in (
            ("aa", "training"),
            ("bb", "validation"),
            ("cc", "testing"),
        ):
            name = f"{word}/{speaker}_nohash_0.wav"
            soundfile.write(root / name, 0.2 * rng.standard_normal(RATE), RATE)
            if split in lists:
                lists[split].append(name)
    for split, entries in lists.items():
        (root / f"{split}_list.txt").write_text("\n".join(entries) + "\n")
    (root / "_background_noise_").mkdir()
    noise = 0.1 * rng.standard_normal(20 * RATE)
    soundfile.write(root / "_background_noise_" / "noise.wav", noise, RATE)


def test_cache_hit_returns_identical_arrays_and_settings_change_misses(
    tmp_path, monkeypatch
):
    _tiny_folder(tmp_path / "data")
    cache = tmp_path / "cache"
    first = load_features(tmp_path / "data", "binary", "training", cache_dir=cache)
    assert first.features.shape == (2, 101, 13)
    assert first.class_names == ("other", "yes")
    assert len(list(cache.iterdir())) == 1

    def no_reading(*args, **kwargs):
        raise AssertionError("a cache hit must not read audio")

    monkeypatch.setattr(features_module, "load_waveforms", no_reading)
    again = load_features(tmp_path / "data", "binary", "training", cache_dir=cache)
    np.testing.assert_array_equal(again.features, first.features)
    np.testing.assert_array_equal(again.labels, first.labels)
    assert again.class_names == first.class_names

    monkeypatch.undo()
    causal = FeatureSettings(normalisation="causal")
    other = load_features(
        tmp_path / "data", "binary", "training", settings=causal, cache_dir=cache
    )
    assert len(list(cache.iterdir())) == 2
    assert not np.array_equal(other.features, first.features)


def test_default_cache_lives_in_the_dataset(tmp_path):
    _tiny_folder(tmp_path)
    features, labels, names = load_features(tmp_path, "binary", "testing")
    cached = list((tmp_path / ".bmru_cache").iterdir())
    assert [path.suffix for path in cached] == [".npz"]
    assert not any(path.name.startswith(".partial") for path in cached)
    assert features.shape == (len(labels), 101, 13) and labels.dtype == np.int32
