"""Exact laws a claim needs that no result of the store derives.

Every other law the records compare with is read from the store (R6, R8, R9, R10); what is left
here is the Gaussian ML refit's log-variance random walk (Shumailov et al.'s setting), derived
from the χ² moments by SymPy.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp


@functools.cache
def log_chi2_mean(k: int) -> float:
    """E[log X] for X ~ χ²_k: d/ds E[X^s] at s = 0, with E[X^s] = 2^s Γ(k/2 + s)/Γ(k/2)
    (= ψ(k/2) + log 2)."""
    s = sp.Symbol("s")
    moment = 2**s * sp.gamma(sp.Rational(k, 2) + s) / sp.gamma(sp.Rational(k, 2))
    return float(sp.diff(moment, s).subs(s, 0).evalf(30))


def gaussian_log_var_step(M: int) -> float:
    """E[log σ²_{t+1} − log σ²_t] of the Gaussian refitted by ML on M points: M σ²_{t+1}/σ²_t
    ~ χ²_{M−1}, so the step is E log χ²_{M−1} − log M, whatever σ²_t (a random walk)."""
    return log_chi2_mean(M - 1) - float(np.log(M))
