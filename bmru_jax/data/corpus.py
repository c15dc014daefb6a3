"""An offline keyword corpus in the Speech Commands layout, spoken by espeak-ng.

Speech Commands cannot be downloaded everywhere, so this writes a stand-in that the
loader in :mod:`bmru_jax.data.speech_commands` reads the same way::

    <out>/<word>/<speaker>_nohash_<n>.wav       1 s, 16 kHz, 16-bit mono
    <out>/validation_list.txt, testing_list.txt
    <out>/_background_noise_/*.wav              60 s of synthetic noise each
    <out>/corpus.json                           the settings; written last

A speaker is an espeak-ng accent plus a voice variant (``en-gb-scotland+f3`` is
``en-gb-scotland-f3`` in file names). Variants set the timbre and pitch, and accents can
sound alike, so splits are drawn by variant: every speaker of a validation or testing
variant is absent from training, whatever the accent.

Each clip: a speaker of its split, a speed (120-220 words per minute), a pitch (20-80),
a peak level (0.1-0.9), a random start in the 1 s window, and a crop of one background
recording (from the split's own time region, as the loader's silence crops) mixed in at
an SNR drawn from ``snr_db``. The draws of a word come from a generator seeded by
``(seed, word index)`` and are made before any audio, so the files are byte-identical
for a seed and do not depend on the number of workers.

Example:
    >>> generate_corpus("corpus", clips_per_word=20)  # doctest: +SKIP
    PosixPath('corpus')
"""

import concurrent.futures
import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from bmru_jax.data import backgrounds
from bmru_jax.data._audio import CLIP_SAMPLES, SAMPLE_RATE, write_pcm16
from bmru_jax.data._espeak import require_espeak, speak
from bmru_jax.data.speech_commands import (
    BACKGROUND_FOLDER,
    BINARY_NEGATIVES,
    BINARY_POSITIVE,
    DIGITS,
    LIST_FILES,
    SPLITS,
    silence_region,
)
from bmru_jax.errors import InputError

KEYWORDS = (BINARY_POSITIVE, *BINARY_NEGATIVES[1:], *DIGITS)
ACCENTS = (
    "en-us",
    "en-us-nyc",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-gb-x-rp",
    "en-029",
)
# Human-sounding espeak-ng variants; robotic and novelty ones are left out, and so are
# klatt6 and caleb, which sound exactly as klatt once the pitch is set.
VARIANTS = (
    *(f"m{n}" for n in range(1, 9)),
    *(f"f{n}" for n in range(1, 6)),
    *(f"klatt{n}" for n in ("", "2", "3", "4")),
    "croak", "whisper", "whisperf", "Alex", "Alicia", "Andrea", "Andy", "Annie",
    "Denis", "Diogo", "Gene", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario",
    "Michael", "Mike", "Nguyen", "Storm", "adam", "anika", "antonio", "aunty",
    "belinda", "benjamin", "boris", "david", "ed", "edward", "grandma",
    "grandpa", "gustave", "iven", "iven2", "iven3", "john", "linda", "max", "michel",
    "miguel", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "sandro",
    "shelby", "steph", "steph2", "steph3", "travis", "victor", "zac",
)  # fmt: skip
# Other Speech Commands words: babble must not contain the keywords themselves.
BABBLE_WORDS = (
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "learn", "follow", "forward", "visual", "backward", "go", "stop", "on", "off",
)  # fmt: skip
SPEED_WPM = (120, 220)
PITCH = (20, 80)
PEAK = (0.1, 0.9)
# Background recordings, and the range of their RMS level (full scale 1).
_NOISES = ("babble", "brown_noise", "fan", "mains_hum", "pink_noise", "white_noise")
_SPECTRAL_EXPONENT = {"white_noise": 0.0, "pink_noise": 1.0, "brown_noise": 2.0}
NOISE_RMS = (0.02, 0.2)
_FORMAT = 1
# Enough "yes" for 2000 binary training positives; the other words need fewer.
DEFAULT_CLIPS = {BINARY_POSITIVE: 2500}
DEFAULT_CLIPS_OTHER = 1000


@dataclasses.dataclass(frozen=True)
class _Clip:
    """Everything needed to render one clip, drawn in advance."""

    word: str
    path: str
    split: str
    voice: str
    speed_wpm: int
    pitch: int
    peak: float
    start: float  # fraction of the free room before the word
    snr_db: float
    noise_index: int
    noise_start: float  # fraction of the free room in the split's noise region


