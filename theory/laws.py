"""Stationary laws as frozen ``scipy.stats`` objects, and laws the chains start from.

* :func:`frozen_law`: a derived law (R7.stationary, R9.stationary = Eq. 18) with numbers for
  the truth, as a scipy object: Beta, Gamma, InvGamma, BetaPrime of μ; a multivariate normal
  of θ; a Dirichlet of the level probabilities; a :class:`NormalGamma` of (mean, precision).
* :func:`grid_law`: an Eq. 18 law without a name, normalised by quadrature on a grid of θ
  (:class:`GridLaw`: pdf, logpdf, mean, var, cov, marginals, rvs; up to three parameters).
* :class:`StartLaw`: the law of every chain's initial θ (``--init-law``): a normal law on the
  natural parameters, or the setting's own Eq. 18 (``stationary``: named where it is, its
  :class:`GridLaw` for one parameter where it is not). Its draws come from the run's seed
  stream (``ClosedLoop.run`` calls it with the run's generator), so a seed reproduces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.stats as st

from . import numeric
from .errors import InputError
from .family import ExponentialFamily
from .setting import MLE, NormalPrior, Setting
from .store import derivation


@dataclass(frozen=True)
class NormalGamma:
    """The normal–gamma law of (mean ν, precision λ = 1/σ²):

    λ ~ Gamma(shape α, rate β), and given λ, ν ~ N(loc, 1/(κλ)). Marginally ν is Student t
    with 2α degrees of freedom, location loc and scale √(β/(ακ)), and σ² = 1/λ is
    InvGamma(α, scale β). ``rvs`` gives rows (ν, λ).
    """

    loc: float
    kappa: float
    alpha: float
    beta: float

    @property
    def precision(self):
        """The marginal law of λ = 1/σ²: ``scipy.stats.gamma(a=α, scale=1/β)``."""
        return st.gamma(a=self.alpha, scale=1.0 / self.beta)

    @property
    def variance(self):
        """The marginal law of σ² = 1/λ: ``scipy.stats.invgamma(α, scale=β)``."""
        return st.invgamma(self.alpha, scale=self.beta)

    @property
    def location(self):
        """The marginal law of the mean ν: Student t, 2α dof, loc, scale √(β/(ακ))."""
        return st.t(df=2 * self.alpha, loc=self.loc, scale=np.sqrt(self.beta / (self.alpha * self.kappa)))

    def mean(self) -> np.ndarray:
        """E[(ν, λ)] = (loc, α/β)."""
        return np.array([self.loc, self.alpha / self.beta])

    def rvs(self, size: int = 1, random_state=None) -> np.ndarray:
        """``size`` draws of (ν, λ), shape (size, 2)."""
        rng = np.random.default_rng(random_state)
        lam = rng.gamma(self.alpha, 1.0 / self.beta, size)
        return np.stack([self.loc + rng.standard_normal(size) / np.sqrt(self.kappa * lam), lam], axis=-1)

    def logpdf(self, x) -> np.ndarray:
        """log density at rows (ν, λ)."""
        x = np.asarray(x, float)
        nu, lam = x[..., 0], x[..., 1]
        return (self.precision.logpdf(lam)
                + st.norm.logpdf(nu, self.loc, 1 / np.sqrt(self.kappa * np.where(lam > 0, lam, np.nan))))


def star_values(fam: ExponentialFamily, truth: Mapping[str, float]) -> dict:
    """θ* and μ* by name (``theta_star``, ``mu1_star``, ...) of a truth given by any parameters."""
    theta = fam.natural_point(truth)
    out = {f"{n}_star": v for n, v in theta.items()}
    mu = [float(numeric.evaluate(e, theta)) for e in fam.mu]
    out |= {f"{m.name}_star": v for m, v in zip(fam.mu_symbols, mu, strict=True)}
    return out


def frozen_law(result: Mapping, fam: ExponentialFamily, values: Mapping):
    """The named law of a stationary derivation's ``result`` (R7 or R9) at ``values``, as a
    scipy object (see the module docstring); InputError where it is not a named one."""
    if "law" not in result:
        raise InputError(f"the stationary law of this setting of {fam.title} is not a named one "
                         f"(normalisable: {result.get('normalisable')})")
    name = str(result["law"])
    at = lambda key: np.asarray(numeric.evaluate(result[key], values), float)  # noqa: E731
    if name == "Normal":
        return st.multivariate_normal(mean=at("mean").ravel(), cov=at("cov"))
    if name == "Dirichlet":
        return st.dirichlet(at("alpha").ravel())
    if name == "NormalGamma":
        return NormalGamma(*(float(at(k)) for k in ("loc", "kappa", "alpha", "beta")))
    alpha, beta = float(at("alpha")), float(at("beta"))
    if name == "Gamma":  # shape alpha, rate beta
        return st.gamma(a=alpha, scale=1.0 / beta)
    if name == "InverseGamma":  # shape alpha, scale beta
        return st.invgamma(a=alpha, scale=beta)
    if name == "BetaPrime":
        return st.betaprime(alpha, beta)
    if name == "Beta":  # of the rescaled mean (μ − a)/(b − a), returned on [a, b]
        ends = [float(s.phi[0]) for s in fam.absorbing_states]
        lo, hi = min(ends), max(ends)
        return st.beta(alpha, beta, loc=lo, scale=hi - lo)
    raise InputError(f"no scipy law for {name}")


# --- laws the chains start from ------------------------------------------------------------------
@dataclass(frozen=True)
class StartLaw:
    """The law of the initial natural parameters of every chain.

    ``kind``: ``normal`` (independent normals on θ, ``law`` = (means, sds)), ``theta`` (a law
    of θ with ``rvs``: scipy's, or a :class:`GridLaw`), ``mu`` (a scipy law of μ, one
    parameter), ``dirichlet`` (of the level probabilities), ``normal-gamma`` (of the Gaussian's
    mean and precision). ``center``: a typical start (the mean or the mode), the loop's
    reference model when no ``--init`` is given.
    """

    label: str
    kind: str
    law: object
    center: tuple[tuple[str, float], ...]

    def __call__(self, loop, rng: np.random.Generator, chains: int) -> np.ndarray:
        """θ of ``chains`` chains, shape (C, d), drawn with ``rng``; InputError when a draw is not
        a model float64 can carry (outside the natural domain, or numerically on the boundary)."""
        nf, d = loop.numeric, loop.family.d
        if self.kind == "normal":
            means, sds = self.law
            theta = np.asarray(means) + np.asarray(sds) * rng.standard_normal((chains, d))
        elif self.kind == "theta":
            theta = np.asarray(self.law.rvs(size=chains, random_state=rng), float).reshape(chains, d)
        else:
            if self.kind == "mu":
                mu = np.asarray(self.law.rvs(size=chains, random_state=rng), float).reshape(chains, 1)
            elif self.kind == "dirichlet":
                mu = self.law.rvs(size=chains, random_state=rng) @ nf.phi_levels
            else:  # normal-gamma: (ν, λ) -> μ = (ν, ν² + 1/λ)
                nu, lam = self.law.rvs(chains, random_state=rng).T
                mu = np.stack([nu, nu**2 + 1 / lam], axis=-1)
            theta = nf.theta_closed_form(mu)
        face = np.ones((chains, len(nf.levels)), bool) if nf.finite else None
        with np.errstate(all="ignore"):
            bad = ~np.all(np.isfinite(theta), axis=-1) | np.any(theta[:, nf.negative] >= 0, axis=-1)
            if not bad.any():
                mu = nf.mu(theta, face)
                bad = ~np.isfinite(nf.A(theta, face)) | ~np.all(np.isfinite(mu), axis=-1)
        if bad.any():
            raise InputError(f"--init-law {self.label}: {int(bad.sum())} of {chains} initial draws are "
                             f"outside the natural domain of {loop.family.title} or not representable "
                             "in float64 (infinite θ); choose a narrower law")
        # as for --init: a model float64 holds as a point mass is not a start (its spread is lost)
        with np.errstate(all="ignore"):
            point = (np.count_nonzero(nf.level_probabilities(theta, face), axis=-1) == 1) if nf.finite \
                else nf.vertex_index(mu) >= 0
        if point.any():
            raise InputError(f"--init-law {self.label}: {int(point.sum())} of {chains} initial draws are "
                             f"numerically a point mass of {loop.family.title} in float64; choose a "
                             "narrower law")
        return theta


def start_law(setting: Setting, text: str | NormalPrior) -> StartLaw:
    """The :class:`StartLaw` ``--init-law`` names for a loop of ``setting``: ``stationary`` or a
    normal law on the natural parameters (``normal:mean=0,var=1,var2=0.5``, as the priors)."""
    fam = setting.family
    if isinstance(text, NormalPrior):
        law = text
    elif text.strip() == "stationary":
        return _stationary_start(setting)
    else:
        from .setting import parse_prior

        try:
            law = parse_prior(text)
        except InputError as e:
            raise InputError(f"--init-law {text!r}: {e}") from None
        if not isinstance(law, NormalPrior):
            raise InputError(f"--init-law {text!r}: expected stationary or "
                             "normal:var=V[,mean=A][,varK=..,meanK=..]")
    means, var = law.moments(fam)
    for name, m in zip(fam.names, means, strict=True):
        if name in fam.negative and m >= 0:
            raise InputError(f"--init-law {law.label}: its mean {name}={m:g} is outside the natural "
                             f"domain of {fam.title} ({name} < 0)")
    return StartLaw(law.label, "normal", (np.array(means), np.sqrt(var)),
                    tuple(zip(fam.names, map(float, means), strict=True)))


def _stationary_start(setting: Setting) -> StartLaw:
    """Eq. 18 of the loop's setting: its named law, or a grid for one unnamed parameter."""
    fam = setting.family
    if not isinstance(setting.estimator, MLE):
        raise InputError("--init-law stationary: Eq. 18 describes ML and MAP with --prior-law, not "
                         f"--estimator {setting.estimator.name}")
    if setting.from_truth and setting.truth is None:
        raise InputError("--init-law stationary: fresh points and anchors need a --truth")
    res = derivation("R9.stationary", setting.for_derivations()).result
    if res["normalisable"] is not True:
        why = "is not normalisable (the loop collapses)" if res["normalisable"] is False \
            else "could not be shown normalisable"
        raise InputError(f"--init-law stationary: Eq. 18 for this setting of {fam.title} {why}: "
                         "no stationary law to start from")
    values = {} if setting.truth is None else star_values(fam, setting.truth_point)
    nf_center = _center_from_mu(fam)
    if "law" in res:
        law = frozen_law(res, fam, values)
        name = str(res["law"])
        if name == "Normal":
            kind, center = "theta", law.mean
        elif name == "Dirichlet":
            kind, center = "dirichlet", nf_center(law.mean() @ _levels(fam))
        elif name == "NormalGamma":
            kind, center = "normal-gamma", nf_center(np.array([law.loc, law.loc**2 + law.beta / law.alpha]))
        else:
            kind, center = "mu", nf_center(np.array([law.mean()]))
        center = tuple(zip(fam.names, map(float, np.ravel(center)), strict=True))
        return StartLaw("stationary", kind, law, center)
    if fam.d != 1:
        raise InputError(f"--init-law stationary: Eq. 18 for this setting of {fam.title} is normalisable "
                         "but not a named law; sampling it is supported for one free parameter only")
    try:
        law = grid_law(res["log_density"], fam, values)
    except InputError as e:
        raise InputError(f"--init-law stationary: {e}") from None
    return StartLaw("stationary", "theta", law, ((fam.names[0], law.mode()),))


