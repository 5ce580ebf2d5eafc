"""theory.speedups: nothing changes in SymPy at import; within sympy_speedups() the fast paths are
used by the calling thread only, and SymPy's own objects are back when the last block ends."""

import importlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import sympy as sp
from sympy.polys import polytools, polyutils

from theory import fastpoly, speedups
from theory.speedups import sympy_speedups

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("cancel", "powsimp", "_parallel_dict_from_expr", "_dict_from_expr", "shuffle")
x, y = sp.symbols("x y")
t1 = sp.Symbol("theta1", real=True)
RATIONAL = (sp.exp(t1) / (sp.exp(t1) + 1) ** 2 - x / (x + y)) / (1 / (sp.exp(t1) + 1) + x) + 1 / (x - y) ** 2


def _run(code: str, **env) -> dict:
    """The JSON printed by ``code`` in a fresh interpreter (this checkout first on the path)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path, **env}, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _bound() -> dict:
    """(module, name) -> id of what every loaded SymPy module holds under the names speedups binds."""
    return {(m, n): id(vars(mod)[n]) for m, mod in list(sys.modules.items())
            if m.startswith("sympy") and mod is not None for n in NAMES if n in vars(mod)}


def test_importing_theory_changes_nothing():
    out = _run("""
        import importlib, json, os, pkgutil, sys
        import sympy

        NAMES = ("cancel", "powsimp", "_parallel_dict_from_expr", "_dict_from_expr", "shuffle")
        def bound():
            return {f"{m}.{n}": id(vars(mod)[n]) for m, mod in list(sys.modules.items())
                    if m.startswith("sympy") and mod is not None for n in NAMES if n in vars(mod)}
        before, env = bound(), dict(os.environ)
        shuffle = importlib.import_module("sympy.core.assumptions").shuffle
        powsimp = importlib.import_module("sympy.simplify.powsimp").powsimp
        import theory
        imported = []
        for info in pkgutil.walk_packages(theory.__path__, "theory."):
            if info.name != "theory.__main__":  # runs the command line
                importlib.import_module(info.name)
                imported.append(info.name)
        after = bound()
        theirs = sorted(f"{m}.{n}" for m, mod in list(sys.modules.items()) if m.startswith("sympy") and mod
                        for n in NAMES if getattr(vars(mod).get(n), "__module__", "").startswith("theory"))
        print(json.dumps({"changed": sorted(k for k in before if after.get(k) != before[k]),
                          "theirs": theirs, "env": dict(os.environ) == env, "imported": imported,
                          "shuffle": importlib.import_module("sympy.core.assumptions").shuffle is shuffle,
                          "powsimp": importlib.import_module("sympy.simplify.powsimp").powsimp is powsimp}))
        """)
    assert {"theory.speedups", "theory.fastpoly", "theory.derive", "theory.cli"} <= set(out["imported"])
    assert out["changed"] == [] and out["theirs"] == []
    assert out["env"] and out["shuffle"] and out["powsimp"]


def test_every_speedup_is_detected_on_this_sympy():
    assert all(speedups.ACTIVE.values()), speedups.ACTIVE


def test_fast_paths_inside_and_sympys_objects_back_after():
    before = _bound()
    assumptions = importlib.import_module("sympy.core.assumptions")
    powsimp_module = importlib.import_module("sympy.simplify.powsimp")
    with sympy_speedups():
        with sympy_speedups():  # nested
            assert polytools.cancel.sympy_original is fastpoly.SYMPY_CANCEL
            assert polyutils._parallel_dict_from_expr.sympy_original is fastpoly.SYMPY_PARALLEL_DICT_FROM_EXPR
            assert sp.cancel is fastpoly.SYMPY_CANCEL and sp.polys.cancel is fastpoly.SYMPY_CANCEL
            facts = list(range(30))
            assumptions.shuffle(facts)
            assert facts == list(range(30))  # asked in listed order
            hits = speedups.CACHED_POWSIMP.cache_info().hits
            e = sp.exp(x) * sp.exp(y) + sp.exp(2 * x) * sp.exp(-y) + x**y * x**2
            assert powsimp_module.powsimp(e) == speedups.ORIGINAL_POWSIMP(e)
            powsimp_module.powsimp(e)
            assert speedups.CACHED_POWSIMP.cache_info().hits > hits  # memoised
        assert polytools.cancel is not fastpoly.SYMPY_CANCEL  # still inside the outer block
    assert _bound() == before

    @sympy_speedups()
    def decorated():
        return speedups.inside()

    assert decorated() and decorated() and not speedups.inside()
    assert _bound() == before


def test_fast_cancel_and_conversion_are_used_inside(monkeypatch):
    calls = _count_fastpoly(monkeypatch)
    with sympy_speedups():
        fast = speedups.cancel(RATIONAL), sp.factor(RATIONAL)
    me = threading.get_ident()
    assert calls["_collect_leaves"].count(me) > 0 and calls["_poly"].count(me) > 0
    assert fast == (fastpoly.SYMPY_CANCEL(RATIONAL), sp.factor(RATIONAL))
    calls["_collect_leaves"].clear(), calls["_poly"].clear()
    speedups.cancel(RATIONAL), sp.factor(RATIONAL), sp.cancel(RATIONAL)  # outside: SymPy's own
    assert calls == {"_collect_leaves": [], "_poly": []}


def _count_fastpoly(monkeypatch) -> dict:
    """The threads that enter fastpoly's cancel (_collect_leaves) and conversion (_poly)."""
    calls = {"_collect_leaves": [], "_poly": []}
    for name in calls:
        original = getattr(fastpoly, name)

        def counting(*args, _original=original, _name=name, **kwargs):
            calls[_name].append(threading.get_ident())
            return _original(*args, **kwargs)

        monkeypatch.setattr(fastpoly, name, counting)
    return calls


