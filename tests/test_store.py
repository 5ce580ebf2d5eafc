"""Derive once: results are kept on disk, keyed by the subject and the code, and read back as they were."""

import pytest

from theory import diskcache, documents, store
from theory.families import FAMILIES
from theory.setting import NormalPrior, Setting


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_CACHE_DIR", str(tmp_path))
    store.clear_memory()
    yield tmp_path
    store.clear_memory()


def _fresh_process(monkeypatch):
    """What a second process sees: no in-process cache, and no result may be derived again."""
    store.clear_memory()
    read = diskcache.cached_result
    monkeypatch.setattr(diskcache, "cached_result",
                        lambda rid, subject, derive: read(rid, subject, lambda: pytest.fail(f"{rid} derived again")))


def test_results_are_read_back_from_disk_unchanged(cache, monkeypatch):
    """A factored probability -(μ - 3)/3 stays factored (SymPy's own pickling would expand it), the
    LaTeX is byte-identical, and a family object built afresh with the same declaration hits."""
    fam = FAMILIES["binomial"](n=3)
    setting = Setting(fam, fresh=1, prior=NormalPrior(2.0))
    ids = ("R3.drift.mle", "R6.absorption", "R9.sde")
    cold = {rid: store.compute(rid, setting if rid.startswith("R9") else fam) for rid in ids}
    text = {rid: documents.render(d, family=fam) for rid, d in cold.items()}
    assert len(list(cache.rglob("*.pkl"))) >= len(ids)
    _fresh_process(monkeypatch)
    again = FAMILIES["binomial"](n=3)
    warm = {rid: store.compute(rid, Setting(again, fresh=1, prior=NormalPrior(2.0)) if rid.startswith("R9")
                               else again) for rid in ids}
    for rid in ids:
        assert warm[rid].steps == cold[rid].steps and dict(warm[rid].result) == dict(cold[rid].result)
        assert documents.render(warm[rid], family=again) == text[rid]
    probs = [v for k, v in warm["R6.absorption"].result.items() if k.startswith("P[")]
    assert [str(p) for p in probs] == [str(v) for k, v in cold["R6.absorption"].result.items()
                                      if k.startswith("P[")]


def test_the_key_is_the_whole_subject(cache, monkeypatch):
    """Another size, another setting, another prior: each is derived, not read."""
    fam = FAMILIES["binomial"](n=3)
    keys = {diskcache.key(s) for s in (
        fam, FAMILIES["binomial"](n=4), Setting(fam), Setting(fam, fresh=1),
        Setting(fam, prior=NormalPrior(2.0)), Setting(fam, prior=NormalPrior(3.0)))}
    assert len(keys) == 6
    assert diskcache.key(fam) == diskcache.key(FAMILIES["binomial"](n=3))


def test_an_unreadable_cache_is_ignored(cache, monkeypatch):
    fam = FAMILIES["poisson"]()
    cold = store.compute("R1.martingale", fam)
    (path,) = cache.rglob("*R1.martingale.pkl")
    path.write_bytes(b"truncated")
    store.clear_memory()
    assert store.compute("R1.martingale", FAMILIES["poisson"]()).result == cold.result
    monkeypatch.setenv("THEORY_CACHE_DIR", "off")
    store.clear_memory()
    assert store.compute("R1.martingale", FAMILIES["poisson"]()).id == "R1.martingale"


def test_the_code_hashes_cover_every_module_a_derivation_imports():
    """A module read by the cumulants or the results but missing from the hashed lists would let
    a stale cache outlive a change of code (theory/tidy.py once was)."""
    import ast
    from pathlib import Path

    from theory import diskcache

    root = Path(diskcache.__file__).resolve().parent

    def files(names) -> set[Path]:
        return set().union(*((root / n).glob("*.py") if (root / n).is_dir() else {root / n} for n in names))

    def imported(path: Path) -> set[Path]:
        """The package's modules that ``path`` imports (relative imports, at any depth), as files."""
        tree = ast.parse(path.read_text())
        found = set()
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            base = path.parents[node.level - 1].joinpath(*(node.module or "").split(".") if node.module else ())
            targets = [base] if node.module else [base / a.name for a in node.names]
            found |= {t.with_suffix(".py") for t in targets if t.with_suffix(".py").exists()}
            found |= {t / "__init__.py" for t in targets if (t / "__init__.py").exists()}
        return found

    for names in (diskcache._CUMULANT_CODE, diskcache._CUMULANT_CODE + diskcache._RESULT_CODE,
                  diskcache._CUMULANT_CODE + diskcache._RESULT_CODE + diskcache._LAW_CODE):
        hashed = files(names)
        for path in hashed:
            missing = sorted(str(p.relative_to(root)) for p in imported(path) - hashed)
            assert not missing, f"{path.relative_to(root)} imports {missing}, which the cache key does not hash"


