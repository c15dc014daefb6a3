"""Where chunks are evaluated: in this process, or as tasks on a Dask cluster.

Either way the process that runs the campaign is the only one that writes the store:
a backend only turns chunks into measures. A Dask worker receives the campaign's
inputs once (scattered to every worker), compiles the chunk function once, and keeps
it for every chunk it is given, so the numbers are those of the in-process run.

Dask is an optional extra (``pip install bmru-jax[dask]``).
"""

import contextlib
import dataclasses
from collections.abc import Iterator

from bmru_jax.campaign.config import CampaignConfig
from bmru_jax.campaign.evaluate import ChunkEvaluator, Nominal
from bmru_jax.campaign.inputs import CampaignInputs
from bmru_jax.campaign.plan import Chunk
from bmru_jax.errors import InputError

# Chunk functions compiled in this (worker) process, by config hash and chunk size.
_EVALUATORS: dict[tuple[str, int], ChunkEvaluator] = {}


@dataclasses.dataclass(frozen=True)
class Work:
    """Everything a chunk evaluation needs, shipped once to each worker."""

    config_hash: str
    config: CampaignConfig
    inputs: CampaignInputs
    nominal: Nominal


def evaluator_for(work: Work) -> tuple[ChunkEvaluator, float]:
    """This process's compiled evaluator of ``work``, and the seconds compiling took."""
    name = (work.config_hash, work.config.campaign.chunk_size)
    if name in _EVALUATORS:
        return _EVALUATORS[name], 0.0
    evaluator = ChunkEvaluator(work.config, work.inputs, work.nominal)
    seconds = evaluator.compile()
    _EVALUATORS.clear()  # one campaign at a time: do not hoard compiled functions
    _EVALUATORS[name] = evaluator
    return evaluator, seconds


class InProcess:
    """Evaluate chunks one after another in this process."""

    def __init__(self, work: Work):
        self._evaluator, self.compile_seconds = evaluator_for(work)

    def evaluate(self, chunks: list[Chunk]) -> Iterator[tuple[Chunk, dict]]:
        """Yield each chunk with its measures, in order."""
        for chunk in chunks:
            yield chunk, self._evaluator(chunk.levels, chunk.dies)


class OnDask:
    """Evaluate chunks as tasks on a Dask cluster; results come back as they finish.

    Every worker compiles the chunk function before the first chunk is timed, so
    ``compile_seconds`` (the slowest worker's) is kept apart from the evaluation.
    """

    def __init__(self, client, work: Work):
        self._client = client
        self._work = client.scatter(work, broadcast=True)
        workers = list(client.scheduler_info()["workers"])
        if not workers:
            raise InputError("scheduler: the Dask cluster has no workers")
        warm = [
            client.submit(_compile, self._work, workers=[w], pure=False)
            for w in workers
        ]
        self.compile_seconds = max(client.gather(warm))

    def evaluate(self, chunks: list[Chunk]) -> Iterator[tuple[Chunk, dict]]:
        """Yield each chunk with its measures, in the order they finish."""
        from distributed import as_completed

        futures = {
            self._client.submit(
                _evaluate, self._work, chunk.levels, chunk.dies, pure=False
            ): chunk
            for chunk in chunks
        }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            self._client.cancel(list(futures))


def _compile(work: Work) -> float:
    return evaluator_for(work)[1]


def _evaluate(work: Work, levels, dies) -> dict:
    return evaluator_for(work)[0](levels, dies)


def require_dask() -> None:
    """Raise a one-line :class:`InputError` when the Dask extra is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise InputError(
            "--workers/--scheduler: need Dask; install it with pip install "
            "'bmru-jax[dask]'"
        ) from None


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator:
    """A client of ``scheduler``, of a new local cluster of ``workers`` processes, or
    None when both are None (evaluate in this process).

    The local cluster runs one thread per worker process (JAX runs its own threads)
    and is shut down on exit.

    Raises:
        InputError: ``scheduler`` is not an address, or no scheduler answers there.
    """
    if workers is None and scheduler is None:
        yield None
        return
    require_dask()
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with _scheduler_client(Client, scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _scheduler_client(client_type, scheduler: str):
    try:
        return client_type(scheduler, timeout=10)
    except ValueError as error:  # a malformed address, e.g. without a port
        raise InputError(
            f"scheduler: {scheduler!r} is not a Dask scheduler address such as "
            f"tcp://host:8786 ({error})"
        ) from None
    except OSError as error:  # includes timing out
        raise InputError(f"scheduler: cannot reach {scheduler} ({error})") from None
