"""Throughput of a whole campaign: chunking, store writes and workers included.

Workload (SPEC section 8, scaled): the d = 4 two-layer keyword network with frozen
multiplicative mismatch, every die on every clip of 101 frames, no temporal noise and
no power (the published tools' robustness loop measured the same). The rate is
network-frames per second of the chunk loop, after compilation (reported apart):
one network-frame is one die running one frame of one clip. Measured in this process
and on a local Dask cluster of worker processes (one thread each).

The weights are a randomly initialised model and the clips random features: the
simulation's cost does not depend on their values, and the benchmark needs no asset.
"""

import tempfile
from pathlib import Path

import jax
import numpy as np

from bmru_jax.campaign import CampaignInputs, parse_config, run_campaign
from bmru_jax.models import HardwareBackbone

FRAMES = 101

_WORKLOAD = """
[model]
path = "unused: the inputs are passed in"
[noise]
levels = {levels}
[noise.temporal]
enabled = false
[campaign]
dies = {dies}
chunk_size = {chunk_size}
power = false
"""


def benchmark_campaign(*, quick: bool = False, workers: int = 2, progress=None) -> dict:
    """Run the workload in-process and on ``workers`` Dask processes; return rates.

    Args:
        quick: a small workload (smoke check) instead of 7 levels x 100 dies x 50
            clips (3.5 M network-frames).
        workers: Dask worker processes for the second measurement (0: skip it).
        progress: called with 1 after each measurement.

    Returns:
        ``{"workload": {...}, "in_process": {...}, "dask": {...}}`` where each
        measurement holds ``network_frames_per_second``, ``compile_seconds`` and
        ``wall_seconds`` of the whole run.
    """
    levels, dies, clips = (
        ([0, 3], 10, 10) if quick else ([0, 0.5, 1, 2, 3, 5, 10], 100, 50)
    )
    config = parse_config(
        _WORKLOAD.format(levels=levels, dies=dies, chunk_size=10 if quick else 25)
    )
    inputs = _inputs(clips)
    report = {
        "workload": {
            "levels": len(levels),
            "dies": dies,
            "clips": clips,
            "frames": FRAMES,
            "network_frames": len(levels) * dies * clips * FRAMES,
            "chunk_size": config.campaign.chunk_size,
        }
    }
    runs = {"in_process": None} | ({"dask": workers} if workers else {})
    for name, count in runs.items():
        with tempfile.TemporaryDirectory(prefix="bmru-bench-") as folder:
            summary = run_campaign(
                config, Path(folder) / "run", inputs=inputs, workers=count
            )
        report[name] = {
            key: summary[key]
            for key in ("network_frames_per_second", "compile_seconds", "wall_seconds")
        }
        report[name]["workers"] = count or 0
        if progress is not None:
            progress(1)
    return report


def _inputs(clips: int) -> CampaignInputs:
    rng = np.random.default_rng(0)
    return CampaignInputs(
        model=HardwareBackbone(width=4, key=jax.random.key(0)),
        features=rng.normal(size=(clips, FRAMES, 13)).astype(np.float32),
        labels=rng.integers(0, 2, clips).astype(np.int32),
    )
