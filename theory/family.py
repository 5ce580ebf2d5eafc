"""The one abstraction: an exponential family declared as data, everything else derived.

A family is declared by its sample space, sufficient statistics φ(s), base
measure h(s) and conventional parameters (expressions in θ). From that, SymPy
derives the log-partition A(θ), the mean map μ = ∇A, the Fisher information
χ = ∇∇A, the third cumulants κ = ∇∇∇A, the inverse mean map (where SymPy
finds a closed form), the KL divergence and the absorbing states.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import symbols as S
from .diskcache import cached_on_disk, canonical
from .errors import InputError, integer
from .numeric import arguments, compiled
from .safe_parse import numbers, sympy_object

if TYPE_CHECKING:
    import sympy as sp

    from . import notation, speedups
    from . import tidy as T
else:  # imported on first use (theory.lazy): the engine reads a family without SymPy
    from .lazy import OnDemand
    from .lazy import sympy as sp
    notation, speedups, T = OnDemand("theory.notation"), OnDemand("theory.speedups"), OnDemand("theory.tidy")


# --- sample spaces -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Finite:
    """A finite sample space: the data symbol s runs over consecutive integer levels."""

    levels: tuple[int, ...]

    def __str__(self) -> str:
        return f"{{{self.levels[0]}, ..., {self.levels[-1]}}}"

    def latex(self) -> str:
        """{0, 1}, or {0, 1, …, n} for more than three levels."""
        lv = self.levels
        inner = ", ".join(str(v) for v in lv) if len(lv) <= 3 else f"{lv[0]}, {lv[1]}, \\dots, {lv[-1]}"
        return rf"\{{{inner}\}}"


@dataclass(frozen=True)
class Levels:
    """s ∈ {0, 1, ..., n} with a symbolic n (a family argument left as a symbol, e.g. N spins).

    Only for symbolic derivations: the engine needs numeric levels (``Finite``).
    """

    upper: sp.Expr

    @property
    def lower(self) -> sp.Expr:
        return sp.Integer(0)

    def __str__(self) -> str:
        return f"{{0, ..., {self.upper}}}"

    def latex(self) -> str:
        """{0, 1, …, n}."""
        return rf"\{{0, 1, \dots, {notation.expr(self.upper)}\}}"


@dataclass(frozen=True)
class Naturals:
    """s ∈ ℕ = {0, 1, 2, ...}."""

    @property
    def lower(self) -> sp.Expr:
        return sp.Integer(0)

    @property
    def upper(self) -> sp.Expr:
        return sp.oo

    def __str__(self) -> str:
        return "N"

    def latex(self) -> str:
        """ℕ = {0, 1, 2, …}."""
        return r"\mathbb{N} = \{0, 1, 2, \dots\}"


@dataclass(frozen=True)
class Interval:
    """A real interval (lower, upper), endpoints possibly infinite."""

    lower: sp.Expr
    upper: sp.Expr

    def __str__(self) -> str:
        return f"({self.lower}, {self.upper})"

    def latex(self) -> str:
        """ℝ, or (lower, upper)."""
        if self.lower == -sp.oo and self.upper == sp.oo:
            return r"\mathbb{R}"
        return rf"({notation.expr(self.lower)}, {notation.expr(self.upper)})"


def __getattr__(name: str) -> Interval:
    """``Reals`` and ``PositiveReals``, made on first use (SymPy's infinities need SymPy)."""
    ends = {"Reals": lambda: (-sp.oo, sp.oo), "PositiveReals": lambda: (sp.Integer(0), sp.oo)}
    if name not in ends:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    space = globals()[name] = Interval(*ends[name]())
    return space


@dataclass(frozen=True)
class AbsorbingState:
    """A degenerate member of the closure of the family: a point mass / a face vertex.

    ``phi`` is the value of the sufficient statistics there; ``attainable`` says
    whether the closed loop can reach it in finitely many generations (a discrete
    sample can be all equal with positive probability; a continuous one cannot).
    """

    phi: tuple[sp.Expr, ...]
    attainable: bool

    @property
    def label(self) -> str:
        """SPEC label: ``phi1=1`` or ``phi1=10,phi2=45`` (integers printed as integers)."""
        names = ["phi1"] if len(self.phi) == 1 else [f"phi{a + 1}" for a in range(len(self.phi))]
        return ",".join(f"{n}={format_number(v)}" for n, v in zip(names, self.phi, strict=True))


def size_argument(family: str, name: str, value, low: int, high: int, why: str) -> int:
    """A family's size argument (n, N, K) as an int in [low, high], checked before any work;
    InputError with the limit and ``why`` it is there otherwise."""
    try:
        return integer(value, f"{family} {name}", low, high)
    except InputError as e:
        raise InputError(f"{e} ({why})") from None


def exact(v) -> sp.Expr:
    """``v`` as an exact SymPy number: an integer or a SymPy rational as it is, an integer-valued
    float as that integer (``sp.nsimplify`` rounds those to 15 digits or even finds radicals:
    829358.0 -> a product of roots), anything else as ``sp.nsimplify`` makes it (0.5 -> 1/2).
    Skips nsimplify's search for a closed form (a third of a millisecond a call) where there is
    nothing to find."""
    if isinstance(v, sp.Rational):
        return v
    if isinstance(v, int | np.integer) and not isinstance(v, bool) or \
            isinstance(v, float) and v.is_integer():
        return sp.Integer(int(v))
    return sp.nsimplify(v)


def format_number(v) -> str:
    """Integers as integers, other numbers as the shortest decimal (``4.5``), symbols as they are."""
    v = exact(v)
    if v.is_integer:
        return str(int(v))
    return repr(float(v)) if v.is_number else str(v)


# --- the family --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ExponentialFamily:
    """f(s | θ) = h(s) exp(θ·φ(s) − A(θ)), declared by its space, φ, h and conventional parameters.

    Parameters
    ----------
    name: SPEC name of the family (``bernoulli``, ...).
    space: ``Finite(levels)``, ``Naturals()`` or an ``Interval``.
    phi: sufficient statistics, expressions in the data symbol ``symbols.s``.
    h: base measure, an expression in ``symbols.s``.
    conventional: conventional parameter name -> expression in the natural parameters.
    negative: names of natural parameters constrained to be negative (the domain).
    natural_names: names of the natural parameters (default ``theta`` or ``theta1..thetad``).
    args: family arguments (``n``, ``K``, ``N``), for labels and the CLI.
    fixed: natural parameters held fixed by :meth:`restrict` (partial MLE), name -> value.
    sum_sampler: ``(rng, mu, m) -> Σφ`` exact law of the sum of m draws (infinite spaces); μ of
    shape (..., d) (one model or a row per chain), Σφ of the same shape. Optional attributes the
    engine's step reads (engine.loop): ``in_domain``, the same draws without checks for μ in the
    mean domain; ``redraws_point_mass``, True if at an attained point mass it returns that point's
    sum and draws no random number; ``mle``, the replace loop's refit drawn directly (Gaussian).
    extra_coordinates: further named coordinates (expressions in θ) shown by R4, e.g. log σ.
    multiplicity: the number of sample configurations a data value s stands for, in ``symbols.s``
    (None: one); a sampling operator acts on configurations (``theory.operator``). Curie–Weiss:
    C(N, s) spin configurations have s spins up, each of base measure h/multiplicity = 1. The
    binomial's C(n, s) is no multiplicity: its outcome is the count itself.
    """

    name: str
    space: Finite | Naturals | Interval
    phi: tuple[sp.Expr, ...]
    h: sp.Expr
    conventional: Mapping[str, sp.Expr]
    negative: tuple[str, ...] = ()
    natural_names: tuple[str, ...] | None = None
    args: Mapping[str, int] = field(default_factory=dict)
    fixed: Mapping[str, float] = field(default_factory=dict)
    sum_sampler: Callable | None = None
    extra_coordinates: Mapping[str, sp.Expr] = field(default_factory=dict)
    multiplicity: sp.Expr | None = None

    def cache_key(self) -> str:
        """The whole declaration as stable text (:func:`theory.diskcache.canonical`): what every
        derivation from the family depends on, the key of the disk cache."""
        return canonical(self)

    # -- declared structure ----------------------------------------------------------------------
    @property
    def d(self) -> int:
        """Number of natural parameters."""
        return len(self.phi)

    @functools.cached_property
    def theta(self) -> tuple[sp.Symbol, ...]:
        """Natural parameters θ (``theta`` or ``theta1..thetad``)."""
        if self.natural_names is not None:
            return S.theta_names(self.natural_names)
        return S.thetas(self.d)

    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        """Names of the natural parameters."""
        return tuple(t.name for t in self.theta)

    @functools.cached_property
    def mu_symbols(self) -> tuple[sp.Symbol, ...]:
        """Expectation-parameter symbols μ_a (the sufficient-statistic averages φ̄_a)."""
        return S.mus(self.d)

    @property
    def title(self) -> str:
        """Name with arguments, e.g. ``binomial (n=10)``."""
        extra = dict(self.args) | {k: v for k, v in self.fixed.items()}
        return self.name + (" (" + ", ".join(f"{k}={v}" for k, v in extra.items()) + ")" if extra else "")

    @property
    def slug(self) -> str:
        """File-name stem: ``curie_weiss``, or ``curie_weiss-fixed-theta2`` for a restriction."""
        return self.name + "".join(f"-fixed-{k}" for k in self.fixed)

    # -- derived cumulants -----------------------------------------------------------------------
    @functools.cached_property
    def _negative_as_positive(self) -> dict[sp.Symbol, sp.Symbol]:
        """θ_a declared negative -> −u_a with u_a > 0, so sums, integrals and logs simplify."""
        return {t: sp.Symbol(f"_u_{t.name}", positive=True) for t in self.theta
                if t.name in self.negative}

    def _partition_function(self) -> sp.Expr:
        """Z = Σ_s h(s) e^{θ·φ(s)} (or ∫), with negative θ_a written −u_a; closed form where found."""
        s, pos = S.s, self._negative_as_positive
        th = [-pos[t] if t in pos else t for t in self.theta]
        weight = self.h * sp.exp(sum(t * p for t, p in zip(th, self.phi, strict=True)))
        if isinstance(self.space, Finite):
            lv = self.space.levels
            total = sp.factor(sp.Add(*(weight.subs(s, v) for v in lv)))
            compact = sp.Sum(weight.subs(s, S.k), (S.k, lv[0], lv[-1]))
            # keep the closed form when it is no longer than the sum itself
            return total if sp.count_ops(total) <= sp.count_ops(compact) else compact
        if isinstance(self.space, Levels):
            # e^{θ_a} -> y_a > 0: the binomial theorem where φ is affine in s; else a Sum
            ys = [sp.Symbol(f"_y{a}", positive=True) for a in range(self.d)]
            w = sp.expand_power_exp(self.h * sp.Mul(*(y ** p for y, p in zip(ys, self.phi, strict=True))))
            # a finite sum: the closed branch holds for every y (SymPy's condition is the series')
            z = sp.summation(w, (s, 0, self.space.upper)).replace(
                lambda e: isinstance(e, sp.Piecewise), _convergent_branch)
            if z.has(sp.Sum):
                return sp.Sum(weight.subs(s, S.k), (S.k, 0, self.space.upper))
            return speedups.powsimp(z.subs({y: sp.exp(t) for y, t in zip(ys, th, strict=True)}))
        if isinstance(self.space, Naturals):
            # e^{θ_a} -> y_a > 0 turns the sum into a power series SymPy recognises
            ys = [sp.Symbol(f"_y{a}", positive=True) for a in range(self.d)]
            w = self.h * sp.Mul(*(y ** p for y, p in zip(ys, self.phi, strict=True)))
            z = _convergent_branch(sp.summation(w, (s, self.space.lower, self.space.upper)))
            return z.subs({y: sp.exp(t) for y, t in zip(ys, th, strict=True)})
        z = sp.integrate(weight, (s, self.space.lower, self.space.upper), conds="none")
        return sp.simplify(_convergent_branch(z))

    @cached_on_disk
    def A(self) -> sp.Expr:
        """Log-partition A(θ) = log Σ_s h(s) e^{θ·φ(s)}."""
        # expanding the log is safe while negative parameters are still written −u, u > 0
        a = sp.expand_log(sp.log(self._partition_function()), force=True)
        return a.subs({u: -t for t, u in self._negative_as_positive.items()})

    @cached_on_disk
    def mu(self) -> sp.Matrix:
        """Mean map μ(θ) = ∇A(θ) = E_θ[φ] (expectation parameters)."""
        return sp.Matrix([T.tidy(sp.diff(self.A, t)) for t in self.theta])

    @cached_on_disk
    def chi(self) -> sp.Matrix:
        """Fisher information χ(θ) = ∇∇A(θ) = Cov_θ[φ] (the susceptibility)."""
        d = self.d  # symmetric: each entry derived once, in one form
        upper = {(a, b): T.tidy(sp.diff(self.mu[a], self.theta[b])) for a in range(d) for b in range(a, d)}
        return sp.Matrix(d, d, lambda a, b: upper[min(a, b), max(a, b)])

    @cached_on_disk
    def kappa(self) -> sp.ImmutableDenseNDimArray:
        """Third cumulants κ_abc(θ) = ∂³A/∂θ_a∂θ_b∂θ_c."""
        d = self.d  # symmetric in its three indices: each distinct entry derived once
        ordered = {idx: T.tidy(sp.diff(self.chi[idx[0], idx[1]], self.theta[idx[2]]))
                   for idx in itertools.combinations_with_replacement(range(d), 3)}
        return sp.ImmutableDenseNDimArray(
            [[[ordered[tuple(sorted((a, b, c)))] for c in range(d)] for b in range(d)] for a in range(d)])

    @cached_on_disk
    def mu_inverse(self) -> dict[sp.Symbol, sp.Expr] | None:
        """θ(μ): the inverse mean map in closed form, or None where SymPy finds none."""
        if self.A.has(sp.Sum):
            return None
        eqs = [sp.Eq(m, e) for m, e in zip(self.mu_symbols, self.mu, strict=True)]
        try:
            sols = sp.solve(eqs, self.theta, dict=True)
        except NotImplementedError:
            return None
        point = self.interior_point()
        eta = {m: e.subs(point) for m, e in zip(self.mu_symbols, self.mu, strict=True)}
        for sol in sols:
            if set(sol) != set(self.theta):
                continue
            back = [complex(sp.N(sol[t].subs(eta))) for t in self.theta]
            if all(abs(b - float(point[t])) < 1e-9 for b, t in zip(back, self.theta, strict=True)):
                return {t: sp.simplify(sol[t]) for t in self.theta}
        return None

    @cached_on_disk
    def conventional_inverse(self) -> dict[sp.Symbol, sp.Expr] | None:
        """θ as expressions of the first d conventional parameters (placeholders ``_c_<name>``),
        or None where SymPy finds none: kept on disk, so ``--init p=0.3`` solves nothing."""
        try:
            return _solve_conventional(self, tuple(self.conventional)[: self.d])
        except InputError:
            return None

    def interior_point(self) -> dict[sp.Symbol, sp.Rational]:
        """A point inside the natural domain, used to pick the right branch of a solution."""
        return {t: sp.Rational(-(3 + a), 10) if t.name in self.negative else sp.Rational(3 + a, 10)
                for a, t in enumerate(self.theta)}

    def in_mu(self, expr: sp.Expr) -> sp.Expr | None:
        """Expression in θ rewritten in the expectation parameters μ, or None without θ(μ)."""
        if self.mu_inverse is None:
            return None
        expr = sympy_object(expr)
        key = sp.ImmutableMatrix(expr) if isinstance(expr, sp.MatrixBase) else expr
        memo = self._in_mu_memo  # several results rewrite the same χ, density, ...: simplify once
        if key not in memo:
            memo[key] = _shortest(expr.subs(self.mu_inverse))
        out = memo[key]
        return out.copy() if isinstance(out, sp.MatrixBase) else out

    @cached_on_disk
    def conventional_mu(self) -> dict[str, sp.Expr | None]:
        """Each conventional parameter as an expression in μ (None without θ(μ)): what a simulation
        reports, kept on disk, so a run simplifies nothing."""
        return {n: self.in_mu(e) for n, e in self.conventional.items()}

    @cached_on_disk
    def entropy_mu(self) -> sp.Expr | None:
        """The entropy S = A − θ·μ (relative to h) as an expression in μ, None without θ(μ): kept on
        disk with :attr:`conventional_mu`."""
        return self.in_mu(self.A - (sp.Matrix(self.theta).T * self.mu)[0])

    @cached_on_disk
    def spread_mu(self) -> sp.Expr | None:
        """tr χ, the total variance of φ, as an expression in μ (factored), None without θ(μ): kept
        on disk with :attr:`conventional_mu`."""
        trace = self.in_mu(self.chi.trace())
        # factored: the Gaussian's −(μ1² − μ2)(2μ1² + 2μ2 + 1) costs half its expanded form
        return None if trace is None else sp.factor(trace)

    @functools.cached_property
    def _in_mu_memo(self) -> dict:
        return {}

    def in_conventional(self, expr: sp.Expr) -> sp.Expr | None:
        """Expression in θ rewritten in the conventional parameters (symbols named as in SPEC)."""
        try:
            theta = theta_in_conventional(self)
        except InputError:
            return None
        return _shortest(sympy_object(expr).subs(theta))

    def starred(self, expr):
        """The same expression at the ground truth θ* (θ_a -> θ_a^*)."""
        return expr.subs({t: S.starred(t) for t in self.theta}, simultaneous=True)

    @functools.cached_property
    def kl(self) -> sp.Expr:
        """KL(f_θ ‖ f_θ*) = A(θ*) − A(θ) − (θ* − θ)·μ(θ)."""
        th_star = sp.Matrix([S.starred(t) for t in self.theta])
        return self.starred(self.A) - self.A - ((th_star - sp.Matrix(self.theta)).T * self.mu)[0]

    # -- absorbing states ------------------------------------------------------------------------
    @functools.cached_property
    def absorbing_states(self) -> tuple[AbsorbingState, ...]:
        """Extreme points of the closed convex hull of φ(S): the point masses that absorb the loop.

        Finite S: the vertices of the marginal polytope conv{φ(s)}. Infinite S with
        one statistic: φ at the finite ends of S. With several statistics on an
        infinite S (Gaussian), every φ(s) on the curve is extreme: a continuum of
        point masses, each written with the free data value ``s``.
        """
        if isinstance(self.space, Finite):
            pts = [tuple(exact(p.subs(S.s, v)) for p in self.phi) for v in self.space.levels]
            return tuple(AbsorbingState(p, True) for p in _hull_vertices(pts))
        discrete = isinstance(self.space, Naturals | Levels)
        if self.d == 1:
            ends = [e for e in (self.space.lower, self.space.upper) if e.is_finite]
            return tuple(AbsorbingState((self.phi[0].subs(S.s, e),), discrete) for e in ends)
        return (AbsorbingState(tuple(self.phi), discrete),)

    # -- partial MLE -----------------------------------------------------------------------------
    def restrict(self, **fixed: float) -> ExponentialFamily:
        """The family with some natural parameters held fixed (partial MLE).

        Fixing θ_b = c moves e^{c φ_b} into the base measure; the remaining
        statistics are fitted as before. Equal values give the same object (interned,
        so caches keyed on the family hit).
        """
        try:
            key = tuple(sorted((n, float(v)) for n, v in fixed.items()))
        except TypeError:  # a symbolic value: build it afresh
            return self._restrict(**fixed)
        return _restricted(self, key)

    def _restrict(self, **fixed: float) -> ExponentialFamily:
        unknown = set(fixed) - set(self.names)
        if unknown:
            raise InputError(f"cannot fix {sorted(unknown)}: {self.name} has natural parameters {list(self.names)}")
        keep = [a for a, n in enumerate(self.names) if n not in fixed]
        if not keep:
            raise InputError("at least one natural parameter must stay free")
        for n, v in fixed.items():
            if not np.isfinite(float(v)):
                raise InputError(f"fixed {n}={v} is not finite")
            if n in self.negative and not float(v) < 0:
                raise InputError(f"fixed {n}={float(v):g} is outside the domain of {self.name} "
                                 f"({n} < 0)")
        values = {self.theta[self.names.index(n)]: exact(v) for n, v in fixed.items()}
        h = self.h * sp.exp(sum(values[self.theta[a]] * self.phi[a]
                                for a in range(self.d) if a not in keep))
        conventional = {n: e.subs(values) for n, e in self.conventional.items()
                        if n not in fixed}
        return dataclasses.replace(
            self, phi=tuple(self.phi[a] for a in keep), h=sp.simplify(h),
            conventional=conventional, natural_names=tuple(self.names[a] for a in keep),
            negative=tuple(n for n in self.negative if n not in fixed),
            fixed=dict(self.fixed) | {n: float(v) for n, v in fixed.items()},
            sum_sampler=None)  # the declared law of a sum is the whole family's, not this one's

    # -- notebooks -------------------------------------------------------------------------------
    def _repr_latex_(self) -> str:
        """Jupyter display: the density, natural parameters, A, μ and χ."""
        phi = ", ".join(notation.expr(p) for p in self.phi)
        rows = [rf"&\text{{{self.title.replace('_', ' ')}}}:\ f(s\mid\theta) = h(s)\,"
                rf"e^{{\theta\cdot\phi(s) - A(\theta)}},\quad s\in {self.space.latex()}",
                rf"&\phi(s) = ({phi}),\quad h(s) = {notation.expr(self.h)},\quad \theta = ("
                + ", ".join(notation.expr(t) for t in self.theta) + ")",
                rf"&A(\theta) = {notation.expr(self.A)}"]
        rows += [rf"&\mathrm{{{n.replace('_', ' ')}}} = {notation.expr(e)}" for n, e in self.conventional.items()]
        return "$$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$$"

    # -- numbers from user input -----------------------------------------------------------------
    def natural_point(self, params: Mapping[str, float]) -> dict[str, float]:
        """Natural parameters from a ``name=value`` mapping, natural or conventional names.

        Raises InputError naming the offending parameter for unknown names, missing
        names, or values outside the family's domain. A value given as text is read by
        :func:`theory.safe_parse.number` (never by ``sympify``). Conventional values go through
        θ(c), the solved conventional map compiled for NumPy (the generated twin's function).
        """
        def inverse(used):
            solved = _conventional_inverse(self, used)
            return [compiled_form(solved[t]) for t in self.theta]

        conventional = {n: compiled_form(e) for n, e in self.conventional.items()}
        return point_from_params(self, params, inverse, conventional)


def compiled_form(expr) -> tuple[tuple[str, ...], Callable | None]:
    """(argument names, NumPy function) of ``expr`` as lambdify compiles it (the generated
    twin's forms are this code, printed); a bare symbol is (its name,), None: the value itself."""
    expr = sp.sympify(expr)
    if isinstance(expr, sp.Symbol):
        return (expr.name,), None
    free = arguments(expr)
    return tuple(x.name for x in free), compiled(expr, free)


def evaluate_form(form, values: Mapping[str, float]) -> float:
    """A :func:`compiled_form` at the named ``values``, a float (NaN where undefined)."""
    names, fn = form
    if fn is None:
        return float(values[names[0]])
    with np.errstate(all="ignore"):
        return float(fn(*(np.float64(values[n]) for n in names)))


def point_from_params(family, params: Mapping[str, float], inverse,
                      conventional: Mapping) -> dict[str, float]:
    """Natural parameters of ``family`` (a family or its twin) from natural or conventional names.

    ``inverse``: the θ(c) forms of the first d conventional parameters (a list; a family also
    solves other choices: then a function of the names used), ``conventional``: c(θ) by name,
    each a :func:`compiled_form`. See :meth:`ExponentialFamily.natural_point`.
    """
    params = numbers(params, "parameter")
    if set(params) == set(family.names):
        theta = {n: float(params[n]) for n in family.names}
    else:
        unknown = sorted(set(params) - set(family.names) - set(family.conventional))
        if unknown:
            raise InputError(
                f"unknown parameter {unknown[0]!r} for {family.name}; natural: "
                f"{', '.join(family.names)}; conventional: {', '.join(family.conventional)}")
        natural = [n for n in params if n in family.names and n not in family.conventional]
        if natural:  # a partial natural point next to conventional values would be ignored
            raise InputError(
                f"parameter {natural[0]!r} is natural, the others are not: give either all of "
                f"{', '.join(family.names)} or conventional parameters "
                f"({', '.join(family.conventional)})")
        given = [n for n in family.conventional if n in params]
        if len(given) < family.d:
            missing = [n for n in family.conventional if n not in params]
            raise InputError(f"{family.name} needs {family.d} parameter(s): missing {', '.join(missing)}")
        used = tuple(given[: family.d])
        forms = inverse(used) if callable(inverse) else \
            inverse if used == tuple(family.conventional)[: family.d] else None
        if forms is None:
            raise InputError(f"cannot convert {', '.join(used)} to natural parameters of {family.name}")
        values = {"_c_" + n: params[n] for n in used}
        # + 0.0: θ = −log 1 is −0.0 in float arithmetic, printed so in a summary
        theta = {t: evaluate_form(f, values) + 0.0 for t, f in zip(family.names, forms, strict=True)}
        bad = [n for n, v in theta.items() if not np.isfinite(v)]
        if bad:
            vals = ", ".join(f"{n}={params[n]:g}" for n in used)
            raise InputError(f"{vals} is outside the domain of {family.name} (or on its boundary)")
        for n in given[family.d:]:  # redundant conventional values must agree (e.g. pK = 1 − Σ p)
            implied = evaluate_form(conventional[n], theta)
            if abs(implied - params[n]) > 1e-9:
                raise InputError(f"{n}={params[n]:g} is inconsistent with the other parameters "
                                 f"(implied {n}={implied:g})")
    for n in family.negative:
        if not theta[n] < 0:
            raise InputError(f"{n}={theta[n]:g} is outside the domain of {family.name} ({n} < 0)")
    return theta


@functools.lru_cache(maxsize=None)
def _restricted(family: ExponentialFamily, fixed: tuple[tuple[str, float], ...]) -> ExponentialFamily:
    """The interned restriction of ``family`` (see :meth:`ExponentialFamily.restrict`)."""
    return family._restrict(**dict(fixed))


def _conventional_inverse(family: ExponentialFamily, used: tuple[str, ...]) -> dict:
    """θ as expressions of the conventional parameters ``used`` (placeholders ``_c_<name>``)."""
    if used != tuple(family.conventional)[: family.d]:
        return _solve_conventional(family, used)
    inverse = family.conventional_inverse
    if inverse is None:
        raise InputError(f"cannot convert {', '.join(used)} to natural parameters of {family.name}")
    return inverse


@functools.lru_cache(maxsize=None)
def _solve_conventional(family: ExponentialFamily, used: tuple[str, ...]) -> dict:
    cs = [sp.Symbol("_c_" + n) for n in used]
    eqs = [sp.Eq(c, family.conventional[n]) for c, n in zip(cs, used, strict=True)]
    sols = sp.solve(eqs, family.theta, dict=True)
    if not sols:
        raise InputError(f"cannot convert {', '.join(used)} to natural parameters of {family.name}")
    return sols[0]


@functools.lru_cache(maxsize=None)
def theta_in_conventional(family: ExponentialFamily, truth: bool = False) -> dict[sp.Symbol, sp.Expr]:
    """θ_a as expressions of the conventional parameters, named as in SPEC: p, m, σ², ... (with
    ``truth``, the truth's p*, m*, ...). Raises InputError where there is no closed inverse."""
    used = tuple(family.conventional)[: family.d]
    inverse = _conventional_inverse(family, used)
    named = {sp.Symbol("_c_" + n): S.symbol(n + "_star", _starred(latex_name(n)), real=True) if truth
             else S.symbol(n, latex_name(n), real=True) for n in used}
    return {t: inverse[t].subs(named) for t in family.theta}


def _starred(latex: str) -> str:
    return "{" + latex + "}^{*}" if "^" in latex else latex + "^{*}"  # σ² -> {σ²}*, not σ²^*


def _convergent_branch(z: sp.Expr) -> sp.Expr:
    """The closed form of a series/integral that SymPy returns with its convergence condition:
    the natural parameter space is, by definition, where Z converges."""
    if isinstance(z, sp.Piecewise):
        closed = [e for e, _ in z.args if not e.has(sp.Sum, sp.Integral)]
        if closed:
            return closed[0]
    return z


def _shortest(e):
    """tidy, also after rewriting hyperbolics through exp (cosh(log x) -> rational), the shorter.

    A hyperbolic of a lone parameter (tanh θ*_1: the truth's) is held fixed
    (:func:`theory.tidy.held_hyperbolics`).
    """
    if isinstance(e, sp.MatrixBase):
        return e.applyfunc(_shortest)
    e, back = T.held_hyperbolics(e)
    if not e.has(sp.sinh, sp.cosh, sp.tanh):
        return T.tidy(e).xreplace(back)
    through_exp = T.tidy(e.rewrite(sp.exp))
    if not through_exp.has(sp.sinh, sp.cosh, sp.tanh, sp.log):
        return through_exp.xreplace(back)  # cosh(log x) gone: simplify of the hyperbolic form is slower, never shorter
    return min(sp.simplify(e), through_exp, key=sp.count_ops).xreplace(back)


def latex_name(name: str) -> str:
    """LaTeX for a conventional parameter name: ``var`` -> σ², ``p1`` -> p_1, ``theta1`` -> θ_1."""
    special = {"var": r"\sigma^2", "mean": "m", "rate": r"r"}
    if name in special:
        return special[name]
    base = name.rstrip("0123456789")
    idx = name[len(base):]
    base = {"theta": r"\theta"}.get(base, base)
    return base + (f"_{{{idx}}}" if idx else "")


def _hull_vertices(points: list[tuple]) -> list[tuple]:
    """Vertices of conv(points), in the given order (exact for d = 1, qhull for d ≥ 2)."""
    arr = np.array([[float(x) for x in p] for p in points])
    if arr.shape[1] == 1:
        lo, hi = arr[:, 0].argmin(), arr[:, 0].argmax()
        return [points[i] for i in sorted({lo, hi})]
    from scipy.spatial import ConvexHull

    return [points[i] for i in sorted(ConvexHull(arr).vertices)]
