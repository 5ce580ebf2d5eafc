"""Figures of the Gaussian mixture's and the KDE's closed loops: simulated variances over the exact
moment laws (R12.moments)."""

from __future__ import annotations

import numpy as np

from ..models.kde import KDELoop
from ..models.mixture import MixtureLoop
from ..models.moment_laws import model_variance, moment_trajectory
from ..regime import Regime
from .registry import Figure, FigureBudget, register
from .style import color, marker

MIXTURE = {"w": (0.5, 0.5), "m": (-2.0, 2.0), "v": (1.0, 1.0)}


def _seed(rng) -> int:
    return int(rng.integers(2**63))


# (a) the mixture under replace and accumulate (Shumailov et al.'s experiment) ----------------------
def mixture_variance(budget: FigureBudget, rng) -> dict:
    M, T = 20, 30
    # EM over accumulate's growing pool (600 points at t = 30) costs ~20x a replace fit per chain;
    # its variance is small, so a quarter of the chains suffices
    chains = {"replace": int(1000 * budget.scale), "accumulate": int(250 * budget.scale)}
    out: dict = {"M": M, "chains": chains, "init": MIXTURE, "runs": [], "checks": []}
    for regime in ("replace", "accumulate"):
        loop = MixtureLoop(M=M, regime=Regime(regime), w=MIXTURE["w"], m=MIXTURE["m"], v=MIXTURE["v"])
        run = loop.run(T, chains[regime], seed=_seed(rng), record_every=1)
        trace: dict = run.trace or {}
        w, m, v = (np.array(MIXTURE[k]) for k in "wmv")
        v0 = float(w @ (v + m**2) - (w @ m) ** 2)
        ts = np.array(trace["t"])
        mean = np.array(trace["mean"]["total_var"]) / v0
        sem = np.sqrt(np.array(trace["var"]["total_var"]) / chains[regime]) / v0
        one = np.array(trace["mean"]["components"])  # mean number of components alive
        theory = moment_trajectory(regime, [M] * T, [0.0, 0.0, 1.0])[:, 2]
        out["runs"].append({"regime": regime, "t": ts, "var": mean, "var_sem": sem,
                            "single": 2 - one, "theory_t": np.arange(T + 1), "theory_var": theory,
                            "em": loop.describe()["em"]})
        # under replace the variance is a product of T random factors (log-normal-like beyond
        # t ≈ (M − 1)/2): its chain mean is compared up to there, as for the Gaussian family
        ok = ts <= (M - 1) / 2 if regime == "replace" else np.ones(len(ts), bool)
        out["checks"].append({"what": f"E total_var_t / total_var_0, {regime} (R12.moments, exact)",
                              "estimate": mean[ok], "sem": sem[ok], "theory": theory[ts][ok]})
    return out


def draw_mixture_variance(fig, axes, data):
    for i, r in enumerate(data["runs"]):
        col, mk = color(i), marker(i)
        axes[0].plot(r["theory_t"], r["theory_var"], "-", color=col, lw=0.8)
        axes[0].errorbar(r["t"][::2], r["var"][::2], yerr=r["var_sem"][::2], fmt=mk, ms=2.5, color=col,
                         capsize=1, label=r["regime"])
        axes[1].plot(r["t"], r["single"], "-", color=col, lw=0.8, label=r["regime"])
    axes[0].set_ylabel(r"$\mathbb{E}[\mathrm{Var}_t]/\mathrm{Var}_0$")
    axes[1].set_ylabel("P(one component left)")
    for ax in axes:
        ax.set_xlabel("generation $t$")
    # the legend above the right panel's curves (a probability: headroom above 1) hides no point
    axes[1].set_ylim(-0.03, 1.45)
    axes[1].legend(*axes[0].get_legend_handles_labels(), loc="upper left", fontsize=6,
                   title=f"2-component mixture, $M = {data['M']}$", title_fontsize=6)


