"""The claims: statements of the papers issue 21 names, each with the setting that checks it.

Each record says what was read (``checked``): the abstracts were read through the project's
search tool; where a theorem's exact wording was not available there it is given as recalled
and marked so. Quick budgets keep the whole registry well under a minute on 2 cores.

Adding a claim: a :class:`~.registry.Claim` in ``CLAIMS`` whose ``check(run)`` returns the
:class:`~.registry.Evidence`. A setting option new to ``simulate`` (the sampling operators of
issue 22, ``--temperature``, ``--top-p``, ``--select``) is one line in ``registry.FLAGS``; a model
class (issue 23) is a ``family`` with ``family_args``. Until the toolkit runs a setting, its
claim reports "not checkable" with the toolkit's own refusal, and runs once the feature lands.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .. import symbols as S
from ..laws import frozen_law, star_values
from ..models import rbm_laws
from ..numeric import evaluate, subs
from ..params import derivation_setting
from ..regime import Regime
from ..results import regimes as R
from ..setting import Setting
from ..store import derivation
from .exact import gaussian_log_var_step
from .registry import Citation, Claim, Evidence

# --- the papers -----------------------------------------------------------------------------------
SHUMAILOV = Citation("I. Shumailov, Z. Shumaylov, Y. Zhao, N. Papernot, R. Anderson, Y. Gal",
                     "AI models collapse when trained on recursively generated data", "2305.17493",
                     "the Gaussian model-collapse theorem", "Nature 631, 755-759 (2024)")
SHUMAILOV_DISCRETE = Citation(SHUMAILOV.authors, SHUMAILOV.title, SHUMAILOV.arxiv,
                              "discrete distributions with exact approximation", SHUMAILOV.venue)
GERSTGRASSER = Citation("M. Gerstgrasser, R. Schaeffer, A. Dey, R. Rafailov, D. Pai, H. Sleight, J. Hughes, "
                        "T. Korbak, R. Agrawal, A. Gromov, D. A. Roberts, D. Yang, D. L. Donoho, S. Koyejo",
                        "Is Model Collapse Inevitable? Breaking the Curse of Recursion by Accumulating Real "
                        "and Synthetic Data", "2404.01413", "abstract and the linear-model theorems")
DEY_DONOHO = Citation("A. Dey, D. L. Donoho", "Universality of the pi^2/6 Pathway in Avoiding Model Collapse",
                      "2410.22812", "abstract: augment workflow, relative efficiency at least 6/pi^2")
KAZDAN = Citation("J. Kazdan, R. Schaeffer, A. Dey, M. Gerstgrasser, R. Rafailov, D. L. Donoho, S. Koyejo",
                  "Collapse or Thrive? Perils and Promises of Synthetic Data in a Self-Generating World",
                  "2410.16713", "abstract: accumulate-subsample (fixed compute budget)")
BERTRAND = Citation("Q. Bertrand, A. J. Bose, A. Duplessis, M. Jiralerspong, G. Gidel",
                    "On the Stability of Iterative Retraining of Generative Models on their own Data",
                    "2310.00429", "main theorem: stability with a large enough share of real data")
XU = Citation("S. Xu, H. He, G. Cheng", "A Probabilistic Perspective on Model Collapse", "2505.13947",
              "abstract: growing sample sizes")
FU = Citation("S. Fu, S. Zhang, Y. Wang, X. Tian, D. Tao", "Towards Theoretical Understandings of "
              "Self-Consuming Generative Models", "2402.11778",
              "abstract: bounds with mixed real data; kernel density estimation", "ICML 2024")
JANGJOO = Citation("F. Jangjoo, G. Di Sarra, M. Marsili, Y. Roudi", "Lost in Retraining: Closed-Loop "
                   "learning and model collapse in exponential families", "2506.20623", "",
                   "Phys. Rev. Lett. 136, 197301 (2026)")


def at(citation: Citation, where: str) -> Citation:
    return Citation(citation.authors, citation.title, citation.arxiv, where, citation.venue)


READ_ABSTRACT = "the abstract, read through the search tool"
RECALLED = "the theorem's wording was not available to the search tool: as recalled, not re-read"


# --- reading a run --------------------------------------------------------------------------------
def chains(run, name: str) -> np.ndarray:
    """Per-chain values of an observable at the last generation (``var``, ``phi1``, ``entropy``)."""
    return np.asarray(run.loop.observables(run.state)[name], float)


def mean_sem(x: np.ndarray) -> tuple[float, float]:
    return float(np.mean(x)), float(np.std(x, ddof=1) / np.sqrt(len(x)))


def mu0(run) -> tuple[float, ...]:
    """The start's expectation parameters μ(θ0)."""
    return tuple(float(v) for v in np.ravel(run.loop.init_mu))


