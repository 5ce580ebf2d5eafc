"""Figures of the data regimes (replace, accumulate, subsample; growing samples M_t): the derived
R10 laws over simulation points with error bars."""

from __future__ import annotations

import numpy as np

from ..params import from_params
from ..regime import parse_schedule
from ..results import regimes as R
from ..store import derivation
from .registry import Figure, FigureBudget, register
from .style import color, marker

REGIMES = ("replace", "accumulate", "subsample")
STYLE = {kind: (color(i), marker(i)) for i, kind in enumerate(REGIMES)}


def _factors(setting, M: int, T: int, rid: str = "R10.moments") -> np.ndarray:
    """E[χ(μ_t)]/χ(μ_0) (the Gaussian: E[σ²_t]/σ²_0) for t = 0..T, exact at finite M (R10.moments;
    ``rid`` names the result the figure draws)."""
    derivation(rid, setting)
    return np.concatenate([[1.0], R.second_moment_factors(setting, M, T)[1:]])


# (a) replace, accumulate, subsample for the Gaussian ------------------------------------------
def regimes_gaussian(budget: FigureBudget, rng) -> dict:
    M, T, every, chains = 10, 60, 2, int(4000 * budget.scale)
    out = {"M": M, "chains": chains, "runs": [], "checks": []}
    for kind in REGIMES:
        loop = from_params("gaussian", M, {"mean": 0.0, "var": 1.0}, regime=kind)
        run = loop.run(T, chains, seed=rng, record_every=every, keep=chains)
        tr, ts = run.trace, np.array(run.trace["t"])
        v_mean, v_var = np.array(tr["mean"]["var"]), np.array(tr["var"]["var"])
        # (m_t − m_0)² per chain: m_t is a scale mixture of normals with heavy tails, so the
        # error bar comes from the chains' own spread, not from a normal law's 2σ⁴
        err = np.array(tr["chains"]["mean"], float) ** 2
        factor = _factors(loop.setting, M, T)
        # μ2 = m² + σ² has a constant mean in every regime (R10.martingale), and E m_t = m_0:
        # E(m_t − m_0)² = σ²_0 − E σ²_t
        rec = {"regime": kind, "t": ts, "E_var": v_mean, "E_var_sem": np.sqrt(v_var / chains),
               "err_mean": err.mean(axis=1), "err_mean_sem": err.std(axis=1, ddof=1) / np.sqrt(chains),
               "theory_t": np.arange(T + 1), "theory_E_var": factor, "theory_err_mean": 1 - factor}
        # var_t of the pure replace loop is log-normal-like beyond t ≈ (M − 1)/2 (see
        # gaussian_collapse): its chain mean's z is checked up to there
        ok = ts <= (M - 1) / 2 if kind == "replace" else np.ones(len(ts), bool)
        out["checks"].append({"what": f"E[var_t], {kind} (R10.moments, exact)",
                              "estimate": v_mean[ok], "sem": np.sqrt(v_var / chains)[ok],
                              "theory": factor[ts][ok]})
        out["checks"].append({"what": f"E(m_t - m_0)^2, {kind} (R10.moments, exact)",
                              "estimate": rec["err_mean"][ok], "sem": rec["err_mean_sem"][ok],
                              "theory": 1 - factor[ts][ok]})
        out["runs"].append(rec)
    return out


def draw_regimes_gaussian(fig, axes, data):
    for r in data["runs"]:
        col, mk = STYLE[r["regime"]]
        for ax, key in zip(axes, ("E_var", "err_mean"), strict=True):
            ax.plot(r["theory_t"], r[f"theory_{key}"], "-", color=col, lw=0.8)
            ax.errorbar(r["t"][::3], r[key][::3], yerr=r[f"{key}_sem"][::3], fmt=mk, ms=2.5,
                        color=col, capsize=1, label=r["regime"])
    axes[0].set_ylabel(r"$\mathbb{E}[\sigma^2_t]/\sigma^2_0$")
    axes[1].set_ylabel(r"$\mathbb{E}[(m_t - m_0)^2]/\sigma^2_0$")
    for ax in axes:
        ax.set_xlabel("generation $t$")
    axes[1].legend(loc="center right", fontsize=6, title=f"Gaussian, $M = {data['M']}$", title_fontsize=6)


register(Figure(
    "regimes_gaussian", "Gaussian closed loop (M = 10) under the three data regimes: replace "
    "(the paper's loop) collapses, accumulate keeps the variance and bounds the error of the "
    "mean, subsample lies between. Lines: exact finite-M laws (R10.moments; the mean's error is "
    "σ0² − E σ_t², as E[m² + σ²] is conserved); points: simulation. Under replace, beyond t ≈ (M − 1)/2 "
    "the chains' mean is ruled by rare chains (σ_t² is log-normal-like), so at this number of chains "
    "the points fall short of the exact line.", ("R10.moments",), 2,
    regimes_gaussian, draw_regimes_gaussian))


