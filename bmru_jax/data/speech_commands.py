"""Google Speech Commands (v0.02 layout) read from disk, as the two keyword tasks.

The layout::

    <root>/<word>/<speaker>_nohash_<n>.wav     1 s or shorter, 16 kHz mono
    <root>/validation_list.txt                 one "<word>/<file>.wav" per line
    <root>/testing_list.txt
    <root>/_background_noise_/*.wav            long recordings, source of "silence"

Training is every clip of a word folder named in neither list. The tasks:

- ``"binary"``: "yes" (label 1) against as many negatives (label 0), shared as evenly
  as the folder allows between silence, "no", "up", "down", "left" and "right". At most
  4000 positives for training and 500 for validation and testing, unless
  ``max_per_class`` says otherwise.
- ``"keywords11"``: silence (label 0) and "zero" ... "nine" (labels 1-10), every clip of
  the split (or ``max_per_class`` of each), silence as many as the mean digit class.

Silence is a 1 s crop of a background recording. Each recording is cut in time into
three regions, the first 80 % for training, the next 10 % for validation and the last
10 % for testing, and a split takes its crops only from its own region: no stretch of
background audio is heard in two splits.

Example:
    >>> clips = list_clips("speech_commands", "binary", "validation")  # doctest: +SKIP
    >>> waveforms = load_waveforms(clips)  # (len(clips), 16000)  # doctest: +SKIP
"""

import dataclasses
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from jaxtyping import Float, Int

from bmru_jax.data._audio import CLIP_SAMPLES, audio_info, read_clip
from bmru_jax.errors import InputError

SPLITS = ("training", "validation", "testing")
TASKS = ("binary", "keywords11")
BACKGROUND_FOLDER = "_background_noise_"
SILENCE = "_silence_"
LIST_FILES = {"validation": "validation_list.txt", "testing": "testing_list.txt"}

# Share of each background recording's duration given to each split, in time order.
SILENCE_REGIONS = {
    "training": (0.0, 0.8),
    "validation": (0.8, 0.9),
    "testing": (0.9, 1.0),
}

BINARY_POSITIVE = "yes"
BINARY_NEGATIVES = (SILENCE, "no", "up", "down", "left", "right")
BINARY_CAPS = {"training": 4000, "validation": 500, "testing": 500}
DIGITS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)


@dataclasses.dataclass(frozen=True)
class ClipList:
    """The clips of one task and split, in order: where to read each and its label.

    Attributes:
        root: the dataset folder.
        paths: file of each clip, relative to ``root`` (POSIX separators).
        offsets: first sample of each clip in its file; 0 for spoken words, the crop
            start for silence. int64, shape (clips,).
        labels: class index of each clip. int32, shape (clips,).
        class_names: name of each class index.
    """

    root: Path
    paths: tuple[str, ...]
    offsets: Int[np.ndarray, " clips"]
    labels: Int[np.ndarray, " clips"]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.paths)

    def counts(self) -> dict[str, int]:
        """Number of clips of each class, by class name."""
        tally = np.bincount(self.labels, minlength=len(self.class_names))
        return dict(zip(self.class_names, (int(n) for n in tally), strict=True))


def task_words(task: str) -> tuple[str, ...]:
    """The word folders a task reads (silence excluded)."""
    _check_task(task)
    if task == "binary":
        return (BINARY_POSITIVE, *BINARY_NEGATIVES[1:])
    return DIGITS


def list_clips(
    root: str | Path,
    task: str,
    split: str,
    *,
    seed: int = 0,
    max_per_class: int | None = None,
) -> ClipList:
    """Choose the clips of ``task`` for ``split``; the same seed gives the same list.

    Args:
        root: Speech Commands folder (layout in the module docstring).
        task: ``"binary"`` or ``"keywords11"``.
        split: ``"training"``, ``"validation"`` or ``"testing"``.
        seed: draws the capped subsets and the silence crops.
        max_per_class: cap on positives (binary; default 4000 / 500 / 500) or on each
            class (keywords11; default none).

    Returns:
        The :class:`ClipList`, classes in label order, files sorted within a class.

    Raises:
        InputError: unknown task or split, or a folder that breaks the layout.
    """
    root = Path(root)
    _check_task(task)
    _check_split(split)
    _check_layout(root)
    rng = np.random.default_rng([seed, _stable_id(task), _stable_id(split)])
    words = _split_files(root, task_words(task), split)
    backgrounds = _background_regions(root, split)
    if task == "binary":
        cap = BINARY_CAPS[split] if max_per_class is None else max_per_class
        return _binary(root, words, backgrounds, cap, rng)
    return _keywords11(root, words, backgrounds, max_per_class, rng)


