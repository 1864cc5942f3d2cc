"""DSA with the reference package (`dsa-metric`, mitchellostrow/DSA) on census's exported states.

Usage: python3 dsa_ref.py DIR N_DELAYS DELAY_INTERVAL RANK
Reads DIR/states.parquet, fits the reference's DMD to each network's trajectories
(trials × steps × units), then compares every pair with the reference's SimilarityTransformDist
at its class defaults (angular score, 200 Adam steps at lr 0.01 from the identity and from a row
swap) and with its Wasserstein score. Prints one JSON object:
- networks: per network id, the reduced operator `a` (A_v), its eigenvalues `eig` ([re, im]) and
  the operator on delay coordinates `delay` (A_havok_dmd);
- pairs: per unordered pair, the reference's `angular` score, `angular64` (its optimised C made
  exactly orthogonal and the objective evaluated in float64, the objective the optimiser
  reached), `wasserstein` and the seconds the angular fit took.
"""
import json
import pathlib
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from DSA import DMD, SimilarityTransformDist

warnings.filterwarnings("ignore")
torch.manual_seed(0)

folder = pathlib.Path(sys.argv[1])
n_delays, delay_interval, rank = (int(v) for v in sys.argv[2:5])
states = pd.read_parquet(folder / "states.parquet")


def trajectories(frame):
    trials, steps = frame["trial"].max() + 1, frame["t"].max() + 1
    data = np.zeros((trials, steps, len(frame["h"].iloc[0])), dtype=np.float32)
    for k, t, h in zip(frame["trial"], frame["t"], frame["h"]):
        data[k, t] = h
    return data


networks = {}
for network_id, frame in states.groupby("network_id", sort=True):
    dmd = DMD(trajectories(frame), n_delays=n_delays, delay_interval=delay_interval, rank=rank, lamb=0)
    dmd.fit()
    a = dmd.A_v.detach().numpy().astype(np.float64)
    eig = np.linalg.eigvals(a)
    networks[network_id] = {
        "a": a.tolist(),
        "eig": [[float(e.real), float(e.imag)] for e in eig],
        "delay": dmd.A_havok_dmd.detach().numpy().astype(np.float64).tolist(),
    }


def objective64(a, b, c):
    u, _, vt = np.linalg.svd(np.asarray(c, dtype=np.float64))
    c = u @ vt
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    return float(np.sum(a * (c @ b @ c.T)))


ids = sorted(networks)
pairs = []
for i, x in enumerate(ids):
    for y in ids[i + 1:]:
        a, b = np.array(networks[x]["a"]), np.array(networks[y]["a"])
        sim = SimilarityTransformDist()
        start = time.perf_counter()
        angular = float(sim.fit_score(a.astype(np.float32).copy(), b.astype(np.float32).copy()))
        seconds = time.perf_counter() - start
        cos64 = objective64(a, b, sim.C_star.detach().numpy())
        wass = SimilarityTransformDist(score_method="wasserstein")
        w = float(wass.fit_score(a.astype(np.float32).copy(), b.astype(np.float32).copy()))
        pairs.append({
            "a": x,
            "b": y,
            "angular": angular,
            "angular64": float(np.arccos(np.clip(cos64, -1.0, 1.0))),
            "wasserstein": w,
            "seconds": seconds,
        })

print(json.dumps({"networks": networks, "pairs": pairs}))
