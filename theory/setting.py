"""The closed-loop setting: where a generation's data come from, and how the model is refitted.

Generation t+1 fits, to M model points drawn from f(·|θ_t),

* m_fresh external points drawn afresh every generation from a member f(·|θ*) of the family,
* a fixed external data set, the same points every generation (given by their
  sufficient statistics, or by the data values),

by maximum likelihood, or by MAP with a prior p0 that enters **once per generation**
(not scaled with M): θ_{t+1} = argmax_θ [ Σ_i log f(x_i | θ) + u log p0(θ) ], u ∈ {0, 1}.
The prior is either Gaussian on every free natural parameter, or a named law on one
conventional parameter with the MAP taken in that parameter (no Jacobian). This is the
paper's setting (M model points plus m = m_fresh + |data| external ones, Eq. 2); the
SPEC's M0 anchors among M points are (M − M0) model points plus M0 fresh ones.
The estimators of SPEC §1 (MLE, conjugate MAP with ν pseudo-observations, L2) are declared
here too.

:class:`Setting` is read by the derivations (``results.general``) and by the engine
(``engine.loop.ClosedLoop(setting, M, init)``), so a data source, a truth, an estimator or a
prior is declared in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from .lazy import sympy as sp  # imported on first use (theory.lazy)

from .lazy import is_sympy

from . import symbols as S
from .errors import InputError, integer
from .diskcache import canonical
from .family import ExponentialFamily, Finite, Naturals, exact, format_number
from .operator import Operator, as_operator
from .regime import Regime, as_regime
from .safe_parse import numbers
from .twin import FamilyTwin


def __getattr__(name: str):
    """``m_ext``: the symbol m of external points per generation (symbolic derivations), one of
    the shared symbols (made on first use: importing this module loads no SymPy)."""
    if name != "m_ext":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return S.m


# --- estimators ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MLE:
    """Maximum likelihood: μ(θ') = φ̄."""

    name = "mle"

    def target(self, phibar, M):
        return phibar


@dataclass(frozen=True)
class MAP:
    """Conjugate MAP: μ(θ') = (M φ̄ + ν μ0)/(M + ν); μ0 the prior mean (expectation parameters)."""

    nu: float
    mu0: tuple[float, ...]
    name = "map"

    def __post_init__(self):
        if not 0 < self.nu < np.inf:
            raise InputError(f"MAP needs finite nu > 0 pseudo-observations, got nu={self.nu:g}")

    def target(self, phibar, M):
        return (M * phibar + self.nu * np.asarray(self.mu0)) / (M + self.nu)


@dataclass(frozen=True)
class L2:
    """L2-regularised MLE: μ(θ') + λ θ' = φ̄."""

    lam: float
    name = "l2"

    def __post_init__(self):
        if not 0 < self.lam < np.inf:
            raise InputError(f"L2 needs a finite lam > 0, got lam={self.lam:g}")

    def target(self, phibar, M):
        return phibar


Estimator = MLE | MAP | L2


# --- priors --------------------------------------------------------------------------------------
# A prior's numbers must stay where float64 and SymPy carry log p0 (products and squares such as
# mean²/var, powers such as ϑ^(shape − 1) raised again in Eq. 18): scales and means within 1e±10,
# shapes within 1e±4. Beyond, a mean of 1e300 gave infinities in the refit, var=1e-100 a complex
# infinity, shape=1e6 a derivation that never finished; a subnormal number is exactly 0 to SymPy.
PRIOR_BOUNDS = {"shape": 1e4, "a": 1e4, "b": 1e4}  # others (mean, var, rate): 1e10


def _prior_number_ok(name: str, value: float) -> bool:
    bound = PRIOR_BOUNDS.get(name, 1e10)
    if not np.isfinite(value) or abs(value) > bound:
        return False
    return name == "mean" or value >= 1 / bound


def _prior_range(name: str) -> str:
    bound = PRIOR_BOUNDS.get(name, 1e10)
    return f"|{name}| <= {bound:g}" if name == "mean" else f"{1 / bound:g} <= {name} <= {bound:g}"


@dataclass(frozen=True)
class NormalPrior:
    """p0(θ) = Π_a N(θ_a; mean_a, var_a) on every free natural parameter (the paper's Fig. 2 prior).

    ``var`` and ``mean`` hold for every parameter; ``each`` overrides them for one parameter,
    by the index of its natural name: ``(("var2", 0.5),)`` gives θ2 (theta2) variance 1/2, and
    ``var1``/``mean1`` are θ1's (θ's for a one-parameter family). ``var`` may be None when every
    free parameter has its own ``varK``.
    """

    var: float | None
    mean: float = 0.0
    each: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        each = tuple(sorted((str(k), float(v)) for k, v in dict(self.each).items()))
        object.__setattr__(self, "each", each)
        for key, v in self.each:
            kind, index = _per_parameter(key)
            if kind not in ("var", "mean") or not index.isdigit() or int(index) < 1:
                raise InputError(f"normal law: unknown item {key!r}; per parameter: varK, meanK "
                                 "(K = 1, 2, ...)")
            if not _prior_number_ok(kind, v):
                raise InputError(f"normal law: {key}={v:g} is outside {_prior_range(kind)}")
        bad_var = self.var is not None and not _prior_number_ok("var", self.var)
        if bad_var or not _prior_number_ok("mean", self.mean):
            raise InputError(f"normal law needs {_prior_range('var')} and {_prior_range('mean')}, "
                             f"got var={self.var}, mean={self.mean}")

    def moments(self, family: ExponentialFamily) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean_a, var_a) of each free natural parameter θ_a of ``family``, in its order."""
        index = {("1" if n == "theta" else n.removeprefix("theta")): n for n in family.names}
        each = dict(self.each)
        for key in each:
            k = _per_parameter(key)[1]
            if k not in index:
                raise InputError(f"normal law: {key} names theta{k}, not a free natural parameter of "
                                 f"{family.title} (free: {', '.join(family.names)})")
        means = tuple(each.get(f"mean{k}", self.mean) for k in index)
        var = tuple(each.get(f"var{k}", self.var) for k in index)
        missing = [n for n, v in zip(family.names, var, strict=True) if v is None]
        if missing:
            raise InputError(f"normal law: no variance for {missing[0]}: give var=V, or varK=V "
                             "for each parameter θK")
        return means, var

    def parameter_symbols(self, family: ExponentialFamily) -> dict[sp.Symbol, float]:
        """The prior's numbers as symbols (var_a > 0, mean_a real, for each θ_a) -> their values."""
        means, var = self.moments(family)
        out = {}
        for a, (m, v) in enumerate(zip(means, var, strict=True), start=1):
            out |= {sp.Symbol(f"_var{a}", positive=True): v, sp.Symbol(f"_mean{a}", real=True): m}
        return out

    def log_density(self, family: ExponentialFamily, symbolic: bool = False) -> sp.Expr:
        """log p0(θ) = −Σ_a (θ_a − mean_a)²/(2 var_a) − ½ Σ_a log(2π var_a); with ``symbolic``,
        var_a and mean_a as the symbols of :meth:`parameter_symbols`."""
        if symbolic:
            numbers = list(self.parameter_symbols(family))
            var, means = numbers[0::2], numbers[1::2]
        else:
            means, var = self.moments(family)
            means, var = map(exact, means), map(exact, var)
        out = sp.Integer(0)
        for t, m, v in zip(family.theta, means, var, strict=True):
            out += -(t - m) ** 2 / (2 * v) - sp.log(2 * sp.pi * v) / 2
        return out

    @property
    def label(self) -> str:
        items = ([f"var={self.var:g}"] if self.var is not None else []) \
            + ([f"mean={self.mean:g}"] if self.mean else []) + [f"{k}={v:g}" for k, v in self.each]
        return "normal:" + ",".join(items)


