"""Campaign config schema, config hash and chunk planning (no simulation)."""

import numpy as np
import pytest

from bmru_jax.campaign import default_config, parse_config, plan_chunks
from bmru_jax.campaign.config import config_hash, load_config
from bmru_jax.campaign.plan import Chunk
from bmru_jax.errors import InputError


def test_default_is_the_published_sweep_on_the_noise_aware_model():
    config = default_config()
    assert config.model.name == "kws-d4-noise-aware"
    assert config.data.path is None
    assert config.noise.model == "multiplicative"
    assert config.noise.levels == (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
    assert config.campaign.dies >= 100
    assert config.noise.temporal.enabled


def test_user_file_overrides_keys_and_keeps_the_rest(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\npath = "m.json"\n[noise]\nlevels = [1, 2]\n')
    config = load_config(path)
    assert config.model.name is None
    assert config.resolve(config.model.path) == tmp_path / "m.json"
    assert config.noise.levels == (1.0, 2.0)
    assert config.noise.corner == "tt"  # kept from the default
    assert config.campaign == default_config().campaign


@pytest.mark.parametrize(
    "text, match",
    [
        ("[noise]\nlevels = [0, 1, 12]", r"^noise\.levels\[2\]: must be a number in"),
        ("[noise]\nlevels = []", r"^noise\.levels: must be a non-empty list"),
        ("[noise]\nlevels = [1, 1]", r"^noise\.levels\[1\]: 1.0 appears twice"),
        ("[noise]\nlevle = 1", r"^noise\.levle: unknown key"),
        ("[campaign]\ndies = 0", r"^campaign\.dies: must be a positive integer"),
        ('[campaign]\ndies = "100"', r"^campaign\.dies: must be a positive integer"),
        ("[campaign]\nchunk_size = -2", r"^campaign\.chunk_size: must be a positive"),
        ("[campaign]\nseed = -1", r"^campaign\.seed: must be an integer"),
        ("[campaign]\npower = 1", r"^campaign\.power: must be true or false"),
        ("[data]\nclips = 0", r"^data\.clips: must be a positive integer"),
        ('[noise]\ncorner = "xx"', r"^noise\.corner: must be one of"),
        ('[noise]\nmodel = "gauss"', r"^noise\.model: must be one of"),
        ("[noise]\ntemperature_C = 400", r"^noise\.temperature_C: must be a number"),
        (
            "[noise.temporal]\nenabled = false\nstreams = 3",
            r"^noise\.temporal\.streams: must be 1 when",
        ),
        ("[noise.temporal]\nscale = -1.0", r"^noise\.temporal\.scale: must be"),
        ('[model]\nname = "a"\npath = "b"', r"^model: give exactly one of"),
        ("[model]\nsize = 4", r"^model\.size: unknown key"),
        ("extra = 1", r"^extra: unknown key"),
        ("circuit = 3", r"^circuit: must be a table"),
        ("[campaign\ndies = 3", r"^config: not valid TOML"),
        ("[circuit]\nunit_current_nA = 0", r"^circuit\.unit_current_nA: must be"),
        ("[circuit]\nunit_current_nA = -1.5", r"^circuit\.unit_current_nA: must be"),
        ("[circuit]\nunit_current_nA = nan", r"^circuit\.unit_current_nA: must be"),
        ("[circuit]\nunit_current_nA = inf", r"^circuit\.unit_current_nA: must be"),
        ("[circuit]\nunit_current_nA = true", r"^circuit\.unit_current_nA: must be"),
        ('[circuit]\nunit_current_nA = "Auto"', r"^circuit\.unit_current_nA: must"),
    ],
)
def test_bad_config_names_the_field(text, match):
    with pytest.raises(InputError, match=match) as caught:
        parse_config(text)
    assert "\n" not in str(caught.value)


def test_unit_current_is_auto_by_default_or_a_positive_number():
    assert default_config().circuit.unit_current_nA == "auto"
    config = parse_config("[circuit]\nunit_current_nA = 2")
    assert config.circuit.unit_current_nA == 2.0
    assert isinstance(config.circuit.unit_current_nA, float)
    assert (
        parse_config("[circuit]\nunit_current_nA = 0.25").circuit.unit_current_nA
        == 0.25
    )
    assert config_hash(config) != config_hash(default_config())


def test_missing_config_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="nope.toml: cannot read config"):
        load_config(tmp_path / "nope.toml")


def test_config_hash_ignores_chunk_size_but_not_dies_or_inputs():
    config = parse_config("[campaign]\ndies = 4\nchunk_size = 2")
    same = config.with_chunk_size(3)
    other = parse_config("[campaign]\ndies = 5\nchunk_size = 2")
    assert config_hash(config, b"m") == config_hash(same, b"m")
    assert config_hash(config, b"m") != config_hash(other, b"m")
    assert config_hash(config, b"m") != config_hash(config, b"n")


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 50])
def test_chunks_cover_every_pending_pair_once(chunk_size):
    done = np.random.default_rng(chunk_size).random((3, 7)) < 0.3
    chunks = plan_chunks(done, chunk_size)
    pairs = [(int(lv), int(d)) for c in chunks for lv, d in zip(c.levels, c.dies)]
    expected = [(lv, d) for lv in range(3) for d in range(7) if not done[lv, d]]
    assert pairs == expected
    assert all(0 < len(c) <= chunk_size for c in chunks)


def test_regions_split_a_chunk_into_contiguous_runs_per_level():
    chunk = Chunk(np.array([0, 0, 0, 1, 1]), np.array([5, 6, 8, 0, 1]))
    runs = [(lv, d.start, d.stop, p.start, p.stop) for lv, d, p in chunk.regions()]
    assert runs == [(0, 5, 7, 0, 2), (0, 8, 9, 2, 3), (1, 0, 2, 3, 5)]
