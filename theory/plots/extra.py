"""Figures beyond the paper, each a derived theory line over simulation points with error bars.

Settings come from the validation cases (``validate.checks``) where a figure shows
what a check tests, so the figure and the check evaluate the same derivation at
the same parameters.
"""

from __future__ import annotations

import numpy as np

from ..params import from_params
from ..engine.markov import ExactChain
from ..numeric import evaluate
from .. import cases as V
from ..store import derivation
from .registry import Figure, FigureBudget, register
from .style import color, marker


def _num(expr, values):
    return np.asarray(evaluate(expr, values), float)


# Gaussian variance collapse and mean wandering, with and without one anchor ------------------
def gaussian_collapse(budget: FigureBudget, rng) -> dict:
    M, T, chains, every = 20, 200, int(4000 * budget.scale), 5
    init, truth = {"mean": 0.0, "var": 1.0}, {"mean": 0.0, "var": 1.0}
    case = V.BY_SLUG["gaussian"]
    res = derivation("R8.moments", case.family).result  # exact affine recursion x' = A x + c
    out = {"M": M, "chains": chains, "runs": []}
    for M0 in (0, 1):
        loop = from_params("gaussian", M, init, anchors=M0, truth=truth)
        run = loop.run(T, chains, seed=rng, record_every=every)
        mu0, mus = loop.init_mu, loop.truth_mu
        vals = {"M": M, "M0": M0, "mu1_star": mus[0], "mu2_star": mus[1]}
        A, c = _num(res["A"], vals), _num(res["c"], vals).ravel()
        x = np.array([mu0[0], mu0[1], mu0[0] ** 2])
        theory = [x]
        for _ in range(T):
            x = A @ x + c
            theory.append(x)
        theory = np.array(theory)
        tr = run.trace
        v_mean, v_var = np.array(tr["mean"]["var"]), np.array(tr["var"]["var"])
        m_var = np.array(tr["var"]["mean"])
        ts = np.array(tr["t"])
        # Without anchors var_t = var_0 Π χ²_{M−1}/M is log-normal-like with Var[log var_t]
        # ≈ 2t/(M−1): beyond t ≈ (M−1)/2 the sample mean of C chains is ruled by rare
        # large values and its z-score is not normal, so the check stops there.
        ok = ts <= (M - 1) / 2 if M0 == 0 else np.ones(len(ts), bool)
        out.setdefault("checks", []).append({
            "what": f"E[var_t], M0={M0} (R8, exact)", "estimate": v_mean[ok],
            "sem": np.sqrt(v_var / chains)[ok], "theory": (theory[:, 1] - theory[:, 2])[ts][ok]})
        out["runs"].append({
            "M0": M0, "t": tr["t"], "E_var": v_mean, "E_var_sem": np.sqrt(v_var / chains),
            "var_mean": m_var, "var_mean_sem": m_var * np.sqrt(2 / (chains - 1)),
            "theory_t": np.arange(T + 1), "theory_E_var": theory[:, 1] - theory[:, 2],
            "theory_var_mean": theory[:, 2] - theory[:, 0] ** 2})
    return out


def draw_gaussian_collapse(fig, axes, data):
    for i, r in enumerate(data["runs"]):
        lab = "pure loop" if r["M0"] == 0 else "one anchor ($M_0 = 1$)"
        for ax, key in zip(axes, ("E_var", "var_mean"), strict=True):
            ax.plot(r["theory_t"], r[f"theory_{key}"], "-", color=color(i), lw=0.8)
            ax.errorbar(r["t"][::4], r[key][::4], yerr=r[f"{key}_sem"][::4], fmt=marker(i), ms=2,
                        color=color(i), capsize=1, label=lab)
    axes[0].set_ylabel(r"$\mathbb{E}[\sigma^2_t]/\sigma^2_0$")
    axes[1].set_ylabel(r"$\mathrm{Var}[m_t]/\sigma^2_0$")
    for ax in axes:
        ax.set_xlabel("generation $t$")
    handles, labels = axes[0].get_legend_handles_labels()  # below the panels, off the data
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=5.5,
               title=f"Gaussian, $M = {data['M']}$; points: closed loop; lines: exact moments at finite $M$",
               title_fontsize=5)


