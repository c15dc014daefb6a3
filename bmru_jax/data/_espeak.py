"""Spoken words from the espeak-ng synthesiser, as 16 kHz float32 audio.

espeak-ng is deterministic: the same text, voice, speed and pitch give the same samples,
which is what makes the synthetic corpus reproducible byte for byte.
"""

import errno
import io
import shutil
import subprocess

import numpy as np

from bmru_jax.data._audio import SAMPLE_RATE
from bmru_jax.errors import InputError

ESPEAK = "espeak-ng"


def require_espeak() -> None:
    """Raise FileNotFoundError, naming the package, when espeak-ng is not on PATH."""
    if shutil.which(ESPEAK) is None:
        raise FileNotFoundError(
            errno.ENOENT, "not found on PATH (install the espeak-ng package)", ESPEAK
        )


def speak(text: str, voice: str, *, speed_wpm: int, pitch: int) -> np.ndarray:
    """``text`` read by ``voice`` at 16 kHz, leading and trailing silence removed.

    Args:
        text: words to say.
        voice: espeak-ng voice and variant, e.g. ``"en-us+f2"``.
        speed_wpm: speaking rate, words per minute (espeak-ng ``-s``, 80-450).
        pitch: base pitch, 0-99 (espeak-ng ``-p``).

    Returns:
        float32 samples at 16 kHz, shape (samples,), peak about 1 before trimming.
    """
    import soundfile
    import soxr

    command = [ESPEAK, "--stdout", "-v", voice, "-s", str(speed_wpm), "-p", str(pitch)]
    result = subprocess.run([*command, "--", text], capture_output=True, check=False)
    if result.returncode != 0 or len(result.stdout) <= 44:
        message = " ".join(result.stderr.decode(errors="replace").split())
        raise InputError(f"voice: espeak-ng could not speak with {voice!r} ({message})")
    samples, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
    resampled = soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ")
    return trim(resampled).astype(np.float32)


def trim(samples: np.ndarray, *, top_db: float = 40.0) -> np.ndarray:
    """Cut the samples before the first and after the last one within ``top_db`` of
    the peak magnitude (espeak-ng pads its words with digital silence).

    Example:
        >>> trim(np.array([0.0, 0.001, 0.5, -1.0, 0.2, 0.0])).tolist()
        [0.5, -1.0, 0.2]
    """
    loud = np.flatnonzero(
        np.abs(samples) >= np.abs(samples).max() * 10 ** (-top_db / 20)
    )
    return samples[loud[0] : loud[-1] + 1]
