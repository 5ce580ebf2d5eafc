"""The registry of published claims: what a claim is, how it is run, and how it is judged.

A :class:`Claim` is one statement from a paper the toolkit can test: its citation, the
statement in words, the published number or law, the setting in ``closedloop simulate``
options (the command line is generated from them, never retyped), and a ``check`` that reads
the simulated chains and returns the :class:`Evidence`: ours (derived, exact at finite M
unless said otherwise), the simulated estimate and its standard error, the published value
in this setting, a control value the same estimate must reject, and any part of the claim
decided by the derivation alone (a limit, a normalisability).

Verdicts (one Šidák threshold z* over the registry, :func:`theory.stats.threshold`, family-wise
α = 10⁻³ as in ``closedloop validate``):

* ``holds`` / ``fails``: the toolkit agrees with itself (|z| of the estimate against ours
  ≤ z*), the control is rejected (|z| > z*), and the published value (equal, or a bound)
  and the derived statement are, or are not, borne out;
* ``inconclusive``: the toolkit disagrees with itself, or the control is not rejected
  (underpowered): more noise can never make a claim hold or fail;
* ``not checkable``: the toolkit cannot yet run or derive the setting, with why;
* ``error``: the check crashed (a bug, reported with its message).
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..models import MODEL_CLASSES, model_loop
from ..params import from_params

VERDICTS = ("holds", "fails", "inconclusive", "not checkable", "error")


@dataclass(frozen=True)
class Budget:
    """Chains per claim: quick uses each claim's own count, full multiplies it."""

    name: str
    chains_factor: int


QUICK = Budget("quick", 1)
FULL = Budget("full", 10)


@dataclass(frozen=True)
class Citation:
    """Where a claim is published: authors, title, arXiv id (and venue), the place in the paper."""

    authors: str
    title: str
    arxiv: str
    where: str
    venue: str = ""

    def as_json(self) -> dict:
        return {"authors": self.authors, "title": self.title, "arxiv": self.arxiv, "where": self.where,
                "venue": self.venue}


@dataclass(frozen=True)
class Evidence:
    """What a claim's check found, in the units of ``quantity``.

    ``derived``: ours, from the toolkit's derivations (``derived_from`` names them); ``estimate``
    ± ``sem``: the simulation; ``published``: the paper's number in this setting, compared by
    ``relation`` ("=", or "<=" / ">=" for a bound); ``control``: a wrong value (``control_label``)
    the estimate must reject; ``statement``: (holds, why) for a part decided by the derivation.
    """

    quantity: str
    derived: float
    estimate: float
    sem: float
    derived_from: str
    published: float | None = None
    relation: str = "="
    control: float | None = None
    control_label: str = ""
    statement: tuple[bool, str] | None = None
    detail: str = ""

    def __post_init__(self):  # plain Python numbers and booleans (numpy's do not go into JSON)
        for name in ("derived", "estimate", "sem", "published", "control"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))
        if self.statement is not None:
            object.__setattr__(self, "statement", (bool(self.statement[0]), str(self.statement[1])))


@dataclass(frozen=True)
class Claim:
    """One published statement and how the toolkit checks it (see the module docstring).

    ``setting``: options of ``closedloop simulate`` (``family``, ``M``, ``init``, and any of
    ``truth``, ``external``, ``data``, ``prior_law``, ``regime``, ``M_schedule``, ``init_law``,
    ``family_args``, ``fixed``, and for a model class ``init_seed``, ``init_sample``, ``design``:
    :data:`FLAGS`); ``family`` may name a model class (theory.models: ``linear_regression``, ...),
    whose run (a ModelRun) the check then reads; ``check(run) -> Evidence`` reads the simulated
    chains; ``check`` None with ``not_checkable`` saying why (a model class or operator the toolkit
    does not have yet).
    """

    id: str
    citation: Citation
    statement: str
    published: str
    checked: str
    setting: Mapping = field(default_factory=dict)
    generations: int = 1
    chains: int = 0
    check: Callable | None = None
    not_checkable: str = ""

    @property
    def statistical(self) -> bool:
        return self.check is not None

    def command(self, budget: Budget = QUICK, seed: int = 0) -> str:
        """The ``closedloop simulate`` command line of this claim's setting at ``budget``."""
        return command_line(self.setting, self.generations, self.chains * budget.chains_factor, seed)


