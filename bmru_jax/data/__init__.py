"""Keyword-spotting data: Speech Commands from disk, a synthetic corpus, MFCC features.

Needs the ``audio`` extra (librosa, soundfile); the synthetic corpus also needs the
``espeak-ng`` program.
"""

from bmru_jax.data.corpus import KEYWORDS as KEYWORDS
from bmru_jax.data.corpus import generate_corpus as generate_corpus
from bmru_jax.data.features import FeatureSet as FeatureSet
from bmru_jax.data.features import FeatureSettings as FeatureSettings
from bmru_jax.data.features import load_features as load_features
from bmru_jax.data.features import mfcc_features as mfcc_features
from bmru_jax.data.features import normalise as normalise
from bmru_jax.data.features import raw_mfcc as raw_mfcc
from bmru_jax.data.speech_commands import SPLITS as SPLITS
from bmru_jax.data.speech_commands import TASKS as TASKS
from bmru_jax.data.speech_commands import ClipList as ClipList
from bmru_jax.data.speech_commands import list_clips as list_clips
from bmru_jax.data.speech_commands import load_waveforms as load_waveforms

__all__ = [
    "KEYWORDS",
    "SPLITS",
    "TASKS",
    "ClipList",
    "FeatureSet",
    "FeatureSettings",
    "generate_corpus",
    "list_clips",
    "load_features",
    "load_waveforms",
    "mfcc_features",
    "normalise",
    "raw_mfcc",
]
