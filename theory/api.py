"""The Python API for notebooks: results by id, numbers by name, simulations, stationary laws.

Everything here is a thin layer over the same derivations and engine the CLI uses::

    import theory
    bern = theory.get_family("bernoulli")
    r3 = theory.result("R3.drift.mle", bern)          # a Derivation (renders in Jupyter)
    theory.evaluate(r3.result["drift"], theta=0.3, M=100)
    run = theory.simulate("bernoulli", M=100, init={"p": 0.3}, generations=50, chains=200)
    law = theory.stationary_law("bernoulli", M0=2, truth={"p": 0.3})  # scipy.stats frozen law
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from . import symbols as S
from .derivation import Derivation
from .errors import InputError
from .families import get_family
from .family import ExponentialFamily
from .numeric import evaluate as _evaluate
from .results import general
from .store import RESULTS, derivation

RESULT_IDS = tuple(RESULTS)  # the one store of derivations (theory.store)


def family(f: str | ExponentialFamily, **args) -> ExponentialFamily:
    """A family from its name (``"binomial", n=10``) or the family itself."""
    if isinstance(f, ExponentialFamily):
        if args:
            raise InputError("family arguments are given with a family name, not with a family")
        return f
    fixed = args.pop("fixed", {})
    return get_family(f, fixed=fixed, **args)


def setting(f: str | ExponentialFamily, external: int | None = None, data=(), prior_law: str | None = None,
            **args):
    """The general-loop :class:`~theory.setting.Setting` (R9) of user-level options.

    ``external``: fresh points from the truth per generation (None: a symbolic m, as in
    ``derivations/``); ``data``: fixed points (``[{"phi1": -6}]``); ``prior_law``: e.g.
    ``"normal:var=2"`` or ``"exponential:rate=1,on=rate"``.
    """
    from .derive import make_setting
    from .setting import Setting, m_ext

    fam = family(f, **args)
    if external is None and not data and prior_law is None:
        return Setting(fam, fresh=m_ext)
    return make_setting(fam, external or 0, data, prior_law)


def result(rid: str, f: str | ExponentialFamily, setting_=None, **args) -> Derivation:
    """The derivation ``rid`` (``"R3.drift.mle"``, ...) for a family (name or object).

    R9 results use ``setting_`` (a :class:`~theory.setting.Setting`, see :func:`setting`);
    by default m fresh external points from the truth, m symbolic.
    """
    fam = family(f, **args)
    if rid not in RESULTS:
        raise InputError(f"unknown result {rid!r}; known: {', '.join(RESULT_IDS)}")
    subject = (setting_ if setting_ is not None else setting(fam)) if rid.startswith("R9") else fam
    d = derivation(rid, subject)
    if d is None:
        raise InputError(f"{rid} does not apply to {fam.title} (one-parameter families with a "
                         "closed-form inverse mean map only)")
    return d


def derivations(f: str | ExponentialFamily, **args) -> dict[str, Derivation]:
    """Every result that applies to the family, by id."""
    from .results import all_results

    fam = family(f, **args)
    out = {d.id: d for d in all_results(fam)}
    out |= {d.id: d for d in general.all_general(setting(fam))}
    return out


def _names(values: Mapping) -> dict:
    """Keyword values by symbol name; ``M_0`` and ``M0`` both accepted, ``theta_star`` for θ*."""
    out = {}
    for k, v in values.items():
        out[k.name if isinstance(k, sp.Symbol) else str(k)] = v
    return out


def _symbols_of(e) -> dict[str, sp.Symbol]:
    if isinstance(e, Derivation):
        e = list(e.result.values())
    if isinstance(e, (list, tuple)):
        out = {}
        for x in e:
            out |= _symbols_of(x)
        return out
    if isinstance(e, sp.Basic):
        return {x.name: x for x in e.free_symbols if isinstance(x, sp.Symbol)}
    return {}


def subs(e, values: Mapping | None = None, **kw):
    """Substitute by symbol *name*: ``subs(expr, theta=0.3, M=100)``.

    (``expr.subs({'theta': 0.3})`` does nothing, because the project's symbols carry
    assumptions, ``real=True``, and a string makes a plain symbol.) Works on matrices and on
    a Derivation (then on each of its results, returned as a dict).
    """
    given = _names(dict(values or {}) | kw)
    if isinstance(e, Derivation):
        return {k: subs(v, given) for k, v in e.result.items()}
    if not isinstance(e, sp.Basic):
        return e
    table = _symbols_of(e)
    # names the expression does not contain are ignored, as SymPy's subs ignores absent symbols
    return e.subs({table[n]: sp.sympify(v) for n, v in given.items() if n in table})


def evaluate(e, values: Mapping | None = None, **kw):
    """Numbers from an expression, a matrix, or a Derivation's results, with values by name.

    ``evaluate(expr, theta=0.3, M=100)`` -> float (or numpy array for matrices / array inputs);
    for a Derivation, a dict result key -> number, skipping results with symbols left free.
    Conventional parameters may be given for the natural ones of a family:
    ``evaluate(expr, family=bern, p=0.3)``.
    """
    given = _names(dict(values or {}) | kw)
    fam = given.pop("family", None)
    if fam is not None:
        fam = family(fam)
        conv = {k: given.pop(k) for k in list(given) if k in fam.conventional and k not in fam.names}
        if conv:
            given |= fam.natural_point(conv)
        star = {k.removesuffix("_star"): given.pop(k) for k in list(given)
                if k.endswith("_star") and k.removesuffix("_star") in fam.conventional}
        if star:
            given |= {f"{n}_star": v for n, v in fam.natural_point(star).items()}
    if isinstance(e, Derivation):
        out = {}
        for k, v in e.result.items():
            if isinstance(v, (sp.Expr, sp.MatrixBase)):
                try:
                    out[k] = evaluate(v, given)
                except (ValueError, TypeError):
                    continue
        return out
    if isinstance(e, sp.MatrixBase) and e.shape == (1, 1):
        e = e[0, 0]  # one-parameter results are 1×1 matrices: evaluate the element (arrays broadcast)
    return _scalar(_evaluate(e, given))


def _scalar(x):
    x = np.asarray(x, dtype=float)
    return float(x.reshape(())) if x.size == 1 else x


def simulate(f: str | ExponentialFamily, M: int, init: Mapping[str, float], generations: int = 100,
             chains: int = 100, *, M0: int = 0, truth: Mapping[str, float] | None = None,
             estimator: str = "mle", seed: int | None = 0, record_every: int = 1, keep: int = 10,
             burn_in: int = 0, **options):
    """Run the closed loop and return the :class:`~theory.engine.loop.Run`.

    Parameters by name, conventional or natural (``init={"p": 0.3}``). ``options`` go to
    :func:`theory.engine.loop.from_params` (``nu``, ``lam``, ``fixed``, ``family_args``,
    ``external``, ``data``, ``prior_law``, ``sampler``). A trace is kept every
    ``record_every`` generations: ``run.trace_arrays()`` gives numpy arrays from t = 0.
    """
    from .engine.loop import from_params

    if isinstance(f, ExponentialFamily):
        options.setdefault("family_args", dict(f.args))
        if f.fixed:
            options.setdefault("fixed", dict(f.fixed))
            init = dict(f.fixed) | dict(init)
        name = f.name
    else:
        name = f
    loop = from_params(name, M, init, M0=M0, truth=truth, estimator=estimator, **options)
    return loop.run(generations, chains, seed=seed, burn_in=burn_in, record_every=record_every, keep=keep)


def stationary_law(f: str | ExponentialFamily, M0: int | None = None, truth: Mapping[str, float] | None = None,
                   *, setting_=None, **args):
    """The stationary law as a frozen ``scipy.stats`` distribution, where it is a named one.

    With ``M0`` anchors (R7, one-parameter families, diffusion limit): the law of the
    expectation parameter μ = E[φ] (for Bernoulli, p; for Poisson, the rate). Gamma is
    returned with shape α and *rate* β, i.e. ``scipy.stats.gamma(a=α, scale=1/β)``; Beta is
    the law of the rescaled mean (μ − a)/(b − a), returned on [a, b] through ``loc``/``scale``.
    With ``setting_`` (a :class:`~theory.setting.Setting`, R9): the law Eq. 18 names, of μ for
    one parameter (Beta, Gamma, ...) or of θ (multivariate normal). Raises InputError where
    the law is not a named one.
    """
    import scipy.stats as st

    fam = family(f, **args)
    if setting_ is not None:
        d = general.stationary(setting_)
        fam = setting_.family
        res = d.result
        if "law" not in res:
            raise InputError("the stationary law of this setting is not a named one "
                             f"(normalisable: {res.get('normalisable')})")
        values = {} if truth is None else _star_values(fam, truth)
        if res["law"] == "Normal":
            mean = np.asarray(_evaluate(res["mean"], values), float).ravel()
            cov = np.asarray(_evaluate(res["cov"], values), float)
            return st.multivariate_normal(mean=mean, cov=cov)
        alpha, beta = float(_evaluate(res["alpha"], values)), float(_evaluate(res["beta"], values))
        return _named(res["law"], alpha, beta, fam)
    if M0 is None or truth is None:
        raise InputError("the anchored stationary law (R7) needs M0 and truth; or give setting_=")
    d = result("R7.stationary", fam)
    if "law" not in d.result:
        raise InputError(f"the stationary law of {fam.title} is not a named one")
    values = _star_values(fam, truth) | {"M0": M0}
    alpha = float(_evaluate(d.result["alpha"], values))
    beta = float(_evaluate(d.result["beta"], values))
    return _named(str(d.result["law"]), alpha, beta, fam)


def _star_values(fam: ExponentialFamily, truth: Mapping[str, float]) -> dict:
    theta = fam.natural_point(truth)
    out = {f"{n}_star": v for n, v in theta.items()}
    mu = [float(_evaluate(e, theta)) for e in fam.mu]
    out |= {f"{m.name}_star": v for m, v in zip(fam.mu_symbols, mu, strict=True)}
    return out


def _named(name: str, alpha: float, beta: float, fam: ExponentialFamily):
    import scipy.stats as st

    ends = [float(s.phi[0]) for s in fam.absorbing_states]
    if name == "Gamma":  # shape alpha, rate beta
        return st.gamma(a=alpha, scale=1.0 / beta)
    if name == "InverseGamma":  # shape alpha, scale beta
        return st.invgamma(a=alpha, scale=beta)
    if name == "BetaPrime":
        return st.betaprime(alpha, beta)
    if name == "Beta":
        lo, hi = min(ends), max(ends)
        return st.beta(alpha, beta, loc=lo, scale=hi - lo)
    raise InputError(f"no scipy law for {name}")


def symbol(name: str) -> sp.Symbol:
    """A project symbol by name (``"theta"``, ``"M0"``, ``"theta1_star"``, ``"mu"``)."""
    return S.get(name)
