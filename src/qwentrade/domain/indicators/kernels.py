"""Running sums that restart at fixed rows, vectorised (numpy only, no loop over rows):
the building block of the long-series Bollinger Bands (:func:`.formulas.bollinger`).

:func:`segmented_sum` cuts the rows into blocks of 16 and forms each block's running sums
as one 16 x 16 product with an upper-triangular matrix of ones; the value carried into
each block is its run's starting value plus the earlier block ends of the run, added in
row order.
"""

from __future__ import annotations

import functools

import numpy as np

BLOCK = 16
# Blocks per matrix-product call. Products this small stay on one thread: OpenBLAS's
# threading of one large product gains nothing here, and collapses (10-50x slower) when
# the other core is busy.
CHUNK_BLOCKS = 2048


@functools.cache
def _ones() -> np.ndarray:
    """Upper-triangular ones, ``M[i, j] = 1`` for ``j >= i``: one block's running sums."""
    matrix = np.triu(np.ones((BLOCK, BLOCK)))
    matrix.setflags(write=False)
    return matrix


def workspace(size: int) -> np.ndarray:
    """Scratch space :func:`segmented_sum` needs for inputs of up to ``size`` rows."""
    return np.empty(3 * (size // BLOCK) + 3 * BLOCK)


def _products(
    inputs: np.ndarray,
    matrix: np.ndarray,
    carries: np.ndarray,
    out: np.ndarray,
    saved: np.ndarray | None,
) -> None:
    """``out`` block by block: ``(inputs with carries[b] added to block b's first row) @
    matrix``. A last, partial block is padded with zeros and multiplied along with the
    last chunk, so its rows get the same arithmetic as if the block were complete. With
    ``saved`` (scratch of one float per block) the inputs are restored afterwards."""
    size = inputs.shape[0]
    blocks = size // BLOCK
    rest = size - blocks * BLOCK
    rows = inputs[: blocks * BLOCK].reshape(blocks, BLOCK)
    result = out[: blocks * BLOCK].reshape(blocks, BLOCK)
    firsts = rows[:, 0]
    if saved is not None:
        saved[:] = firsts
    firsts += carries[:blocks]
    last_start = (blocks - 1) // CHUNK_BLOCKS * CHUNK_BLOCKS if rest and blocks else blocks
    for start in range(0, last_start, CHUNK_BLOCKS):
        stop = min(start + CHUNK_BLOCKS, last_start)
        np.matmul(rows[start:stop], matrix, out=result[start:stop])
    if rest:
        padded = np.zeros((blocks - last_start + 1, BLOCK))
        padded[:-1] = rows[last_start:]
        padded[-1, :rest] = inputs[blocks * BLOCK :]
        padded[-1, 0] += carries[blocks]
        products = padded @ matrix
        result[last_start:] = products[:-1]
        out[blocks * BLOCK :] = products[-1, :rest]
    elif last_start < blocks:
        np.matmul(rows[last_start:], matrix, out=result[last_start:])
    if saved is not None:
        firsts[:] = saved


def segmented_sum(
    inputs: np.ndarray,
    run: int,
    initials: np.ndarray,
    out: np.ndarray,
    work: np.ndarray | None = None,
) -> None:
    """Running sums that restart every ``run`` rows (a multiple of 16): ``out[t]`` is
    ``initials[t // run]`` plus ``inputs`` over the rows after the run's first, up to t.

    The input at each run's first row is not used. Sums are formed block by block and the
    block ends are added in row order, so rows after a run of zero inputs repeat the
    previous value bit for bit, and the rounding of a row is relative to the sums of its
    own run only (nothing earlier leaks in). ``inputs`` (writable) is left unchanged.
    """
    size = inputs.shape[0]
    blocks, per_run = size // BLOCK, run // BLOCK
    runs = -(-(blocks + 1) // per_run)
    if work is None or len(work) < 2 * blocks + 2 * per_run:
        work = workspace(size + 2 * run)
    starts = inputs[::run]
    restarts = starts.copy()
    starts[:] = 0.0  # a run's first input is replaced by its initial value
    ones = _ones()
    rows = inputs[: blocks * BLOCK].reshape(blocks, BLOCK)
    local_ends = work[: runs * per_run]
    for start in range(0, blocks, CHUNK_BLOCKS):
        stop = min(start + CHUNK_BLOCKS, blocks)
        np.matmul(rows[start:stop], ones[:, -1], out=local_ends[start:stop])
    local_ends[blocks:] = 0.0
    starting = np.zeros(runs)  # one more run than rows need when ``run`` divides size
    starting[: len(initials)] = initials[:runs]
    ends = local_ends.reshape(runs, per_run)
    ends[:, 0] += starting
    np.cumsum(ends, axis=1, out=ends)
    # The carry into each block: its run's initial value, or the previous block's end.
    carries = np.empty(blocks + 1)
    carries[1:] = local_ends[:blocks]
    carries[::per_run] = starting
    _products(inputs, ones, carries, out, work[runs * per_run : runs * per_run + blocks])
    starts[:] = restarts