def _per_parameter(key: str) -> tuple[str, str]:
    """``"var2"`` -> ("var", "2")."""
    head = key.rstrip("0123456789")
    return head, key[len(head):]


# name -> (parameter names, sympy.stats constructor from sympy.stats and those parameters); sympy.stats
# is imported where a law is built, not by every process that declares a setting
_LAWS = {
    "exponential": (("rate",), lambda ss, p: ss.Exponential("X", p["rate"])),
    "gamma": (("shape", "rate"), lambda ss, p: ss.Gamma("X", p["shape"], 1 / p["rate"])),
    "normal": (("mean", "var"), lambda ss, p: ss.Normal("X", p["mean"], sp.sqrt(p["var"]))),
    "beta": (("a", "b"), lambda ss, p: ss.Beta("X", p["a"], p["b"])),
}


@dataclass(frozen=True)
class LawPrior:
    """A named law on one conventional parameter ϑ, with the MAP taken in ϑ (App. C of the paper).

    In θ the log-prior is log p0(ϑ(θ)) without a Jacobian: MAP is not
    reparametrisation invariant, and this is the prior the paper's Fig. 3 uses.
    """

    law: str
    params: tuple[tuple[str, float], ...]
    on: str

    def __post_init__(self):
        if self.law not in _LAWS:
            raise InputError(f"unknown prior law {self.law!r}; known: normal (on natural parameters "
                             f"or with on=NAME), {', '.join(n for n in _LAWS if n != 'normal')}")
        names = _LAWS[self.law][0]
        given = dict(self.params)
        if set(given) != set(names):
            raise InputError(f"prior {self.law} takes {', '.join(names)} (and on=NAME), got "
                             f"{', '.join(given) or 'nothing'}")
        for k, v in given.items():
            if not _prior_number_ok(k, v):
                raise InputError(f"prior {self.law}: {k}={v:g} is outside {_prior_range(k)}")

    def parameter_symbols(self, family: ExponentialFamily | None = None) -> dict[sp.Symbol, float]:
        """The law's numbers as symbols (a mean real, the others positive) -> their values (the
        same for every family: ``family`` is read by :meth:`NormalPrior.parameter_symbols` only)."""
        return {sp.Symbol(f"_{k}", real=True, positive=k != "mean"): v for k, v in self.params}

    def log_density(self, family: ExponentialFamily, symbolic: bool = False) -> sp.Expr:
        """log p0(ϑ(θ)) up to a constant, ϑ the conventional parameter ``on`` as an expression in θ;
        with ``symbolic``, the law's numbers as the symbols of :meth:`parameter_symbols`.

        The law is built with symbols and its normalising constant (log Γ(shape), log B(a, b),
        ...: free of ϑ) dropped before the numbers go in: SymPy evaluates Γ of an integer as a
        factorial, and shape=1e4 made a number of 35,000 digits (shape=1e6 never finished).
        """
        self.check_support(family)
        x = sp.Symbol("_x", positive=True)
        symbols = self.parameter_symbols()
        log_p = sp.expand_log(sp.log(self._variable().pspace.distribution.pdf(x)), force=True)
        log_p = sp.Add(*(term for term in sp.Add.make_args(log_p) if term.has(x)))
        if not symbolic:
            log_p = log_p.subs({t: exact(v) for t, v in symbols.items()})
        return log_p.subs(x, family.conventional[self.on])

    @property
    def support(self) -> sp.Set:
        """Where the law has density: (0, ∞) for exponential and gamma, (0, 1) for beta, ℝ for normal."""
        return self._variable().pspace.distribution.set

    def _variable(self):
        """The law as a sympy.stats random variable, its numbers as :meth:`parameter_symbols`."""
        import sympy.stats as ss

        names = (k for k, _ in self.params)
        return _LAWS[self.law][1](ss, dict(zip(names, self.parameter_symbols(), strict=True)))

    def check_support(self, family: ExponentialFamily) -> None:
        """InputError unless ``on`` is a conventional parameter of ``family`` whose range lies in
        the law's support. A law that vanishes where the parameter can go (an exponential prior
        on a Gaussian mean, a beta prior on a Poisson rate) has no log-density there, and its
        formula continued past the support would silently pull the fit out of it."""
        if self.on not in family.conventional:
            raise InputError(f"prior on={self.on}: {family.name} has conventional parameters "
                             f"{', '.join(family.conventional)}")
        reach = parameter_range(family, self.on)
        if reach.is_subset(self.support) is False:
            raise InputError(f"prior {self.label}: the {self.law} law lives on {_interval(self.support)}, "
                             f"but {self.on} of {family.title} ranges over {_interval(reach)}; "
                             f"choose a law whose support covers it")

    @property
    def label(self) -> str:
        return f"{self.law}:" + ",".join(f"{k}={v:g}" for k, v in self.params) + f",on={self.on}"


