"""Connecting to a dask.distributed cluster (data generation and emulation scale out through it)."""

from __future__ import annotations

from codesign.errors import InputError


def connect(address: str):
    """A dask Client for the scheduler at `address`; a bad address fails now with one line."""
    from dask.distributed import Client

    try:
        return Client(address, timeout="15s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"dask scheduler {address}: cannot connect ({exc})") from None