def at_start(expr, run, **values) -> float:
    """An expression of μ (and e.g. M) evaluated at the run's start μ(θ0), by symbol name."""
    fam = run.loop.family
    names = {m.name: v for m, v in zip(fam.mu_symbols, mu0(run), strict=True)} | values
    return float(sp.N(subs(expr, names)))  # exact constants such as log(10**26) stay SymPy's


# --- Shumailov et al. -----------------------------------------------------------------------------
def _log_variance(run) -> Evidence:
    M, T = run.loop.M, run.generations
    est, sem = mean_sem(np.log(chains(run, "var")))
    step = gaussian_log_var_step(M)
    unbiased = step + float(np.log(M / (M - 1)))  # the refit var' = S/(M−1) instead of S/M
    derived = float(np.log(mu0(run)[1] - mu0(run)[0] ** 2)) + T * step
    return Evidence(f"E[log var] at t={T}", derived, est, sem,
                    "this record: M var'/var ~ chi2(M-1), E log chi2_k from its moments (SymPy)",
                    control=derived - T * step,
                    control_label="no drift in log var (variance kept on average)",
                    statement=(step < 0 and unbiased < 0,
                               (f"log var is a random walk with drift {step:.4g} < 0 per generation, so "
                                f"var -> 0 almost surely (strong law); with the theorem's unbiased refit the "
                                f"drift is {unbiased:.4g}, also < 0")))


def _mle_variance(run) -> Evidence:
    fam, M, T = run.loop.family, run.loop.M, run.generations
    r8 = derivation("R8.moments", fam).result
    start = {S.zeroed(m): v for m, v in zip(fam.mu_symbols, mu0(run), strict=True)}
    moments = dict(zip(r8["monomials"], evaluate(r8["transient"], start | {S.M: M, S.t: T}).ravel(), strict=True))
    mu1, mu2 = fam.mu_symbols
    var0 = mu0(run)[1] - mu0(run)[0] ** 2
    est, sem = mean_sem(chains(run, "var"))
    return Evidence(f"E[var] at t={T}", moments[mu2] - moments[mu1**2], est, sem, "R8.moments (exact transient)",
                    published=var0 * ((M - 1) / M) ** T, control=var0,
                    control_label="E var kept at var0 (the unbiased refit's law)")


def _absorbing(run) -> Evidence:
    fam = run.loop.family
    p_up = at_start(derivation("R6.absorption", fam).result["P[phi1=1]"], run)
    absorbed = run.absorbed()
    on_up = np.asarray(run.state.vertex == run.labels.index("phi1=1"), float)
    est, sem = mean_sem(on_up)
    return Evidence(f"P(absorbed at phi1=1) by t={run.generations}", p_up, est, sem,
                    "R6.absorption (optional stopping: P = mu0)", control=0.5,
                    control_label="both point masses equally likely",
                    statement=(absorbed["fraction"] == 1.0,
                               (f"{round(absorbed['fraction'] * run.chains)} of {run.chains} chains sit on a "
                                "point mass by then (R6: the point masses are the absorbing states)")))


# --- Jangjoo et al. -------------------------------------------------------------------------------
def _martingale_absorption(run) -> Evidence:
    fam, T = run.loop.family, run.generations
    N = fam.args["N"]
    r6 = derivation("R6.absorption", fam).result
    p_up = at_start(r6[f"P[phi1={N}]"], run)
    mean_time = at_start(r6["mean_time"], run, M=run.loop.M)
    est, sem = mean_sem((1 + chains(run, "phi1") / N) / 2)
    absorbed = run.absorbed()["fraction"]
    return Evidence(f"E[(1 + phi1_t/N)/2] at t={T} (= P(all spins up) once absorbed)", p_up, est, sem,
                    "R6.absorption (optional stopping); R1: the mean of phi1 is a martingale, so this "
                    "holds at every t", published=(1 + mu0(run)[0] / N) / 2, control=0.5,
                    control_label="the initial bias forgotten (1/2)",
                    statement=(np.isfinite(mean_time),
                               (f"R6's mean absorption time {mean_time:.4g} generations is finite: the "
                                f"chains end on all up or all down ({absorbed:.4g} absorbed by t={T}), all "
                                f"up with the initial share {p_up:.4g}")))


