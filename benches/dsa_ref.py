"""Reference timings for benches/dsa.rs, with the reference package (`dsa-metric`).

usage: python3 dsa_ref.py FILE -> prints one JSON object
FILE is JSON: `pairs` (list of [A, B] operators), `states` (a few networks' trajectories as
trials × steps × units lists), `n_delays`, `rank`. Times the reference's DMD fit per network and
its angular SimilarityTransformDist (class defaults: 200 Adam steps, lr 0.01, from the identity
and a row swap) per pair on one thread, and reports the objective each pair reached
(`angular64`: its C made exactly orthogonal, the angle evaluated in float64).
"""
import json
import sys
import time
import warnings

import numpy as np
import torch
from DSA import DMD, SimilarityTransformDist

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
torch.manual_seed(0)
job = json.load(open(sys.argv[1]))


def angle64(a, b, c):
    u, _, vt = np.linalg.svd(np.asarray(c, dtype=np.float64))
    c = u @ vt
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return float(np.arccos(np.clip(np.sum(a * (c @ b @ c.T)), -1.0, 1.0)))


dmd_seconds = []
for x in job["states"]:
    data = np.asarray(x, dtype=np.float32)
    start = time.perf_counter()
    DMD(data, n_delays=job["n_delays"], rank=job["rank"], lamb=0).fit()
    dmd_seconds.append(time.perf_counter() - start)

pair_seconds, angles, scores = [], [], []
for a, b in job["pairs"]:
    a, b = np.asarray(a), np.asarray(b)
    sim = SimilarityTransformDist()
    start = time.perf_counter()
    scores.append(float(sim.fit_score(a.astype(np.float32), b.astype(np.float32))))
    pair_seconds.append(time.perf_counter() - start)
    angles.append(angle64(a, b, sim.C_star.numpy()))

print(json.dumps({"dmd_seconds": dmd_seconds, "pair_seconds": pair_seconds,
                  "angular64": angles, "angular": scores, "torch": torch.__version__}))
