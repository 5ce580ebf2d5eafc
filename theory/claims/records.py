"""The claims: statements of the papers issues 21 and 22 name, each with the setting that checks it.

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
from ..models import regression_laws as RL
from ..models.moment_laws import moment_trajectory
from ..models import rbm_laws
from ..numeric import evaluate, subs
from ..params import derivation_setting
from ..regime import Regime
from ..results import regimes as R
from ..results.operators import fixed_support, phase, selection_factor
from ..setting import Setting
from ..stats import mean_sem
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
DOHMATOB = Citation("E. Dohmatob, Y. Feng, J. Kempe", "Model Collapse Demystified: The Case of Regression",
                    "2402.07712", "abstract; the isotropic least-squares test error", "NeurIPS 2024")
FU = Citation("S. Fu, S. Zhang, Y. Wang, X. Tian, D. Tao", "Towards Theoretical Understandings of "
              "Self-Consuming Generative Models", "2402.11778",
              "abstract: bounds with mixed real data; kernel density estimation", "ICML 2024")
JANGJOO = Citation("F. Jangjoo, G. Di Sarra, M. Marsili, Y. Roudi", "Lost in Retraining: Closed-Loop "
                   "learning and model collapse in exponential families", "2506.20623", "",
                   "Phys. Rev. Lett. 136, 197301 (2026)")

MARCHI = Citation("M. Marchi, S. Soatto, P. Chaudhari, P. Tabuada", "Heat Death of Generative Models in "
                  "Closed-Loop Learning", "2404.02325", "abstract: temperature, collapse or uniform outputs")
ALEMOHAMMAD = Citation("S. Alemohammad, J. Casco-Rodriguez, L. Luzi, A. I. Humayun, H. Babaei, D. LeJeune, "
                       "A. Siahkoohi, R. G. Baraniuk", "Self-Consuming Generative Models Go MAD", "2307.01850",
                       "abstract: sampling bias trading diversity for quality", "ICLR 2024")
DOHMATOB = Citation("E. Dohmatob, Y. Feng, P. Yang, F. Charton, J. Kempe", "A Tale of Tails: Model Collapse as "
                    "a Change of Scaling Laws", "2402.07043", "abstract and its tail-cutting mechanism (top-p)",
                    "ICML 2024")
QIAO = Citation("X. Qiao, X. Du, W. Liu, J. Zhang, P. Mai, M. Zhang, Y. Pang", "When Sample Selection Bias "
                "Precipitates Model Collapse", "2606.13732", "abstract: selection that prunes tails", "ICML 2026")
FERBACH = Citation("D. Ferbach, Q. Bertrand, A. J. Bose, G. Gidel", "Self-Consuming Generative Models with "
                   "Curated Data Provably Optimize Human Preferences", "2407.09499",
                   "abstract: curation by a reward model")

def at(citation: Citation, where: str) -> Citation:
    return Citation(citation.authors, citation.title, citation.arxiv, where, citation.venue)


READ_ABSTRACT = "the abstract, read through the search tool"
RECALLED = "the theorem's wording was not available to the search tool: as recalled, not re-read"


# --- reading a run --------------------------------------------------------------------------------
def chains(run, name: str) -> np.ndarray:
    """Per-chain values of an observable at the last generation (``var``, ``phi1``, ``entropy``)."""
    return np.asarray(run.loop.observables(run.state)[name], float)


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


# --- the sampling operators (issue 22) --------------------------------------------------------------
def tempered_p(family, T: float, p: np.ndarray) -> np.ndarray:
    """The Bernoulli's tempered p_T at p (R11.temperature.map's θ_T, the vertices kept)."""
    d = derivation("R11.temperature.map", family)
    if d is None or not d.result["stays"]:
        raise ValueError("R11.temperature.map gives no tempered member here")
    theta_T = d.result["theta_T"][0]
    inner = (p > 0) & (p < 1)
    theta = np.log(np.where(inner, p, 0.5) / (1 - np.where(inner, p, 0.5)))
    out = 1 / (1 + np.exp(-np.broadcast_to(evaluate(theta_T, {"theta": theta, "T": T}), p.shape)))
    return np.where(inner, out, p)


def tempered_chain(run, T: float | None = None) -> np.ndarray:
    """The exact transition matrix of the run's Bernoulli loop under a temperature on U, the ones among
    its n = M + m points: U' = Binomial(M, p_T(U/n)) + Binomial(m, p*) (``T``: another temperature,
    for a control)."""
    from scipy.stats import binom

    loop = run.loop
    M, m = loop.M, loop.external
    T = loop.operator.temperature if T is None else T
    n = M + m
    p_T = tempered_p(loop.family, T, np.arange(n + 1) / n)
    model = binom.pmf(np.arange(M + 1)[None, :], M, p_T[:, None])
    if m:
        fresh = binom.pmf(np.arange(m + 1), m, float(np.ravel(loop.numeric.mu(loop.theta_star))[0]))
        model = np.array([np.convolve(row, fresh) for row in model])
    return model


def chain_law(run, T: float | None = None) -> np.ndarray:
    """The exact law of U at the run's last generation, from its start p0."""
    P = tempered_chain(run, T)
    n = P.shape[0] - 1
    law = np.zeros(n + 1)
    law[round(mu0(run)[0] * n)] = 1.0  # p0 on the grid k/n: started at a multiple of 1/n
    for _ in range(run.generations):
        law = law @ P
    return law


