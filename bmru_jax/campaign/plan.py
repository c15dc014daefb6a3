"""Chunk planning: which ``(level, die)`` pairs each compiled call evaluates.

The pairs not yet done are taken level by level, die by die, and cut into chunks of
``chunk_size``; a chunk may span two levels (the level is an argument of the compiled
function, not a shape). Since each die's key comes from its indices alone, any cut
gives the same numbers, so a resumed campaign may use another chunk size.

Example:
    >>> done = np.zeros((2, 3), dtype=bool)
    >>> done[0, :2] = True
    >>> [(c.levels.tolist(), c.dies.tolist()) for c in plan_chunks(done, 2)]
    [([0, 1], [2, 0]), ([1, 1], [1, 2])]
"""

import dataclasses

import numpy as np

from bmru_jax._validate import check_positive_int


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One compiled call's pairs ``(levels[i], dies[i])``; int arrays of one length."""

    levels: np.ndarray
    dies: np.ndarray

    def __len__(self) -> int:
        return len(self.levels)

    def regions(self) -> list[tuple[int, slice, slice]]:
        """Contiguous runs ``(level, dies in the store, positions in the chunk)``.

        Example:
            >>> chunk = Chunk(np.array([0, 0, 1]), np.array([4, 5, 0]))
            >>> [(level, dies.start, dies.stop) for level, dies, _ in chunk.regions()]
            [(0, 4, 6), (1, 0, 1)]
        """
        runs, start = [], 0
        for end in range(1, len(self) + 1):
            ends_run = end == len(self) or (
                self.levels[end] != self.levels[start]
                or self.dies[end] != self.dies[end - 1] + 1
            )
            if ends_run:
                first, last = int(self.dies[start]), int(self.dies[end - 1])
                runs.append(
                    (int(self.levels[start]), slice(first, last + 1), slice(start, end))
                )
                start = end
        return runs


def plan_chunks(done: np.ndarray, chunk_size: int) -> list[Chunk]:
    """Cut the pairs not done into chunks of at most ``chunk_size``.

    Args:
        done: which pairs are done, ``(levels, dies)`` bool.
        chunk_size: pairs per chunk.

    Returns:
        The chunks in level-major, die-minor order.
    """
    chunk_size = check_positive_int("chunk_size", chunk_size)
    levels, dies = np.nonzero(~np.asarray(done, dtype=bool))
    return [
        Chunk(levels[start : start + chunk_size], dies[start : start + chunk_size])
        for start in range(0, len(levels), chunk_size)
    ]