def _entropy_rate(run) -> Evidence:
    M = run.loop.M
    S0 = chains_initial(run, "entropy")
    est, sem = mean_sem(chains(run, "entropy") - S0)
    ent = derivation("R9.entropy", run.loop.setting).result
    exact = 0.5 * gaussian_log_var_step(M)  # S = log sd + const for the Gaussian
    return Evidence("E[S_1 - S_0] (one generation)", exact, est, sem,
                    f"this record: S = (1/2) log var + const, exact; R9.entropy's leading rate "
                    f"{float(ent['pure_rate']):g}/M = {float(ent['pure_rate']) / M:.5g}",
                    published=float(ent["paper_rate"]) / M, control=exact * 1.1,
                    control_label="the derived law off by 10%")


def chains_initial(run, name: str) -> float:
    """An observable of the start (one chain at θ0)."""
    return float(run.loop.observables(run.loop.initial_state(1))[name][0])


def gamma_mean(m: int, rate0: float, lam: float) -> float:
    """The mean of the published law Gamma(2 m rate0, rate 2(m + lambda)) (App. C, Fig. 3)."""
    return 2 * m * rate0 / (2 * (m + lam))


def _stationary_mean(run, published: float) -> Evidence:
    st = run.loop.setting
    res = derivation("R9.stationary", st).result
    values = star_values(st.family, run.loop.truth) if run.loop.truth else {}
    law_mean = float(frozen_law(res, st.family, values).mean())
    est, sem = mean_sem(chains(run, "phi1"))
    collapsed = run.collapsed()["fraction"]
    pure = derivation("R9.stationary", derivation_setting(st.family)).result["normalisable"]
    return Evidence(f"E[mu] at t={run.generations} (chains started from Eq. 18)", law_mean, est, sem,
                    f"R9.stationary ({res['law']}); exact at finite M: the refit is affine in the data",
                    published=published, control=law_mean * 1.05, control_label="Eq. 18's mean off by 5%",
                    statement=(bool(res["normalisable"]) and collapsed == 0 and pure is False,
                               (f"Eq. 18 normalisable with the external data ({res['normalisable']}), not "
                                f"without it ({pure}); collapsed chains: {collapsed:.3g}")))


# --- Bertrand et al. ------------------------------------------------------------------------------
def _fixed_real_data(run) -> Evidence:
    st = run.loop.setting
    res = derivation("R9.stationary", st).result
    law_mean = float(frozen_law(res, st.family, {}).mean())
    est, sem = mean_sem(chains(run, "phi1"))
    collapsed = run.collapsed()["fraction"]
    share = len(st.data) / (run.loop.M + len(st.data))
    return Evidence(f"E[p] at t={run.generations}", law_mean, est, sem,
                    f"R9.stationary ({res['law']}); exact at finite M: the refit is affine in the data",
                    control=law_mean * 1.05, control_label="Eq. 18's mean off by 5%",
                    statement=(bool(res["normalisable"]) and collapsed == 0,
                               (f"real-data share {share:.2g}: Eq. 18 normalisable ({res['normalisable']}: "
                                f"any real point with an interior mean suffices, Diaconis-Ylvisaker); "
                                f"collapsed chains: {collapsed:.3g}")))


# --- Gerstgrasser et al., Dey & Donoho, Kazdan et al. (regimes) -----------------------------------
def under(run, kind: str) -> Setting:
    """The run's family in the pure loop under another regime (constant M): a comparison's law."""
    return Setting(run.loop.family, regime=Regime(kind))


