"""The Speech Commands loader on a small folder written in the same layout."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

from bmru_jax.data import list_clips, load_waveforms
from bmru_jax.data.speech_commands import (
    BINARY_NEGATIVES,
    DIGITS,
    SILENCE_REGIONS,
    balanced_quotas,
)
from bmru_jax.errors import InputError

RATE = 16_000
WORDS = ("yes", *BINARY_NEGATIVES[1:], *DIGITS)
SPEAKERS = {
    "aa00": "training",
    "bb11": "training",
    "cc22": "validation",
    "dd33": "testing",
}
REPEATS = 3
BACKGROUND_SAMPLES = 30 * RATE


def _write_folder(root: Path) -> None:
    """Every word: 4 speakers x 3 repeats; lengths 0.5-1.2 s; two 30 s backgrounds."""
    rng = np.random.default_rng(123)
    lists = {"validation": [], "testing": []}
    for word in WORDS:
        (root / word).mkdir(parents=True)
        for speaker, split in SPEAKERS.items():
            for n in range(REPEATS):
                name = f"{word}/{speaker}_nohash_{n}.wav"
                length = int(rng.integers(RATE // 2, RATE * 6 // 5))
                audio = 0.3 * rng.uniform(-1, 1, length)
                soundfile.write(root / name, audio, RATE, subtype="PCM_16")
                if split != "training":
                    lists[split].append(name)
    for split, entries in lists.items():
        (root / f"{split}_list.txt").write_text("\n".join(entries) + "\n")
    (root / "_background_noise_").mkdir()
    for name in ("hum", "noise"):
        audio = 0.1 * rng.standard_normal(BACKGROUND_SAMPLES)
        soundfile.write(root / "_background_noise_" / f"{name}.wav", audio, RATE)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("speech_commands")
    _write_folder(folder)
    return folder


def _files_of(split: str, word: str) -> set[str]:
    return {
        f"{word}/{speaker}_nohash_{n}.wav"
        for speaker, owner in SPEAKERS.items()
        if owner == split
        for n in range(REPEATS)
    }


@pytest.mark.parametrize("split", ["training", "validation", "testing"])
def test_binary_split_follows_the_lists(root, split):
    clips = list_clips(root, "binary", split)
    positives = {p for p, label in zip(clips.paths, clips.labels) if label == 1}
    assert positives == _files_of(split, "yes")
    for path, label in zip(clips.paths, clips.labels, strict=True):
        word = path.split("/")[0]
        if word != "_background_noise_":
            assert path in _files_of(split, word)
            assert label == (word == "yes")


def test_binary_negatives_match_positives_and_spread_over_classes(root):
    clips = list_clips(root, "binary", "training")
    n_positive = int(clips.labels.sum())
    assert n_positive == 6
    assert len(clips) == 2 * n_positive
    words = [path.split("/")[0] for path in clips.paths]
    for name in ("no", "up", "down", "left", "right"):
        assert words.count(name) == 1
    assert words.count("_background_noise_") == 1
    assert clips.class_names == ("other", "yes")
    assert clips.counts() == {"other": 6, "yes": 6}


def test_cap_limits_positives_and_depends_on_seed(root):
    subsets = set()
    for seed in range(6):
        clips = list_clips(root, "binary", "training", seed=seed, max_per_class=4)
        positives = [p for p, label in zip(clips.paths, clips.labels) if label == 1]
        assert len(positives) == 4 and len(clips) == 8
        assert set(positives) <= _files_of("training", "yes")
        subsets.add(tuple(positives))
    assert len(subsets) > 1


def test_same_seed_same_list(root):
    first = list_clips(root, "keywords11", "validation", seed=7)
    second = list_clips(root, "keywords11", "validation", seed=7)
    assert first.paths == second.paths
    np.testing.assert_array_equal(first.offsets, second.offsets)
    np.testing.assert_array_equal(first.labels, second.labels)


def test_keywords11_classes_and_silence_count(root):
    clips = list_clips(root, "keywords11", "training")
    assert clips.class_names == ("_silence_", *DIGITS)
    counts = clips.counts()
    assert all(counts[digit] == 2 * REPEATS for digit in DIGITS)
    assert counts["_silence_"] == 2 * REPEATS  # the mean digit class
    for path, label in zip(clips.paths, clips.labels, strict=True):
        expected = "_background_noise_" if label == 0 else DIGITS[label - 1]
        assert path.split("/")[0] == expected


@pytest.mark.parametrize("split", ["training", "validation", "testing"])
def test_silence_crops_stay_in_their_split_region(root, split):
    clips = list_clips(root, "keywords11", split, seed=3)
    low, high = SILENCE_REGIONS[split]
    crops = [
        (path, offset)
        for path, offset, label in zip(clips.paths, clips.offsets, clips.labels)
        if label == 0
    ]
    assert len(crops) > 0
    for _, offset in crops:
        assert low * BACKGROUND_SAMPLES <= offset
        assert offset + RATE <= high * BACKGROUND_SAMPLES


def test_waveforms_are_one_second_crops_and_padded_clips(root):
    clips = list_clips(root, "binary", "testing")
    calls = []
    waveforms = load_waveforms(clips, progress=calls.append)
    assert waveforms.shape == (len(clips), RATE) and waveforms.dtype == np.float32
    assert calls == [1] * len(clips)
    for index, (path, offset) in enumerate(zip(clips.paths, clips.offsets)):
        audio, _ = soundfile.read(root / path, dtype="float32")
        expected = np.zeros(RATE, np.float32)
        piece = audio[offset : offset + RATE]
        expected[: len(piece)] = piece
        np.testing.assert_array_equal(waveforms[index], expected)


def test_balanced_quotas_by_hand():
    assert balanced_quotas(10, [None, 1, 5]) == [5, 1, 4]
    assert balanced_quotas(7, [None, None, None]) == [3, 2, 2]
    assert balanced_quotas(12, [None, 2, 2, 2, 2, 2]) == [2, 2, 2, 2, 2, 2]
    assert balanced_quotas(5, [1, 1]) == [1, 1]


@pytest.mark.parametrize(
    ("task", "split", "cap", "match"),
    [
        ("ternary", "training", None, "task"),
        ("binary", "train", None, "split"),
        ("binary", "training", 0, "max_per_class"),
    ],
)
def test_bad_arguments(root, task, split, cap, match):
    with pytest.raises(InputError, match=match):
        list_clips(root, task, split, max_per_class=cap)


def _broken_copy(root: Path, tmp_path: Path) -> Path:
    """A copy holding only what the binary task reads (links to the audio)."""
    copy = tmp_path / "copy"
    copy.mkdir()
    for entry in root.iterdir():
        if entry.name in (*DIGITS, ".bmru_cache"):
            continue
        target = copy / entry.name
        if entry.is_dir():
            target.mkdir()
            for file in entry.iterdir():
                (target / file.name).symlink_to(file)
        else:
            target.write_text(entry.read_text())
    return copy


def test_missing_folder_and_split_list(root, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        list_clips(tmp_path / "nowhere", "binary", "training")
    copy = _broken_copy(root, tmp_path)
    (copy / "testing_list.txt").unlink()
    with pytest.raises(InputError, match="testing_list.txt: missing split list"):
        list_clips(copy, "binary", "training")


def test_missing_word_folder_and_background(root, tmp_path):
    copy = _broken_copy(root, tmp_path)
    with pytest.raises(InputError, match="zero: missing word folder"):
        list_clips(copy, "keywords11", "training")
    for file in (copy / "_background_noise_").iterdir():
        file.unlink()
    with pytest.raises(InputError, match="_background_noise_: no .wav"):
        list_clips(copy, "binary", "training")


def test_bad_list_lines(root, tmp_path):
    copy = _broken_copy(root, tmp_path)
    (copy / "validation_list.txt").write_text("yes/aa00_nohash_0.wav\nnot-a-path\n")
    with pytest.raises(InputError, match="line 2 'not-a-path'"):
        list_clips(copy, "binary", "training")
    (copy / "validation_list.txt").write_text("yes/zz99_nohash_0.wav\n")
    with pytest.raises(InputError, match="line 1 names missing file"):
        list_clips(copy, "binary", "training")


@pytest.mark.parametrize(
    ("rate", "channels", "match"),
    [(22_050, 1, "sample rate 22050 Hz"), (RATE, 2, "2 channels")],
)
def test_wrong_rate_or_channels_rejected(root, tmp_path, rate, channels, match):
    copy = _broken_copy(root, tmp_path)
    path = copy / "yes" / "dd33_nohash_0.wav"
    path.unlink()
    soundfile.write(path, np.zeros((rate // 2, channels)), rate)
    clips = list_clips(copy, "binary", "testing")
    with pytest.raises(InputError, match=f"dd33_nohash_0.wav: {match}"):
        load_waveforms(clips)


def test_unreadable_audio_rejected(root, tmp_path):
    copy = _broken_copy(root, tmp_path)
    path = copy / "yes" / "dd33_nohash_1.wav"
    path.unlink()
    path.write_bytes(b"this is not a wav file")
    clips = list_clips(copy, "binary", "testing")
    with pytest.raises(InputError, match="dd33_nohash_1.wav: unreadable audio"):
        load_waveforms(clips)