register(Figure("gaussian_collapse", "Gaussian closed loop (M = 20): the variance collapses "
                "and the mean wanders without anchors; one anchor point per generation holds "
                "both. Lines: exact finite-M moments (R8); points: simulation.", ("R8.moments",),
                2, gaussian_collapse, draw_gaussian_collapse))


# Stationary laws with one anchor (Bernoulli, Poisson) ----------------------------------------
def stationary_laws(budget: FigureBudget, rng) -> dict:
    out = {"panels": []}
    for slug in ("bernoulli", "poisson"):
        case = V.BY_SLUG[slug]
        M, M0 = V.M_STATIONARY, V.M0_STATIONARY
        loop = case.loop(M, M0, start=dict(case.truth))
        chains = int(4000 * budget.scale)
        x = loop.run(V.RELAXATIONS * M // M0, chains, seed=rng).state.mu[:, 0]
        res = derivation("R7.stationary", case.family).result
        mus = float(loop.truth_mu[0])
        lo, hi, step = V.support(loop)
        top = hi if np.isfinite(hi) else _gamma_quantile(res, 0.999, {"M0": M0, "mu_star": mus})
        edges = lo + (np.arange(-0.5, (top - lo) / step + 1, max(1, round(0.02 * (top - lo) / step))) * step)
        counts, _ = np.histogram(x, edges)
        width = np.diff(edges)
        grid = np.linspace(lo + 1e-3 * (top - lo), top, 300)
        out["panels"].append({
            "family": slug, "M": M, "M0": M0, "chains": chains, "law": str(res["law"]),
            "centres": (edges[1:] + edges[:-1]) / 2, "density": counts / (chains * width),
            "density_sem": np.sqrt(counts) / (chains * width), "grid": grid,
            "theory": _num(res["density"], {"mu": grid, "M0": M0, "mu_star": mus})})
    return out


def _gamma_quantile(res: dict, q: float, values: dict) -> float:
    """The q-quantile of R7's Gamma(alpha, beta) law at ``values``: the histogram's upper end on an
    unbounded space is the law's, not the data's, so the theory line is the same at every budget."""
    from scipy import stats

    if str(res["law"]) != "Gamma":  # the name is a SymPy symbol
        raise AssertionError(f"an unbounded stationary law other than Gamma: {res['law']}")
    shape, rate = (float(_num(res[k], values)) for k in ("alpha", "beta"))
    return float(stats.gamma.ppf(q, shape, scale=1 / rate))


def draw_stationary_laws(fig, axes, data):
    for ax, p in zip(axes, data["panels"], strict=True):
        ax.errorbar(p["centres"], p["density"], yerr=p["density_sem"], fmt=marker(0), ms=2, capsize=1,
                    color=color(0), label="closed loop")
        ax.plot(p["grid"], p["theory"], "k-", lw=0.8, label=f"{p['law']} law, diffusion limit")
        ax.set_xlabel(r"$\mu$ (" + ("$p$" if p["family"] == "bernoulli" else r"rate $\vartheta$") + ")")
        ax.set_title(f"{p['family'].capitalize()}, $M = {p['M']}$, $M_0 = {p['M0']}$", fontsize=7)
        # the Bernoulli law is singular at 0 (2 M0 p* < 1): show its bulk
        ax.set_ylim(0, 1.4 * max(np.max(p["density"][2:]), np.max(p["theory"][len(p["grid"]) // 10:])))
    axes[0].set_ylabel("stationary density")
    axes[0].legend()


register(Figure("stationary_laws", "Stationary law of the fitted mean with one anchor point per "
                "generation (M = 50): Bernoulli (Beta) and Poisson (Gamma). Lines: the diffusion "
                "limit (R7); points: simulation (the R7 validation setting).", ("R7.stationary",),
                2, stationary_laws, draw_stationary_laws))


# Drift of θ against the flat martingale in μ -----------------------------------------------------
def reparametrisation(budget: FigureBudget, rng) -> dict:
    M, per_point = 100, int(20_000 * budget.scale)
    thetas = np.linspace(-1.5, 1.5, 7)  # |θ| ≤ 1.5: no sample of 100 is all-equal
    loop = from_params("bernoulli", M, {"theta": 0.0})
    run = loop.run(1, len(thetas) * per_point, seed=rng, start=np.repeat(thetas, per_point)[:, None])
    th1 = run.state.theta[:, 0].reshape(len(thetas), per_point)
    mu1 = run.state.mu[:, 0].reshape(len(thetas), per_point)
    mu0 = 1 / (1 + np.exp(-thetas))
    d_theta = th1 - thetas[:, None]
    d_mu = mu1 - mu0[:, None]
    grid = np.linspace(-1.6, 1.6, 200)
    drift = derivation("R3.drift.mle", loop.family).result["drift"][0]
    drift_mu = derivation("R1.martingale", loop.family).result["drift_mu"][0]  # (M0/M)(μ* − μ)
    flat = np.broadcast_to(_num(drift_mu, {"theta": thetas, "M": M, "M0": 0, "theta_star": 0.0}),
                           thetas.shape)
    checks = [{"what": "E[mu_1 - mu_0] = 0 (R1, exact)", "estimate": d_mu.mean(1),
               "sem": d_mu.std(1, ddof=1) / np.sqrt(per_point), "theory": flat}]
    return {"M": M, "per_point": per_point, "theta0": thetas, "checks": checks,
            "M_dtheta": M * d_theta.mean(1), "M_dtheta_sem": M * d_theta.std(1, ddof=1) / np.sqrt(per_point),
            "M_dmu": M * d_mu.mean(1), "M_dmu_sem": M * d_mu.std(1, ddof=1) / np.sqrt(per_point),
            "grid": grid, "theory_M_dtheta": M * _num(drift, {"theta": grid, "M": M, "M0": 0,
                                                              "theta_star": 0.0})}


def draw_reparametrisation(fig, ax, data):
    ax.plot(data["grid"], data["theory_M_dtheta"], "-", color=color(0), lw=0.8,
            label=r"$\eta = \theta$: $M\times$drift, Eqs. (12)–(13)")
    ax.errorbar(data["theta0"], data["M_dtheta"], yerr=data["M_dtheta_sem"], fmt=marker(0), ms=2,
                color=color(0), capsize=1)
    ax.axhline(0, color=color(1), lw=0.8, label=r"$\eta = \mu$: no drift, a martingale (Eq. (5))")
    ax.errorbar(data["theta0"], data["M_dmu"], yerr=data["M_dmu_sem"], fmt=marker(1), ms=2, color=color(1),
                capsize=1)
    ax.set_xlabel(r"$\theta_0$ (logit $p$)")
    ax.set_ylabel(r"$M\,\mathbb{E}[\eta_1 - \eta_0]$")
    ax.set_title(f"Bernoulli, $M = {data['M']}$, pure loop", fontsize=7)
    ax.legend()


register(Figure("reparametrisation", "Per-generation drift of the natural parameter theta = "
                "logit p (nonzero, pushing towards the boundary) against the flat martingale in "
                "the expectation parameter p; lines: R3 and R1.", ("R3.drift.mle", "R1.martingale"),
                1, reparametrisation, draw_reparametrisation))


# MLE vs one anchor vs MAP vs L2 -----------------------------------------------------------------
def estimators(budget: FigureBudget, rng) -> dict:
    M, T, chains, every = 20, 60, int(4000 * budget.scale), 2
    init, truth = {"p": 0.8}, {"p": 0.3}
    res = derivation("R5.fixed_points", V.BY_SLUG["bernoulli"].family).result
    t = np.arange(T + 1)
    settings = [("ML", dict(), "mle_transient", 0), ("ML, one anchor", dict(anchors=1), "mle_transient", 1),
                ("MAP, $\\nu = 2$", dict(estimator="map", nu=2.0), "map_transient", 0),
                ("L2, $\\lambda = 0.05$", dict(estimator="l2", lam=0.05), None, 0)]
    out = {"M": M, "chains": chains, "p0": 0.8, "p_star": 0.3, "curves": [],
           "l2_fixed_p": float(1 / (1 + np.exp(-_num(res["l2_fixed"], {})[0, 0])))}
    for label, kw, key, M0 in settings:
        loop = from_params("bernoulli", M, init, truth=truth, **kw)
        run = loop.run(T, chains, seed=rng, record_every=every)
        curve = {"label": label, "t": run.trace["t"], "mean": run.trace["mean"]["p"],
                 "sem": np.sqrt(np.array(run.trace["var"]["p"]) / chains),
                 "absorbed": run.absorbed()["fraction"]}
        if key:
            curve["theory"] = _num(res[key], {"M": M, "M0": M0, "nu": 2.0, "t": t, "m_0": 0.8,
                                              "m_target": 0.3, "m_prior": 0.3}) * np.ones_like(t)
            curve["theory_t"] = t
            out.setdefault("checks", []).append({
                "what": f"E[p_t], {label.replace('$', '').replace(chr(92), '')} (R5, exact)", "estimate": curve["mean"],
                "sem": curve["sem"], "theory": curve["theory"][np.array(curve["t"])]})
        out["curves"].append(curve)
    return out


def draw_estimators(fig, ax, data):
    for i, c in enumerate(data["curves"]):
        if "theory" in c:
            ax.plot(c["theory_t"], c["theory"], "-", color=color(i), lw=0.8)
        ax.errorbar(c["t"][::3], c["mean"][::3], yerr=c["sem"][::3], fmt=marker(i), ms=2, capsize=1,
                    color=color(i), label=c["label"] + ("" if "theory" in c else " (no closed form)"))
    ax.axhline(data["p_star"], color="gray", ls=":", lw=0.7)
    ax.axhline(data["l2_fixed_p"], color=color(3), ls="--", lw=0.7,
               label="L2: fixed point of the mean's recursion")
    ax.set_xlabel("generation $t$")
    ax.set_ylabel(r"$\mathbb{E}[p_t]$")
    ax.set_title(f"Bernoulli, $M = {data['M']}$, $p_0 = {data['p0']}$, $p^* = {data['p_star']}$; "
                 "lines: exact transients", fontsize=7)
    ax.legend(fontsize=5.5, loc="upper right", bbox_to_anchor=(1, 0.95))


register(Figure("estimators", "Mean of the fitted p under MLE (a martingale), MLE with one anchor, "
                "conjugate MAP (prior mean p*) and L2; lines: the exact transients of R5.",
                ("R5.fixed_points",), 1, estimators, draw_estimators))


# Mean absorption time: exact chain vs diffusion vs simulation ----------------------------------
def absorption_time_vs_M(budget: FigureBudget, rng) -> dict:
    Ms, p0, chains = [4, 8, 16, 32, 64, 128], 0.3, int(2000 * budget.scale)
    case = V.BY_SLUG["bernoulli"]
    expr = derivation("R6.absorption", case.family).result["mean_time"]
    out = {"p0": p0, "M": Ms, "exact": [], "sim": [], "sim_sem": [],
           "grid": np.geomspace(3, 160, 100)}
    out["diffusion"] = _num(expr, {"M": out["grid"], "mu": p0})
    out["checks"] = [{"what": "mean absorption time vs exact chain (exact)", "estimate": out["sim"],
                      "sem": out["sim_sem"], "theory": out["exact"]}]
    for M in Ms:
        loop = from_params("bernoulli", M, {"p": p0})
        out["exact"].append(ExactChain(loop).mean_absorption_time())
        a = loop.run(40 * M, chains, seed=rng).absorbed()
        out["sim"].append(a["time_mean"])
        out["sim_sem"].append(a["time_sem"])
    return out


def draw_absorption_time_vs_M(fig, ax, data):
    ax.plot(data["grid"], data["diffusion"], "k-", lw=0.8, label=r"diffusion, $2M H(p_0)$")
    ax.plot(data["M"], data["exact"], marker(1), mfc="none", color=color(0), label="exact Markov chain")
    ax.errorbar(data["M"], data["sim"], yerr=data["sim_sem"], fmt=marker(0), ms=2, color=color(1), capsize=1,
                label="closed loop")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("$M$")
    ax.set_ylabel("mean absorption time (generations)")
    ax.set_title(f"Bernoulli, $p_0$ = {data['p0']}", fontsize=7)
    ax.legend()


register(Figure("absorption_time_vs_M", "Mean number of generations to a point mass against M "
                "(Bernoulli, p0 = 0.3): exact Markov chain, diffusion formula 2M H(p0) and "
                "simulation.", ("R6.absorption",), 1, absorption_time_vs_M,
                draw_absorption_time_vs_M))