def _levels(fam: ExponentialFamily) -> np.ndarray:
    from .engine.model import numeric_family

    return numeric_family(fam).phi_levels


def _center_from_mu(fam: ExponentialFamily):
    from .engine.model import numeric_family

    nf = numeric_family(fam)
    return lambda mu: nf.theta_closed_form(np.asarray(mu, float).reshape(1, fam.d))[0]


# --- Eq. 18 laws without a name: a normalised density on a grid -----------------------------------
GRID_POINTS = {1: 4001, 2: 601, 3: 101}  # fine-grid points per axis, by the number of parameters
COARSE_POINTS = {1: 4001, 2: 401, 3: 81}  # bracketing grid over θ ∈ [−60, 60]


@dataclass(frozen=True, eq=False)
class GridLaw:
    """A normalised density p(θ) ∝ exp(log_density) on the natural parameters ``names``, by
    quadrature (trapezoids) on a tensor grid that covers every θ where the density is within
    e^−40 of its maximum: the stationary law of Eq. 18 where it is not a named one.

    ``pdf``/``logpdf`` are exact at any θ (the derived log density minus the log of the
    quadrature's normaliser); ``mean``, ``var``, ``cov`` and the marginals
    (``marginal(name)``, a ``scipy.stats.rv_histogram`` on the grid) are quadratures. One
    parameter: θ given as numbers; several: as rows (..., d), like ``multivariate_normal``.
    """

    names: tuple[str, ...]
    log_density: object      # the SymPy log density (up to a constant), numbers already in
    axes: tuple[np.ndarray, ...]
    density: np.ndarray      # the normalised density on the grid, shape (len(axis), ...)
    log_norm: float

    @property
    def d(self) -> int:
        return len(self.names)

    def _log_unnormalised(self, theta) -> np.ndarray:
        theta = np.asarray(theta, float)
        cols = [theta] if self.d == 1 else [theta[..., a] for a in range(self.d)]
        with np.errstate(all="ignore"):
            ell = numeric.evaluate(self.log_density, dict(zip(self.names, cols, strict=True)))
        ell = np.broadcast_to(ell, cols[0].shape).astype(float)
        return np.where(np.isfinite(ell), ell, -np.inf)

    def logpdf(self, theta) -> np.ndarray:
        """log p(θ), normalised (−∞ outside the natural domain)."""
        return self._log_unnormalised(theta) - self.log_norm

    def pdf(self, theta) -> np.ndarray:
        """p(θ), normalised."""
        return np.exp(self.logpdf(theta))

    def _weights(self) -> np.ndarray:
        """Probability of every grid node: density × the trapezoid weights of the tensor grid."""
        w = self.density
        for a, axis in enumerate(self.axes):
            shape = [1] * self.d
            shape[a] = len(axis)
            w = w * _trapezoid_weights(axis).reshape(shape)
        return w

    def mean(self):
        """E[θ] (a float for one parameter, else an array of d)."""
        w = self._weights()
        out = np.array([np.sum(w * self._coordinate(a)) for a in range(self.d)])
        return float(out[0]) if self.d == 1 else out

    def cov(self) -> np.ndarray:
        """Cov[θ], d × d."""
        w, m = self._weights(), np.atleast_1d(self.mean())
        dev = [self._coordinate(a) - m[a] for a in range(self.d)]
        return np.array([[np.sum(w * dev[a] * dev[b]) for b in range(self.d)] for a in range(self.d)])

    def var(self):
        """Var[θ_a] of each parameter (a float for one parameter)."""
        v = np.diag(self.cov())
        return float(v[0]) if self.d == 1 else v

    def std(self):
        return np.sqrt(self.var())

    def mode(self):
        """The grid node of highest density (a float for one parameter)."""
        node = [axis[i] for axis, i in zip(self.axes, np.unravel_index(np.argmax(self.density),
                                                                         self.density.shape), strict=True)]
        return float(node[0]) if self.d == 1 else np.array(node)

    def marginal(self, name: str | None = None):
        """The law of one parameter (by name; the only one by default) as a
        ``scipy.stats.rv_histogram`` on the grid (``pdf``, ``cdf``, ``ppf``, ``mean``, ``rvs``)."""
        if name is None and self.d == 1:
            name = self.names[0]
        if name not in self.names:
            raise InputError(f"no parameter {name!r} in this law; it is a law of {', '.join(self.names)}")
        a = self.names.index(name)
        w = self._weights()
        mass = w.sum(axis=tuple(i for i in range(self.d) if i != a))
        axis = self.axes[a]
        edges = np.concatenate([[axis[0]], (axis[1:] + axis[:-1]) / 2, [axis[-1]]])
        return st.rv_histogram((mass, edges), density=False)

    def rvs(self, size: int = 1, random_state=None) -> np.ndarray:
        """``size`` draws of θ (shape (size,) for one parameter, else (size, d)): a grid node by
        its probability, then uniform within its cell."""
        rng = np.random.default_rng(random_state)
        w = self._weights().ravel()
        idx = np.unravel_index(rng.choice(w.size, size=size, p=w / w.sum()), self.density.shape)
        cols = []
        for a, axis in enumerate(self.axes):
            step = axis[1] - axis[0]
            cols.append(np.clip(axis[idx[a]] + step * (rng.random(size) - 0.5), axis[0], axis[-1]))
        return cols[0] if self.d == 1 else np.stack(cols, axis=-1)

    def _coordinate(self, a: int) -> np.ndarray:
        shape = [1] * self.d
        shape[a] = len(self.axes[a])
        return self.axes[a].reshape(shape)


