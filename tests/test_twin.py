"""The numeric twins of the built-in families (theory.twin): generated from the declarations,
the same numbers as the SymPy path, and `closedloop simulate` of a built-in family without SymPy."""

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

from contextlib import nullcontext

import numpy as np
import pytest
from numpy import amax, isnan, log

from theory.engine.forms import source
from theory.families import FAMILIES, get_family
from theory.params import from_params
from theory.twin import FamilyTwin, twin_of

ROOT = Path(__file__).resolve().parents[1]
# runs the command line, then says on stderr whether SymPy was imported (also after --help's exit)
PROBE = ("import sys\ntry:\n    from theory.cli import main\n    main(sys.argv[1:])\n"
         "finally:\n    print('sympy' in sys.modules, file=sys.stderr)")


def _init(name: str) -> dict:
    return dict(importlib.import_module(f"theory.families.{name}").VALIDATION[0]["init"])


def test_the_generated_forms_are_the_declarations_derived():
    """numeric_forms.py is what the generator writes today (regenerate it after changing a family:
    python -c "from theory.engine.forms import source; print(source(), end='')" > theory/families/numeric_forms.py)."""
    committed = (ROOT / "theory" / "families" / "numeric_forms.py").read_text()
    assert source() == committed


def test_shared_forms_are_found_from_the_derivations_and_refused_where_they_would_round_otherwise():
    """θ = −rate (forms.negated) is found for the exponential alone among the infinite families.
    Negative controls: a θ that is −rate plus μ/10¹² (within the numeric pre-test's 10⁻⁹: SymPy
    decides) is not a negation, nor one SymPy proves but whose printed code would round otherwise
    (log(μ/(1 + μ)) and log(1 + 1/μ))."""
    from types import SimpleNamespace

    import sympy as sp

    from theory.engine.forms import negated

    found = {name: negated(get_family(name)) for name in ("poisson", "exponential", "gaussian")}
    assert found["poisson"] is None and found["gaussian"] is None
    assert found["exponential"] == {"theta": "rate"}
    fam = get_family("exponential")
    (t,), mu = fam.theta, fam.mu_symbols[0]
    almost = SimpleNamespace(**{k: getattr(fam, k) for k in ("theta", "names", "mu", "mu_symbols")},
                             interior_point=fam.interior_point, mu_inverse={t: -1 / mu + mu / 10**12},
                             conventional_mu=fam.conventional_mu)
    assert negated(almost) is None
    # equal in SymPy, another rounding in code: θ = log(μ/(1 + μ)) is not read as −log(1 + 1/μ)
    printed_otherwise = SimpleNamespace(**vars(almost) | {"mu_inverse": {t: sp.log(mu / (1 + mu))},
                                                          "conventional_mu": {"c": sp.log(1 + 1 / mu)}})
    assert negated(printed_otherwise) is None
    assert negated(SimpleNamespace(**vars(printed_otherwise) | {"mu_inverse": {t: -sp.log(1 + 1 / mu)}})) \
        == {t.name: "c"}  # (the same code negated: read as −c)


def _models(d: int) -> list:
    """Columns of μ: random models, models on the boundary (Gaussian var 0, μ = 0), beyond it by
    a rounding, and NaN, ±∞, 0 and −0 in each column."""
    rng = np.random.default_rng(7)
    mean = rng.normal(0.0, 3.0, 400)
    if d == 1:
        mu = np.abs(mean)
        mu[:8] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-300, 1e300, -1e-17]
        return [mu]
    second = mean**2 + rng.gamma(0.5, 2.0, 400)
    second[:40] = mean[:40] ** 2  # on the curve
    second[40:60] = np.nextafter(mean[40:60] ** 2, -np.inf)  # below it by a rounding
    mean[60:68], second[68:76] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-300, 1e300, -1e-17], \
        [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-300, 1e300, -1e-17]
    return [mean, second]


