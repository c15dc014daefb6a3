"""The campaign configuration: a TOML file, checked field by field before anything runs.

A user file is read over the embedded default (``default.toml``, printed by
``bmru-jax campaign --print-default-config``): keys it gives replace the default's,
keys it leaves out keep them. The ``[model]`` and ``[data]`` tables name where things
come from, so when a file gives one of them it replaces that table whole (a ``path``
does not inherit the default's bundled ``name``).

Every bad value raises :class:`~bmru_jax.errors.InputError` naming the field, e.g.
``noise.levels[2]: must be a number in [0.0, 10.0], got 12``; unknown keys and wrong
types are refused the same way.

Example:
    >>> config = parse_config('[campaign]\\ndies = 3')
    >>> config.campaign.dies, config.noise.levels[:3]
    (3, (0.0, 0.5, 1.0))
"""

import dataclasses
import hashlib
import json
import math
import tomllib
from importlib import resources
from pathlib import Path

from bmru_jax._validate import check_positive_int, check_real
from bmru_jax.errors import InputError

# Noise levels are multiples of the measured analog noise (1x: p = 10 % at 3 sigma);
# the published sweep reaches 10x (p = 100 %), beyond which a factor 1 + N(0, p/3)
# is negative often enough that the multiplicative model stops meaning anything.
MAX_NOISE_LEVEL = 10.0
NOISE_MODELS = ("multiplicative", "pelgrom")
CORNERS = ("tt", "ff", "ss", "fs", "sf")
NONIDEALITIES = ("default", "ideal")
OUT_OF_RANGE = ("keep", "clip")
_WHOLE_TABLES = ("model", "data")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Which trained model: a bundled ``name`` or a model file ``path`` (one)."""

    name: str | None = None
    path: str | None = None


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which clips: a features ``.npz`` ``path`` (None: bundled test features).

    ``clips`` keeps only the first clips (None: all).
    """

    path: str | None = None
    clips: int | None = None


@dataclasses.dataclass(frozen=True)
class CircuitConfig:
    """How the model becomes a circuit (``bmru_jax.circuit`` settings).

    ``unit_current_nA`` is nA per model unit, or ``"auto"``: the model's median cell
    at the nominal cell (:func:`bmru_jax.circuit.unit_current_for_nominal_cell`), as
    ``bmru-jax power`` maps it.
    """

    nonidealities: str
    out_of_range: str
    unit_current_nA: float | str


@dataclasses.dataclass(frozen=True)
class TemporalConfig:
    """Temporal noise on the candidate nodes, fresh at every frame.

    ``streams`` independent noise realisations per die and clip; ``scale`` multiplies
    the physical shot-like sigma; ``sigma_nA`` replaces it by a fixed sigma.
    """

    enabled: bool
    scale: float
    streams: int
    sigma_nA: float | None = None
    flicker_rel: float | None = None


