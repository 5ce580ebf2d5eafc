"""User options -> a declared :class:`~theory.setting.Setting` and a closed loop: the one place
that reads option text (``"mean=3,var=0.5"``, ``--fixed theta2``, ``--external-data phi1=-6``)
and user-level keywords, for the CLI, the API, sweeps, checks and figures alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from .errors import InputError

if TYPE_CHECKING:  # the option text above is read without SymPy or the engine (closedloop --help)
    from .engine.loop import ClosedLoop
    from .family import ExponentialFamily
    from .setting import Setting


# --- option text ---------------------------------------------------------------------------------
def parse_params(text: str | None, what: str = "parameter") -> dict[str, float]:
    """``"mean=3,var=0.5"`` -> {"mean": 3.0, "var": 0.5}; InputError names a malformed item."""
    out: dict[str, float] = {}
    for item in filter(None, (text or "").split(",")):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"malformed {what} {item!r}: expected name=value")
        if name.strip() in out:
            raise InputError(f"{what} {name.strip()} is given twice")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"{what} {name.strip()}: {value!r} is not a number") from None
        if out[name.strip()] != out[name.strip()] or abs(out[name.strip()]) == float("inf"):
            raise InputError(f"{what} {name.strip()}={value} is not finite")
    return out


def integer_args(text: str | None) -> dict[str, int]:
    """``--family-args N=10,n=5``: family arguments, integers."""
    args = parse_params(text, "family argument")
    bad = [k for k, v in args.items() if v != int(v)]
    if bad:
        raise InputError(f"family argument {bad[0]} must be an integer")
    return {k: int(v) for k, v in args.items()}


def fixed_items(items: list[str] | None) -> dict[str, float | None]:
    """``--fixed theta2`` (value from --init) or ``--fixed theta2=0``, repeatable or comma-separated."""
    out: dict[str, float | None] = {}
    for item in (",".join(items or [])).split(","):
        if not item.strip():
            continue
        if "=" in item:
            out.update(parse_params(item, "fixed parameter"))
        else:
            out[item.strip()] = None
    return out


def external_data(items: list[str] | None, file: str | None = None) -> list[dict[str, float]]:
    """``--external-data phi1=-6`` (repeatable): one fixed data point each, by statistics or
    s=VALUE; then the points of ``file`` (:func:`external_data_file`)."""
    out = [parse_params(item, "--external-data") for item in items or []]
    return out + (external_data_file(file) if file is not None else [])


DATA_FILE_MAX = 100_000  # points in --external-data-file: each is resolved once to its statistics


def external_data_file(path: str) -> list[dict[str, float]]:
    """``--external-data-file FILE``: a fixed real data set, one point per line in the syntax of
    ``--external-data`` (``s=2.5`` or ``phi1=-6``); blank lines and ``#`` comments are skipped.
    The file is read as text, nothing in it is evaluated."""
    from .io import read_text_limited

    text = read_text_limited(path, "--external-data-file", max_bytes=64 * DATA_FILE_MAX)
    out = []
    for number_, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if line:
            try:
                out.append(parse_params(line, "data point"))
            except InputError as e:
                raise InputError(f"{path}, line {number_}: {e}") from None
    if not out:
        raise InputError(f"--external-data-file {path}: no data point in the file")
    if len(out) > DATA_FILE_MAX:
        raise InputError(f"--external-data-file {path}: {len(out)} points, at most {DATA_FILE_MAX}")
    return out


# --- settings ------------------------------------------------------------------------------------
def mapping(value, what: str) -> dict:
    """A ``name -> value`` mapping given through the API (None: empty), or InputError."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InputError(f"{what} must map names to values, e.g. {{'p': 0.3}}, got {value!r}")
    return dict(value)


def number(value, what: str, finite: bool = True) -> float:
    """A real number given through the API (3, 0.5, numpy's, or its text read by ``float``, which
    evaluates nothing), finite unless told (the caller states the domain), or InputError."""
    try:
        x = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError, OverflowError):
        x = None
    if x is None or (finite and not math.isfinite(x)):
        raise InputError(f"{what} must be a {'finite ' if finite else ''}number, got {value!r}")
    return x


def numbers(value, what: str, none: bool = False) -> dict[str, float]:
    """``name -> finite number`` (or None where ``none``: a fixed value taken from init)."""
    return {k: None if (none and v is None) else number(v, f"{what} {k}")
            for k, v in mapping(value, what).items()}


