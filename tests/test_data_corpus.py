"""The espeak-ng corpus: reproducible to the byte, voices never shared across splits."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from bmru_jax.cli import main
from bmru_jax.data import generate_corpus, list_clips, load_waveforms
from bmru_jax.data.backgrounds import coloured_noise
from bmru_jax.data.corpus import total_clips
from bmru_jax.errors import InputError

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="needs the espeak-ng program"
)
WORDS = ["yes", "no", "up", "down", "left", "right"]
SMALL = {"words": WORDS, "clips_per_word": 10, "noise_seconds": 10.0}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return generate_corpus(tmp_path_factory.mktemp("corpus") / "c", seed=3, **SMALL)


def test_same_seed_gives_identical_files_whatever_the_workers(corpus, tmp_path):
    again = generate_corpus(tmp_path / "again", seed=3, workers=1, **SMALL)
    assert _files(again) == _files(corpus)


def test_other_seed_gives_other_audio(corpus, tmp_path):
    small = {**SMALL, "clips_per_word": 4}
    other = _files(generate_corpus(tmp_path / "other", seed=4, **small))
    original = _files(corpus)
    shared = [name for name in other if name.endswith(".wav") and name in original]
    assert len(shared) >= 6  # the background recordings at least
    assert all(other[name] != original[name] for name in shared)


def test_layout_counts_and_background_lengths(corpus):
    lists = {
        split: (corpus / f"{split}_list.txt").read_text().split()
        for split in ("validation", "testing")
    }
    for word in SMALL["words"]:
        clips = sorted(path.name for path in (corpus / word).glob("*.wav"))
        assert len(clips) == 10
        assert sum(entry.startswith(f"{word}/") for entry in lists["validation"]) == 1
        assert sum(entry.startswith(f"{word}/") for entry in lists["testing"]) == 1
    noises = sorted((corpus / "_background_noise_").glob("*.wav"))
    assert len(noises) == 6
    for path in noises:
        info = soundfile.info(path)
        assert (info.samplerate, info.frames) == (16_000, 10 * 16_000)


def _speaker(entry: str) -> str:
    return entry.split("/")[1].split("_nohash_")[0]


def test_validation_and_testing_voices_never_in_training(corpus):
    record = json.loads((corpus / "corpus.json").read_text())
    variants = {split: set(names) for split, names in record["variants"].items()}
    assert not variants["training"] & (variants["validation"] | variants["testing"])
    assert not variants["validation"] & variants["testing"]
    listed = {
        split: set((corpus / f"{split}_list.txt").read_text().split())
        for split in ("validation", "testing")
    }
    on_disk = {f"{p.parent.name}/{p.name}" for p in corpus.glob("*/*_nohash_*.wav")}
    listed["training"] = on_disk - listed["validation"] - listed["testing"]
    speakers = {}
    for split, entries in listed.items():
        speakers[split] = {_speaker(entry) for entry in entries}
        for speaker in speakers[split]:
            assert any(speaker.endswith("-" + v.lower()) for v in variants[split])
    assert not speakers["training"] & (speakers["validation"] | speakers["testing"])
    assert not speakers["validation"] & speakers["testing"]


def test_clips_are_one_second_and_carry_a_word(corpus):
    clips = list_clips(corpus, "binary", "testing")
    waveforms = load_waveforms(clips)
    assert waveforms.shape == (len(clips), 16_000)
    speech = waveforms[clips.labels == 1]
    assert np.all(np.abs(speech).max(axis=1) > 0.05)


def test_finished_corpus_is_reused_and_other_contents_refused(corpus, tmp_path):
    before = (corpus / "corpus.json").stat().st_mtime_ns
    assert generate_corpus(corpus, seed=3, **SMALL) == corpus
    assert (corpus / "corpus.json").stat().st_mtime_ns == before
    with pytest.raises(InputError, match="other settings"):
        generate_corpus(corpus, seed=9, **SMALL)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        generate_corpus(tmp_path / "busy", **SMALL)


@pytest.mark.parametrize(
    ("argument", "value", "match"),
    [
        ("clips_per_word", 0, "clips_per_word"),
        ("clips_per_word", {"yes": 3}, "no count for word 'no'"),
        ("words", ["Yes"], "words"),
        ("words", "yes", "words"),
        ("snr_db", (30.0, 5.0), "snr_db"),
        ("noise_seconds", 5.0, "noise_seconds"),
        ("validation_fraction", 0.0, "validation_fraction"),
        ("workers", 0, "workers"),
    ],
)
def test_bad_settings(tmp_path, argument, value, match):
    with pytest.raises(InputError, match=match):
        generate_corpus(tmp_path / "c", **{**SMALL, argument: value})


def test_cli_writes_a_corpus_and_reports_bad_input(tmp_path, capsys):
    out = tmp_path / "cli"
    status = main(
        [
            "corpus",
            "--out",
            str(out),
            "--clips-per-word",
            "2",
            "--words",
            "up",
            "--noise-seconds",
            "10",
        ]
    )
    assert status == 0
    assert str(out) in capsys.readouterr().out
    assert len(list((out / "up").glob("*.wav"))) == 2
    assert main(["corpus", "--out", str(tmp_path / "x"), "--clips-per-word", "0"]) == 2
    assert "clips_per_word" in capsys.readouterr().err


def test_default_counts_favour_the_positive_word():
    assert total_clips(None, WORDS) == 2500 + 5 * 1000
    assert total_clips(4, WORDS) == 24
    assert total_clips({word: 2 for word in WORDS}, WORDS) == 12


def test_coloured_noise_slope():
    """Pink noise: power per octave band constant, i.e. density falls 3 dB/octave."""
    noise = coloured_noise(2**18, 1.0, np.random.default_rng(0))
    power = np.abs(np.fft.rfft(noise)) ** 2
    frequency = np.fft.rfftfreq(len(noise), 1 / 16_000)
    bands = [(125, 250), (500, 1000), (2000, 4000)]
    band_power = [power[(frequency >= a) & (frequency < b)].sum() for a, b in bands]
    # Each band sums thousands of chi-square(2) bins: relative error well under 10 %.
    np.testing.assert_allclose(band_power / np.mean(band_power), 1.0, rtol=0.1)