def _nodes(axes) -> np.ndarray:
    """Every node of the tensor grid: the axis itself for one parameter, else rows (..., d)."""
    return axes[0] if len(axes) == 1 else np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


def _trapezoid_weights(axis: np.ndarray) -> np.ndarray:
    w = np.zeros(len(axis))
    step = np.diff(axis)
    w[:-1] += step / 2
    w[1:] += step / 2
    return w


def grid_law(log_p, fam: ExponentialFamily, values: Mapping, what: str = "Eq. 18") -> GridLaw:
    """The normalised law exp(log_p) of the natural parameters of ``fam`` (numbers for the other
    symbols in ``values``) as a :class:`GridLaw`. A coarse grid over θ ∈ [−60, 60] (θ < 0 for a
    negative parameter) finds where the density is within e^−40 of its maximum; the fine grid
    covers that box. InputError for more than three parameters, or where the coarse grid does
    not bracket the law (the density has not fallen by e^−40 at an end that is not the domain's)."""
    names, d = tuple(fam.names), fam.d
    if d not in GRID_POINTS:
        raise InputError(f"the {what} law of {fam.title} has {d} free parameters: quadrature on a "
                         f"grid is done for at most {max(GRID_POINTS)}")
    log_p = numeric.subs(log_p, {k: v for k, v in values.items() if k not in names})
    free = numeric.free_names(log_p) - set(names)
    if free:
        raise InputError(f"the {what} law needs values for {', '.join(sorted(free))} (give truth=)")
    top = {n: (0.0 if n in fam.negative else 60.0) for n in names}
    coarse = [np.linspace(-60.0, top[n], COARSE_POINTS[d])[: -1 if n in fam.negative else None]
              for n in names]
    probe = GridLaw(names, log_p, tuple(coarse), np.empty(0), 0.0)
    ell = probe._log_unnormalised(_nodes(coarse))
    if not np.isfinite(ell).any():
        raise InputError(f"the {what} law of {fam.title} is zero everywhere on the grid")
    keep = ell > ell.max() - 40
    axes = []
    for a, n in enumerate(names):
        hit = np.flatnonzero(keep.any(axis=tuple(i for i in range(d) if i != a)))
        last = len(coarse[a]) - 1
        if hit[0] == 0 or (hit[-1] == last and n not in fam.negative):
            raise InputError(f"the {what} law of {fam.title} could not be bracketed on {n} in "
                             f"[-60, {top[n]:g}]: it is not normalisable there")
        hi = coarse[a][min(hit[-1] + 1, last)]
        axes.append(np.linspace(coarse[a][hit[0] - 1], hi, GRID_POINTS[d]))
    fine = GridLaw(names, log_p, tuple(axes), np.empty(0), 0.0)
    ell = fine._log_unnormalised(_nodes(axes))
    peak = ell.max()
    unit = GridLaw(names, log_p, tuple(axes), np.exp(ell - peak), 0.0)
    z = float(unit._weights().sum())
    return GridLaw(names, log_p, tuple(axes), np.exp(ell - peak) / z, float(peak + np.log(z)))