def _accumulate_variance(run) -> Evidence:
    setting, M, T = run.loop.setting, run.loop.M, run.generations
    var0 = mu0(run)[1] - mu0(run)[0] ** 2
    limit = var0 * R.accumulate_limit_factor(setting, M)
    est, sem = mean_sem(chains(run, "var"))
    return Evidence(f"E[var] at t={T}", var0 * R.second_moment_factor(setting, M, T), est, sem,
                    "R10.moments: E var_t = var0 prod_(k<=t) (1 - 1/(M k^2)) under accumulate; "
                    "R10.diffusion for its limit",
                    control=var0 * R.second_moment_factor(under(run, "replace"), M, T),
                    control_label="the replace law (R10.moments) applied to accumulate data",
                    statement=(limit > 0, (f"lim E var_t = {limit:.4g} > 0 under accumulate; the replace "
                                           f"law var0 ((M-1)/M)^t -> 0")))


def _pi2_6_ratio(run) -> Evidence:
    """M E[(mu_T - mu_0)^2]/chi(mu_0): the accumulate error in units of one generation's."""
    setting, M, T = run.loop.setting, run.loop.M, run.generations
    m0 = mu0(run)
    scale = M / at_start(setting.family.in_mu(setting.family.chi)[0, 0], run)
    derived = M * R.mean_error_factor(setting, M, T, m0)
    est, sem = mean_sem((chains(run, "phi1") - m0[0]) ** 2 * scale)
    lam = float(derivation("R10.moments", setting).result["lambda"])
    limit = M * R.accumulate_mean_error_limit(setting, M)
    large_M = 10**6 * R.accumulate_mean_error_limit(setting, 10**6)
    bound = float(np.pi**2 / 6)
    side = "=" if lam == 0 else ("<" if lam < 0 else ">")
    return Evidence(f"M E[(mu_t - mu_0)^2]/chi(mu_0) at t={T}", derived, est, sem,
                    "R10.moments: E(mu_t - mu_0)^2 = chi(mu_0) sum_k c_k prod_(j<k) (1 + lambda c_j), "
                    "c_k = 1/(M k^2) under accumulate; R10.diffusion for its limit in t",
                    published=bound, relation="<=",
                    control=derived * 1.1, control_label="the derived law off by 10%",
                    statement=(abs(large_M - bound) < 1e-4,
                               (f"the ratio's limit in t is {limit:.5g} {side} pi^2/6 = {bound:.5g} at "
                                f"M = {M} (lambda = chi''/2 {side} 0), and "
                                f"{large_M:.5g} at M = 10^6: the constant is the large-M limit")))


def _subsample_error(run) -> Evidence:
    setting, M, T = run.loop.setting, run.loop.M, run.generations
    m0 = mu0(run)
    chi0 = at_start(setting.family.in_mu(setting.family.chi)[0, 0], run)
    sub, far = (chi0 * R.mean_error_factor(setting, M, t, m0) for t in (T, 20000))
    acc, rep = (chi0 * R.mean_error_factor(under(run, kind), M, T, m0) for kind in ("accumulate", "replace"))
    est, sem = mean_sem((chains(run, "phi1") - m0[0]) ** 2)
    return Evidence(f"E[(mean_t - mean_0)^2] at t={T}", sub, est, sem,
                    "R10.moments: the subsample recursion of the pool's moments (finite-population "
                    "subsample); accumulate and replace by the telescoped product", control=acc,
                    control_label="the accumulate law applied to subsample data",
                    statement=(acc < sub < rep and far < 2 * sub,
                               (f"accumulate {acc:.4g} < subsample {sub:.4g} < replace {rep:.4g} at t={T}; "
                                f"subsample at t=20000: {far:.4g} (bounded), replace -> var0")))


# --- Xu, He, Cheng (growing M) ----------------------------------------------------------------------
def _growing(run) -> Evidence:
    setting, M, T = run.loop.setting, run.loop.M, run.generations
    kind = setting.regime.schedule.kind
    h0 = mu0(run)[0] * (1 - mu0(run)[0])
    p = chains(run, "p")
    est, sem = mean_sem(p * (1 - p))
    total = derivation("R10.growth", setting).result[f"sum_{kind}"]
    finite = bool(total.is_finite)
    why = (f"sum 1/M_t = {total}: " + (f"finite, so E p(1-p) stays above p0(1-p0)(1 - sum) = "
                                        f"{h0 * (1 - float(total)):.3g} > 0 (collapse not certain)"
                                        if finite else
                                        "diverges, so E p(1-p) = p0(1-p0) prod(1 - 1/M_t) -> 0 (collapse)"))
    return Evidence(f"E[p(1-p)] at t={T}", h0 * R.second_moment_factor(setting, M, T), est, sem,
                    "R10.growth: E p(1-p) = p0(1-p0) prod_(k<=t) (1 - 1/M_k) (R10.moments with M_t)",
                    control=h0 * R.second_moment_factor(under(run, "replace"), M, T),
                    control_label="the schedule ignored (M_t = M_1)",
                    statement=(finite if kind == "geometric" else not finite, why))