def points(data, family: ExponentialFamily) -> tuple:
    """φ of the fixed data points ``data``, a list of mappings (``[{"phi1": -6}]``)."""
    from .setting import data_point

    if isinstance(data, Mapping | str) or not isinstance(data, list | tuple):
        raise InputError(f"external data must be a list of points such as [{{'phi1': -6}}], got {data!r}")
    resolved: dict = {}  # a data set repeats its values: each distinct point is resolved once
    out = []
    for p in data:
        given = mapping(p, "an external data point")
        key = tuple(sorted(given.items(), key=lambda kv: str(kv[0])))
        try:
            hash(key)
        except TypeError:
            key = None
        if key is None or key not in resolved:
            value = data_point(family, given)
            if key is None:
                out.append(value)
                continue
            resolved[key] = value
        out.append(resolved[key])
    return tuple(out)


def regime_of(regime=None, M_schedule=None):
    """The :class:`~theory.regime.Regime` of ``--regime`` (replace, accumulate, subsample) and
    ``--M-schedule`` (linear:a, geometric:a,r, M1,M2,...); either may be None."""
    from .regime import Regime, as_regime, parse_schedule

    base = as_regime(regime)
    if M_schedule is None:
        return base
    schedule = parse_schedule(M_schedule) if isinstance(M_schedule, str) else M_schedule
    return Regime(base.kind, schedule)


OPERATOR_OPTIONS = ("temperature", "top_k", "top_p", "select", "by")  # the keywords of operator_of


def operator_of(operator=None, temperature=None, top_k=None, top_p=None, select=None, by=None):
    """The sampling :class:`~theory.operator.Operator` of ``--temperature``, ``--top-k``,
    ``--top-p``, ``--select`` and ``--by`` (None: not declared), or an Operator given as it is
    (the identity when nothing is declared)."""
    from .operator import as_operator

    return as_operator(operator, temperature=temperature, top_k=top_k, top_p=top_p, select=select, by=by)


def derivation_setting(family: ExponentialFamily, fresh=0, data=(), prior_law=None,
                       truth: Mapping[str, float] | None = None, regime=None, M_schedule=None,
                       operator=None, **declared) -> Setting:
    """The :class:`Setting` whose R9 (and R10, R11) results ``derive`` writes: data resolved, prior
    parsed, θ* left a symbol (``truth`` only gives numbers to print, with fresh points);
    ``operator`` or its keywords (:func:`operator_of`): the sampling operator."""
    from .setting import Setting

    if truth is not None and not fresh:
        raise InputError("--truth is used by fresh external points (--external m)")
    return Setting(family, fresh=fresh, data=points(data, family), prior=prior_law,
                   regime=regime_of(regime, M_schedule), operator=_operator(operator, declared))


def _operator(operator, declared: Mapping):
    """:func:`operator_of` of keyword options, refusing a keyword it does not know."""
    unknown = sorted(set(declared) - set(OPERATOR_OPTIONS))
    if unknown:
        raise InputError(f"unknown option {unknown[0]!r}; the sampling operator's: {', '.join(OPERATOR_OPTIONS)}")
    return operator_of(operator, **declared)