def test_a_model_class_law_is_read_back_from_disk_and_checked(cache):
    """The model classes' SymPy laws (R12, no family to key them by) are kept like the results: a
    second process reads them (defaults filled in: law() and law(2) are one key); a signed file
    holding another law's name, a value that is not plain SymPy data or LaTeX names that are not
    a table of symbols, is derived afresh."""
    import pickle

    import sympy as sp

    calls = []

    def law(n=2):
        calls.append(n)
        return {"power": sp.Symbol("x") ** n, "rows": (sp.Matrix([[1, n]]), [True, None])}

    value = diskcache.cached_law(law)()
    assert diskcache.cached_law(law)(2) == value and calls == [2]  # a fresh process reads it
    (path,) = cache.rglob("laws-*/*.pkl")
    secret = diskcache._trusted_root()[1]
    name, _, names = pickle.loads(diskcache._verified(secret, path))
    for planted in (("another law", value, names), (name, {"power": print}, names), (name, value, {"x": 1})):
        diskcache._write(path, secret, planted)
        assert diskcache.cached_law(law)() == value
    assert calls == [2, 2, 2, 2]
    assert diskcache.cached_law(law)(3) != value and calls == [2, 2, 2, 2, 3]


def test_rendered_text_is_kept_signed_and_keyed_by_what_it_renders(cache, monkeypatch):
    """A rendered fragment is read back as text (nothing unpickled) only from a file signed for
    its name and holding that name's hash; another derivation, slug, family or LaTeX name
    renders afresh; the text is the one rendered without the cache."""
    import hashlib

    import sympy as sp

    from theory import symbols as S

    fam = FAMILIES["poisson"]()
    d = store.compute("R2.covariance", fam)
    text = documents.render(d, family=fam)
    assert text == documents._render(d, None, fam)
    (path,) = cache.rglob("texts-*/*.txt")
    code = path.parent.name.removeprefix("texts-")
    assert path.read_bytes().endswith(text.encode())
    made = []

    def make():
        made.append(1)
        return "fresh"

    digest = path.read_bytes()[len(diskcache.MAGIC) + 32:][:32]  # the name is stored hashed
    secret = diskcache._trusted_root()[1]
    key_of, original = {}, diskcache.cached_text

    def spy(code_, name_, make_):
        key_of["name"] = name_()
        return original(code_, name_, make_)

    monkeypatch.setattr(diskcache, "cached_text", spy)
    assert documents.render(d, family=fam) == text  # read back
    monkeypatch.setattr(diskcache, "cached_text", original)
    assert hashlib.sha256(key_of["name"].encode()).digest() == digest
    same = key_of["name"]
    assert diskcache.cached_text(code, lambda: same, make) == text and not made
    for planted in (b"\0" * 32 + b"planted", digest + b"\xff\xfe"):  # another name's hash; not UTF-8
        diskcache._write_bytes(path, secret, planted)
        assert diskcache.cached_text(code, lambda: same, make) == "fresh"
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")  # unsigned: the signature fails
    assert diskcache.cached_text(code, lambda: same, make) == "fresh" and len(made) == 3
    files = lambda: len(list(cache.rglob("texts-*/*.txt")))  # noqa: E731
    assert documents.render(store.compute("R1.martingale", fam), family=fam) != text and files() == 2
    assert documents.render(d, "another-slug", fam) != text and files() == 3
    documents.render(d)
    assert files() == 4  # without the family: another key
    lam = next(x for x in d.result["cov"].atoms(sp.Symbol) if x.name == "M")
    spelt = S.LATEX[lam]
    try:
        S.symbol(lam.name, r"\mathcal{M}", **lam.assumptions0)
        assert r"\mathcal{M}" in documents.render(d, family=fam) and files() == 5
    finally:
        S.symbol(lam.name, spelt, **lam.assumptions0)


def test_a_derivation_that_cannot_be_pickled_is_rendered_not_kept(cache, monkeypatch):
    """A user's derivation holding a lambda renders as before, with the cache on and off."""
    import dataclasses

    fam = FAMILIES["poisson"]()
    d = dataclasses.replace(store.compute("R2.covariance", fam), result={"f": lambda x: x})
    text = documents._render(d, None, fam)
    assert documents.render(d, family=fam) == text and not list(cache.rglob("texts-*/*.txt"))
    monkeypatch.setenv("THEORY_CACHE_DIR", "off")
    assert documents.render(d, family=fam) == text
