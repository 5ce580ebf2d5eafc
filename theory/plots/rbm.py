"""Figures of the RBM closed loop (theory.models.rbm): each visible unit polarises to 0 or 1 with
the probability of its initial mean (the martingale of rbm_laws), and what stops the collapse."""

from __future__ import annotations

from typing import cast

import numpy as np
from scipy import stats

from ..models import model_loop
from ..models import rbm_laws as L
from ..models.rbm import RBMLoop, RBMState
from .registry import Figure, FigureBudget, register
from .style import color, marker

ARGS, M, T = "N=3,H=2", 10, 200
SEEDS = (1, 2, 4, 8, 13, 14)        # initial models (weights N(0, 1)) with means spread over (0, 1)
RESCUES: tuple[tuple[str, dict], ...] = (("pure loop", {}), ("anchor 101", {"family_args": ARGS + ",anchor=101"}),
           ("1 fresh point", {"external": 1}), ("prior normal:var=1", {"prior_law": "normal:var=1"}))


def _seed(rng) -> int:
    return int(rng.integers(2**63))


def rbm_polarisation(budget: FigureBudget, rng) -> dict:
    chains = int(200 * budget.scale)
    points, laws = [], []
    for s in SEEDS:
        loop = cast(RBMLoop, model_loop("rbm", M=M, family_args=ARGS, init_seed=s))
        run = loop.run(T, chains, seed=_seed(rng))
        state = cast(RBMState, run.state)
        m0 = loop.p0 @ loop.space.V
        clamp = state.clamp
        for i in range(loop.N):
            # a chain not yet absorbed ends at 1 with probability E_θ_T[v_i] (the martingale)
            x = np.where(clamp[:, i] >= 0, clamp[:, i], run.per_chain(f"v{i + 1}"))
            points.append({"seed": s, "unit": i + 1, "initial_mean": m0[i],
                           "derived": L.polarisation(m0)[i], "ends_at_1": x.mean(),
                           "sem": x.std(ddof=1) / np.sqrt(chains)})
        on = run.on_absorbing
        counts = np.bincount(np.argmax(state.logp[on], axis=1), minlength=loop.space.K)
        laws.append({"seed": s, "absorbed": on.mean(), "counts": counts, "p0": loop.p0,
                     "product": L.product_law(m0),
                     "p_value_p0": stats.chisquare(counts, loop.p0 * on.sum()).pvalue,
                     "p_value_product": stats.chisquare(counts, L.product_law(m0) * on.sum()).pvalue})
    curves = []
    for label, options in RESCUES:
        options = {"family_args": ARGS, **options}
        loop = cast(RBMLoop, model_loop("rbm", M=M, init_seed=14, **options))
        run = loop.run(T, chains, seed=_seed(rng), record_every=2)
        trace = cast(dict, run.trace)
        curves.append({"label": label, "absorbing_states": L.absorbing_states(
                           loop.N, loop.prior is not None, loop.external, loop.anchor), "t": [0] + trace["t"],
                       "on_point_mass": [0.0] + trace["mean"]["point_mass"],
                       "absorbed": run.absorbed()["fraction"]})
    return {"M": M, "T": T, "chains": chains, "family_args": ARGS, "points": points,
            "absorption_law": laws, "rescue": curves, "rescue_init_seed": 14}


def draw_rbm_polarisation(fig, axes, data):
    ax = axes[0]
    ax.plot([0, 1], [0, 1], "k-", lw=0.8, label="derived: $P = \\mathbb{E}_{\\theta_0}[v_i]$")
    for i in range(3):
        pts = [p for p in data["points"] if p["unit"] == i + 1]
        ax.errorbar([p["initial_mean"] for p in pts], [p["ends_at_1"] for p in pts],
                    yerr=[p["sem"] for p in pts], fmt=marker(i), ms=2.5, color=color(i), capsize=1,
                    label=f"$v_{i + 1}$")
    ax.set_xlabel(r"initial mean $\mathbb{E}_{\theta_0}[v_i]$")
    ax.set_ylabel(r"$P(v_i\ \mathrm{ends\ at}\ 1)$")
    ax.legend(fontsize=6, title=f"RBM N=3, H=2, M={data['M']}", title_fontsize=6)
    ax = axes[1]
    for k, c in enumerate(data["rescue"]):
        ax.plot(c["t"], c["on_point_mass"], "--" if "anchor" in c["label"] else "-", color=color(k), lw=1,
                label=c["label"])
    ax.set_xlabel("generation $t$")
    ax.set_ylabel("fraction on one configuration")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=6)


register(Figure(
    "rbm_polarisation", "Restricted Boltzmann machine (N = 3 visible, H = 2 hidden units, exact "
    "maximum likelihood over the 8 configurations, M = 10). Left: each visible unit ends clamped at 0 "
    "or 1, at 1 with the probability of its initial mean (the visible means are martingales; line: "
    "the diagonal, R12.rbm.polarisation), over six initial models. Right: the fraction of chains on a "
    "single configuration: the pure loop collapses; one fixed anchor configuration (101) does not "
    "rescue it, the chains collapse onto the anchor; one fresh point from the initial model per "
    "generation, or a Gaussian prior on the weights, keeps the chains off the point masses "
    "(R12.rbm.rescue). The JSON also holds, per initial model, the law of the absorbing "
    "configuration against p0(v) and the product of the means (R12.rbm.absorption_law).",
    ("R12.rbm.absorption_law", "R12.rbm.polarisation", "R12.rbm.rescue"), 2,
    rbm_polarisation, draw_rbm_polarisation))
