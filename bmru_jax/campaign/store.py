"""The campaign folder: a zarr store written chunk by chunk, a manifest, a lock.

    DIR/results.zarr     xarray Dataset, dims (level, die, stream, clip, layer, cell)
    DIR/manifest.json    config hash and which (level, die) pairs are done
    DIR/.lock            held (fcntl.flock) by the one campaign running on DIR

Durability: the store is created whole (every variable, filled with a "not yet" value,
with its coordinates) under a temporary name and renamed into place; chunks are then
written into their regions (zarr replaces each chunk file atomically), and only after
a chunk's data are written is the manifest, which marks its dies done, replaced
atomically. A campaign killed at any point therefore leaves every die either done with
its data on disk, or not done (and recomputed, to the same numbers, on restart).
"""

import contextlib
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from bmru_jax._validate import check_out_dir as check_out_dir
from bmru_jax.errors import InputError

STORE_NAME = "results.zarr"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".lock"
_MANIFEST_FORMAT = 1

# The value a variable holds until its die is computed.
FILL = {"int8": -1, "int32": -1, "float32": np.nan}


def read_manifest(out_dir: Path) -> dict | None:
    """The folder's manifest, or None when there is none.

    Raises:
        InputError: the manifest is not readable JSON of this format.
    """
    path = out_dir / MANIFEST_NAME
    if not path.exists():
        if (out_dir / STORE_NAME).exists():
            raise InputError(
                f"{out_dir}: holds {STORE_NAME} without {MANIFEST_NAME}; "
                "not a campaign folder this version can resume, use another --out"
            )
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != _MANIFEST_FORMAT:
        raise InputError(
            f"{path}: not a campaign manifest of format {_MANIFEST_FORMAT}"
        )
    return manifest


def check_same_campaign(manifest: dict | None, config_hash: str, out_dir: Path) -> None:
    """Refuse to continue a folder that holds another campaign's results."""
    if manifest is not None and manifest.get("config_hash") != config_hash:
        raise InputError(
            f"{out_dir}: holds a campaign with a different config, model or data "
            f"(config hash {str(manifest.get('config_hash'))[:12]}, this run "
            f"{config_hash[:12]}); use another --out or the same config"
        )


@contextlib.contextmanager
def folder_lock(out_dir: Path) -> Iterator[None]:
    """Hold the folder's lock for the duration; refuse if another campaign holds it.

    ``fcntl.flock`` locks are released by the kernel when the holder dies, so a killed
    campaign never leaves a stale lock behind.
    """
    handle = open(out_dir / LOCK_NAME, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"{out_dir}: another campaign is running on this folder (lock held)"
            ) from None
        yield
    finally:
        handle.close()


def done_mask(manifest: dict) -> np.ndarray:
    """Which (level, die) pairs are done, ``(levels, dies)`` bool."""
    return np.array([[c == "1" for c in row] for row in manifest["done"]], dtype=bool)


def new_manifest(config_hash: str, levels: int, dies: int) -> dict:
    """A manifest with nothing done."""
    return {
        "format": _MANIFEST_FORMAT,
        "config_hash": config_hash,
        "done": ["0" * dies for _ in range(levels)],
        "network_frames": 0,
        "compute_seconds": 0.0,
        "wall_seconds": 0.0,
        "compile_seconds": None,
    }


def mark_done(manifest: dict, levels: np.ndarray, dies: np.ndarray) -> None:
    """Mark pairs done in ``manifest`` (in memory; :func:`write_manifest` saves it)."""
    rows = [list(row) for row in manifest["done"]]
    for level, die in zip(levels.tolist(), dies.tolist()):
        rows[level][die] = "1"
    manifest["done"] = ["".join(row) for row in rows]


def write_manifest(out_dir: Path, manifest: dict) -> None:
    """Replace the manifest atomically (write, flush to disk, rename)."""
    _atomic_write_text(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=1))


def write_json(path: Path, data: dict) -> None:
    """Write a JSON file atomically."""
    _atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def _atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        # os.open honours the umask, as a plain open() would for the final file.
        with os.fdopen(
            os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "w"
        ) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def create_store(out_dir: Path, template: xr.Dataset) -> None:
    """Write ``template`` (every variable and coordinate) as the folder's store.

    Written under a temporary name and renamed, so ``results.zarr`` is either absent
    or complete. Each variable is chunked one level at a time.
    """
    partial = out_dir / f".{STORE_NAME}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    encoding = {
        name: {"chunks": (1,) + variable.shape[1:]}
        for name, variable in template.data_vars.items()
        if variable.dims[:1] == ("level",)
    }
    template.to_zarr(partial, mode="w", encoding=encoding, consolidated=False)
    shutil.rmtree(out_dir / STORE_NAME, ignore_errors=True)
    os.replace(partial, out_dir / STORE_NAME)


def write_region(
    out_dir: Path, level: int, dies: slice, values: dict[str, np.ndarray]
) -> None:
    """Write the values of dies ``dies`` of one level into their region of the store.

    ``values`` maps variable names to arrays whose first axis runs over those dies.
    """
    group = zarr.open_group(out_dir / STORE_NAME, mode="r+")
    for name, value in values.items():
        group[name][level, dies] = value


def update_attributes(out_dir: Path, attributes: dict) -> None:
    """Add or replace attributes of the store."""
    group = zarr.open_group(out_dir / STORE_NAME, mode="r+")
    group.attrs.update(attributes)


def open_results(out_dir: Path) -> xr.Dataset:
    """The folder's results as an xarray Dataset (loaded lazily).

    Raises:
        InputError: the folder holds no results store, or one that cannot be read.
    """
    path = Path(out_dir) / STORE_NAME
    if not path.is_dir():
        raise InputError(f"{out_dir}: no {STORE_NAME} (not a campaign folder)")
    try:
        _read_array_metadata(path)
        return xr.open_zarr(path, consolidated=False)
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"{path}: not a readable results store ({error})") from None


def check_readable(out_dir: Path) -> None:
    """Raise :class:`InputError` unless the folder's store opens (see open_results)."""
    open_results(out_dir).close()


def _read_array_metadata(path: Path) -> None:
    """Read the metadata of every array of the store, one array at a time.

    xarray reads them concurrently on zarr's event loop, and a damaged one then
    leaves the other reads pending, which asyncio reports on stderr at exit.
    """
    group = zarr.open_group(path, mode="r", use_consolidated=False)
    for member in sorted(path.iterdir()):
        if (member / "zarr.json").is_file():
            group[member.name]