def loop_setting(family: str | ExponentialFamily, init: Mapping[str, float] | None, *, anchors: int = 0,
                 truth: Mapping[str, float] | None = None, estimator: str = "mle",
                 fixed: Mapping[str, float | None] | None = None, family_args=None, nu: float = 1.0,
                 lam: float = 0.1, prior: Mapping[str, float] | None = None, external: int = 0,
                 data=(), prior_law=None, regime=None, M_schedule=None, operator=None,
                 numeric_twin: bool = False, **declared) -> tuple[Setting, dict[str, float]]:
    """The :class:`Setting` of a simulation and its start (natural parameters; None when ``init``
    is empty: an init law then gives it, see :func:`from_params`), from user options.

    ``fixed`` maps natural parameters held fixed (partial MLE) to a value, or to None to take
    the value from ``init``. The MAP prior mean defaults to the truth, else to the initial
    model. ``data`` lists the fixed external points as mappings (``{"phi1": -6}`` or
    ``{"s": 2.5}``); ``prior_law`` is a prior object (:class:`~theory.setting.NormalPrior`,
    :class:`~theory.setting.LawPrior`) or its text (``normal:var=2``, see
    :func:`theory.setting.parse_prior`); ``regime`` and ``M_schedule``: the data regime
    (:func:`regime_of`); ``operator`` or ``temperature``, ``top_k``, ``top_p``, ``select`` and
    ``by``: the sampling operator the model's points are drawn through (:func:`operator_of`).
    ``numeric_twin``: a built-in family at its default arguments, with no parameter held fixed,
    no fixed data, prior law or sampling operator, is simulated from its generated numeric twin
    (:mod:`theory.twin`: the same numbers, without SymPy); the command line asks for it.
    """
    import numpy as np

    from .engine.loop import conventional_in_mu
    from .engine.model import numeric_family
    from .families import get_family
    from .setting import L2, MAP, MLE, Setting
    from .twin import twin_of

    sampling = _operator(operator, declared)  # bad operator input fails before any symbolic work
    init, truth = numbers(init, "init"), None if truth is None else numbers(truth, "truth")
    prior = None if prior is None else numbers(prior, "prior")
    twin = twin_of(family, mapping(family_args, "family_args"), fixed) if (
        numeric_twin and not data and prior_law is None and sampling.identity) else None
    if twin is not None and not all(twin.converts(p) for p in (init, truth, prior) if p):
        twin = None  # another choice of conventional parameters: solved by SymPy
    # the twin stands for the family in this simulation's Setting (typed as the family: nothing
    # but the engine reads a Setting made here)
    full = cast("ExponentialFamily", twin) if twin is not None else \
        get_family(family, **mapping(family_args, "family_args"))
    fixed = numbers(fixed, "fixed", none=True)
    for name, value in fixed.items():
        if value is None:
            if not init or name not in init:
                raise InputError(f"--fixed {name} needs a value: give {name}=VALUE or put it in --init")
            fixed[name] = float(init[name])
    fam = full.restrict(**fixed) if fixed else full
    if fixed and fam.sum_sampler is None and full.sum_sampler is not None:
        raise InputError(f"--fixed on {full.name}: its declared sampler draws the whole family, so "
                         "a parameter held fixed on its infinite sample space cannot be simulated")
    if not numeric_family(fam).symbolic:  # refuse before converting parameters symbolically
        conventional_in_mu(fam)

    def point(params, what):
        params = dict(params)
        for name, value in fixed.items():
            if name in params and abs(params.pop(name) - value) > 1e-12:
                raise InputError(f"{what} {name} differs from the fixed value {name}={value:g}")
        return fam.natural_point(params)

    theta0 = point(init, "--init") if init else None  # None: from_params takes the init law's center
    theta_star = None if truth is None else point(truth, "--truth")
    est = MLE()
    if estimator == "map":
        ref = prior if prior is not None else (truth if truth is not None else init)
        if not ref:
            raise InputError("--estimator map needs a prior mean: --prior, --truth or --init")
        mu0 = numeric_family(fam).mu(np.array([[point(ref, "--prior")[n] for n in fam.names]]))[0]
        est = MAP(number(nu, "nu", finite=False), tuple(float(x) for x in mu0))
    elif estimator == "l2":
        est = L2(number(lam, "lam", finite=False))
    elif estimator != "mle":
        raise InputError(f"unknown estimator {estimator!r}; known: mle, map, l2")
    setting = Setting(fam, fresh=external, data=points(data, fam), prior=prior_law, anchors=anchors,
                      truth=theta_star, estimator=est, regime=regime_of(regime, M_schedule),
                      operator=sampling)
    return setting, theta0


def from_params(family: str | ExponentialFamily, M: int, init: Mapping[str, float] | None, *,
                sampler: str = "exact", init_law=None, **options) -> ClosedLoop:
    """A :class:`~theory.engine.loop.ClosedLoop` from user-level options (:func:`loop_setting`).

    ``init_law`` (:func:`init_law_of`): the chains start from that law, drawn from the run's
    seed; ``init`` may then be omitted (the law's center is the loop's reference model).
    """
    from .engine.loop import ClosedLoop

    if init_law is not None:  # a start law reads the declared family (theory.laws)
        options["numeric_twin"] = False
    setting, theta0 = loop_setting(family, init, **options)
    law = None if init_law is None else init_law_of(setting, init_law)
    if theta0 is None:
        if law is None:
            raise InputError("the initial model is needed: --init PARAMS or --init-law LAW")
        theta0 = dict(law.center)
    return ClosedLoop(setting, M, theta0, sampler=sampler, start_law=law)


# --- the law the chains start from ---------------------------------------------------------------
def init_law_of(setting: Setting, law):
    """``--init-law``: ``stationary`` (Eq. 18 of the setting, sampled) or a normal law on the
    natural parameters in the grammar of the normal prior, ``normal:mean=0,var=1`` with
    per-parameter ``varK``, ``meanK`` (``normal:var=1,var2=0.5``); a ``StartLaw`` or a
    :class:`~theory.setting.NormalPrior` passes through. See :mod:`theory.laws`."""
    from .laws import StartLaw, start_law

    if isinstance(law, StartLaw):
        return law
    if isinstance(law, str) and not law.strip():
        raise InputError("--init-law is empty: expected stationary or normal:var=V[,mean=A]")
    return start_law(setting, law)