@pytest.mark.parametrize("name", ["poisson", "exponential", "gaussian"])
@pytest.mark.parametrize("use_twin", [True, False])
def test_forms_evaluated_together_are_each_forms_own_numbers(name, use_twin):
    """shared.Shared evaluates a family's derived forms in μ together (conventional parameters, θ,
    entropy, spread), a subexpression two of them compute by the same operations once: bit for
    bit each form's own function (lambdify's code, the twin's or SymPy's), NaN's sign too, at
    models inside, on and beyond the boundary. It shares what it should: the Gaussian's μ1² in
    every form but the mean, μ1² − μ2 in θ and the entropy, the exponential's rate 1/μ in its
    entropy 1 − log(1/μ). Negative control: a code that is the same in SymPy but not in its
    operations (the spread's μ1² − μ2 written −μ2 + μ1², or (μ1 − μ2)(μ1 + μ2) against μ1² − μ2²)
    is not shared, and rounds otherwise."""
    from theory.engine.shared import Shared, bound

    nf = from_params(name, 3, _init(name), numeric_twin=use_twin).numeric
    shared = nf.shared_forms
    forms = {k: f for k, f in (nf.forms.get("conventional_mu") or {}).items() if f is not None}
    forms |= {("theta", a): f for a, f in enumerate(nf.forms.get("mu_inverse"))}
    forms |= {"entropy": nf.forms.get("entropy_mu")[0], "spread": nf.forms.get("spread_mu")[0]}
    assert set(shared.roots) == set(forms)
    columns = _models(nf.d)
    values = shared.at(*columns)
    with np.errstate(all="ignore"):
        for key in reversed(list(forms)):  # (the spread first: the others then read its nodes)
            own = bound(forms[key], nf.mu_names)(*columns)
            assert np.broadcast_to(values[key], own.shape).tobytes() == own.tobytes(), key
    if name == "gaussian":
        assert all(shared.reads(k, "mu1**2") for k in forms if k != "mean")
        difference = [k for k in forms if shared.reads(k, "mu1**2 - mu2")]
        assert difference == [("theta", 0), ("theta", 1), "entropy"]
        assert not shared.reads("spread", "mu1**2 - mu2") and shared.reads("spread", "-mu2 + mu1**2")
    if name == "exponential":
        assert shared.reads("entropy", "rate") and not shared.reads("rate", "entropy")
    mu1, mu2 = _models(2)
    mu1, mu2 = mu1[100:], mu2[100:]
    both = Shared({"a": (("mu1", "mu2"), _difference_of_squares),
                   "b": (("mu1", "mu2"), _product_of_sum_and_difference)}, ("mu1", "mu2"))
    assert not both.reads("a", "b") and not both.reads("b", "mu1**2 - mu2**2")
    at = both.at(mu1, mu2)
    assert at["a"].tobytes() == (mu1**2 - mu2**2).tobytes()
    assert at["b"].tobytes() == ((mu1 - mu2) * (mu1 + mu2)).tobytes()
    assert not np.array_equal(at["a"], at["b"])