def _rbm_ends_at_1(run, i: int = 0) -> np.ndarray:
    """Per chain: 1 or 0 where unit i is clamped, else E_θ_T[v_i] (its probability of ending at 1)."""
    clamp = run.state.clamp[:, i]
    return np.where(clamp >= 0, clamp, chains(run, f"v{i + 1}"))


def _rbm_collapse(run) -> Evidence:
    m0 = rbm_laws.polarisation(run.loop.p0 @ run.loop.space.V)
    est, sem = mean_sem(_rbm_ends_at_1(run))
    absorbed = float(run.absorbed()["fraction"])
    return Evidence(f"P(v1 ends at 1), t={run.generations}", float(m0[0]), est, sem,
                    "R12.rbm.polarisation: the visible means are martingales under exact ML (SymPy: dl/db_i = "
                    "mean of v_i - E[v_i]), so each unit ends at 1 with its initial mean",
                    control=0.5, control_label="1/2 (the start forgotten)",
                    statement=(absorbed == 1.0, f"{absorbed:.4g} of chains on a single configuration"))


def _rbm_rescue(run) -> Evidence:
    m0 = run.loop.p0 @ run.loop.space.V
    est, sem = mean_sem(chains(run, "v1"))
    on = float(np.mean(chains(run, "point_mass")))
    why = (f"no absorbing state, and {on:.3g} of chains on a single configuration at the end (criterion: under "
           "half; the pure loop has them all there by t = 100)")
    return Evidence(f"E[v1] at t={run.generations}", float(m0[0]), est, sem,
                    "the data's mean of v1 has expectation (M E[v1] + m v1_0)/(M + m) with fresh points "
                    "from the initial model, and exact ML matches it: E[v1_t] = v1_0",
                    control=0.5, control_label="1/2 (the start forgotten)",
                    statement=(not rbm_laws.absorbing_states(3, external=run.loop.external) and on < 0.5, why))


# an RBM with N = 3 visible, H = 2 hidden units (the N(0, 1) draw of --init-seed 14, rounded): means
# 0.84, 0.16, 0.66, far enough from 1/2 for the control
RBM_WEIGHTS = {"b1": 0.7, "b2": -1.0, "b3": -1.6, "c1": -2.9, "W11": 1.2, "W12": 0.0, "W13": 0.5,
               "c2": -0.4, "W21": 1.0, "W22": -0.9, "W23": 2.7}


def _not_yet(issue: str) -> str:
    return f"needs {issue}; the record runs once that lands"


