"""Independent numpy reference for the geometry distances of engine/analysis (SPEC §4).

Usage: python3 geometry_ref.py FILE
FILE is whitespace text: a header line `n na nb variance`, then n rows of X (na values), then
n rows of Y (nb values). Prints `svcca cka shape` distances, one line, full precision.
Written from the formulas, with np.linalg.svd, sharing no code with the Rust implementation.
"""
import sys

import numpy as np


def read(path):
    with open(path) as f:
        n, na, nb, variance = f.readline().split()
        n, na, nb, variance = int(n), int(na), int(nb), float(variance)
        data = np.array(f.read().split(), dtype=np.float64)
    x = data[: n * na].reshape(n, na)
    y = data[n * na :].reshape(n, nb)
    return x, y, variance


def centre(m):
    return m - m.mean(axis=0, keepdims=True)


def svcca(x, y, variance):
    def basis(m):
        u, s, _ = np.linalg.svd(centre(m), full_matrices=False)
        frac = np.cumsum(s**2) / np.sum(s**2)
        k = int(np.searchsorted(frac, variance) + 1)
        return u[:, :k]

    qa, qb = basis(x), basis(y)
    rho = np.linalg.svd(qa.T @ qb, compute_uv=False)
    k = min(qa.shape[1], qb.shape[1])
    return 1.0 - np.clip(rho[:k], 0.0, 1.0).mean()


def cka(x, y):
    xc, yc = centre(x), centre(y)
    num = np.linalg.norm(yc.T @ xc, "fro") ** 2
    return 1.0 - num / (np.linalg.norm(xc.T @ xc, "fro") * np.linalg.norm(yc.T @ yc, "fro"))


def shape(x, y):
    xc, yc = centre(x), centre(y)
    width = max(xc.shape[1], yc.shape[1])
    xp = np.pad(xc, ((0, 0), (0, width - xc.shape[1])))
    yp = np.pad(yc, ((0, 0), (0, width - yc.shape[1])))
    nuclear = np.linalg.svd(xp.T @ yp, compute_uv=False).sum()
    cos = nuclear / (np.linalg.norm(xp) * np.linalg.norm(yp))
    return float(np.arccos(np.clip(cos, -1.0, 1.0)))


if __name__ == "__main__":
    x, y, variance = read(sys.argv[1])
    print(" ".join(repr(float(v)) for v in (svcca(x, y, variance), cka(x, y), shape(x, y))))
