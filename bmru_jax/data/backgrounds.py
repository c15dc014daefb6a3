"""Synthetic background recordings: coloured noise, mains hum, a fan, and babble.

They stand in for the ``_background_noise_`` folder of Speech Commands: the source of
the "silence" class and of the noise mixed under spoken words. Each is a pure function
of its length and a NumPy generator, so a seed fixes it sample for sample.

Example:
    >>> import numpy as np
    >>> noise = coloured_noise(16000, 1.0, np.random.default_rng(0))  # pink, 1 s
    >>> round(float(np.sqrt(np.mean(noise**2))), 6)
    1.0
"""

from collections.abc import Callable

import numpy as np

from bmru_jax.data._audio import SAMPLE_RATE


def coloured_noise(
    samples: int, exponent: float, rng: np.random.Generator
) -> np.ndarray:
    """Gaussian noise with power spectral density ``S(f) ~ 1 / f**exponent``, unit RMS.

    White noise shaped in the frequency domain by ``f**(-exponent / 2)``; exponent 0 is
    white, 1 pink, 2 brown. The DC bin is zeroed so the recording has no offset.

    Args:
        samples: length, samples.
        exponent: spectral slope (dimensionless).
        rng: NumPy generator.

    Returns:
        float64, shape (samples,), RMS 1.
    """
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    frequency_Hz = np.fft.rfftfreq(samples, d=1.0 / SAMPLE_RATE)
    shape = np.zeros_like(frequency_Hz)
    shape[1:] = frequency_Hz[1:] ** (-exponent / 2.0)
    return _unit_rms(np.fft.irfft(spectrum * shape, n=samples))


def mains_hum(samples: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 or 60 Hz and its first harmonics, random amplitudes and phases.

    ``sum_k a_k sin(2 pi k f0 t + phi_k)``, ``k = 1..8``, ``a_k ~ U(0, 1) / k``, with a
    little white noise (-30 dB) as a real recording has. Unit RMS.
    """
    mains_Hz = rng.choice([50.0, 60.0])
    time_s = np.arange(samples) / SAMPLE_RATE
    hum = np.zeros(samples)
    for harmonic in range(1, 9):
        amplitude = rng.uniform(0.0, 1.0) / harmonic
        phase = rng.uniform(0.0, 2.0 * np.pi)
        hum += amplitude * np.sin(2.0 * np.pi * harmonic * mains_Hz * time_s + phase)
    hum = _unit_rms(hum)
    return _unit_rms(hum + 10 ** (-30 / 20) * rng.standard_normal(samples))


def fan_noise(samples: int, rng: np.random.Generator) -> np.ndarray:
    """A fan: brown-ish noise whose loudness swells slowly (0.2-1 Hz), unit RMS."""
    noise = coloured_noise(samples, 1.5, rng)
    rate_Hz = rng.uniform(0.2, 1.0)
    time_s = np.arange(samples) / SAMPLE_RATE
    swell = 1.0 + 0.3 * np.sin(
        2.0 * np.pi * rate_Hz * time_s + rng.uniform(0, 2 * np.pi)
    )
    return _unit_rms(noise * swell)


def babble(
    samples: int,
    rng: np.random.Generator,
    speak: Callable[[int], np.ndarray],
    *,
    talkers: int = 6,
) -> np.ndarray:
    """Several talkers at once: utterances laid end to end per talker, then summed.

    Args:
        samples: length, samples.
        rng: NumPy generator (pauses between utterances, talker gains).
        speak: ``speak(index)`` returns the ``index``-th utterance, 16 kHz float.
        talkers: simultaneous voices.

    Returns:
        float64, shape (samples,), RMS 1.
    """
    mixture = np.zeros(samples)
    index = 0
    for _ in range(talkers):
        position = int(rng.integers(0, SAMPLE_RATE))
        gain = rng.uniform(0.5, 1.0)
        while position < samples:
            utterance = speak(index)[: samples - position]
            mixture[position : position + len(utterance)] += gain * utterance
            position += len(utterance) + int(rng.integers(0, SAMPLE_RATE // 2))
            index += 1
    return _unit_rms(mixture)


def _unit_rms(signal: np.ndarray) -> np.ndarray:
    return signal / np.sqrt(np.mean(signal**2))
