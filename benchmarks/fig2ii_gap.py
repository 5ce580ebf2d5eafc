"""The paper's Fig. 2 (ii) at finite M: stationary var θ1, var θ2 over an M ladder, and the gap's order.

    python benchmarks/fig2ii_gap.py [--chains 2000] [--M 25,50,100,200,400] [--burn 60] [--average 40]

Curie–Weiss N = 10, both parameters fitted, Gaussian priors of variance 2 entering once per
generation (MAP), no data: Eq. 18 is θ ~ N(0, I). Chains start from that law, run ``burn``·M
generations, then θ is averaged per chain over ``average``·M generations (every M/10); chains
are independent, so the standard error of var = E[θ²] − E[θ]² is over chains (delta method).
A start at Eq. 18 biases an unrelaxed estimate toward it, never away. Prints one JSON line per
M, then weighted fits of the gap 1 − var: c/M, c/M + d/M² (χ² and p) and a M^−p.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy import optimize, stats

from theory.params import from_params


def ladder(chains: int, Ms: list[int], burn: float, average: float) -> dict[int, dict]:
    out = {}
    for M in Ms:
        loop = from_params("curie_weiss", M, {"theta1": 0.0, "theta2": 0.0}, family_args={"N": 10},
                           prior_law="normal:var=2")
        rng = np.random.default_rng(np.random.SeedSequence([2026, M]))
        theta = rng.standard_normal((chains, 2))                      # Eq. 18: N(0, I)
        step = max(1, M // 10)

        def advance(th, generations, loop=loop, rng=rng):
            return loop.run(generations, chains, seed=int(rng.integers(2**62)), start=th).state.theta.copy()

        theta = advance(theta, int(burn * M))
        s1, s2, n = np.zeros((chains, 2)), np.zeros((chains, 2)), 0
        for _ in range(int(average * M) // step):
            theta = advance(theta, step)
            s1, s2, n = s1 + theta, s2 + theta**2, n + 1
        m1, m2 = s1 / n, s2 / n
        row = {}
        for a, name in enumerate(loop.family.names):
            e1 = m1[:, a].mean()
            row[name] = {"var": float(m2[:, a].mean() - e1**2),
                         "var_se": float((m2[:, a] - 2 * e1 * m1[:, a]).std(ddof=1) / np.sqrt(chains))}
        out[M] = row
        print(M, json.dumps(row), flush=True)
    return out


def fits(rows: dict[int, dict]) -> None:
    Ms = np.array(sorted(rows), float)
    for name in rows[int(Ms[0])]:
        gap = np.array([1 - rows[int(M)][name]["var"] for M in Ms])
        se = np.array([rows[int(M)][name]["var_se"] for M in Ms])
        for powers in ([1], [1, 2]):
            X = np.stack([Ms ** -k for k in powers], 1) / se[:, None]
            coef, *_ = np.linalg.lstsq(X, gap / se, rcond=None)
            chi2, dof = float(np.sum((gap / se - X @ coef) ** 2)), len(Ms) - len(powers)
            print(f"{name}: gap = {' + '.join(f'{c:.3g}/M^{k}' for c, k in zip(coef, powers))}: "
                  f"chi2 = {chi2:.1f}/{dof}, p = {stats.chi2.sf(chi2, dof):.2g}")
        (a, p), cov = optimize.curve_fit(lambda M, a, p: a * M**-p, Ms, gap, p0=(1, 0.5), sigma=se,
                                         absolute_sigma=True)
        chi2 = float(np.sum(((gap - a * Ms**-p) / se) ** 2))
        print(f"{name}: gap = {a:.3g} M^-({p:.3f} ± {np.sqrt(cov[1, 1]):.3f}): chi2 = {chi2:.1f}/{len(Ms) - 2}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=2000)
    ap.add_argument("--M", default="25,50,100,200,400")
    ap.add_argument("--burn", type=float, default=60.0)
    ap.add_argument("--average", type=float, default=40.0)
    a = ap.parse_args()
    fits(ladder(a.chains, [int(x) for x in a.M.split(",")], a.burn, a.average))
