"""Bit-packed feature planes: the one format in which positions are stored and shipped.

Feature planes are 0/1, so a position's ``C`` planes of ``N x N`` are kept as bits: the ``C*N*N`` values flattened in
``(plane, row, col)`` order and packed eight to a byte, most significant bit first (``np.packbits``), the last byte
padded with zeros: ``packed_width(C, N) = ceil(C*N*N / 8)`` bytes a position. Any leading axes stay as they are:
``[..., C, N, N]`` packs to ``uint8 [..., packed_width(C, N)]``.

The self-play replay buffer (its ``.npz`` chunks on disk), the policy-network games, the value-network data and the
SGF training stream all use this format.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pack_planes", "packed_width", "unpack_planes"]


def packed_width(planes: int, size: int) -> int:
    """Bytes per position of ``planes`` packed planes of ``size x size``: ``ceil(planes * size * size / 8)``."""
    return (planes * size * size + 7) // 8


def pack_planes(planes: np.ndarray) -> np.ndarray:
    """Pack bool (or 0/1 numeric) feature planes ``[..., C, N, N]`` into ``uint8 [..., ceil(C*N*N/8)]``.
    ValueError for another shape or for values other than 0 and 1."""
    planes = np.asarray(planes)
    if planes.ndim < 3 or planes.shape[-1] != planes.shape[-2]:
        raise ValueError(f"planes to pack must have shape [..., C, N, N], got {planes.shape}")
    if planes.dtype != np.bool_:
        if not np.issubdtype(planes.dtype, np.number) or not ((planes == 0) | (planes == 1)).all():
            raise ValueError(f"planes to pack must be bool or 0/1, got dtype {planes.dtype} with other values")
        planes = planes != 0
    c, n = planes.shape[-3], planes.shape[-1]
    return np.packbits(planes.reshape(*planes.shape[:-3], c * n * n), axis=-1)


def unpack_planes(packed: np.ndarray, planes: int, size: int, dtype=np.float32) -> np.ndarray:
    """Unpack ``uint8 [..., packed_width(planes, size)]`` from :func:`pack_planes` into ``dtype`` 0/1 planes
    ``[..., planes, size, size]`` (float32 by default). ValueError for another dtype or width."""
    packed = np.asarray(packed)
    width = packed_width(planes, size)
    if packed.dtype != np.uint8 or packed.ndim < 1 or packed.shape[-1] != width:
        raise ValueError(
            f"packed planes for {planes} planes of {size}x{size} must be uint8 [..., {width}], "
            f"got {packed.dtype} {packed.shape}"
        )
    bits = np.unpackbits(packed, axis=-1, count=planes * size * size)
    return bits.reshape(*packed.shape[:-1], planes, size, size).astype(dtype, copy=False)