def test_shared_forms_read_only_the_code_that_was_loaded(tmp_path, monkeypatch):
    """A form's source is read again from its file: one changed since the import (a regenerated
    numeric_forms.py under a running process) is not taken, the form's own function is (control:
    the unchanged file is shared)."""
    import importlib
    import linecache

    from theory.engine.shared import Shared

    (tmp_path / "stale_forms.py").write_text("def _f1(mu):\n    return mu**2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("stale_forms")
    mu = np.array([2.0, 3.0])
    assert not callable(Shared({"a": (("mu",), module._f1)}, ("mu",)).roots["a"])  # read from its code
    (tmp_path / "stale_forms.py").write_text("def _f1(mu):\n    return mu**3\n")
    linecache.checkcache(str(tmp_path / "stale_forms.py"))
    shared = Shared({"a": (("mu",), module._f1)}, ("mu",))
    assert callable(shared.roots["a"]) and shared.at(mu)["a"].tolist() == [4.0, 9.0]


def _difference_of_squares(mu1, mu2):
    return mu1**2 - mu2**2


def _product_of_sum_and_difference(mu1, mu2):
    return (mu1 - mu2)*(mu1 + mu2)


def _flags_times(x, y):
    return (isnan(x) + isnan(y))*y


def _reduced_times(x, y):
    return (amax(x)*2) - y + (amax(y) + 1)*y


def _complex_part(x, y):
    return (x*2) + x*(-1)**0.5


def _chain(x, y):
    return -(x*y + 2)/(y - x) + log(x)*3.0 + (x*y)**2


def test_forms_together_write_only_into_float_arrays_they_made():
    """Shared's plans (shared.Shared.plan) write a step into a temporary only where the step and
    its operands are float arrays and float numbers: a form of booleans (isnan), of a reduction
    (a scalar: amax) or of a complex constant gives its own function's numbers (its
    warnings too), and the arguments come back unchanged."""
    from theory.engine.shared import Shared, bound

    rng = np.random.default_rng(0)
    x, y = rng.uniform(-2, 3, 50), rng.uniform(-2, 3, 50)
    x[3], y[5], x[7] = np.nan, 0.0, -0.0
    forms = {f.__name__: (("x", "y"), f) for f in (_flags_times, _reduced_times, _complex_part, _chain)}
    shared = Shared(forms, ("x", "y"))
    assert not any(callable(root) for root in shared.roots.values())  # (each read from its code)
    columns = x.copy(), y.copy()
    values = shared.at(*columns)
    with np.errstate(all="ignore"):
        for key, form in forms.items():
            with pytest.warns(np.exceptions.ComplexWarning) if key == "_complex_part" else nullcontext():
                got = values[key]
            with pytest.warns(np.exceptions.ComplexWarning) if key == "_complex_part" else nullcontext():
                own = bound(form, ("x", "y"))(x, y)
            assert np.broadcast_to(got, own.shape).tobytes() == own.tobytes(), key
    assert all(a.tobytes() == b.tobytes() for a, b in zip(columns, (x, y), strict=True))


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_run_from_the_twin_is_the_run_from_sympy(name):
    """Every number of a run (finals, time averages, quantiles, collapse) is the same from the twin
    as from the SymPy family, and so is the start converted from conventional parameters."""
    twin, family = twin_of(name), get_family(name)
    assert isinstance(twin, FamilyTwin)
    init = _init(name)
    assert twin.natural_point(init) == family.natural_point(init)
    runs = [from_params(name, 30, init, numeric_twin=use).run(25, 40, seed=3, record_every=5).summary()
            for use in (True, False)]
    assert isinstance(from_params(name, 30, init, numeric_twin=True).family, FamilyTwin)
    assert json.dumps(runs[0], sort_keys=True) == json.dumps(runs[1], sort_keys=True)


def test_only_a_default_unrestricted_family_has_a_twin():
    assert twin_of("bernoulli") is twin_of("bernoulli", {})
    assert twin_of("curie_weiss", {"N": 10}) is not None
    assert twin_of("curie_weiss", {"N": 12}) is None
    assert twin_of("curie_weiss", fixed={"theta2": 0.0}) is None
    assert twin_of("no_such_family") is None
    assert twin_of(get_family("bernoulli")) is None


def test_the_twin_refuses_bad_parameters_as_the_family_does():
    from theory.errors import InputError

    twin, family = twin_of("categorical"), get_family("categorical")
    for bad in ({"p1": 0.5, "p2": 0.3, "p3": 0.3}, {"p1": 0.5}, {"q": 1.0}, {"p1": 1.2, "p2": 0.3}):
        errors = []
        for f in (twin, family):
            with pytest.raises(InputError) as e:
                f.natural_point(bad)
            errors.append(str(e.value))
        assert errors[0] == errors[1]
    with pytest.raises(InputError, match="outside the domain"):
        twin_of("gaussian").natural_point({"mean": 0.0, "var": -1.0})


# runs each command line given (one argument each) in one process, then says on stderr, per
# command, whether SymPy has been imported by then
PROBE_EACH = ("import shlex, sys\nfrom theory.cli import main\nfor line in sys.argv[1:]:\n"
              "    assert main(shlex.split(line)) == 0, line\n"
              "    print(line.split()[1], 'sympy' in sys.modules, file=sys.stderr)")


def test_simulate_of_a_built_in_family_imports_no_sympy(tmp_path):
    """The second of two runs (a user's warm caches) never imports SymPy, for any built-in family;
    nor does --help. Every family's simulate runs in one process (twice: cold, then warm): SymPy
    imported by one would be seen from that family on."""
    env = {"THEORY_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    lines = [f"simulate {name} --M 100 --chains 10 --generations 10 --init "
             + ",".join(f"{k}={v}" for k, v in _init(name).items()) for name in FAMILIES]
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", PROBE_EACH, *lines], capture_output=True, text=True,
                              check=False, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
    seen = dict(line.split() for line in done.stderr.splitlines() if re.fullmatch(r"\w+ (True|False)", line))
    assert seen == {name: "False" for name in FAMILIES}
    done = subprocess.run([sys.executable, "-c", PROBE, "--help"], capture_output=True, text=True,
                          check=False, env=env, timeout=120)
    assert done.returncode == 0 and done.stderr.strip().splitlines()[-1] == "False"


def test_a_negative_control_sees_sympy_imported(tmp_path):
    """The probe above does see SymPy when a command needs it (a family with other arguments), and
    from that command on, not before."""
    env = {"THEORY_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", PROBE_EACH,
                           "simulate bernoulli --M 20 --chains 4 --generations 3 --init p=0.4",
                           "simulate binomial --family-args n=3 --M 20 --chains 4 --generations 3 --init p=0.4"],
                          capture_output=True, text=True, check=False, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if re.fullmatch(r"\w+ (True|False)", line)] == \
        ["bernoulli False", "binomial True"]