def test_another_thread_keeps_plain_sympy(monkeypatch):
    """While one thread works inside a block, another's sp.cancel is SymPy's own object, its polynomial
    functions behave as SymPy's (lcm with 0 failed 239 times in 240 under a process-wide patch)
    and never enter fastpoly."""
    calls = _count_fastpoly(monkeypatch)
    inside, stop, worker_ids, errors = threading.Event(), threading.Event(), [], []

    def work():
        worker_ids.append(threading.get_ident())
        try:
            with sympy_speedups():
                inside.set()
                while not stop.is_set():
                    speedups.cancel(RATIONAL), sp.simplify(RATIONAL), sp.factor(RATIONAL)
        except Exception as e:  # noqa: BLE001  (reported by the main thread)
            errors.append(e)
            inside.set()

    expected_lcm = sp.lcm(sp.Poly(x + 1, x), 0)
    expected_cancel = sp.cancel(RATIONAL)
    thread = threading.Thread(target=work)
    thread.start()
    try:
        assert inside.wait(60)
        for _ in range(200):
            assert polytools.cancel is not fastpoly.SYMPY_CANCEL  # the dispatchers are bound
            assert sp.cancel is fastpoly.SYMPY_CANCEL
            assert sp.lcm(sp.Poly(x + 1, x), 0) == expected_lcm
        for _ in range(5):
            assert sp.cancel(RATIONAL) == expected_cancel
    finally:
        stop.set()
        thread.join()
    assert not errors
    me = threading.get_ident()
    assert me not in calls["_collect_leaves"] and me not in calls["_poly"]
    assert calls["_collect_leaves"].count(worker_ids[0]) > 0  # the other thread did use them
    assert polytools.cancel is fastpoly.SYMPY_CANCEL and not speedups.inside()


def test_another_thread_during_a_derivation(tmp_path):
    """As above with a real derivation (cold cache) in the block, in a fresh process."""
    out = _run("""
        import json, threading
        import sympy as sp
        from sympy.polys import polytools
        import theory
        from theory import fastpoly, speedups, store

        x = sp.Symbol("x")
        seen = {"_collect_leaves": set(), "_poly": set()}
        for name in seen:
            def counting(*a, _f=getattr(fastpoly, name), _n=name, **k):
                seen[_n].add(threading.get_ident())
                return _f(*a, **k)
            setattr(fastpoly, name, counting)
        derived, enough = threading.Event(), threading.Event()

        def work():
            with speedups.sympy_speedups():
                store.compute("R3.drift.mle", theory.get_family("bernoulli"))
                derived.set()
                enough.wait()

        expected = sp.lcm(sp.Poly(x + 1, x), 0)
        t = threading.Thread(target=work)
        t.start()
        checks = failures = overlap = 0
        while not (derived.is_set() and checks >= 200):
            overlap += polytools.cancel is not fastpoly.SYMPY_CANCEL
            try:
                assert sp.cancel is fastpoly.SYMPY_CANCEL
                assert sp.lcm(sp.Poly(x + 1, x), 0) == expected
            except Exception:
                failures += 1
            checks += 1
        enough.set()
        t.join()
        me = threading.get_ident()
        print(json.dumps({"checks": checks, "failures": failures, "overlap": overlap,
                          "mine": any(me in s for s in seen.values()),
                          "worker": all(t.ident in s for s in seen.values())}))
        """, THEORY_CACHE_DIR=str(tmp_path))
    assert out["failures"] == 0 and out["checks"] >= 200 and out["overlap"] >= 200
    assert not out["mine"] and out["worker"]


def test_a_speedup_whose_sympy_internals_differ_is_skipped():
    out = _run("""
        import json
        import sympy as sp
        from sympy.polys import polyutils
        own = polyutils._parallel_dict_from_expr
        # as if another SymPy took one more argument: the conversion is left as it is
        polyutils._parallel_dict_from_expr = other = lambda exprs, opt, *more: own(exprs, opt)
        from theory import speedups
        x = sp.Symbol("x")
        with speedups.sympy_speedups():
            ok = sp.factor(x**2 - 1) == (x - 1) * (x + 1) and polyutils._parallel_dict_from_expr is other
        print(json.dumps({"active": speedups.ACTIVE, "ok": ok}))
        """)
    assert out["active"] == {"assumptions_in_order": True, "powsimp_memoised": True,
                             "polys_without_expand": False, "cancel": True}
    assert out["ok"]