def _tempered_absorption(run) -> Evidence:
    T = run.loop.operator.temperature
    law, plain = chain_law(run), chain_law(run, 1.0)
    p = chains(run, "p")
    est, sem = mean_sem(((p == 0) | (p == 1)).astype(float))
    derived_phase = phase(T, 0.0, run.loop.family, {"p": mu0(run)[0]})
    return Evidence(f"P(point mass by t={run.generations})", float(law[0] + law[-1]), est, sem,
                    "the exact finite-M chain of the tempered loop, U' ~ Binomial(M, p_T(U/M)), p_T from "
                    "R11.temperature.map", control=float(plain[0] + plain[-1]),
                    control_label="the untempered loop's exact absorption (T = 1)",
                    statement=(derived_phase == "collapse",
                               (f"R11's M -> oo phase at T = {T:g} without external data: {derived_phase} "
                               f"(theta_t = theta_0/T^t runs to a vertex)")))


def _heat_death(run) -> Evidence:
    T = run.loop.operator.temperature
    law, plain = chain_law(run), chain_law(run, 1.0)
    k = np.arange(len(law)) / (len(law) - 1)
    est, sem = mean_sem(chains(run, "p"))
    derived_phase = phase(T, 0.0, run.loop.family, {"p": mu0(run)[0]})
    return Evidence(f"E[p] at t={run.generations}", float(law @ k), est, sem,
                    "the exact finite-M chain of the tempered loop (R11.temperature.map's p_T)",
                    published=0.5, control=float(plain @ k), control_label="the untempered loop (E p_t = p0, R1)",
                    statement=(derived_phase == "heat death",
                               (f"R11's M -> oo phase at T = {T:g} without external data: {derived_phase}: "
                               f"theta_t = theta_0/T^t -> 0, the uniform law on the two outcomes")))