def load_waveforms(
    clips: ClipList, *, progress: Callable[[int], None] | None = None
) -> Float[np.ndarray, "clips samples"]:
    """Read every clip as 1 s of 16 kHz mono float32, zero-padded at the end.

    Args:
        clips: from :func:`list_clips`.
        progress: called with 1 after each clip is read.

    Returns:
        float32 array, shape (len(clips), 16000).

    Raises:
        InputError: a file that cannot be read, is not 16 kHz, or is not mono.
    """
    waveforms = np.zeros((len(clips), CLIP_SAMPLES), dtype=np.float32)
    for index, (path, offset) in enumerate(
        zip(clips.paths, clips.offsets, strict=True)
    ):
        waveforms[index] = read_clip(clips.root / path, int(offset))
        if progress is not None:
            progress(1)
    return waveforms


def _binary(root, words, backgrounds, cap, rng) -> ClipList:
    _check_cap(cap)
    positives = _subset(words[BINARY_POSITIVE], cap, rng)
    available = [None] + [len(words[name]) for name in BINARY_NEGATIVES[1:]]
    quotas = balanced_quotas(len(positives), available)
    groups = [positives]
    labels = [np.ones(len(positives), dtype=np.int32)]
    for name, quota in zip(BINARY_NEGATIVES, quotas, strict=True):
        if name == SILENCE:
            group = _silence_crops(backgrounds, quota, rng)
        else:
            group = _subset(words[name], quota, rng)
        groups.append(group)
        labels.append(np.zeros(len(group), dtype=np.int32))
    return _assemble(root, groups, labels, ("other", BINARY_POSITIVE))


def _keywords11(root, words, backgrounds, cap, rng) -> ClipList:
    if cap is not None:
        _check_cap(cap)
    digits = [_subset(words[name], cap, rng) for name in DIGITS]
    n_silence = int(round(np.mean([len(group) for group in digits])))
    groups = [_silence_crops(backgrounds, n_silence, rng), *digits]
    labels = [
        np.full(len(group), label, np.int32) for label, group in enumerate(groups)
    ]
    return _assemble(root, groups, labels, (SILENCE, *DIGITS))


def balanced_quotas(total: int, available: Sequence[int | None]) -> list[int]:
    """Share ``total`` between classes as evenly as their ``available`` counts allow.

    Water filling: a class with fewer clips than its even share gives all it has and the
    rest is shared among the others; ``None`` means unlimited. Earlier classes take the
    remainder of an uneven division, so the result is deterministic.

    Example:
        >>> balanced_quotas(10, [None, 1, 5])
        [5, 1, 4]
    """
    quotas = [0] * len(available)
    room = [np.inf if count is None else count for count in available]
    open_classes = list(range(len(available)))
    remaining = total
    # Each round either places everything or fills at least one class, so it ends.
    while remaining > 0 and open_classes:
        share, extra = divmod(remaining, len(open_classes))
        for rank, index in enumerate(open_classes):
            want = share + (1 if rank < extra else 0)
            take = int(min(want, room[index] - quotas[index]))
            quotas[index] += take
            remaining -= take
        open_classes = [index for index in open_classes if quotas[index] < room[index]]
    return quotas


def _subset(
    files: list[tuple[str, int]], cap: int | None, rng
) -> list[tuple[str, int]]:
    if cap is None or len(files) <= cap:
        return files
    chosen = np.sort(rng.choice(len(files), size=cap, replace=False))
    return [files[index] for index in chosen]


def _silence_crops(backgrounds, count: int, rng) -> list[tuple[str, int]]:
    """``count`` crops: a recording drawn uniformly, then a start in its region."""
    if count == 0:
        return []
    files = rng.integers(len(backgrounds), size=count)
    crops = []
    for file_index in files:
        path, start, stop = backgrounds[file_index]
        crops.append((path, int(rng.integers(start, stop - CLIP_SAMPLES + 1))))
    return sorted(crops)