# (b) the accumulate limit against M: π²/6 -----------------------------------------------------
def accumulate_limit(budget: FigureBudget, rng) -> dict:
    Ms, T, chains = (2, 4, 10, 25, 60, 150), 400, int(4000 * budget.scale)
    out = {"T": T, "chains": chains, "M": list(Ms), "estimate": [], "sem": [], "theory_T": []}
    for M in Ms:
        loop = from_params("gaussian", M, {"mean": 0.0, "var": 1.0}, regime="accumulate")
        derivation("R10.diffusion", loop.setting)
        m = loop.observables(loop.run(T, chains, seed=rng).state)["mean"]
        out["estimate"].append(M * np.mean(m**2))
        out["sem"].append(M * np.std(m**2, ddof=1) / np.sqrt(chains))
        out["theory_T"].append(M * R.mean_error_factor(loop.setting, M, T))
    grid = np.geomspace(1.5, 400, 200)
    setting = from_params("gaussian", 10, {"mean": 0.0, "var": 1.0}, regime="accumulate").setting
    out |= {"grid": grid, "theory_limit": [x * R.accumulate_mean_error_limit(setting, x) for x in grid],
            "pi2_6": float(np.pi**2 / 6)}
    out["checks"] = [{"what": f"M E(m_T - m_0)^2 at T = {T}, accumulate (R10.moments, exact)",
                      "estimate": np.array(out["estimate"]), "sem": np.array(out["sem"]),
                      "theory": np.array(out["theory_T"])}]
    return out


def draw_accumulate_limit(fig, ax, data):
    ax.plot(data["grid"], data["theory_limit"], "k-", lw=0.8, label=r"$t\to\infty$, exact")
    ax.plot(data["M"], data["theory_T"], "k:", lw=0.8, label=f"$t = {data['T']}$, exact")
    ax.axhline(data["pi2_6"], color="0.5", ls="--", lw=0.8, label=r"$\pi^2/6$ (M $\to\infty$)")
    ax.errorbar(data["M"], data["estimate"], yerr=data["sem"], fmt=STYLE["accumulate"][1], ms=3,
                color=STYLE["accumulate"][0], capsize=1,
                label=f"simulation, $t = {data['T']}$")
    ax.set_xscale("log")
    ax.set_xlabel("$M$")
    ax.set_ylabel(r"$M\,\mathbb{E}[(m_\infty - m_0)^2]/\sigma^2_0$")
    ax.legend(fontsize=6)


register(Figure(
    "accumulate_limit", "Accumulate: the error of the Gaussian mean stays bounded, "
    "E(m_∞ − m_0)² = σ0²[1 − sin(π/√M)/(π/√M)], which tends to σ0² π²/(6M) (the π²/6 of Dey & "
    "Donoho) from below. Line: R10.diffusion's limit; points: simulation at t = 400 (the finite-t "
    "law differs by O(1/(Mt))).", ("R10.diffusion",), 1, accumulate_limit, draw_accumulate_limit))


# (c) growing samples: collapse against the growth of M_t ------------------------------------
SCHEDULES = (None, "linear:2", "linear:10", "geometric:10,1.02", "geometric:10,1.1")


def growth(budget: FigureBudget, rng) -> dict:
    T, chains, p0 = 200, int(4000 * budget.scale), 0.5
    out = {"T": T, "chains": chains, "p0": p0, "runs": [], "checks": []}
    for sched in SCHEDULES:
        M = 10 if sched is None else parse_schedule(sched).size(1)
        loop = from_params("bernoulli", M, {"p": p0}, M_schedule=sched)
        run = loop.run(T, chains, seed=rng, record_every=5)
        tr, ts = run.trace, np.array(run.trace["t"])
        q = np.array(tr["mean"]["p"]) - (np.array(tr["var"]["p"]) + np.array(tr["mean"]["p"]) ** 2)
        hit = run.state.hit_time
        absorbed = np.array([(hit[(hit >= 0)] <= t).sum() / chains for t in ts])
        factor = _factors(loop.setting, M, T, "R10.growth")
        label = "constant $M = 10$" if sched is None else f"$M_t$: {_schedule_words(sched)}"
        out["runs"].append({"schedule": label, "t": ts, "q": q / (p0 * (1 - p0)), "absorbed": absorbed,
                            "absorbed_sem": np.sqrt(absorbed * (1 - absorbed) / chains),
                            "theory_t": np.arange(T + 1), "theory_q": factor})
    return out


def _schedule_words(text: str) -> str:
    s = parse_schedule(text)
    a = f"{s.values[0]:g}"
    return f"${a}\\,t$" if s.kind == "linear" else f"${a}\\cdot{s.values[1]:g}^{{t-1}}$"


def draw_growth(fig, axes, data):
    for i, r in enumerate(data["runs"]):
        col = color(i)
        axes[0].plot(r["theory_t"][1:], r["theory_q"][1:], "-", color=col, lw=0.8)
        axes[0].plot(r["t"][::4], r["q"][::4], marker(i), ms=2, color=col, label=r["schedule"])
        axes[1].errorbar(r["t"], r["absorbed"], yerr=r["absorbed_sem"], color=col, lw=0.8, capsize=0)
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_ylabel(r"$\mathbb{E}[p_t(1-p_t)]/p_0(1-p_0)$")
    axes[1].set_ylabel("P(point mass by $t$)")
    for ax in axes:
        ax.set_xlabel("generation $t$")
    axes[0].legend(loc="lower left", fontsize=5, title=f"Bernoulli, replace, $p_0 = {data['p0']}$",
                   title_fontsize=5)


register(Figure(
    "growth", "Growing samples (Bernoulli, replace): E[p_t(1 − p_t)] = p0(1 − p0) Π_k (1 − 1/M_k) "
    "goes to 0 exactly when Σ_k 1/M_k diverges, so a linear M_t still collapses (as t^(−1/a)) "
    "while a geometric one keeps a non-degenerate limit. Left, lines: R10.growth/R10.moments; "
    "right: the fraction of chains on a point mass.", ("R10.growth",), 2, growth, draw_growth))
