"""The vectorised building block of the batch indicators (numpy only, no loop over rows).

Every EMA and Wilder average is the first-order linear recurrence
``y[t] = c * y[t-1] + g * x[t]``. :func:`recurrence` evaluates it as blocked matrix
products: the rows are cut into blocks of 16, each block is one 16 x 16 product, and the
value carried into each block comes from the same recurrence run on the block ends
(coefficient ``c**16``, 1/16 of the rows), recursively. :func:`segmented_sum` is the
same machinery for running sums that restart at fixed rows (the Bollinger sums).
"""

from __future__ import annotations

import functools

import numpy as np

BLOCK = 16
# Blocks per matrix-product call. Products this small stay on one thread: OpenBLAS's
# threading of one large product gains nothing here, and collapses (10-50x slower) when
# the other core is busy.
CHUNK_BLOCKS = 2048
# Rows per pass of a long recurrence: its steps then reread a slice from the CPU cache, not
# memory (on long series memory traffic, not arithmetic, sets the pace). A multiple of
# BLOCK, counted from the first row, so a later row never changes an earlier one.
CACHE_ROWS = 1 << 17


@functools.lru_cache(maxsize=256)
def _block_matrix(coefficient: float, gain: float) -> np.ndarray:
    """Upper-triangular ``M[i, j] = gain * c**(j - i)`` for ``j >= i``: one block's filter."""
    steps = np.arange(BLOCK)
    lag = steps[None, :] - steps[:, None]
    powers = coefficient ** np.maximum(lag, 0).astype(np.float64)
    matrix = np.where(lag >= 0, gain * powers, 0.0)
    matrix.setflags(write=False)
    return matrix


def workspace(size: int) -> np.ndarray:
    """Scratch space :func:`recurrence` needs for inputs of up to ``size`` rows."""
    return np.empty(3 * (size // BLOCK) + 3 * BLOCK)


def recurrence(
    inputs: np.ndarray,
    coefficient: float,
    gain: float,
    initial: float,
    out: np.ndarray,
    work: np.ndarray | None = None,
    preserve: bool = True,
) -> None:
    """Fill ``out[t] = coefficient * out[t-1] + gain * inputs[t]``, with ``out[-1] = initial``.

    ``inputs`` (writable) and ``out`` are contiguous float64 arrays of the same length that
    do not overlap; ``work`` is scratch from :func:`workspace` (allocated when None). The
    carry into each block is added to the block's first input for the product, then taken
    out again, unless ``preserve`` is False (``inputs`` is scratch). The result equals the
    row-by-row loop to a few units in the last place; a last, partial block is padded
    with zeros and multiplied like the others, so no row is computed by a Python loop.
    Inputs longer than ``CACHE_ROWS`` go in slices of that many rows, each started from
    the last result of the one before.
    """
    size = inputs.shape[0]
    if size > CACHE_ROWS:
        for start in range(0, size, CACHE_ROWS):
            stop = min(start + CACHE_ROWS, size)
            part = out[start:stop]
            _recurrence(inputs[start:stop], coefficient, gain, initial, part, work, preserve)
            initial = float(part[-1])
        return
    _recurrence(inputs, coefficient, gain, initial, out, work, preserve)


def _recurrence(
    inputs: np.ndarray,
    coefficient: float,
    gain: float,
    initial: float,
    out: np.ndarray,
    work: np.ndarray | None,
    preserve: bool,
) -> None:
    size = inputs.shape[0]
    blocks = size // BLOCK
    if work is None or len(work) < 3 * blocks:
        work = workspace(size)
    matrix = _block_matrix(coefficient, gain)
    rows = inputs[: blocks * BLOCK].reshape(blocks, BLOCK)
    local_ends, ends, saved = work[:blocks], work[blocks : 2 * blocks], work[2 * blocks :]
    for start in range(0, blocks, CHUNK_BLOCKS):
        stop = start + CHUNK_BLOCKS
        np.matmul(rows[start:stop], matrix[:, -1], out=local_ends[start:stop])
    if coefficient == 1.0:
        # Plain running sums: add the block ends in row order, so that a run of zero
        # inputs leaves the sum bitwise unchanged.
        if blocks:
            local_ends[0] += initial
        np.cumsum(local_ends, out=ends)
    elif blocks:
        # The true block ends: the same recurrence over the local ones. ``saved`` is free
        # until the products below, so the inner call works there.
        _recurrence(local_ends, coefficient**BLOCK, 1.0, initial, ends, saved, preserve=False)
    carries = np.empty(blocks + 1)
    carries[0] = initial
    carries[1:] = ends
    carries *= coefficient / gain
    _products(inputs, matrix, carries, out, saved[:blocks] if preserve else None)


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
    ones = _block_matrix(1.0, 1.0)
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