CLAIMS: list[Claim] = [
    Claim("shumailov2024.gaussian-variance-collapse", SHUMAILOV,
          "Refitting a Gaussian on its own samples, the fitted variance collapses to 0 almost surely.",
          "var_t -> 0 almost surely (unbiased refit)",
          f"{RECALLED}; checked: the exact law of log var under the ML refit (a random walk) against "
          "the chains' mean log variance",
          {"family": "gaussian", "M": 20, "init": {"mean": 0.0, "var": 1.0}}, 50, 100_000, _log_variance),
    Claim("shumailov2024.gaussian-mle-variance", SHUMAILOV,
          "With the ML (biased) variance, the expected variance shrinks by (M-1)/M each generation.",
          "E var_t = var0 ((M-1)/M)^t with the ML variance (the law issue 21 states for this setting; the "
          "theorem itself refits the unbiased variance, which keeps E var_t = var0)",
          f"{RECALLED}; checked: R8's exact transient against the chains' mean variance",
          {"family": "gaussian", "M": 20, "init": {"mean": 0.0, "var": 1.0}}, 50, 100_000, _mle_variance),
    Claim("shumailov2024.gaussian-w2-diverges", SHUMAILOV,
          "With unbiased refits, the expected squared Wasserstein-2 distance to the original Gaussian "
          "diverges.",
          "E W2^2(N(mu_t, var_t), N(mu_0, var_0)) -> infinity",
          f"{RECALLED}",
          not_checkable="the statement is for the unbiased variance refit; the toolkit refits by maximum "
                        "likelihood, under which R8 gives E(mu_t - mu_0)^2 = var0 (1 - ((M-1)/M)^t) -> var0, "
                        "bounded (and var_t -> 0), so E W2^2 -> 2 var0: the divergence is the unbiased "
                        "refit's, not the ML loop's"),
    Claim("shumailov2024.discrete-absorbing", SHUMAILOV_DISCRETE,
          "A discrete distribution refitted exactly on its own samples is an absorbing Markov chain whose "
          "only absorbing states are point masses: it collapses with probability 1.",
          "collapse to a delta function with probability 1",
          f"{RECALLED}; checked: every chain absorbed, and the split between the point masses against R6",
          {"family": "bernoulli", "M": 10, "init": {"p": 0.3}}, 400, 20_000, _absorbing),
    Claim("jangjoo2025.martingale-absorption", at(JANGJOO, "abstract and Fig. 1c"),
          "Under maximum likelihood the sufficient statistics are martingales, so the loop ends in an "
          "absorbing state that amplifies the initial bias: all spins up with probability (1 + phi1_0/N)/2.",
          "P(all up) = (1 + phi1_0/N)/2 (Fig. 1c, Eq. 8)",
          "the abstract (read through the search tool) and Fig. 1c's setting (N = 10, M = 50, theta2 = 0); "
          "checked: R6's absorption probability and the chains' mean",
          {"family": "curie_weiss", "family_args": {"N": 10}, "fixed": {"theta2": 0.0}, "M": 50,
           "init": {"theta1": 0.2}}, 3000, 4_000, _martingale_absorption),
    Claim("jangjoo2025.eq17-entropy-rate", at(JANGJOO, "Eq. 17"),
          "In the pure loop the entropy of the fitted model falls at D per unit tau = t/M.",
          "E[dS]/dtau = -D (D parameters): -D/M per generation",
          "the printed Eq. 17 as recorded by R9.entropy ('paper_rate'); checked: one generation of the "
          "Gaussian (D = 2) at M = 100, exact law of the entropy step; the toolkit derives -D/2 "
          "(README, R9.entropy; validate's R9.entropy checks reject -D at every family)",
          {"family": "gaussian", "M": 100, "init": {"mean": 0.0, "var": 1.0}}, 1, 200_000, _entropy_rate),
    Claim("jangjoo2025.fig3-stationary", at(JANGJOO, "Fig. 3 and App. C"),
          "Poisson, M = 200, one fresh point per generation from Poisson(1), prior lambda e^(-lambda rate) "
          "with the MAP in the rate, lambda = 1: the rate's stationary law is Gamma(2 m rate0, rate 2(m + "
          "lambda)).",
          "Gamma(2, rate 4): mean 0.5",
          "the paper's Eq. 18 in the Fig. 3 setting; checked: R9.stationary's law and the chains' mean",
          {"family": "poisson", "M": 200, "external": 1, "truth": {"rate": 1.0},
           "prior_law": "exponential:rate=1,on=rate", "init_law": "stationary"}, 600, 40_000,
          lambda run: _stationary_mean(run, gamma_mean(m=1, rate0=1.0, lam=1.0))),
    Claim("jangjoo2025.one-point-stops-collapse", at(JANGJOO, "abstract and Eq. 18"),
          "One external data point per generation is enough to stop collapse: the loop has a stationary law.",
          "Eq. 18 with m = 1: Gamma(2 rate0, rate 2), mean rate0 = 1",
          "Eq. 18 and the abstract; checked: normalisability with and without the point (R9.stationary), "
          "no chain collapsing, and the stationary mean",
          {"family": "poisson", "M": 200, "external": 1, "truth": {"rate": 1.0}, "init_law": "stationary"},
          600, 40_000, lambda run: _stationary_mean(run, gamma_mean(m=1, rate0=1.0, lam=0.0))),
    Claim("bertrand2023.fixed-real-data", BERTRAND,
          "Iterative retraining on a mix of a fixed real data set and the model's own samples is stable when "
          "the share of real data is large enough.",
          "stability (a sufficient condition on the real-data share; no number in this setting)",
          f"{READ_ABSTRACT} (stable when the initial model is close to the data and the share of real data "
          "is large enough: a sufficient condition); checked: 10 real points (3 ones) re-used every "
          "generation beside M = 40 model points, started far from the data (p = 0.6): Eq. 18 "
          "normalisable, no collapse, stationary mean",
          {"family": "bernoulli", "M": 40, "init": {"p": 0.6},
           "data": [{"s": 1.0}] * 3 + [{"s": 0.0}] * 7}, 400, 20_000, _fixed_real_data),
    Claim("gerstgrasser2024.gaussian-accumulate-variance", GERSTGRASSER,
          "Accumulating data (all past generations kept) avoids collapse, where replacing it collapses.",
          "bounded error under accumulate (proved for linear models), collapse under replace",
          f"{READ_ABSTRACT}; checked in the Gaussian, the loop of the toolkit: the fitted variance under "
          "accumulate against its exact law, and its limit",
          {"family": "gaussian", "M": 10, "init": {"mean": 0.0, "var": 1.0}, "regime": "accumulate"},
          50, 20_000,
          _accumulate_variance),
    Claim("gerstgrasser2024.linear-accumulate-bound", GERSTGRASSER,
          "Linear models refitted on accumulated data: the test error is bounded independently of the "
          "number of iterations (by a pi^2/6 factor), while under replace it grows linearly.",
          "E test error <= sigma^2 d/(n - d - 1) pi^2/6 (accumulate); linear growth (replace)",
          f"{READ_ABSTRACT}; the bound's constant as recalled",
          {"family": "linear_regression", "family_args": {"d": 10, "sigma": 1}, "M": 50, "init": {"w": 0},
           "regime": "accumulate"}, 5, 20_000,
          not_checkable=_not_yet("the linear_regression model class (issue 23)")),
    Claim("shumailov2024.gmm-variance-shrinks", at(SHUMAILOV, "the Gaussian-mixture experiment"),
          "A two-component Gaussian mixture refitted by EM on its own samples loses variance over the "
          "generations: its tails disappear.",
          "the fitted mixture narrows over generations (shown by simulation)",
          f"{RECALLED}; to check: R12.moments, E total_var_t = total_var_0 (1 - 1/M)^t exactly (every EM "
          "M-step matches the data's mean and second moment, R12.theorem), against the chains' mean",
          {"family": "gaussian_mixture", "family_args": {"K": 2}, "M": 50,
           "init": {"w1": 0.5, "m1": -1.0, "m2": 1.0, "v1": 0.5, "v2": 0.5}}, 20, 4_000,
          not_checkable=_not_yet("the claims runner's model-class support (issue 23)")),
    Claim("kazdan2024.kde-replace-vs-accumulate", at(KAZDAN, "abstract: kernel density estimation"),
          "A kernel density estimate refitted on its own samples collapses under replace, and stays "
          "stable under accumulate.",
          "replace: collapse; accumulate: the test loss does not diverge",
          f"{READ_ABSTRACT}; to check (R12.moments, fixed h): replace relaxes the KDE's variance to M h^2 "
          "while its mean diffuses without bound; accumulate's variance still grows, as h^2 ln t (slowly, "
          "not bounded)",
          {"family": "kde", "family_args": {"h": 0.5}, "M": 20, "regime": "accumulate"}, 40, 4_000,
          not_checkable=_not_yet("the claims runner's model-class support (issue 23)")),
    Claim("fu2024.kde-real-data-bounded", FU,
          "With enough real data mixed into every generation, the self-consuming loop's distance to the "
          "real distribution stays controlled (kernel density estimation among the models).",
          "the TV distance is bounded when the real share or the data set is large enough",
          f"{READ_ABSTRACT}; to check: the KDE with m fresh points of the truth per generation has a "
          "stationary mean error and variance (R12.moments' linear law with external points)",
          {"family": "kde", "family_args": {"h": 0.5}, "M": 20, "external": 5}, 200, 4_000,
          not_checkable=_not_yet("the claims runner's model-class support (issue 23)")),
    Claim("dey-donoho2024.pi2-6-poisson", DEY_DONOHO,
          "Under the augment (accumulate) workflow the error of the fitted model stays within pi^2/6 of one "
          "generation's.",
          "ratio <= pi^2/6",
          f"{READ_ABSTRACT}; checked: the Poisson mean under accumulate (chi affine in mu: the ratio is "
          "exactly sum_k 1/k^2)",
          {"family": "poisson", "M": 10, "init": {"rate": 2.0}, "regime": "accumulate"}, 100, 20_000,
          _pi2_6_ratio),
    Claim("dey-donoho2024.pi2-6-gaussian", DEY_DONOHO,
          "Under accumulate the Gaussian mean's squared error is bounded by var0 pi^2/(6M).",
          "ratio <= pi^2/6",
          f"{READ_ABSTRACT}; checked: the Gaussian mean with the variance refitted (chi concave in the mean)",
          {"family": "gaussian", "M": 10, "init": {"mean": 0.0, "var": 1.0}, "regime": "accumulate"}, 100,
          20_000, _pi2_6_ratio),
    Claim("dey-donoho2024.pi2-6-exponential-finite-M", DEY_DONOHO,
          "Read at finite M, the pi^2/6 bound on the accumulate error ratio (the paper states it for large "
          "samples) for the exponential family.",
          "ratio <= pi^2/6",
          f"{READ_ABSTRACT}; checked: the exponential's mean (chi = mu^2, convex) at M = 4: the finite-M "
          "reading of the bound",
          {"family": "exponential", "M": 4, "init": {"rate": 1.0}, "regime": "accumulate"}, 100, 50_000,
          _pi2_6_ratio),
    Claim("kazdan2024.subsample-between", KAZDAN,
          "Accumulate-subsample (the pool kept, a fixed number of points per refit): the error is larger "
          "than under accumulate but plateaus, unlike under replace.",
          "accumulate < subsample < replace, subsample plateaus",
          f"{READ_ABSTRACT}; checked: the Gaussian mean's squared error, exact laws of the three regimes",
          {"family": "gaussian", "M": 10, "init": {"mean": 0.0, "var": 1.0}, "regime": "subsample"},
          20, 4_000,
          _subsample_error),
    Claim("xu2025.linear-growth-collapses", XU,
          "Growing the sample size is necessary to avoid collapse, and with an unbiased estimator the growth "
          "must be superlinear: linear growth still collapses.",
          "collapse unless sum 1/M_t < infinity (M_t superlinear)",
          f"{READ_ABSTRACT}; checked: Bernoulli with M_t = 10 t, R10.growth",
          {"family": "bernoulli", "M": 10, "M_schedule": "linear:10", "init": {"p": 0.3}}, 200, 20_000,
          _growing),
    Claim("xu2025.geometric-growth-survives", XU,
          "With a superlinearly (here geometrically) growing sample size the loop need not collapse.",
          "no collapse when sum 1/M_t < infinity",
          f"{READ_ABSTRACT}; checked: Bernoulli with M_t = 10 (1.5)^(t-1), R10.growth",
          {"family": "bernoulli", "M": 10, "M_schedule": "geometric:10,1.5", "init": {"p": 0.3}}, 40, 20_000,
          _growing),
    Claim("jangjoo2025.rbm-collapse", at(JANGJOO, "closing statement"),
          "The same collapse is seen in models that are not exponential families, such as restricted "
          "Boltzmann machines.",
          "collapse (every chain on a point mass), each visible unit polarised with its initial mean",
          "the paper's closing statement (read through the search tool: words, no number); checked: an RBM "
          "with N = 3 visible and H = 2 hidden units refitted by exact maximum likelihood over its 8 "
          "configurations, every chain absorbed by t = 200, and P(v1 ends at 1) against its initial mean",
          {"family": "rbm", "family_args": {"N": 3, "H": 2}, "M": 10, "init": RBM_WEIGHTS}, 200, 2_000,
          _rbm_collapse),
    Claim("jangjoo2025.rbm-rescue", at(JANGJOO, "closing statement"),
          "In restricted Boltzmann machines, as in exponential families, a little external data stops the "
          "collapse.",
          "no collapse with one fresh point per generation",
          "the paper's closing statement (words, no number); checked: the RBM above with one fresh point "
          "from the initial model per generation: no absorbing state, few chains on a single "
          "configuration, and the visible mean held at its start",
          {"family": "rbm", "family_args": {"N": 3, "H": 2}, "M": 10, "init": RBM_WEIGHTS, "external": 1},
          60, 1_000, _rbm_rescue),
]