def _value_text(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _params_text(params: Mapping) -> str:
    return ",".join(f"{k}={_value_text(v)}" for k, v in params.items())


FLAGS = (("M", "--M"), ("family_args", "--family-args"), ("fixed", "--fixed"), ("init", "--init"),
         ("init_law", "--init-law"), ("truth", "--truth"), ("external", "--external"),
         ("data", "--external-data"), ("prior_law", "--prior-law"), ("regime", "--regime"),
         ("M_schedule", "--M-schedule"), ("temperature", "--temperature"), ("top_k", "--top-k"),
         ("top_p", "--top-p"), ("select", "--select"), ("by", "--by"), ("init_seed", "--init-seed"),
         ("init_sample", "--init-sample"), ("design", "--design"))


def check_keys(setting: Mapping) -> None:
    """A setting names only options ``simulate`` has (a new flag, e.g. issue 22's sampling
    operators, is one line in FLAGS)."""
    unknown = set(setting) - {k for k, _ in FLAGS} - {"family"}
    if unknown:
        raise InputError(f"setting keys without a simulate flag: {', '.join(sorted(unknown))}")


def command_line(setting: Mapping, generations: int, chains: int, seed: int) -> str:
    """``closedloop simulate FAMILY --M ... --generations T --chains C --seed S`` of a setting."""
    check_keys(setting)
    words = ["closedloop", "simulate", setting["family"]]
    for key, flag in FLAGS:
        value = setting.get(key)
        if value is None or (key == "regime" and value == "replace"):
            continue
        if key == "data":
            words += [w for point in value for w in (flag, _params_text(point))]
        else:
            words += [flag, _params_text(value) if isinstance(value, Mapping) else _value_text(value)]
    return " ".join(words + ["--generations", str(generations), "--chains", str(chains), "--seed", str(seed)])


# options a model class's from_options takes (theory.models), as the simulate command passes them
MODEL_OPTIONS = ("family_args", "init", "init_seed", "init_sample", "design", "external", "regime",
                 "M_schedule", "prior_law", "temperature", "top_k", "top_p", "select", "by")


def simulate(setting: Mapping, generations: int, chains: int, rng):
    """The chains of a setting, through the toolkit's own loop (``params.from_params``), or a model
    class's (``theory.models.model_loop``, with the options ``closedloop simulate`` would pass it)."""
    check_keys(setting)
    if setting["family"] in MODEL_CLASSES:
        options = {k: setting.get(k) for k in MODEL_OPTIONS} | {"external": setting.get("external", 0)}
        try:
            model = model_loop(setting["family"], M=setting["M"], **options)
        except ModuleNotFoundError as e:  # declared in MODEL_CLASSES, its module not written yet
            raise InputError(f"the model class {setting['family']} is not built yet ({e})") from None
        return model.run(generations, chains, seed=rng)
    options = {k: v for k, v in setting.items() if k not in ("family", "M", "init", "data")}
    loop = from_params(setting["family"], setting["M"], setting.get("init"),
                       data=list(setting.get("data", ())), **options)
    return loop.run(generations, chains, seed=rng)


@dataclass
class Result:
    """A claim run: its evidence (or why there is none), the threshold, and the verdict."""

    claim: Claim
    evidence: Evidence | None
    z_star: float
    seconds: float = 0.0
    reason: str = ""  # why not checkable, or the error

    def z(self, value: float | None) -> float | None:
        e = self.evidence
        if e is None or value is None:
            return None
        diff = e.estimate - value
        return float(diff / e.sem) if e.sem > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))

    @property
    def z_ours(self) -> float | None:
        return self.z(self.evidence.derived) if self.evidence else None

    @property
    def z_published(self) -> float | None:
        return self.z(self.evidence.published) if self.evidence else None

    @property
    def z_control(self) -> float | None:
        return self.z(self.evidence.control) if self.evidence else None

    def _published_holds(self) -> bool | None:
        z, e = self.z_published, self.evidence
        if z is None:
            return None
        return {"=": abs(z) <= self.z_star, "<=": z <= self.z_star, ">=": z >= -self.z_star}[e.relation]

    @property
    def verdict(self) -> str:
        e = self.evidence
        if e is None:
            return "error" if self.reason.startswith("ERROR") else "not checkable"
        if not abs(self.z_ours) <= self.z_star:
            return "inconclusive"  # the toolkit's derivation and simulation disagree
        if e.control is not None and not abs(self.z_control) > self.z_star:
            return "inconclusive"  # underpowered: the check cannot tell the wrong value apart
        parts = [p for p in (self._published_holds(), e.statement[0] if e.statement else None)
                 if p is not None]
        return "holds" if all(parts) else "fails"

    @property
    def why(self) -> str:
        """The verdict in one sentence."""
        e = self.evidence
        if e is None:
            return self.reason
        if not abs(self.z_ours) <= self.z_star:
            return f"the toolkit's derivation and simulation disagree (|z| = {abs(self.z_ours):.3g} > z*)"
        if e.control is not None and not abs(self.z_control) > self.z_star:
            return f"underpowered: the control ({e.control_label}) is not rejected"
        out = []
        if e.published is not None:
            ok = self._published_holds()
            out.append(f"the published value {e.published:.6g} is {'borne out' if ok else 'rejected'} "
                       f"({e.relation}, z = {self.z_published:.3g})")
        if e.statement:
            out.append(("" if e.statement[0] else "not borne out: ") + e.statement[1])
        return "; ".join(out)

    def as_json(self, budget: Budget = QUICK, seed: int = 0) -> dict:
        """The claim and its evidence; ``setting`` is the command line at the run's budget and seed."""
        c, e = self.claim, self.evidence

        def num(x):
            return None if x is None or not np.isfinite(x) else float(x)
        out = {"id": c.id, "citation": c.citation.as_json(), "statement": c.statement,
               "published": c.published, "checked": c.checked,
               "setting": c.command(budget, seed) if c.setting else None, "verdict": self.verdict,
               "why": self.why,
               "z_star": self.z_star}
        if e is not None:
            out |= {"quantity": e.quantity,
                    "ours": {"derived": num(e.derived), "derived_from": e.derived_from,
                             "simulated": num(e.estimate), "sem": num(e.sem)},
                    "published_value": num(e.published), "relation": e.relation,
                    "z": num(self.z_ours), "z_published": num(self.z_published),
                    "control": None if e.control is None else {"value": num(e.control),
                                                               "label": e.control_label,
                                                               "z": num(self.z_control)},
                    "derived_statement": None if e.statement is None else {"holds": e.statement[0],
                                                                           "why": e.statement[1]},
                    "detail": e.detail, "seconds": round(self.seconds, 2)}
        return out


def claim_rng(seed: int, claim_id: str) -> np.random.Generator:
    """A claim's own stream: the run seed and the claim's id (adding a claim moves no other)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(claim_id.encode())]))


def evaluate(claim: Claim, budget: Budget, seed: int) -> tuple[Evidence | None, float, str]:
    """Run one claim: (evidence, seconds, why there is none): its setting simulated and read, or
    the reason it cannot be checked (no check, or a setting the toolkit does not run yet)."""
    if claim.check is None:
        return None, 0.0, claim.not_checkable
    t0 = time.perf_counter()
    try:
        run = simulate(claim.setting, claim.generations, claim.chains * budget.chains_factor,
                       claim_rng(seed, claim.id))
    except InputError as e:  # a regime, model or operator the toolkit does not run yet
        return None, time.perf_counter() - t0, f"the toolkit cannot run this setting yet: {e}"
    try:
        return claim.check(run), time.perf_counter() - t0, ""
    except Exception as e:  # a crash is reported as an error, not a lost run
        return None, time.perf_counter() - t0, f"ERROR: {type(e).__name__}: {e}"