def _stable_with_data(run) -> Evidence:
    loop = run.loop
    T, M, m = loop.operator.temperature, loop.M, loop.external
    from scipy.linalg import eig

    def stationary(P):
        w, v = eig(P.T)
        pi = np.real(v[:, np.argmin(np.abs(w - 1))])
        return pi / pi.sum()
    pi, pi_c = stationary(tempered_chain(run)), stationary(tempered_chain(run, 1.0))
    u = (2 * np.arange(M + m + 1) / (M + m) - 1) ** 2
    est, sem = mean_sem((2 * chains(run, "p") - 1) ** 2)
    lam = m / (M + m)
    truth = {"p": float(np.ravel(loop.numeric.mu(loop.theta_star))[0])}
    ph, ph_few = phase(T, lam, loop.family, truth), phase(T, lam / 4, loop.family, truth)
    collapsed = run.collapsed()["fraction"]
    return Evidence(f"E[(2p - 1)^2] at t={run.generations} (stationary)", pi @ u, est, sem,
                    "the exact stationary law of the finite-M chain U' ~ Binomial(M, p_T) + Binomial(m, p*), "
                    "p_T from R11.temperature.map", control=pi_c @ u,
                    control_label="the untempered loop's stationary law (T = 1)",
                    statement=(ph == "stationary" and ph_few == "collapse" and collapsed == 0,
                               (f"R11's M -> oo phase at T = {T:g}: {ph} with lambda = {lam:.3g}, {ph_few} with "
                               f"lambda = {lam / 4:.3g} (the pitchfork at lambda = 1 - T); collapsed chains: "
                               f"{collapsed:.3g}")))


def _diversity_loss(run) -> Evidence:
    loop, T = run.loop, run.loop.operator.temperature
    M, t = loop.M, run.generations
    law = chain_law(run)
    k = np.arange(M + 1) / M
    p = chains(run, "p")
    est, sem = mean_sem(p * (1 - p))
    h0 = mu0(run)[0] * (1 - mu0(run)[0])
    unbiased = h0 * R.second_moment_factor(Setting(loop.family), M, t)
    derived = law @ (k * (1 - k))
    return Evidence(f"E[p(1-p)] at t={t}", derived, est, sem,
                    "the exact finite-M chain of the tempered loop (R11.temperature.map's p_T)",
                    control=unbiased, control_label="the unbiased loop's law p0(1-p0)(1 - 1/M)^t (R10.moments)",
                    statement=(derived < unbiased,
                               (f"at T = {T:g} E p(1-p) falls to {derived:.4g} by t={t}, against {unbiased:.4g} "
                                "without the bias")))


def _tails_never_return(run) -> Evidence:
    loop = run.loop
    fam, K = loop.family, loop.family.d + 1
    p0 = np.append(mu0(run), 1 - sum(mu0(run)))
    mu = np.stack([chains(run, f"phi{a + 1}") for a in range(K - 1)], axis=1)
    last = np.rint((1 - mu.sum(axis=1)) * loop.M) / loop.M  # the least probable level, K
    est, sem = mean_sem(last)
    derivation("R11.truncation", fam)
    support, when = fixed_support(p0, loop.operator.top_k, loop.operator.top_p)
    return Evidence(f"E[p{K}] at t={run.generations} (the least probable level)", 0.0, est, sem,
                    "R11.truncation: top-p drops the level before the first draw and a dropped level is never "
                    "drawn again", control=float(p0[-1]), control_label="the untruncated loop (E p_t = p0, R1)",
                    statement=(K - 1 not in support and len(support) < K,
                               (f"at M = oo the support settles on levels {[i + 1 for i in support]} after "
                               f"{when} generations (R11.truncation); at finite M it only shrinks")))


def _selection_moment(run, what: str) -> Evidence:
    loop = run.loop
    op, M = loop.operator, loop.M
    law = selection_factor(op.select, op.by)
    derivation("R11.selection", loop.family)
    v, shift = law["variance_factor"], law["mean_shift"]
    var0 = mu0(run)[1] - mu0(run)[0] ** 2
    if what == "variance":
        est, sem = mean_sem(chains(run, "var") / var0)
        return Evidence("E[var_1]/var_0", v, est, sem, "R11.selection (M -> oo; O(1/M) per generation)",
                        control=(M - 1) / M, control_label="no selection ((M - 1)/M)",
                        statement=(v < 1, (f"var_t ~ var_0 {v:.4g}^t under replace: after 10 generations "
                                          f"{v ** 10:.3g} of var_0, against {((M - 1) / M) ** 10:.4g} without selection")))
    est, sem = mean_sem((chains(run, "mean") - mu0(run)[0]) / np.sqrt(var0))
    return Evidence("E[m_1 - m_0]/sigma_0 (the reward r(x) = x)", shift, est, sem,
                    "R11.selection (M -> oo; O(1/M) per generation)", control=0.0,
                    control_label="no curation (the mean is a martingale, R1)",
                    statement=(shift > 0 and v < 1,
                               (f"the expected reward rises by {shift:.4g} sigma_t per generation while the variance "
                               f"(the diversity) is multiplied by {v:.4g} < 1")))

