"""Checkpoints: a JSON of everything needed to rebuild, and the arrays it names.

A checkpoint is two files in one folder:

    <name>.json                  model spec, feature and data settings, training
                                 settings and state, package version, and the name and
                                 SHA-256 of the leaves file
    <name>-<sha256[:16]>.eqx     the arrays (``eqx.tree_serialise_leaves``)

The JSON is the entry point and the commit: the leaves are written first under their
own content-derived name, then the JSON is written to a temporary file and renamed
over the old one (``os.replace``, atomic on POSIX), and only then is the previous
leaves file removed. A write interrupted at any point leaves the previous checkpoint
whole. Loading rebuilds a skeleton model from the JSON, reads the leaves into it and
checks the hash, so a file that does not fit its JSON is refused with an
:class:`~bmru_jax.errors.InputError` naming it.
"""

import dataclasses
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from bmru_jax.errors import InputError
from bmru_jax.models import HardwareBackbone, ResidualStack

FORMAT = "bmru-jax-checkpoint"
FORMAT_VERSION = 1
MODEL_KINDS = ("backbone", "mingru", "lru")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Which network, and its sizes: enough to rebuild it before loading arrays.

    Attributes:
        kind: ``"backbone"`` (:class:`~bmru_jax.models.HardwareBackbone`), or
            ``"mingru"`` / ``"lru"`` (:class:`~bmru_jax.models.ResidualStack`).
        width: model width ``d`` (state size of every layer).
        n_layers: recurrent layers.
        n_classes: output classes.
        n_features: features per frame (13 MFCCs).

    Example:
        >>> import jax
        >>> ModelSpec("backbone", width=4).build(key=jax.random.key(0)).width
        4
    """

    kind: str = "backbone"
    width: int = 4
    n_layers: int = 2
    n_classes: int = 2
    n_features: int = 13

    def __post_init__(self):
        if self.kind not in MODEL_KINDS:
            raise InputError(f"model: must be one of {MODEL_KINDS}, got {self.kind!r}")
        for name in ("width", "n_layers", "n_classes", "n_features"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name}: must be a positive integer, got {value!r}")

    def build(self, *, key) -> eqx.Module:
        """A freshly initialised model of this spec."""
        sizes = dict(
            n_features=self.n_features,
            width=self.width,
            n_layers=self.n_layers,
            n_classes=self.n_classes,
        )
        if self.kind == "backbone":
            model = HardwareBackbone(**sizes, key=key)
        else:
            model = ResidualStack(self.kind, **sizes, key=key)
        return _strongly_typed(model)


def _strongly_typed(model: eqx.Module) -> eqx.Module:
    """``model`` with every weakly typed array (from ``jnp.full``) made float32.

    After one optimiser update the leaves are strongly typed; a weak leaf at step 0
    would make the jitted step compile twice.
    """

    def strong(leaf):
        if eqx.is_array(leaf) and leaf.weak_type:
            return jnp.asarray(leaf, dtype=leaf.dtype)
        return leaf

    return jax.tree.map(strong, model)


def package_version() -> str:
    """The installed bmru_jax version, recorded in every checkpoint."""
    from bmru_jax import __version__

    return __version__


def save_checkpoint(path: str | Path, tree: Any, metadata: dict) -> Path:
    """Write ``tree``'s arrays and ``metadata`` atomically as checkpoint ``path``.

    Args:
        path: the JSON file to write, e.g. ``run/best.json``.
        tree: a pytree of arrays (a model, or ``(model, optimizer state)``).
        metadata: JSON-serialisable settings; ``format``, ``format_version``,
            ``package_version`` and ``leaves`` are added.

    Returns:
        The path of the JSON.
    """
    path = Path(path)
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, tree)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    leaves_name = f"{path.stem}-{digest[:16]}.eqx"
    previous = _previous_leaves(path)
    _atomic_write(path.parent / leaves_name, data)
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        **metadata,
        "leaves": {"file": leaves_name, "sha256": digest},
    }
    _atomic_write(path, (json.dumps(record, indent=2) + "\n").encode())
    if previous is not None and previous != leaves_name:
        (path.parent / previous).unlink(missing_ok=True)
    return path


def _previous_leaves(path: Path) -> str | None:
    """The leaves file the current JSON at ``path`` names, if it is readable."""
    try:
        return json.loads(path.read_text())["leaves"]["file"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
    )
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # temporary files start owner-only
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def read_metadata(path: str | Path) -> dict:
    """The JSON of checkpoint ``path``, checked for format and version.

    Raises:
        InputError: not a bmru_jax checkpoint, or a newer format.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise InputError(f"{path}: not a bmru-jax checkpoint (no format {FORMAT!r})")
    if record.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{path}: checkpoint format_version {record.get('format_version')!r} "
            f"is not supported (this bmru-jax reads {FORMAT_VERSION})"
        )
    for field in ("model", "leaves"):
        if not isinstance(record.get(field), dict):
            raise InputError(f"{path}: field {field!r} missing or not an object")
    return record


def model_spec(path: str | Path, record: dict) -> ModelSpec:
    """The :class:`ModelSpec` stored in a checkpoint's JSON, naming the file if bad."""
    try:
        return ModelSpec(**record["model"])
    except TypeError as error:
        raise InputError(f"{path}: model: {error}") from None
    except InputError as error:
        raise InputError(f"{path}: {error}") from None


def load_leaves(path: str | Path, like: Any) -> Any:
    """Read the arrays of checkpoint ``path`` into the skeleton pytree ``like``.

    Raises:
        InputError: the leaves file is missing, does not match its hash, or holds
            arrays of other shapes or structure than ``like``.
    """
    path = Path(path)
    record = read_metadata(path)
    leaves = path.parent / str(record["leaves"].get("file"))
    if not leaves.is_file():
        raise InputError(f"{path}: its leaves file {leaves.name} is missing")
    data = leaves.read_bytes()
    if hashlib.sha256(data).hexdigest() != record["leaves"].get("sha256"):
        raise InputError(f"{leaves}: does not match the SHA-256 recorded in {path}")
    try:
        return eqx.tree_deserialise_leaves(io.BytesIO(data), like)
    except (RuntimeError, ValueError, TypeError, EOFError) as error:
        message = " ".join(str(error).split())[:200]
        raise InputError(f"{leaves}: arrays do not fit {path} ({message})") from None


def load_model(path: str | Path) -> eqx.Module:
    """Load a trained model from a checkpoint JSON or a run folder.

    A run folder means its ``best.json`` (the best validation loss at ``eps = 0``).

    Args:
        path: ``<name>.json``, or a run folder written by ``bmru-jax train``.

    Returns:
        The model (:class:`~bmru_jax.models.HardwareBackbone` or
        :class:`~bmru_jax.models.ResidualStack`), ready to run at ``eps = 0``.

    Raises:
        InputError: the files are not a compatible checkpoint (message names them).
        FileNotFoundError: no checkpoint there.

    Example:
        >>> from bmru_jax.assets import bundled_model_path
        >>> load_model(bundled_model_path("kws-d4")).width
        4
    """
    path = resolve_checkpoint(path)
    record = read_metadata(path)
    if record.get("contents") != "model":
        raise InputError(
            f"{path}: holds {record.get('contents')!r}, not a model; "
            "load the run's best.json"
        )
    skeleton = model_spec(path, record).build(key=jax.random.key(0))
    return load_leaves(path, skeleton)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint JSON path from a JSON path or a run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.json"
    if not path.is_file():
        raise FileNotFoundError(2, "No such checkpoint", str(path))
    return path