def generate_corpus(
    out_dir: str | Path,
    *,
    seed: int = 0,
    clips_per_word: int | Mapping[str, int] | None = None,
    words: Sequence[str] = KEYWORDS,
    validation_fraction: float = 0.1,
    testing_fraction: float = 0.1,
    snr_db: tuple[float, float] = (5.0, 35.0),
    noise_seconds: float = 60.0,
    workers: int = 4,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write a synthetic keyword corpus to ``out_dir``; returns the folder.

    A folder that already holds a finished corpus with the same settings is returned
    as it is; an interrupted run leaves a folder without ``corpus.json``, which is
    refused (remove it and start again). The default, 2500 clips of "yes" and 1000 of
    each other keyword, 80 % of them for training, gives the binary task 2000 training
    positives and the 11-way task 800 clips of each digit.

    Args:
        out_dir: a new or empty folder.
        seed: fixes every file.
        clips_per_word: clips of each word over all splits: one number for every word,
            a count for each word, or None for 2500 of "yes" and 1000 of the others.
        words: the words to say (default: those of both keyword tasks).
        validation_fraction: share of voice variants (and of each word's clips) for
            validation; likewise ``testing_fraction``.
        snr_db: range of the speech-to-noise ratio, dB.
        noise_seconds: length of each background recording, s (>= 10).
        workers: espeak-ng processes run at once; each waits on a thread, and with
            two cores four keep them busier than two (process start-up is idle time).
        progress: called with 1 after each word clip is written.

    Returns:
        ``Path(out_dir)``.

    Raises:
        InputError: bad settings, or an ``out_dir`` holding something else.
        FileNotFoundError: espeak-ng is not installed.
    """
    settings = _settings(
        seed, clips_per_word, words, validation_fraction, testing_fraction, snr_db,
        noise_seconds,
    )  # fmt: skip
    _check_workers(workers)
    out = Path(out_dir)
    if _finished(out, settings):
        return out
    require_espeak()
    speakers = split_variants(seed, validation_fraction, testing_fraction)
    noises = _write_backgrounds(out, settings, speakers["training"])
    clips = [
        clip for index in range(len(words)) for clip in _plan(settings, index, speakers)
    ]
    _render_all(out, clips, noises, workers, progress)
    _write_lists(out, clips)
    record = {**settings, "variants": speakers}
    (out / "corpus.json").write_text(
        json.dumps(record, indent=1, sort_keys=True) + "\n"
    )
    return out


def split_variants(
    seed: int, validation_fraction: float, testing_fraction: float
) -> dict[str, list[str]]:
    """Voice variants of each split: disjoint, at least one each, sorted.

    Example:
        >>> parts = split_variants(0, 0.1, 0.1)
        >>> sorted(len(parts[name]) for name in parts)
        [7, 7, 60]
    """
    order = np.random.default_rng([seed, 0]).permutation(len(VARIANTS))
    n_validation = max(1, round(len(VARIANTS) * validation_fraction))
    n_testing = max(1, round(len(VARIANTS) * testing_fraction))
    bounds = {
        "validation": (0, n_validation),
        "testing": (n_validation, n_validation + n_testing),
        "training": (n_validation + n_testing, len(VARIANTS)),
    }
    return {
        split: sorted(VARIANTS[index] for index in order[first:end])
        for split, (first, end) in bounds.items()
    }


def speaker_id(voice: str) -> str:
    """The file-name speaker of an espeak-ng voice: ``"en-us+f2"`` -> ``"en-us-f2"``."""
    return voice.replace("+", "-").lower()


def split_counts(
    clips_per_word: int, validation_fraction: float, testing_fraction: float
) -> dict[str, int]:
    """Clips of each word per split; training takes what the other two leave."""
    n_validation = round(clips_per_word * validation_fraction)
    n_testing = round(clips_per_word * testing_fraction)
    return {
        "training": clips_per_word - n_validation - n_testing,
        "validation": n_validation,
        "testing": n_testing,
    }


def _plan(settings: dict, word_index: int, speakers: dict) -> list[_Clip]:
    """Every draw for one word's clips, in split order."""
    word = settings["words"][word_index]
    rng = np.random.default_rng([settings["seed"], 1, word_index])
    counts = split_counts(
        settings["clips_per_word"][word],
        settings["validation_fraction"],
        settings["testing_fraction"],
    )
    clips = []
    for split in SPLITS:
        voices = [
            f"{accent}+{variant}" for variant in speakers[split] for accent in ACCENTS
        ]
        repeats = {voice: 0 for voice in voices}
        for voice_index in _round_robin(len(voices), counts[split], rng):
            voice = voices[voice_index]
            path = f"{word}/{speaker_id(voice)}_nohash_{repeats[voice]}.wav"
            repeats[voice] += 1
            clips.append(_draw_clip(word, path, split, voice, settings["snr_db"], rng))
    return clips


def _round_robin(size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` indices below ``size``: shuffled passes, so usage stays even."""
    passes = -(-count // size)
    orders = [rng.permutation(size) for _ in range(passes)]
    return np.concatenate([np.zeros(0, dtype=np.int64), *orders])[:count]


def _draw_clip(word, path, split, voice, snr_db, rng) -> _Clip:
    return _Clip(
        word=word,
        path=path,
        split=split,
        voice=voice,
        speed_wpm=int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1)),
        pitch=int(rng.integers(PITCH[0], PITCH[1] + 1)),
        peak=float(rng.uniform(*PEAK)),
        start=float(rng.uniform()),
        snr_db=float(rng.uniform(*snr_db)),
        noise_index=int(rng.integers(len(_NOISES))),
        noise_start=float(rng.uniform()),
    )


def _render_all(out, clips, noises, workers, progress) -> None:
    """Render the clips on ``workers`` threads, each waiting on its own espeak-ng."""
    # Threads suffice: the time goes into starting espeak-ng processes, not Python.
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(lambda clip: _render(out, clip, noises), clips):
            if progress is not None:
                progress(1)


def _render(out: Path, clip: _Clip, noises: list[np.ndarray]) -> None:
    """Say the word, place it in the second, mix in noise at the drawn SNR, write it.

    ``noise_gain = rms(speech) / (rms(noise) * 10**(snr_db / 20))``, with the speech
    RMS taken over the trimmed word only.
    """
    speech = speak(clip.word, clip.voice, speed_wpm=clip.speed_wpm, pitch=clip.pitch)
    speech = speech[:CLIP_SAMPLES]
    speech = speech * (clip.peak / max(float(np.abs(speech).max()), 1e-9))
    first = int(clip.start * (CLIP_SAMPLES - len(speech)))
    signal = np.zeros(CLIP_SAMPLES)
    signal[first : first + len(speech)] = speech
    noise = _noise_crop(noises[clip.noise_index], clip.split, clip.noise_start)
    noise_gain = _rms(speech) / (_rms(noise) * 10 ** (clip.snr_db / 20))
    write_pcm16(out / clip.path, signal + noise_gain * noise)


def _noise_crop(noise: np.ndarray, split: str, fraction: float) -> np.ndarray:
    first, end = silence_region(len(noise), split)
    offset = first + int(fraction * (end - first - CLIP_SAMPLES))
    return noise[offset : offset + CLIP_SAMPLES]


def _rms(signal: np.ndarray) -> float:
    return max(float(np.sqrt(np.mean(np.square(signal, dtype=np.float64)))), 1e-9)


def _write_backgrounds(out: Path, settings: dict, training_variants: list[str]) -> list:
    """Write the background recordings; returns them as read back (16-bit rounded)."""
    import soundfile

    samples = int(settings["noise_seconds"] * SAMPLE_RATE)
    seed = settings["seed"]
    recordings = []
    for index, name in enumerate(_NOISES):
        rng = np.random.default_rng([seed, 2, index])
        level = rng.uniform(*NOISE_RMS)
        path = out / BACKGROUND_FOLDER / f"{name}.wav"
        write_pcm16(
            path, level * _make_noise(name, samples, rng, seed, training_variants)
        )
        recordings.append(soundfile.read(str(path), dtype="float32")[0])
    return recordings


def _make_noise(name, samples, rng, seed, variants) -> np.ndarray:
    if name in _SPECTRAL_EXPONENT:
        return backgrounds.coloured_noise(samples, _SPECTRAL_EXPONENT[name], rng)
    if name == "mains_hum":
        return backgrounds.mains_hum(samples, rng)
    if name == "fan":
        return backgrounds.fan_noise(samples, rng)
    return backgrounds.babble(samples, rng, lambda index: _utter(seed, index, variants))


def _utter(seed: int, index: int, variants: list[str]) -> np.ndarray:
    """The ``index``-th babble phrase: 3-5 non-keywords by a training voice."""
    rng = np.random.default_rng([seed, 3, index])
    text = " ".join(rng.choice(BABBLE_WORDS, size=int(rng.integers(3, 6))))
    voice = f"{rng.choice(ACCENTS)}+{rng.choice(variants)}"
    speed_wpm = int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1))
    pitch = int(rng.integers(PITCH[0], PITCH[1] + 1))
    phrase = speak(text, voice, speed_wpm=speed_wpm, pitch=pitch)
    return phrase / max(float(np.abs(phrase).max()), 1e-9)


def _write_lists(out: Path, clips: list[_Clip]) -> None:
    for split, name in LIST_FILES.items():
        lines = sorted(clip.path for clip in clips if clip.split == split)
        (out / name).write_text("".join(f"{line}\n" for line in lines))


def _finished(out: Path, settings: dict) -> bool:
    """True for a finished corpus with these settings; raise for anything else there."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise InputError(f"{out}: out_dir exists and is not a folder")
    record_path = out / "corpus.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        record.pop("variants", None)
        if record == settings:
            return True
        raise InputError(f"{out}: holds a corpus made with other settings")
    if any(out.iterdir()):
        raise InputError(f"{out}: out_dir is not empty and holds no finished corpus")
    return False


def _settings(
    seed, clips_per_word, words, validation_fraction, testing_fraction, snr_db,
    noise_seconds,
) -> dict:  # fmt: skip
    """Check the settings; returns them as the JSON record of ``corpus.json``."""
    _check_integer("seed", seed, minimum=0)
    _check_words(words)
    counts = _clip_counts(clips_per_word, words)
    for name, value in (
        ("validation_fraction", validation_fraction),
        ("testing_fraction", testing_fraction),
    ):
        if not 0.0 < value < 0.5:
            raise InputError(f"{name}: must be in (0, 0.5), got {value!r}")
    low, high = (float(value) for value in snr_db)
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise InputError(
            f"snr_db: must be finite (low, high) with low <= high, got {snr_db!r}"
        )
    if not _regions_fit(noise_seconds):
        raise InputError(
            f"noise_seconds: too short for a 1 s crop in each split's region "
            f"(10 s at least), got {noise_seconds!r}"
        )
    return {
        "format": _FORMAT,
        "seed": int(seed),
        "clips_per_word": counts,
        "words": list(words),
        "validation_fraction": float(validation_fraction),
        "testing_fraction": float(testing_fraction),
        "snr_db": [low, high],
        "noise_seconds": float(noise_seconds),
    }


def _regions_fit(noise_seconds) -> bool:
    """Whether every split's region of a recording this long holds a 1 s crop."""
    if not np.isfinite(noise_seconds):
        return False
    frames = int(noise_seconds * SAMPLE_RATE)
    regions = (silence_region(frames, split) for split in SPLITS)
    return all(end - first >= CLIP_SAMPLES for first, end in regions)


def _clip_counts(clips_per_word, words) -> dict[str, int]:
    """``clips_per_word`` as a count for each word, checked."""
    if clips_per_word is None:
        clips_per_word = {
            word: DEFAULT_CLIPS.get(word, DEFAULT_CLIPS_OTHER) for word in words
        }
    if isinstance(clips_per_word, Mapping):
        missing = [word for word in words if word not in clips_per_word]
        if missing:
            raise InputError(f"clips_per_word: no count for word {missing[0]!r}")
        counts = {word: clips_per_word[word] for word in words}
    else:
        counts = {word: clips_per_word for word in words}
    for value in counts.values():
        _check_integer("clips_per_word", value, minimum=1)
    return {word: int(value) for word, value in counts.items()}


def total_clips(
    clips_per_word: int | Mapping[str, int] | None = None,
    words: Sequence[str] = KEYWORDS,
) -> int:
    """How many word clips :func:`generate_corpus` writes (what ``progress`` counts).

    Example:
        >>> total_clips()
        17500
    """
    _check_words(words)
    return sum(_clip_counts(clips_per_word, words).values())


def _check_integer(name: str, value, *, minimum: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < minimum
    ):
        raise InputError(f"{name}: must be an integer >= {minimum}, got {value!r}")


def _check_words(words: Sequence[str]) -> None:
    if isinstance(words, str) or len(words) == 0:
        raise InputError(f"words: must be a non-empty list of words, got {words!r}")
    for word in words:
        if not (
            isinstance(word, str)
            and word.isascii()
            and word.isalpha()
            and word.islower()
        ):
            raise InputError(
                f"words: each must be lower-case letters a-z, got {word!r}"
            )
    if len(set(words)) != len(words):
        raise InputError(f"words: must not repeat, got {list(words)!r}")


def _check_workers(workers) -> None:
    _check_integer("workers", workers, minimum=1)