# --- Shumailov et al. (mixture), Kazdan et al. and Fu et al. (KDE): theory.models ----------------
def _data_moments(run) -> tuple[float, float]:
    """(E (a_0 − μ*)², E P_0) of an initial data set of M points drawn from the KDE's initial law
    N(μ*, V*): V*/M and V*(M − 1)/M (P with ddof 0)."""
    loop = run.loop
    return loop.var0 / loop.M, loop.var0 * (loop.M - 1) / loop.M


def _kde_law(run, regime: str | None = None, external: int | None = None):
    """E y_t, y = (a − μ*, (a − μ*)², P), of the run's KDE loop from R12.moments (another regime or
    number of external points for a control)."""
    loop = run.loop
    sq, P = _data_moments(run)
    return moment_trajectory(regime or loop.regime.kind, [loop.M] * run.generations, [0.0, sq, P],
                             external=loop.external if external is None else external,
                             h=loop.h or 0.0, truth_var=loop.var0)


def _mixture_narrows(run) -> Evidence:
    loop, T = run.loop, run.generations
    w, m, v = (np.array(p) for p in (loop.w, loop.m, loop.v))
    V0 = float(w @ (v + m**2) - (w @ m) ** 2)
    factor = float(moment_trajectory("replace", [loop.M] * T, [0.0, 0.0, 1.0])[-1, 2])
    est, sem = mean_sem(chains(run, "total_var"))
    return Evidence(f"E total_var at t={T}", V0 * factor, est, sem,
                    "R12.moments (every EM M-step matches the data's mean and second moment, R12.theorem): "
                    "E V_t = V_0 (1 - 1/M)^t", control=V0, control_label="no loss of variance (V_0)",
                    statement=(factor < 1, f"the total variance shrinks by (1 - 1/M) = {1 - 1 / loop.M:.4g} per "
                                           "generation, to 0 as t -> oo"))