@functools.lru_cache(maxsize=None)
def parameter_range(family: ExponentialFamily, name: str) -> sp.Set:
    """Values the conventional parameter ``name`` takes over the natural domain, derived by SymPy:
    the union of its ranges along each natural parameter through the family's interior point.
    That union lies inside the whole range, so a law refused for missing part of it is rightly
    refused (Gaussian mean: ℝ; var: (0, ∞); Poisson rate: (0, ∞); Bernoulli p: (0, 1))."""
    from sympy.calculus.util import function_range

    expr, inside = family.conventional[name], family.interior_point()
    reach = sp.EmptySet
    for t in family.theta:
        domain = sp.Interval.open(-sp.oo, 0) if t.name in family.negative else sp.Reals
        try:
            reach = reach | function_range(expr.subs({u: v for u, v in inside.items() if u != t}), t, domain)
        except (NotImplementedError, ValueError, TypeError):  # no range found along t: left out
            continue
    return reach


def _interval(x: sp.Set) -> str:
    """(0, 1), [0, ∞), ℝ: a set as a reader writes it."""
    if x == sp.Reals:
        return "the real line"
    if isinstance(x, sp.Interval):
        ends = [("-inf" if e == -sp.oo else "inf" if e == sp.oo else format_number(e)) for e in (x.start, x.end)]
        return f"{'(' if x.left_open else '['}{ends[0]}, {ends[1]}{')' if x.right_open else ']'}"
    return str(x)