def _assemble(root, groups, labels, class_names) -> ClipList:
    entries = [entry for group in groups for entry in group]
    return ClipList(
        root=root,
        paths=tuple(path for path, _ in entries),
        offsets=np.array([offset for _, offset in entries], dtype=np.int64),
        labels=np.concatenate(labels).astype(np.int32),
        class_names=class_names,
    )


def _check_layout(root: Path) -> None:
    if not root.is_dir():
        raise InputError(f"{root}: dataset folder does not exist or is not a folder")
    for name in LIST_FILES.values():
        if not (root / name).is_file():
            raise InputError(
                f"{root / name}: missing split list (Speech Commands layout)"
            )
    if not (root / BACKGROUND_FOLDER).is_dir():
        raise InputError(f"{root / BACKGROUND_FOLDER}: missing background-noise folder")


def _split_files(root: Path, words: Sequence[str], split: str) -> dict:
    """Sorted (path, 0) entries of each word folder that belong to ``split``."""
    for word in words:
        if not (root / word).is_dir():
            raise InputError(f"{root / word}: missing word folder that the task needs")
    listed = {name: _read_list(root, name, words) for name in LIST_FILES}
    overlap = listed["validation"] & listed["testing"]
    if overlap:
        raise InputError(
            f"{root}: {min(overlap)} is in both validation and testing lists"
        )
    files = {}
    for word in words:
        on_disk = {f"{word}/{path.name}" for path in (root / word).glob("*.wav")}
        if split == "training":
            chosen = on_disk - listed["validation"] - listed["testing"]
        else:
            chosen = {entry for entry in listed[split] if entry.startswith(f"{word}/")}
        files[word] = [(entry, 0) for entry in sorted(chosen)]
    return files


def _read_list(root: Path, split: str, words: Sequence[str]) -> set[str]:
    """Entries of one split list that name the task's words, each checked on disk."""
    list_path = root / LIST_FILES[split]
    entries = set()
    for number, line in enumerate(list_path.read_text().splitlines(), start=1):
        entry = line.strip()
        if not entry:
            continue
        parts = entry.split("/")
        if len(parts) != 2 or not parts[1].endswith(".wav"):
            raise InputError(
                f"{list_path}: line {number} {entry!r} is not <word>/<file>.wav"
            )
        if parts[0] in words:
            if not (root / entry).is_file():
                raise InputError(
                    f"{list_path}: line {number} names missing file {entry}"
                )
            entries.add(entry)
    return entries


def _background_regions(root: Path, split: str) -> list[tuple[str, int, int]]:
    """(path, first, end) sample range of ``split`` in each long-enough recording."""
    folder = root / BACKGROUND_FOLDER
    recordings = sorted(folder.glob("*.wav"))
    if not recordings:
        raise InputError(f"{folder}: no .wav recordings to crop silence from")
    regions = []
    for path in recordings:
        frames, _ = audio_info(path)
        start, stop = silence_region(frames, split)
        if stop - start >= CLIP_SAMPLES:
            regions.append((f"{BACKGROUND_FOLDER}/{path.name}", start, stop))
    if not regions:
        raise InputError(
            f"{folder}: no recording has a {split} region of 1 s "
            f"(recordings must be at least {_shortest_recording(split)} samples)"
        )
    return regions


def silence_region(frames: int, split: str) -> tuple[int, int]:
    """Samples ``[first, end)`` of a ``frames``-long recording that ``split`` owns."""
    low, high = SILENCE_REGIONS[split]
    return int(low * frames), int(high * frames)


def _shortest_recording(split: str) -> int:
    low, high = SILENCE_REGIONS[split]
    return int(np.ceil(CLIP_SAMPLES / (high - low)))


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise InputError(f"task: must be one of {', '.join(TASKS)}, got {task!r}")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"split: must be one of {', '.join(SPLITS)}, got {split!r}")


def _check_cap(cap: int) -> None:
    if isinstance(cap, bool) or not isinstance(cap, int | np.integer) or cap < 1:
        raise InputError(f"max_per_class: must be a positive integer, got {cap!r}")


def _stable_id(name: str) -> int:
    """A number for a name that does not change between runs (unlike ``hash``)."""
    return zlib.crc32(name.encode())
