"""Disjoint sets over 0..n-1, for grouping studies (duplicates, patients)."""

from __future__ import annotations


class UnionFind:
    """Union-find with path halving; the root of a set is its smallest member, so groups
    come out in a deterministic order whatever the order of the unions."""

    def __init__(self, n: int) -> None:
        self._parent = list(range(n))

    def find(self, a: int) -> int:
        parent = self._parent
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)