@dataclasses.dataclass(frozen=True)
class NoiseConfig:
    """Frozen per-die variation: model, levels (x measured noise), global conditions."""

    model: str
    levels: tuple[float, ...]
    corner: str
    temperature_C: float
    vdd_V: float
    temporal: TemporalConfig


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Dies per level, root seed, (level, die) pairs per compiled call, power on/off."""

    dies: int
    seed: int
    chunk_size: int
    power: bool


@dataclasses.dataclass(frozen=True)
class CampaignConfig:
    """A whole campaign; ``base_dir`` resolves relative paths (the file's folder)."""

    model: ModelConfig
    data: DataConfig
    circuit: CircuitConfig
    noise: NoiseConfig
    campaign: RunConfig
    base_dir: str = "."

    def to_dict(self) -> dict:
        """Plain nested dict of the settings (no ``base_dir``), for JSON and hashing."""
        data = dataclasses.asdict(self)
        del data["base_dir"]
        return data

    def with_chunk_size(self, chunk_size: int) -> "CampaignConfig":
        """A copy with another chunk size (which never changes the results)."""
        chunk_size = check_positive_int("chunk_size", chunk_size)
        run = dataclasses.replace(self.campaign, chunk_size=chunk_size)
        return dataclasses.replace(self, campaign=run)

    def resolve(self, path: str) -> Path:
        """A path of the config, relative to the config file's folder."""
        return Path(self.base_dir) / Path(path).expanduser()


def default_config_text() -> str:
    """The embedded default configuration, as TOML text."""
    return resources.files("bmru_jax.campaign").joinpath("default.toml").read_text()


def default_config() -> CampaignConfig:
    """The embedded default configuration."""
    return parse_config("")


def load_config(path: str | Path) -> CampaignConfig:
    """Read and check a TOML config file (read over the embedded default).

    Raises:
        InputError: the file is missing, is not TOML, or a field is bad.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        raise InputError(f"{path}: cannot read config ({error.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    return parse_config(text, source=str(path), base_dir=str(path.parent))


def parse_config(
    text: str, *, source: str = "config", base_dir: str = "."
) -> CampaignConfig:
    """Check TOML ``text`` read over the embedded default; ``source`` names it."""
    user = _parse_toml(text, source)
    merged = _parse_toml(default_config_text(), "default config")
    for table, value in user.items():
        if table in merged and isinstance(value, dict) and table not in _WHOLE_TABLES:
            merged[table] = _merge(merged[table], value)
        else:
            merged[table] = value
    return _build(merged, base_dir)


def config_hash(config: CampaignConfig, *inputs: bytes) -> str:
    """SHA-256 of everything that decides the results, for refusing a mismatch.

    The chunk size is left out (results do not depend on it); ``inputs`` are digests
    of the model and data actually loaded, so an edited model file at the same path
    is a different campaign.
    """
    settings = config.to_dict()
    del settings["campaign"]["chunk_size"]
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for item in inputs:
        digest.update(item)
    return digest.hexdigest()


def _parse_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{source}: not valid TOML ({error})") from None


def _merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(data: dict, base_dir: str) -> CampaignConfig:
    _known_keys("", data, ("model", "data", "circuit", "noise", "campaign"))
    model = _model(_table(data, "model"))
    data_config = _data(_table(data, "data"))
    circuit = _circuit(_table(data, "circuit"))
    noise = _noise(_table(data, "noise"))
    run = _run(_table(data, "campaign"))
    return CampaignConfig(model, data_config, circuit, noise, run, base_dir)


def _table(data: dict, name: str) -> dict:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise InputError(f"{name}: must be a table, got {_kind(table)}")
    return table


def _known_keys(where: str, table: dict, known: tuple[str, ...]) -> None:
    for key in table:
        if key not in known:
            name = f"{where}.{key}" if where else key
            raise InputError(f"{name}: unknown key (known: {', '.join(known)})")


def _model(table: dict) -> ModelConfig:
    _known_keys("model", table, ("name", "path"))
    if ("name" in table) == ("path" in table):
        raise InputError("model: give exactly one of name (bundled) or path (file)")
    if "name" in table:
        return ModelConfig(name=_string("model.name", table["name"]))
    return ModelConfig(path=_string("model.path", table["path"]))


def _data(table: dict) -> DataConfig:
    _known_keys("data", table, ("path", "clips"))
    path = table.get("path")
    clips = table.get("clips")
    return DataConfig(
        path=None if path is None else _string("data.path", path),
        clips=None if clips is None else check_positive_int("data.clips", clips),
    )


def _circuit(table: dict) -> CircuitConfig:
    _known_keys(
        "circuit", table, tuple(f.name for f in dataclasses.fields(CircuitConfig))
    )
    return CircuitConfig(
        nonidealities=_choice("circuit.nonidealities", table, NONIDEALITIES),
        out_of_range=_choice("circuit.out_of_range", table, OUT_OF_RANGE),
        unit_current_nA=_unit_current(table),
    )


def _unit_current(table: dict) -> float | str:
    name = "circuit.unit_current_nA"
    value = _required(table, "circuit", "unit_current_nA")
    if value == "auto":
        return value
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (is_number and math.isfinite(value) and value > 0):
        raise InputError(f'{name}: must be a positive number or "auto", got {value!r}')
    return float(value)


def _noise(table: dict) -> NoiseConfig:
    _known_keys("noise", table, tuple(f.name for f in dataclasses.fields(NoiseConfig)))
    return NoiseConfig(
        model=_choice("noise.model", table, NOISE_MODELS),
        levels=_levels(_required(table, "noise", "levels")),
        corner=_choice("noise.corner", table, CORNERS),
        temperature_C=check_real(
            "noise.temperature_C",
            _required(table, "noise", "temperature_C"),
            low=-55.0,
            high=150.0,
        ),
        vdd_V=check_real(
            "noise.vdd_V", _required(table, "noise", "vdd_V"), low=1.0, high=3.3
        ),
        temporal=_temporal(_table(table, "temporal") if "temporal" in table else {}),
    )


def _temporal(table: dict) -> TemporalConfig:
    where = "noise.temporal"
    _known_keys(where, table, tuple(f.name for f in dataclasses.fields(TemporalConfig)))
    enabled = _boolean(f"{where}.enabled", _required(table, where, "enabled"))
    streams = check_positive_int(f"{where}.streams", _required(table, where, "streams"))
    if not enabled and streams != 1:
        raise InputError(f"{where}.streams: must be 1 when temporal noise is off")
    optional = {
        name: None
        if table.get(name) is None
        else check_real(f"{where}.{name}", table[name], low=0.0, high=1e3)
        for name in ("sigma_nA", "flicker_rel")
    }
    return TemporalConfig(
        enabled=enabled,
        scale=check_real(
            f"{where}.scale", _required(table, where, "scale"), low=0.0, high=1e3
        ),
        streams=streams,
        **optional,
    )


def _run(table: dict) -> RunConfig:
    _known_keys("campaign", table, tuple(f.name for f in dataclasses.fields(RunConfig)))
    seed = _required(table, "campaign", "seed")
    is_int = isinstance(seed, int) and not isinstance(seed, bool)
    if not is_int or not 0 <= seed < 2**32:
        raise InputError(
            f"campaign.seed: must be an integer in [0, 2**32), got {seed!r}"
        )
    return RunConfig(
        dies=check_positive_int("campaign.dies", _required(table, "campaign", "dies")),
        seed=seed,
        chunk_size=check_positive_int(
            "campaign.chunk_size", _required(table, "campaign", "chunk_size")
        ),
        power=_boolean("campaign.power", _required(table, "campaign", "power")),
    )


def _levels(levels) -> tuple[float, ...]:
    if not isinstance(levels, list) or not levels:
        raise InputError(f"noise.levels: must be a non-empty list, got {_kind(levels)}")
    values = tuple(
        check_real(f"noise.levels[{i}]", level, low=0.0, high=MAX_NOISE_LEVEL)
        for i, level in enumerate(levels)
    )
    for i, level in enumerate(values):
        if level in values[:i]:
            raise InputError(f"noise.levels[{i}]: {level} appears twice")
    return values


def _required(table: dict, where: str, key: str):
    if key not in table:
        raise InputError(f"{where}.{key}: missing")
    return table[key]


def _boolean(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name}: must be true or false, got {value!r}")
    return value


def _string(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name}: must be a non-empty string, got {value!r}")
    return value


def _choice(name: str, table: dict, choices: tuple[str, ...]):
    where, key = name.rsplit(".", 1)
    value = _required(table, where, key)
    if value not in choices:
        raise InputError(f"{name}: must be one of {', '.join(choices)}, got {value!r}")
    return value


def _kind(value) -> str:
    return type(value).__name__