Prior = NormalPrior | LawPrior


def normal_law(params: Mapping[str, float]) -> NormalPrior:
    """A :class:`NormalPrior` from ``var``, ``mean`` and per-parameter ``varK``, ``meanK`` items
    (the grammar of ``--prior-law normal:...`` and ``--init-law normal:...``)."""
    params = dict(params)
    each = {k: v for k, v in params.items() if k not in ("var", "mean")}
    if "var" not in params and not any(k.startswith("var") for k in each):
        raise InputError("a normal law on the natural parameters takes var=V[,mean=A] and per "
                         "parameter varK=V, meanK=A (e.g. normal:var=2,var2=0.5)")
    return NormalPrior(params.get("var"), params.get("mean", 0.0), tuple(each.items()))


def parse_prior(text: str) -> Prior:
    """``normal:var=2[,mean=0][,var2=0.5,mean1=1]`` (on every natural parameter, θ2's variance
    1/2, θ1's mean 1) or ``LAW:k=v,...,on=NAME``."""
    law, sep, rest = text.partition(":")
    if not sep:
        raise InputError(f"malformed prior {text!r}: expected LAW:name=value,... e.g. normal:var=2")
    params, on = {}, None
    for item in filter(None, rest.split(",")):
        k, eq, v = item.partition("=")
        k = k.strip()
        if not eq or not k:
            raise InputError(f"malformed prior item {item!r}: expected name=value")
        if k in params or (k == "on" and on is not None):
            raise InputError(f"prior parameter {k} given twice")
        if k == "on":
            on = v.strip()
            continue
        try:
            params[k] = float(v)
        except ValueError:
            raise InputError(f"prior parameter {k}: {v!r} is not a number") from None
    if law == "normal" and on is None:
        return normal_law(params)
    if on is None:
        raise InputError(f"prior {law} needs on=NAME, the conventional parameter it is a law of")
    return LawPrior(law, tuple(sorted(params.items())), on)


# --- external data -------------------------------------------------------------------------------
def data_point(family: ExponentialFamily, given: Mapping[str, float]) -> tuple[sp.Expr, ...]:
    """φ of one data point given by its value ``s=x`` or (some of) its statistics ``phi1=…``.

    Missing statistics are completed from the data value they determine; a point that is
    not in the sample space, or not determined, is an InputError.
    """
    given = numbers(given, "external data")  # text read without sympify, which would run it
    names = [f"phi{a + 1}" for a in range(family.d)]
    unknown = sorted(set(given) - set(names) - {"s"}, key=str)
    if unknown:
        raise InputError(f"external data: unknown statistic {unknown[0]!r}; {family.name} has "
                         f"{', '.join(names)} (or give the data value as s=VALUE)")
    if not given:
        raise InputError(f"external data: a point needs its statistics ({', '.join(names)}) or "
                         "its value s=VALUE")
    for k, v in given.items():
        try:
            given[k] = float(v)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"external data {k}: {v!r} is not a number") from None
        if not np.isfinite(given[k]):
            raise InputError(f"external data {k}={given[k]} is not finite")
    shown = ",".join(f"{k}={v:g}" for k, v in given.items())
    if "s" in given:
        candidates = [exact(given.pop("s"))]
    elif isinstance(family.space, Finite):
        candidates = list(map(sp.Integer, family.space.levels))
    else:
        first = names.index(next(iter(given)))
        candidates = [x for x in sp.solve(sp.Eq(family.phi[first], exact(given[names[first]])), S.s)
                      if x.is_real]
    points = {tuple(exact(p.subs(S.s, x)) for p in family.phi) for x in candidates
              if _in_space(family, x)}
    match = [p for p in points
             if all(abs(float(p[names.index(k)]) - v) <= 1e-9 * (1 + abs(v)) for k, v in given.items())]
    if not match:
        raise InputError(f"external data {shown}: no data point of {family.title} has these statistics")
    if len(match) > 1:
        raise InputError(f"external data {shown}: several data points match; give every statistic or s=VALUE")
    if not all(np.isfinite(float(v)) for v in match[0]):
        raise InputError(f"external data {shown}: its statistics overflow float64")
    return match[0]


