"""The Python API for notebooks: results by id, numbers by name, simulations, stationary laws.

Everything here is a thin layer over the same derivations and engine the CLI uses (text given
for a value or an expression is read by :mod:`theory.safe_parse`, never by ``sympify``)::

    import theory
    bern = theory.get_family("bernoulli")
    r3 = theory.result("R3.drift.mle", bern)          # a Derivation (renders in Jupyter)
    r3.symbols["drift"]                               # ('M', 'M0', 'theta', 'theta_star')
    theory.evaluate(r3["drift"], theta=0.3, M=100, M0=0, theta_star=0)   # a float
    run = theory.simulate("bernoulli", M=100, init={"p": 0.3}, generations=50, chains=200)
    run.final["p"].mean, run.final["p"].sem, run.per_chain("p")
    law = theory.stationary_law("bernoulli", anchors=2, truth={"p": 0.3})  # scipy.stats frozen law
    chain = theory.exact_chain("bernoulli", M=20, init={"p": 0.3})        # the exact Markov chain

A family is given by name (``"binomial", n=10``) or as an object (one declared in a notebook);
a closed loop by a :class:`~theory.setting.Setting` or by keyword options.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from . import numeric
from . import symbols as S
from .derivation import Derivation
from .engine.loop import ClosedLoop, Run
from .engine.markov import ExactChain
from .errors import InputError, integer
from .families import get_family
from .family import ExponentialFamily
from .laws import frozen_law, grid_law, star_values
from .models import MODEL_CLASSES, ModelRun, model_loop
from .params import derivation_setting, from_params, init_law_of
from .safe_parse import number, numbers, sympy_object
from .setting import Setting, m_ext
from .store import RESULTS, all_general, all_results, derivation

RESULT_IDS = tuple(RESULTS)  # the one store of derivations (theory.store)


def _family(f: str | ExponentialFamily, **args) -> ExponentialFamily:
    # arguments (n="10") and fixed values given as text are read as numbers, never by sympify
    fixed = numbers(args.pop("fixed", {}), "fixed parameter")
    return get_family(f, fixed=fixed, **numbers(args, "family argument"))


def make_setting(f: str | ExponentialFamily, external: int | None = None, data=(), prior_law=None,
                 **args) -> Setting:
    """The general-loop :class:`~theory.setting.Setting` (R9) of user-level options.

    ``external``: fresh points from the truth per generation (None: a symbolic m, as in
    ``derivations/``); ``data``: fixed points (``[{"phi1": -6}]``); ``prior_law``: a prior
    object or its text, e.g. ``"normal:var=2"`` or ``"exponential:rate=1,on=rate"``.
    """
    fam = _family(f, **args)
    if external is None and not data and prior_law is None:
        return Setting(fam, fresh=m_ext)
    return derivation_setting(fam, external or 0, data, prior_law)


def result(rid: str, f: str | ExponentialFamily, setting_=None, **args) -> Derivation:
    """The derivation ``rid`` (``"R3.drift.mle"``, ...) for a family (name or object).

    R9 results use ``setting_`` (a :class:`~theory.setting.Setting`, see :func:`make_setting`);
    by default m fresh external points from the truth, m symbolic.
    """
    fam = _family(f, **args)
    if rid not in RESULTS:
        raise InputError(f"unknown result {rid!r}; known: {', '.join(RESULT_IDS)}")
    subject = (setting_ if setting_ is not None else make_setting(fam)) if RESULTS[rid].takes == "setting" else fam
    d = derivation(rid, subject)
    if d is None:
        raise InputError(f"{rid} does not apply to {fam.title} (one-parameter families with a "
                         "closed-form inverse mean map only)")
    return d


def derivations(f: str | ExponentialFamily, **args) -> dict[str, Derivation]:
    """Every result that applies to the family, by id."""
    fam = _family(f, **args)
    out = {d.id: d for d in all_results(fam)}
    out |= {d.id: d for d in all_general(make_setting(fam))}
    return out


def _depends_on(e) -> tuple[set[str], str]:
    """The names ``e`` (an expression, a matrix or a Derivation) depends on, and how to call it."""
    if isinstance(e, Derivation):
        return set().union(*map(set, e.symbols.values())), f"the results of {e.id}"
    return numeric.free_names(e), "this expression"


def subs(e, values: Mapping | None = None, **kw):
    """Substitute by symbol *name*: ``subs(expr, theta=0.3, M=100)``.

    (``expr.subs({'theta': 0.3})`` does nothing, because the project's symbols carry
    assumptions, ``real=True``, and a string makes a plain symbol.) Works on matrices and on
    a Derivation (then on each of its results, returned as a dict); a 1×1 matrix gives its
    element. A name the expression does not depend on is an InputError listing those it does
    (a misspelled name is never silently ignored).
    """
    given = numeric.by_name(dict(values or {}) | kw)
    e = sympy_object(e) if isinstance(e, str) else e
    numeric.check_names(given, *_depends_on(e))
    if isinstance(e, Derivation):
        return {k: numeric.scalar(numeric.subs(v, given)) for k, v in e.result.items()}
    return numeric.scalar(numeric.subs(e, given))


def evaluate(e, values: Mapping | None = None, **kw):
    """Numbers from an expression, a matrix, or a Derivation's results, with values by name.

    ``evaluate(expr, theta=0.3, M=100)`` -> float (or numpy array for matrices / array inputs);
    for a Derivation, a dict result key -> number, skipping results with symbols left free.
    Conventional parameters may be given for the natural ones of a family:
    ``evaluate(expr, family=bern, p=0.3)`` (and ``p_star`` for θ*). A name the expression does
    not depend on is an InputError listing those it does (see ``Derivation.symbols``).
    """
    given = numeric.by_name(dict(values or {}) | kw)
    fam = given.pop("family", None)
    implied = set()  # natural parameters a conventional one stands for (the expression may lack some)
    if fam is not None:
        fam = _family(fam)
        conv = {k: given.pop(k) for k in list(given) if k in fam.conventional and k not in fam.names}
        if conv:
            natural = fam.natural_point(conv)
            given |= natural
            implied |= set(natural)
        star = {k.removesuffix("_star"): given.pop(k) for k in list(given)
                if k.endswith("_star") and k.removesuffix("_star") in fam.conventional}
        if star:
            natural = {f"{n}_star": v for n, v in fam.natural_point(star).items()}
            given |= natural
            implied |= set(natural)
    e = sympy_object(e) if isinstance(e, str) else e
    known, what = _depends_on(e)
    numeric.check_names(set(given) - implied, known, what)
    if isinstance(e, Derivation):
        return numeric.values(e.result, given)
    return numeric.value(e, given)


def simulate(f: str | ExponentialFamily | Setting, M: int, init: Mapping[str, float] | None = None,
             generations: int = 100, chains: int = 100, *, seed: int | None = 0, record_every: int = 1,
             keep: int = 10, burn_in: int = 0, sampler: str = "exact", init_law=None,
             **options) -> Run | ModelRun:
    """Run the closed loop and return the :class:`~theory.engine.loop.Run`.

    ``f``: a :class:`~theory.setting.Setting` (the declared loop: data sources, truth,
    estimator, prior), or a family (name or object) with the setting given by keyword
    options of :func:`theory.params.loop_setting`: ``anchors`` (M0), ``truth``,
    ``estimator`` (``"mle"``, ``"map"`` with ``nu``, ``"l2"`` with ``lam``), ``fixed``,
    ``family_args``, ``external``, ``data``, ``prior_law`` (a prior object or its text),
    ``regime``, ``M_schedule``, and the sampling operator the model's points are drawn through:
    ``temperature``, ``top_k``, ``top_p``, ``select`` with ``by`` (or ``operator``, an
    :class:`~theory.operator.Operator`).
    Parameters by name, conventional or natural (``init={"p": 0.3}``). A trace is kept every
    ``record_every`` generations: ``run.trace_arrays()`` gives numpy arrays from t = 0.
    ``init_law``: every chain starts from a draw of this law (seeded by ``seed``), ``"stationary"``
    (Eq. 18 of the setting) or a normal law on θ, ``"normal:mean=0,var=1,var2=0.5"`` (see
    ``closedloop simulate --init-law``); ``init`` may then be omitted.

    ``f`` may also name a model class (``"rbm"``, ``"gaussian_mixture"``, ``"kde"``,
    ``"linear_regression"``, ``"logistic_regression"``): the options are then its own
    (``family_args={"N": 3, "H": 2}``, ``init_seed``, ``init_sample``, ``design``, ``external``,
    ``regime``, ``M_schedule``, ``prior_law``) and the result a :class:`~theory.models.ModelRun`
    (``run.final["v1"].mean``, ``run.summary()``).
    """
    if isinstance(f, str) and f in MODEL_CLASSES:  # a model class beyond the families (theory.models)
        if sampler != "exact" or init_law is not None:
            raise InputError(f"sampler= and init_law= are for the exponential families, not {f}")
        model = model_loop(f, M=M, init=init, **options)
        return model.run(generations, chains, seed=seed, burn_in=burn_in, record_every=record_every)
    loop = _loop(f, M, init, sampler, init_law, options)
    return loop.run(generations, chains, seed=seed, burn_in=burn_in, record_every=record_every, keep=keep)


def _loop(f, M, init, sampler, init_law, options) -> ClosedLoop:
    """The closed loop of a Setting, or of a family and keyword options (see :func:`simulate`)."""
    if isinstance(f, Setting):
        if options:
            raise InputError(f"a Setting declares the loop: {', '.join(sorted(options))} cannot be "
                             "given beside it")
        law = None if init_law is None else init_law_of(f, init_law)
        if not init and law is None:
            raise InputError("the initial model is needed: init= or init_law=")
        return ClosedLoop(f, M, init or dict(law.center), sampler=sampler, start_law=law)
    for name in ("family_args", "fixed", "truth", "prior"):  # text read as numbers, not sympified
        if isinstance(options.get(name), Mapping):
            options[name] = numbers(options[name], name)
    for name in set(options) & {"nu", "lam"}:
        options[name] = number(options[name], name)
    return from_params(f, M, init, sampler=sampler, init_law=init_law, **options)


def exact_chain(f: str | ExponentialFamily | Setting, M: int, init: Mapping[str, float] | None = None,
                **options) -> ExactChain:
    """The closed loop at finite M as an exact Markov chain (:class:`theory.engine.markov.ExactChain`):
    a finite family with one free statistic affine in the level index (Bernoulli, binomial,
    Curie–Weiss with θ2 fixed). The loop is declared as for :func:`simulate` (a Setting, or a
    family and keyword options); ``init`` is the model of generation 0::

        chain = theory.exact_chain("bernoulli", M=20, init={"p": 0.3})
        chain.absorption_probabilities(), chain.mean_absorption_time(), chain.law_at(10)
    """
    return ExactChain(_loop(f, M, init, "exact", None, options))


def stationary_law(f: str | ExponentialFamily, anchors: int | None = None, truth: Mapping[str, float] | None = None,
                   *, setting_=None, **args):
    """The stationary law: a frozen ``scipy.stats`` distribution where it is a named one, else
    a normalised :class:`theory.laws.GridLaw` of θ.

    With ``anchors`` M0 (R7, one-parameter families, diffusion limit): the law of the
    expectation parameter μ = E[φ] (for Bernoulli, p; for Poisson, the rate). Gamma is
    returned with shape α and *rate* β, i.e. ``scipy.stats.gamma(a=α, scale=1/β)``; Beta is
    the law of the rescaled mean (μ − a)/(b − a), returned on [a, b] through ``loc``/``scale``.
    With ``setting_`` (a :class:`~theory.setting.Setting`, R9): the law Eq. 18 names, of μ for
    one parameter (Beta, Gamma, ...), of θ (``scipy.stats.multivariate_normal``), of the
    level probabilities (``scipy.stats.dirichlet``, the categorical) or of the Gaussian's
    (mean, precision) (:class:`theory.laws.NormalGamma`: ``.rvs``, ``.mean()``, marginals
    ``.location``, ``.precision``, ``.variance``); where Eq. 18 names no law, the density
    p_st(θ) of Eq. 18 normalised by quadrature (up to three free parameters): ``pdf``,
    ``logpdf``, ``mean()``, ``var()``, ``cov()``, ``rvs``, ``marginal(name)``. ``truth``
    gives numbers to θ* of fresh points (default: the setting's truth). InputError where the
    law is not normalisable (the loop collapses).
    """
    fam = _family(f, **args)
    if setting_ is not None:
        res = derivation("R9.stationary", setting_.for_derivations()).result
        if res["normalisable"] is False:
            raise InputError(f"Eq. 18 for this setting of {setting_.family.title} is not normalisable "
                             "(the loop collapses): no stationary law")
        truth = setting_.truth_point if truth is None else truth
        values = {} if truth is None else star_values(setting_.family, truth)
        if "law" in res:
            return frozen_law(res, setting_.family, values)
        return grid_law(res["log_density"], setting_.family, values)
    if anchors is None or truth is None:
        raise InputError("the anchored stationary law (R7) needs anchors and truth; or give setting_=")
    anchors = integer(anchors, "anchors", low=1)  # M0 = 0: the pure loop has no stationary law
    d = result("R7.stationary", fam)
    return frozen_law(d.result, fam, star_values(fam, truth) | {"M0": anchors})


def symbol(name: str) -> sp.Symbol:
    """A project symbol by name (``"theta"``, ``"M0"``, ``"theta1_star"``, ``"mu"``); InputError
    for a name the project does not have."""
    try:
        return S.get(name)
    except KeyError as e:
        raise InputError(str(e.args[0])) from None