def _kde_accumulate(run) -> Evidence:
    T = run.generations
    law, replace = _kde_law(run)[:, 1], _kde_law(run, "replace")[:, 1]
    est, sem = mean_sem(chains(run, "mean") ** 2)
    far = _kde_law(run)[-1, 2]
    return Evidence(f"E (mean_t - mu*)^2 at t={T}", law[-1], est, sem,
                    "R12.moments: the KDE's exact linear moment law (fixed bandwidth, accumulate)",
                    control=replace[-1], control_label="the replace law (the mean diffuses linearly in t)",
                    statement=(law[-1] < 2 * law[T // 2] and replace[-1] > 1.5 * replace[T // 2],
                               (f"accumulate: the mean's error levels off ({law[T // 2]:.4g} at t={T // 2}, "
                                f"{law[-1]:.4g} at t={T}) while replace's grows linearly ({replace[T // 2]:.4g}, "
                                f"{replace[-1]:.4g}); the accumulated KDE's variance still grows, as h^2 ln t "
                                f"(data variance {far:.4g} at t={T}): slow, not bounded")))


def _kde_real_data(run) -> Evidence:
    T = run.generations
    loop = run.loop
    law = _kde_law(run)
    pure = _kde_law(run, external=0)
    est, sem = mean_sem(chains(run, "total_var"))
    V = law[:, 2] + (loop.h or 0.0) ** 2
    return Evidence(f"E total_var at t={T}", V[-1], est, sem,
                    f"R12.moments with {loop.external} fresh points of the truth per generation",
                    control=pure[-1, 2] + (loop.h or 0.0) ** 2,
                    control_label="the loop without the real points (variance relaxing to M h^2)",
                    statement=(abs(V[-1] - V[T // 2]) < 1e-3 * V[-1] and abs(law[-1, 1] - law[T // 2, 1]) < 1e-3,
                               (f"with the real points the variance and the mean's error are stationary "
                                f"(total_var {V[T // 2]:.4g} at t={T // 2}, {V[-1]:.4g} at t={T}; mean error "
                                f"{law[-1, 1]:.4g})")))


# --- Gerstgrasser et al., Dohmatob et al. (linear regression, theory.models) ----------------------
def _regression(run) -> tuple[int, int, float]:
    return run.loop.M, run.loop.d, run.loop.sigma


def _linear_accumulate(run) -> Evidence:
    (M, d, s), T = _regression(run), run.generations
    est, sem = mean_sem(chains(run, "sq_error"))
    limit, bound = RL.accumulate_limit_value(M, d, s), RL.gerstgrasser_bound(M, d, s)
    return Evidence(f"E|w_t - w_0|^2 at t={T}", RL.accumulate_sq_error(T, M, d, s), est, sem,
                    "theory.models.regression_laws: sigma^2 sum_k d/(k(kM - d - 1)) under accumulate with a "
                    "fresh design (the pool's exchangeable rows; inverse-Wishart mean derived by SymPy)",
                    published=bound, relation="<=", control=RL.replace_sq_error(T, M, d, s),
                    control_label="the replace law t sigma^2 d/(M - d - 1)",
                    statement=(limit < bound,
                               (f"the limit in t is sigma^2 d/(d + 1) [psi(1) - psi(1 - (d + 1)/M)] = {limit:.5g}, "
                                f"below pi^2/6 sigma^2 d/(M - d - 1) = {bound:.5g} with a fresh design every "
                                "generation; the bound is exactly the limit when one design is reused "
                                "(sigma^2 tr(X^T X)^-1 sum_k 1/k^2, in expectation over the design)")))


def _linear_replace(run) -> Evidence:
    (M, d, s), T = _regression(run), run.generations
    est, sem = mean_sem(chains(run, "sq_error"))
    derived = RL.replace_sq_error(T, M, d, s)
    step = RL.replace_sq_error(1, M, d, s)
    return Evidence(f"E|w_t - w_0|^2 at t={T}", derived, est, sem,
                    "theory.models.regression_laws: w is a martingale, each generation adds sigma^2 E tr(X^T X)^-1 "
                    "= sigma^2 d/(M - d - 1) (inverse-Wishart mean derived by SymPy)",
                    published=s**2 * d * T / (M - d - 1), control=T * s**2 * d / (M - 1),
                    control_label="d and M confused in the inverse-Wishart mean: t sigma^2 d/(M - 1)",
                    statement=(True, (f"exactly linear in t: every generation adds {step:.5g} (the increments "
                                      "of the martingale w are uncorrelated)")))


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
          f"{READ_ABSTRACT}; the bound's constant as recalled; checked: d = 10, M = 50 points per generation, "
          "a fresh N(0, I) design each generation, the exact law of E|w_t - w_0|^2 and its limit",
          {"family": "linear_regression", "family_args": {"d": 10, "sigma": 1}, "M": 50, "init": {"w": 0},
           "regime": "accumulate"}, 20, 5_000, _linear_accumulate),
    Claim("dohmatob2024.linear-replace-growth", DOHMATOB,
          "Least squares refitted on labels of its predecessor: the test error grows linearly in the number "
          "of generations, by sigma^2 d/(T - d - 1) per generation (isotropic Gaussian inputs, T > d + 1 "
          "points).",
          "E test error - clean error = sigma^2 d n/(T - d - 1) after n generations",
          f"{READ_ABSTRACT} (test error increases linearly in the number of model iterations); the formula "
          "as recalled; checked: d = 10, T = M = 50, fresh design, the exact law of E|w_t - w_0|^2",
          {"family": "linear_regression", "family_args": {"d": 10, "sigma": 1}, "M": 50, "init": {"w": 0}},
          10, 5_000, _linear_replace),
    Claim("shumailov2024.gmm-variance-shrinks", at(SHUMAILOV, "the Gaussian-mixture experiment"),
          "A two-component Gaussian mixture refitted by EM on its own samples loses variance over the "
          "generations: its tails disappear.",
          "the fitted mixture narrows over generations (shown by simulation)",
          f"{RECALLED}; checked: R12.moments, E total_var_t = total_var_0 (1 - 1/M)^t exactly (every EM "
          "M-step matches the data's mean and second moment, R12.theorem), against the chains' mean",
          {"family": "gaussian_mixture", "family_args": {"K": 2}, "M": 50,
           "init": {"w1": 0.5, "m1": -1.0, "m2": 1.0, "v1": 0.5, "v2": 0.5}}, 10, 2_000, _mixture_narrows),
    Claim("kazdan2024.kde-replace-vs-accumulate", at(KAZDAN, "abstract: kernel density estimation"),
          "A kernel density estimate refitted on its own samples collapses under replace, and stays "
          "stable under accumulate.",
          "replace: collapse; accumulate: the test loss does not diverge",
          f"{READ_ABSTRACT}; checked (R12.moments, fixed h): replace relaxes the KDE's variance to M h^2 "
          "while its mean diffuses without bound; accumulate's variance still grows, as h^2 ln t (slowly, "
          "not bounded)",
          {"family": "kde", "family_args": {"h": 0.5}, "M": 20, "regime": "accumulate",
           "init_sample": "normal:mean=0,var=1"}, 40, 4_000, _kde_accumulate),
    Claim("fu2024.kde-real-data-bounded", FU,
          "With enough real data mixed into every generation, the self-consuming loop's distance to the "
          "real distribution stays controlled (kernel density estimation among the models).",
          "the TV distance is bounded when the real share or the data set is large enough",
          f"{READ_ABSTRACT}; checked: the KDE with m fresh points of the truth per generation has a "
          "stationary mean error and variance (R12.moments' linear law with external points)",
          {"family": "kde", "family_args": {"h": 0.5}, "M": 20, "external": 5,
           "init_sample": "normal:mean=0,var=1"}, 200, 4_000, _kde_real_data),
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
    Claim("marchi2024.low-temperature-collapses", MARCHI,
          "Without external data, a temperature below 1 drives the loop to a small set of outputs.",
          "collapse to a small set of outputs (T < 1, not enough external data)",
          f"{READ_ABSTRACT}; checked: the Bernoulli at T = 0.8 without external data, the fraction of chains "
          "on a point mass against the exact tempered chain, and R11's M -> oo phase",
          {"family": "bernoulli", "M": 50, "init": {"p": 0.4}, "temperature": 0.8}, 30, 20_000,
          _tempered_absorption),
    Claim("marchi2024.high-temperature-heat-death", MARCHI,
          "Without external data, a temperature above 1 drives the loop to the uniform law (heat death).",
          "uniform over the outputs (T > 1, not enough external data): E p -> 1/2",
          f"{READ_ABSTRACT}; checked: the Bernoulli at T = 1.25 from p = 0.2, E p_t against the exact tempered "
          "chain and 1/2, and R11's M -> oo phase",
          {"family": "bernoulli", "M": 50, "init": {"p": 0.2}, "temperature": 1.25}, 30, 20_000, _heat_death),
    Claim("marchi2024.external-data-stabilises", MARCHI,
          "With enough external data per generation a non-trivial temperature leaves the loop stable.",
          "stable with a sufficient amount of external data (no threshold in this setting)",
          f"{READ_ABSTRACT}; checked: the Bernoulli at T = 0.8 with a third of each generation fresh from "
          "p* = 1/2 (above R11's pitchfork lambda = 1 - T): the exact stationary law, no collapse, and the "
          "collapse R11 derives with a quarter of that data",
          {"family": "bernoulli", "M": 40, "init": {"p": 0.5}, "truth": {"p": 0.5}, "external": 20,
           "temperature": 0.8}, 200, 20_000, _stable_with_data),
    Claim("alemohammad2023.sampling-bias-accelerates", ALEMOHAMMAD,
          "Without fresh real data, sampling biased towards quality (e.g. a temperature below 1) makes the "
          "loss of diversity faster.",
          "diversity (recall) progressively decreases; faster with the bias",
          f"{READ_ABSTRACT}; the acceleration by the bias as recalled from the paper's sampling-bias loops, not "
          "re-read; checked: the Bernoulli's E p(1-p) at T = 0.9 against the exact tempered chain and the "
          "unbiased loop's law",
          {"family": "bernoulli", "M": 20, "init": {"p": 0.3}, "temperature": 0.9}, 10, 40_000, _diversity_loss),
    Claim("dohmatob2024.truncated-tails-never-return", DOHMATOB,
          "Sampling with a cut-off tail (top-p) removes the tail from the next model's data, and it does not "
          "come back.",
          "the tail is truncated and lost (a change of the scaling laws; no number in this setting)",
          f"{READ_ABSTRACT}; the tail cut by top-p sampling as a third-party summary of the paper describes it "
          "(not re-read in the paper); checked: a Zipf-like categorical (K = 5, p_k ~ 1/k) under top-p 0.8 for 40 generations: "
          "the least probable level's mass (R11.truncation) and the M = oo support",
          {"family": "categorical", "family_args": {"K": 5}, "M": 100,
           "init": {"p1": 0.437956, "p2": 0.218978, "p3": 0.145985, "p4": 0.109489}, "top_p": 0.8},
          40, 20_000, _tails_never_return),
    Claim("qiao2026.selection-precipitates-collapse", QIAO,
          "Selecting samples in a way that prunes the tails precipitates collapse.",
          "selection accelerates collapse, diversity decays (a power law in their siloed setting)",
          f"{READ_ABSTRACT}; checked: the toolkit's nearest operator, the Gaussian keeping the larger half of "
          "its draws (a one-sided selection that prunes a tail), one generation at M = 2000 against R11's "
          "variance factor",
          {"family": "gaussian", "M": 2000, "init": {"mean": 0.0, "var": 1.0}, "select": 0.5, "by": "largest"},
          1, 500, lambda run: _selection_moment(run, "variance")),
    Claim("qiao2026.accumulate-slows", QIAO,
          "Under accumulate, the collapse precipitated by selection is slowed.",
          "slower collapse when data accumulate", f"{READ_ABSTRACT}",
          not_checkable="R11.selection derives accumulate for --by abs_deviation only (which keeps the tails "
                        "and grows the variance); for a one-sided selection the batch means spread and no law is "
                        "derived (the figure selection_variance shows the simulation)"),
    Claim("ferbach2024.curation-reward-rises", FERBACH,
          "Retraining on data curated by a reward model increases the expected reward, at the cost of diversity.",
          "the expected reward is maximised by iterative retraining on curated data",
          f"{READ_ABSTRACT}; their curation is a discrete choice among K samples (a Bradley-Terry law); checked "
          "with the toolkit's hard curation instead, the Gaussian keeping the half of its draws with the "
          "larger reward r(x) = x: the reward's rise and the variance factor (R11.selection)",
          {"family": "gaussian", "M": 2000, "init": {"mean": 0.0, "var": 1.0}, "select": 0.5, "by": "largest"},
          1, 500, lambda run: _selection_moment(run, "mean")),
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