def _in_space(family: ExponentialFamily, x) -> bool:
    sp_ = family.space
    if isinstance(sp_, Finite):
        return x in sp_.levels
    lower, upper = sp_.lower, sp_.upper
    ok = bool((x >= lower) if lower.is_finite else True) and bool((x <= upper) if upper.is_finite else True)
    return ok and (x.is_integer if isinstance(family.space, Naturals) else True)


# --- the setting ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """Data sources and estimator of one closed loop (see module docstring).

    ``anchors``: M0 of each generation's M points drawn from the truth instead of the model
    (SPEC's convention); ``fresh``: external points drawn afresh from the truth each
    generation on top of the M (an int, or a symbol for derivations); ``data``: φ of the
    fixed external points; ``truth``: the truth's natural parameters, name -> value (None:
    the symbol θ*, as in the derivations; conventional names are converted); ``estimator``:
    :class:`MLE`, :class:`MAP` or :class:`L2`; ``prior``: None, a :class:`NormalPrior` or a
    :class:`LawPrior` (MAP with the prior entering once per generation, u = 1); ``regime``:
    the :class:`~theory.regime.Regime` (replace, accumulate or subsample, and M_t), or its
    kind's name; ``operator``: the :class:`~theory.operator.Operator` the model's M points are
    drawn through (temperature, top-k/top-p, selection; the identity by default).
    """

    family: ExponentialFamily  # or, for a simulation only, its numeric twin (theory.twin)
    fresh: int | sp.Expr = 0
    data: tuple[tuple[sp.Expr, ...], ...] = ()
    prior: Prior | None = None
    anchors: int = 0
    truth: Mapping[str, float] | None = None
    estimator: Estimator = field(default_factory=MLE)
    regime: Regime = field(default_factory=Regime)
    operator: Operator = field(default_factory=Operator)

    def __post_init__(self):
        if not isinstance(self.family, ExponentialFamily | FamilyTwin):
            raise InputError(f"a setting needs a family, got {type(self.family).__name__}")
        object.__setattr__(self, "regime", as_regime(self.regime))
        object.__setattr__(self, "operator", as_operator(self.operator))
        self.operator.check(self.family)
        if isinstance(self.prior, str):
            object.__setattr__(self, "prior", parse_prior(self.prior))
        if not isinstance(self.prior, NormalPrior | LawPrior | None):
            raise InputError(f"prior must be a NormalPrior, a LawPrior or its text (normal:var=2), "
                             f"got {type(self.prior).__name__}")
        if isinstance(self.prior, LawPrior):
            self.prior.check_support(self.family)  # derive and simulate alike
        if not isinstance(self.estimator, MLE | MAP | L2):
            raise InputError(f"estimator must be MLE(), MAP(nu, mu0) or L2(lam), got "
                             f"{type(self.estimator).__name__}")
        object.__setattr__(self, "anchors", integer(self.anchors, "anchors M0"))
        if not is_sympy(self.fresh, "Expr"):  # a symbol m for the derivations, else a count
            object.__setattr__(self, "fresh", integer(self.fresh, "external points"))
        if self.prior is not None and not isinstance(self.estimator, MLE):
            raise InputError("a prior law (--prior-law) replaces --estimator: use one or the other")
        if self.truth is not None:
            try:
                truth = dict(self.truth)
                if set(truth) != set(self.family.names):
                    truth = self.family.natural_point(truth)
                truth = tuple((n, float(truth[n])) for n in self.family.names)
            except (TypeError, ValueError) as e:
                if isinstance(e, InputError):
                    raise
                raise InputError(f"truth must map parameter names to numbers, got {self.truth!r}") from None
            if not all(np.isfinite(v) for _, v in truth):
                raise InputError(f"truth {dict(truth)} is not finite")
            object.__setattr__(self, "truth", truth)
        object.__setattr__(self, "data", tuple(self._statistics(p) for p in self.data))

    def _statistics(self, point) -> tuple[sp.Expr, ...]:
        """φ of one fixed data point as exact SymPy numbers: d finite numbers (never text)."""
        try:
            values = tuple(point)
            ok = len(values) == self.family.d and all(
                not isinstance(v, str | bool) and np.isfinite(float(v)) for v in values)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise InputError(f"a fixed data point is {self.family.d} finite statistics "
                             f"(phi1..phi{self.family.d}; see data_point), got {point!r}")
        return tuple(exact(v) for v in values)

    def cache_key(self) -> str:
        """Every field, SymPy objects as srepr (:func:`theory.diskcache.canonical`): a new
        field enters the disk cache's key without an edit elsewhere."""
        return canonical(self)

    @property
    def slug(self) -> str:
        """The family's slug (file names)."""
        return self.family.slug

    def for_derivations(self) -> Setting:
        """The setting with only what the derivations (R9) read: points from the truth (anchors
        and fresh alike), fixed data and prior; θ* stays a symbol. One derivation then serves
        every truth value and estimator."""
        return Setting(self.family, fresh=self.from_truth, data=self.data, prior=self.prior,
                       regime=self.regime, operator=self.operator)

    @property
    def truth_point(self) -> dict[str, float] | None:
        """The truth's natural parameters by name, or None."""
        return None if self.truth is None else dict(self.truth)

    @property
    def from_truth(self):
        """Points drawn from the truth per generation, anchors and fresh ones: M0 + m_fresh."""
        return self.fresh + self.anchors

    @property
    def m(self):
        """External points per generation, m = M0 + m_fresh + |data| (anchors count as external
        points of the paper's setting)."""
        return self.from_truth + len(self.data)

    @property
    def u(self) -> int:
        """1 for MAP with a prior, 0 for ML."""
        return int(self.prior is not None)

    @property
    def label(self) -> str:
        """A short, file-name-safe description: ``fresh1``, ``data-phi1=-6``, ``prior-normal-var=2``."""
        parts = [f"fresh{self.from_truth}"] if self.from_truth != 0 else []
        parts += ["data-" + "_".join(f"phi{a + 1}={format_number(v)}" for a, v in enumerate(p)) for p in self.data]
        if self.prior is not None:
            parts.append("prior-" + self.prior.label.replace(":", "-").replace(",", "_"))
        if self.regime.label:
            parts.append(self.regime.label)
        if self.operator.label:
            parts.append(self.operator.label)
        return "+".join(parts) or "pure"

    @functools.cached_property
    def mu_q(self) -> sp.Matrix:
        """E_q[φ] of the external data: (m_fresh μ(θ*) + Σ_data φ)/m."""
        fam = self.family
        total = sp.Matrix([fam.starred(e) for e in fam.mu]) * self.from_truth
        for p in self.data:
            total += sp.Matrix(p)
        return total / self.m if self.m != 0 else total

    @functools.cached_property
    def log_prior(self) -> sp.Expr:
        """u log p0(θ) (0 for ML)."""
        return sp.Integer(0) if self.prior is None else self.prior.log_density(self.family)

    @functools.cached_property
    def divergence(self) -> sp.Expr:
        """D_KL(q ‖ f_θ) = A(θ) − θ·E_q[φ] + c: exact with fresh data only, else up to a constant c."""
        fam = self.family
        theta = sp.Matrix(fam.theta)
        if not self.data:
            star = sp.Matrix([S.starred(t) for t in fam.theta])
            return fam.A - fam.starred(fam.A) - ((theta - star).T * sp.Matrix(
                [fam.starred(e) for e in fam.mu]))[0]
        return fam.A - (theta.T * self.mu_q)[0]
