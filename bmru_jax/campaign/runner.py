"""Run a campaign into a folder: validate, lock, create or resume the store, fill it.

Everything that can be wrong with the input (config, model, data, output folder, a
folder that holds another campaign) is found before the folder is touched. Then, under
the folder's lock, the chunks not yet done are evaluated (in this process or on Dask)
and written one by one; a killed run continues where it stopped when started again
with the same config and folder, and ends with the numbers of an uninterrupted run.
"""

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr

from bmru_jax.campaign import store
from bmru_jax.campaign.backends import (
    InProcess,
    OnDask,
    Work,
    dask_client,
    require_dask,
)
from bmru_jax.campaign.config import CampaignConfig, config_hash
from bmru_jax.campaign.evaluate import Nominal, measures_of, nominal_reference
from bmru_jax.campaign.inputs import CampaignInputs, load_inputs
from bmru_jax.campaign.plan import Chunk, plan_chunks
from bmru_jax.campaign.report import write_report
from bmru_jax.circuit.mismatch import ONE_X_NOISE_P
from bmru_jax.errors import InputError

Progress = Callable[[int], None]


def run_campaign(
    config: CampaignConfig,
    out_dir: str | Path,
    *,
    inputs: CampaignInputs | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Run (or resume) a Monte Carlo noise campaign into ``out_dir``.

    Args:
        config: the campaign (:func:`~bmru_jax.campaign.config.load_config`).
        out_dir: the campaign folder; created if missing, resumed if it holds this
            campaign, refused if it holds another one or another run holds it.
        inputs: the model and clips; loaded from the config when None.
        workers: evaluate on a new local Dask cluster of this many processes.
        scheduler: evaluate on the Dask cluster at this address.
        progress: called with the number of (level, die) pairs done, once before
            the first chunk and after every chunk.

    Returns:
        The summary (also written to ``out_dir/summary.json``).

    Raises:
        InputError: bad input, a mismatched or busy folder, an unreadable store, a
            scheduler that does not answer; nothing is written then.

    Example:
        >>> run_campaign(load_config("tiny.toml"), "runs/tiny")  # doctest: +SKIP
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    if workers is not None and scheduler is not None:
        raise InputError("--workers, --scheduler: give one of them, not both")
    if workers is not None or scheduler is not None:
        require_dask()
    inputs = load_inputs(config) if inputs is None else inputs
    digest = config_hash(config, inputs.digest)
    store.check_out_dir(out_dir)
    if out_dir.exists():
        store.check_same_campaign(store.read_manifest(out_dir), digest, out_dir)
    # Connected before the folder is touched: a wrong address leaves nothing behind.
    with dask_client(workers, scheduler) as client:
        out_dir.mkdir(parents=True, exist_ok=True)
        with store.folder_lock(out_dir):
            manifest = _compute(
                out_dir, config, inputs, digest, client, start, progress
            )
            # Also when nothing was left: a run killed after its last chunk has its
            # timings in the manifest but not yet in the store.
            _finish(out_dir, manifest, workers, scheduler)
    return write_report(out_dir)


def _compute(out_dir, config, inputs, digest, client, start, progress) -> dict:
    """Create or resume the store, evaluate what is not done; returns the manifest."""
    manifest = _resumable_manifest(out_dir, digest)
    nominal = nominal_reference(config, inputs)
    if manifest is None:
        manifest = _create(out_dir, config, inputs, nominal, digest)
    chunks = plan_chunks(store.done_mask(manifest), config.campaign.chunk_size)
    if progress is not None:
        progress(config.campaign.dies * len(config.noise.levels) - _pairs(chunks))
    if chunks:
        backend = _backend(Work(digest, config, inputs, nominal), client)
        manifest["compile_seconds"] = backend.compile_seconds
        _fill(out_dir, manifest, backend, chunks, config, inputs, start, progress)
    return manifest


def _resumable_manifest(out_dir: Path, digest: str) -> dict | None:
    """The manifest of the campaign to resume, or None when the store must be made.

    Checked under the folder's lock, before anything is computed: the manifest is
    of this campaign, and its store is readable. A folder with a manifest and no
    store (killed while creating it) gets its store created again, as long as
    nothing is marked done.
    """
    manifest = store.read_manifest(out_dir)
    store.check_same_campaign(manifest, digest, out_dir)
    if manifest is None:
        return None
    if (out_dir / store.STORE_NAME).is_dir():
        store.check_readable(out_dir)
        return manifest
    if store.done_mask(manifest).any():
        raise InputError(
            f"{out_dir}: {store.MANIFEST_NAME} marks dies done but "
            f"{store.STORE_NAME} is missing; use another --out"
        )
    return None


def _create(out_dir, config, inputs, nominal, digest) -> dict:
    """Write a new manifest (nothing done), then the empty store."""
    manifest = store.new_manifest(
        digest, len(config.noise.levels), config.campaign.dies
    )
    store.write_manifest(out_dir, manifest)
    store.create_store(out_dir, results_template(config, inputs, nominal, digest))
    return manifest


def _backend(work: Work, client) -> InProcess | OnDask:
    return InProcess(work) if client is None else OnDask(client, work)


def _fill(out_dir, manifest, backend, chunks, config, inputs, start, progress):
    """Evaluate and write ``chunks``, marking each done after its data are written."""
    frames_per_pair = config.noise.temporal.streams * inputs.features[..., 0].size
    wall_before = manifest["wall_seconds"]
    compute_before = manifest["compute_seconds"]
    compute_start = time.perf_counter()
    count = int(store.done_mask(manifest).sum())
    for chunk, measures in backend.evaluate(chunks):
        _write_chunk(out_dir, chunk, measures, inputs.labels)
        store.mark_done(manifest, chunk.levels, chunk.dies)
        manifest["network_frames"] += len(chunk) * frames_per_pair
        manifest["compute_seconds"] = compute_before + _since(compute_start)
        manifest["wall_seconds"] = wall_before + _since(start)
        store.write_manifest(out_dir, manifest)
        count += len(chunk)
        if progress is not None:
            progress(count)


def _pairs(chunks: list[Chunk]) -> int:
    return sum(len(chunk) for chunk in chunks)


def _write_chunk(out_dir, chunk: Chunk, measures: dict, labels: np.ndarray) -> None:
    correct = measures["decision"] == labels
    values = dict(measures, accuracy=np.mean(correct, axis=-1, dtype=np.float64))
    for level, dies, positions in chunk.regions():
        region = {
            name: value[positions].astype(_DTYPES[name])
            for name, value in values.items()
        }
        store.write_region(out_dir, level, dies, region)


def _finish(out_dir, manifest, workers, scheduler) -> None:
    store.write_manifest(out_dir, manifest)
    computed = manifest["network_frames"]
    seconds = manifest["compute_seconds"]
    run = {
        "wall_seconds": manifest["wall_seconds"],
        "compute_seconds": seconds,
        "compile_seconds": manifest["compile_seconds"],
        "network_frames": computed,
        "network_frames_per_second": computed / seconds if seconds > 0 else None,
        "backend": _backend_name(workers, scheduler),
        "complete": bool(store.done_mask(manifest).all()),
    }
    store.update_attributes(out_dir, {"run": json.dumps(run)})


def _backend_name(workers, scheduler) -> str:
    if scheduler is not None:
        return f"dask scheduler {scheduler}"
    return "in-process" if workers is None else f"dask local cluster, {workers} workers"


def _since(start: float) -> float:
    return time.perf_counter() - start


_DTYPES = {
    "decision": np.int8,
    "accuracy": np.float32,
    "flips": np.int32,
    "high_level_rel": np.float32,
    "low_level_pA": np.float32,
    "power_nW": np.float32,
}


def results_template(
    config: CampaignConfig, inputs: CampaignInputs, nominal: Nominal, digest: str
) -> xr.Dataset:
    """The store before any die is computed: every variable, coordinate, attribute.

    Dims: ``level`` (noise level, x measured analog noise), ``die``, ``stream``
    (temporal-noise realisation), ``clip``, ``layer``, ``cell``. Variables not yet
    computed hold -1 (integers) or NaN.
    """
    from bmru_jax import __version__

    clips, frames = inputs.features.shape[:2]
    layers, cells = nominal.alpha_nA.shape
    sizes = {
        "level": len(config.noise.levels),
        "die": config.campaign.dies,
        "stream": config.noise.temporal.streams,
        "clip": clips,
        "layer": layers,
        "cell": cells,
    }
    dims = {
        name: ("level", "die") + extra for name, extra in measures_of(config).items()
    }
    dims["accuracy"] = ("level", "die", "stream")
    data_vars = {
        name: (dims[name], _empty([sizes[d] for d in dims[name]], _DTYPES[name]))
        for name in dims
    }
    for name in dims:
        data_vars[name] += (dict(_VARIABLE_ATTRIBUTES[name]),)
    data_vars["flips"][2]["frames_per_cell"] = clips * frames
    data_vars["nominal_decision"] = (("clip",), nominal.decisions.astype(np.int8))
    data_vars["nominal_alpha_nA"] = (("layer", "cell"), nominal.alpha_nA)
    nominal_accuracy = float(np.mean(nominal.decisions == inputs.labels))
    return xr.Dataset(
        data_vars,
        coords=_coordinates(config, inputs, sizes),
        attrs={
            "title": "bmru_jax Monte Carlo noise campaign",
            "config": json.dumps(config.to_dict()),
            "config_hash": digest,
            "root_seed": config.campaign.seed,
            "bmru_jax_version": __version__,
            "frames_per_clip": frames,
            "nominal_accuracy": nominal_accuracy,
            "out_of_range_weights": nominal.out_of_range,
        },
    )


def _empty(shape, dtype) -> np.ndarray:
    return np.full(shape, store.FILL[np.dtype(dtype).name], dtype=dtype)


def _coordinates(config: CampaignConfig, inputs: CampaignInputs, sizes: dict) -> dict:
    levels = np.asarray(config.noise.levels, np.float64)
    coords = {name: np.arange(size) for name, size in sizes.items()}
    coords["layer"] = coords["layer"] + 1
    coords["level"] = (
        "level",
        levels,
        {"long_name": "frozen variation", "units": "x measured analog noise"},
    )
    coords["label"] = ("clip", inputs.labels)
    if config.noise.model == "multiplicative":
        coords["p"] = (
            "level",
            np.round(levels * ONE_X_NOISE_P, 12),
            {"long_name": "multiplicative spread at 3 sigma", "units": "1"},
        )
    return coords


_VARIABLE_ATTRIBUTES = {
    "decision": {"long_name": "clip decision (class index; -1: not computed)"},
    "accuracy": {"long_name": "share of clips classified correctly", "units": "1"},
    "flips": {
        "long_name": "frames whose state differs from the nominal die's, all clips"
    },
    "high_level_rel": {
        "long_name": "mean output over set frames / nominal alpha",
        "units": "1",
    },
    "low_level_pA": {"long_name": "mean output over reset frames", "units": "pA"},
    "power_nW": {
        "long_name": "network power, mean over frames and clips",
        "units": "nW",
    },
}
