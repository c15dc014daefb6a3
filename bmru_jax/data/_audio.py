"""Reading and writing the 1 s, 16 kHz mono clips that keyword spotting works on.

Every clip, a spoken word or a crop of a background recording, is described by a file
and a start sample. Reading it means taking ``CLIP_SAMPLES`` samples from that start and
zero-padding at the end when the file is shorter, which is how Speech Commands pads its
clips of less than one second.
"""

from pathlib import Path

import numpy as np

from bmru_jax.errors import InputError

SAMPLE_RATE = 16_000
CLIP_SAMPLES = SAMPLE_RATE  # one second


def audio_info(path: Path) -> tuple[int, int]:
    """Frames and channels of a 16 kHz wav file; other rates are refused.

    Speech Commands is recorded at 16 kHz. A file at another rate means a folder that
    was converted wrongly, so it is rejected rather than silently resampled.
    """
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise InputError(f"{path}: unreadable audio ({_reason(error)})") from None
    _require_format(path, info.samplerate, info.channels)
    return info.frames, info.channels


def read_clip(path: Path, offset: int = 0) -> np.ndarray:
    """One second of mono float32 audio from sample ``offset`` of ``path``, zero-padded.

    Args:
        path: a 16 kHz mono wav file.
        offset: first sample to read, >= 0.

    Returns:
        float32 array, shape (CLIP_SAMPLES,), values in [-1, 1].
    """
    import soundfile

    try:
        with soundfile.SoundFile(str(path)) as handle:
            _require_format(path, handle.samplerate, handle.channels)
            handle.seek(offset)
            samples = handle.read(CLIP_SAMPLES, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise InputError(f"{path}: unreadable audio ({_reason(error)})") from None
    return pad_or_crop(samples[:, 0])


def pad_or_crop(samples: np.ndarray) -> np.ndarray:
    """The first ``CLIP_SAMPLES`` samples, zero-padded at the end when shorter."""
    clip = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    length = min(len(samples), CLIP_SAMPLES)
    clip[:length] = samples[:length]
    return clip


def write_pcm16(path: Path, samples: np.ndarray) -> None:
    """Write float samples in [-1, 1] as a 16-bit 16 kHz mono wav (clipping beyond)."""
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    clipped = np.clip(samples, -1.0, 1.0)
    soundfile.write(str(path), clipped, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def _require_format(path: Path, samplerate: int, channels: int) -> None:
    if samplerate != SAMPLE_RATE:
        raise InputError(
            f"{path}: sample rate {samplerate} Hz, Speech Commands clips must be "
            f"{SAMPLE_RATE} Hz (resample the folder first)"
        )
    if channels != 1:
        raise InputError(f"{path}: {channels} channels, clips must be mono")


def _reason(error: Exception) -> str:
    return " ".join(str(error).split())