register(Figure(
    "mixture_variance", "Gaussian mixture (K = 2, M = 20) refitted by EM each generation (Shumailov et "
    "al.'s experiment): its total variance follows the Gaussian's exact laws, E Var_t = Var_0 (1 − 1/M)^t "
    "under replace and the pooled law under accumulate, because every M-step matches the data's mean "
    "and second moment. Right: chains whose mixture has lost a component (a dropped singular "
    "component; a single Gaussian is never split again).", ("R12.moments",), 2,
    mixture_variance, draw_mixture_variance))


# (b) the KDE with a fixed and with Silverman's bandwidth --------------------------------------------
KDE_CASES = (("h = 0.5, replace", 0.5, "replace", 40), ("h = 0.5, accumulate", 0.5, "accumulate", 40),
             ("Silverman, replace", None, "replace", 15))


def kde_variance(budget: FigureBudget, rng) -> dict:
    M, chains, var0 = 20, int(2000 * budget.scale), 1.0
    out: dict = {"M": M, "chains": chains, "runs": [], "checks": []}
    for label, h, regime, T in KDE_CASES:
        loop = KDELoop(M=M, h=h, regime=Regime(regime), var0=var0)
        run = loop.run(T, chains, seed=_seed(rng), record_every=1)
        trace: dict = run.trace or {}
        ts = np.array(trace["t"])
        mean = np.array(trace["mean"]["total_var"])
        sem = np.sqrt(np.array(trace["var"]["total_var"]) / chains)
        # the law is linear: its mean over initial data sets starts from E P_0 = (1 − 1/M) var0
        P = moment_trajectory(regime, [M] * T, [0.0, 0.0, (1 - 1 / M) * var0], h=h or 0.0,
                              silverman=h is None)[:, 2]
        fitted = M * np.maximum(np.arange(T + 1), 1) if regime == "accumulate" else np.full(T + 1, M)
        theory = model_variance(P, fitted, h or 0.0, h is None)
        out["runs"].append({"label": label, "t": ts, "var": mean, "var_sem": sem,
                            "theory_t": np.arange(T + 1), "theory_var": theory,
                            "theory_stationary": None if h is None or regime != "replace" else M * h**2})
        # Silverman's variance is a product of random factors as well: compared for t <= 5
        ok = ts <= 5 if h is None else np.ones(len(ts), bool)
        out["checks"].append({"what": f"E total_var_t, KDE {label} (R12.moments, exact)",
                              "estimate": mean[ok], "sem": sem[ok], "theory": theory[ts][ok]})
    return out


def draw_kde_variance(fig, ax, data):
    for i, r in enumerate(data["runs"]):
        col, mk = color(i), marker(i)
        ax.plot(r["theory_t"], r["theory_var"], "-", color=col, lw=0.8)
        ax.errorbar(r["t"][::2], r["var"][::2], yerr=r["var_sem"][::2], fmt=mk, ms=2.5, color=col, capsize=1,
                    label=r["label"])
        if r["theory_stationary"] is not None:
            ax.axhline(r["theory_stationary"], color=col, ls=":", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("generation $t$")
    ax.set_ylabel(r"$\mathbb{E}[\mathrm{Var}_t]$ of the KDE")
    ax.legend(fontsize=6, title=f"KDE, $M = {data['M']}$, data N(0, 1)", title_fontsize=6)


register(Figure(
    "kde_variance", "Gaussian KDE refitted on its own samples (M = 20): with a fixed bandwidth h the "
    "variance relaxes to M h² (dotted) under replace, E V_t = (1 − 1/M) V_{t−1} + h², and grows slowly "
    "under accumulate; with Silverman's rule it is multiplied by 1 − 1/M + 1.06² M^(−2/5) > 1 every "
    "generation. Lines: exact laws (R12.moments); points: simulation.", ("R12.moments",), 1,
    kde_variance, draw_kde_variance))
