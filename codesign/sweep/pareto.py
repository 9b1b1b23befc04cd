"""Pareto fronts of a sweep: the points no other point beats in both cost (lower is better) and TPR (higher)."""

from __future__ import annotations

from typing import Sequence


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(cost, gain) `a` dominates `b`: no worse in both, strictly better in one."""
    return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])


def dominated(points: Sequence[tuple[float, float] | None]) -> list[bool | None]:
    """For each (cost, gain) pair: whether another pair dominates it; None where the pair is missing."""
    present = [p for p in points if p is not None]
    return [None if p is None else any(dominates(q, p) for q in present) for p in points]


def front(points: Sequence[tuple[float, float] | None]) -> list[int]:
    """Indices of the non-dominated pairs, by increasing cost (the line drawn through the front)."""
    flags = dominated(points)
    keep = [i for i, f in enumerate(flags) if f is False]
    return sorted(keep, key=lambda i: (points[i][0], -points[i][1], i))
