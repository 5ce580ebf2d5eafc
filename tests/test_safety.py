"""Nothing executes from data: caller's text, cache files, cluster replies, interrupted runs."""

import pytest
import sympy as sp

import theory
from theory.errors import InputError
from theory.safe_parse import expression, number, sympy_object


# --- text from a caller --------------------------------------------------------------------------
def _payload(marker) -> str:
    """Text whose evaluation as Python (sympify, eval) would create ``marker``."""
    return f"__import__('pathlib').Path({str(marker)!r}).touch()"


def test_the_restricted_parser_reads_numbers_and_expressions_in_project_symbols():
    theta, M = theory.symbols.get("theta"), theory.symbols.get("M")
    assert expression("theta**2 + M") == theta**2 + M  # the project's (real) symbols
    assert expression("exp(-theta)/2") == sp.exp(-theta) / 2
    assert expression("1/3") == sp.Rational(1, 3) and expression("-2.5e-3") == sp.Float("-0.0025")
    assert number("pi/2") == pytest.approx(1.5707963267948966) and number(0.25) == 0.25
    assert sympy_object([1, "theta"]) == [1, theta]
    known = len(theory.symbols.LATEX)
    assert expression("theta_unheard_of + 1").free_symbols == {sp.Symbol("theta_unheard_of", real=True)}
    assert len(theory.symbols.LATEX) == known  # a caller's names never enter the project's table


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "().__class__.__bases__", "x.real", "a[0]", "lambda: 1",
    "exp(x=1)", "exp(*a)", "eval('1')", "_x", "'text'", "True", "1e400", "1/0", "9**9**9**9",
    "(" * 600 + "1" + ")" * 600, "1 +", "x if y else z", "[1, 2]",
])
def test_the_restricted_parser_refuses_everything_else_in_one_line(text):
    with pytest.raises(InputError) as e:
        expression(text)
    assert "\n" not in str(e.value)


def test_a_number_is_a_real_finite_number():
    for text in ("theta", "sqrt(-1)", "1/0"):
        with pytest.raises(InputError):
            number(text)


def _entry_points(p):
    """Every API call that reads a caller's value, each given the text ``p``."""
    bern = theory.get_family("bernoulli")
    drift = theory.result("R3.drift.mle", bern)
    sim = {"M": 5, "generations": 1, "chains": 2}
    return {
        "evaluate(expr)": lambda: theory.evaluate(p, theta=0.3),
        "evaluate(value)": lambda: theory.evaluate(drift.result["drift"], theta=p, M=10),
        "evaluate(conventional)": lambda: theory.evaluate(drift.result["drift"], family=bern, p=p, M=10),
        "evaluate(derivation)": lambda: theory.evaluate(drift, theta=p, M=10),
        "subs(value)": lambda: theory.subs(drift.result["drift"], theta=p),
        "subs(derivation)": lambda: theory.subs(drift, theta=p),
        "simulate(init)": lambda: theory.simulate("bernoulli", init={"p": p}, **sim),
        "simulate(natural init)": lambda: theory.simulate("bernoulli", init={"theta": p}, **sim),
        "simulate(truth)": lambda: theory.simulate("bernoulli", init={"p": 0.3}, truth={"p": p},
                                                   anchors=1, **sim),
        "simulate(data s)": lambda: theory.simulate("poisson", init={"rate": 1}, data=[{"s": p}], **sim),
        "simulate(data phi)": lambda: theory.simulate("poisson", init={"rate": 1}, data=[{"phi1": p}], **sim),
        "simulate(family_args)": lambda: theory.simulate("binomial", init={"p": 0.3}, family_args={"n": p}, **sim),
        "simulate(fixed)": lambda: theory.simulate("gaussian", init={"theta1": 0.3, "theta2": -1},
                                                   fixed={"theta2": p}, **sim),
        "simulate(prior)": lambda: theory.simulate("bernoulli", init={"p": 0.3}, estimator="map",
                                                   prior={"p": p}, **sim),
        "simulate(nu)": lambda: theory.simulate("bernoulli", init={"p": 0.3}, estimator="map", nu=p, **sim),
        "simulate(prior_law)": lambda: theory.simulate("bernoulli", init={"p": 0.3}, prior_law=p, **sim),
        "simulate(prior_law value)": lambda: theory.simulate("poisson", init={"rate": 1},
                                                             prior_law=f"gamma:shape={p},rate=1,on=rate", **sim),
        "make_setting(data)": lambda: theory.make_setting("poisson", data=[{"s": p}]),
        "make_setting(family arg)": lambda: theory.make_setting("binomial", n=p),
        "make_setting(fixed)": lambda: theory.make_setting("gaussian", fixed={"theta2": p}),
        "Setting(truth)": lambda: theory.Setting(bern, truth={"p": p}),
        "Setting(data)": lambda: theory.Setting(bern, data=((p,),)),
        "result(family arg)": lambda: theory.result("R3.drift.mle", "binomial", n=p),
        "result(id)": lambda: theory.result(p, bern),
        "derivations(family arg)": lambda: theory.derivations("binomial", n=p),
        "stationary_law(truth)": lambda: theory.stationary_law("bernoulli", anchors=2, truth={"p": p}),
        "stationary_law(anchors)": lambda: theory.stationary_law("bernoulli", anchors=p, truth={"p": 0.3}),
        "symbol": lambda: theory.symbol(p),
        "natural_point": lambda: bern.natural_point({"p": p}),
        "in_conventional": lambda: bern.in_conventional(p),
        "in_mu": lambda: bern.in_mu(p),
    }


def test_a_malicious_string_at_every_api_entry_point_runs_nothing(tmp_path):
    """Each entry point refuses the text with InputError (one line) and the payload never runs."""
    marker = tmp_path / "MARKER"
    for name, call in _entry_points(_payload(marker)).items():
        with pytest.raises(InputError, match=".") as e:
            call()
            pytest.fail(f"{name} accepted the text")
        assert "\n" not in str(e.value), name
        assert not marker.exists(), f"{name} ran the payload"


def test_numbers_as_text_still_work_at_the_api():
    """Text that spells a number is read as that number (no sympify needed)."""
    drift = theory.result("R3.drift.mle", theory.get_family("bernoulli")).result["drift"]
    given = {"theta": 0.3, "M": 100, "M0": 1, "theta_star": 0.5}
    as_text = {k: str(v) for k, v in given.items()}
    assert theory.evaluate(drift, **as_text) == pytest.approx(theory.evaluate(drift, **given))
    assert theory.get_family("bernoulli").natural_point({"p": "1/2"}) == {"theta": pytest.approx(0.0)}
    assert theory.subs(theory.symbols.get("theta") ** 2, theta="1/2") == sp.Rational(1, 4)


# --- the disk cache ------------------------------------------------------------------------------
class _Planted:
    """A pickle whose loading creates a file: what an attacker would plant in the cache."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    from theory import store

    root = tmp_path / "cache"
    monkeypatch.setenv("THEORY_CACHE_DIR", str(root))
    store.clear_memory()
    yield root
    store.clear_memory()


def _plant(path, marker, how: str):
    """Write at ``path`` a malicious pickle: unsigned, or signed with another key."""
    import hashlib
    import hmac
    import pickle

    from theory import diskcache

    payload = pickle.dumps(_Planted(marker))
    pickle.loads(payload).close()  # the negative control: this payload does run when unpickled
    assert marker.exists()
    marker.unlink()
    if how == "unsigned":
        path.write_bytes(payload)
    else:
        mac = hmac.new(b"k" * 32, path.name.encode() + b"\0" + payload, hashlib.sha256).digest()
        path.write_bytes(diskcache.MAGIC + mac + payload)


@pytest.mark.parametrize("how", ["unsigned", "signed by another key"])
def test_a_planted_cumulant_file_runs_nothing_and_is_replaced(cache, tmp_path, how):
    from theory import diskcache
    from theory.families import FAMILIES

    marker = tmp_path / "MARKER"
    truth = FAMILIES["poisson"]().A  # derived, and kept: the cache now has its key and file
    (path,) = cache.rglob("poisson-*-A.pkl")
    _plant(path, marker, how)
    fresh = FAMILIES["poisson"]()  # a new object: reads the disk
    assert diskcache.load(fresh, "A") is diskcache.MISS and not marker.exists()
    assert fresh.A == truth and not marker.exists()  # derived afresh ...
    assert diskcache.load(FAMILIES["poisson"](), "A") == truth  # ... and the file replaced


@pytest.mark.parametrize("how", ["unsigned", "signed by another key"])
def test_a_planted_result_file_runs_nothing_and_is_replaced(cache, tmp_path, how):
    from theory import store
    from theory.families import FAMILIES

    marker = tmp_path / "MARKER"
    cold = store.compute("R1.martingale", FAMILIES["poisson"]())
    (path,) = cache.rglob("*R1.martingale.pkl")
    _plant(path, marker, how)
    store.clear_memory()
    warm = store.compute("R1.martingale", FAMILIES["poisson"]())
    assert not marker.exists() and warm.result == cold.result
    store.clear_memory()
    assert store.compute("R1.martingale", FAMILIES["poisson"]()).result == cold.result


def test_a_signed_file_of_the_wrong_shape_or_result_is_replaced(cache):
    """Signed by this cache's key but not what the name says (a bug, a moved file): not used."""
    from theory import diskcache, store
    from theory.families import FAMILIES

    fam = FAMILIES["bernoulli"]()
    mu = fam.mu
    diskcache.store(fam, "mu", sp.Matrix([[1, 2]]))  # signed, but 1×2
    assert diskcache.load(FAMILIES["bernoulli"](), "mu") is diskcache.MISS
    assert FAMILIES["bernoulli"]().mu == mu and diskcache.load(FAMILIES["bernoulli"](), "mu") == mu
    cold = store.compute("R1.martingale", fam)
    (path,) = cache.rglob("*R1.martingale.pkl")
    secret = (cache / "key").read_bytes()
    other = store.compute("R3.drift.mle", fam)
    diskcache._write(path, secret, (other, {}))  # signed, but another result
    store.clear_memory()
    assert store.compute("R1.martingale", FAMILIES["bernoulli"]()).id == "R1.martingale"
    assert store.compute("R1.martingale", fam).result == cold.result


@pytest.mark.parametrize("what", ["group-writable root", "world-readable key"])
def test_a_cache_others_could_write_or_read_is_not_used(cache, what):
    import os

    from theory import diskcache
    from theory.families import FAMILIES

    assert FAMILIES["bernoulli"]().A is not None  # creates the root (0700) and its key (0600)
    assert oct(cache.stat().st_mode & 0o777) == "0o700" and oct((cache / "key").stat().st_mode & 0o777) == "0o600"
    if what == "group-writable root":
        os.chmod(cache, 0o770)
    else:
        os.chmod(cache / "key", 0o644)
    diskcache._refuse.cache_clear()
    with pytest.warns(UserWarning, match="ignored"):
        assert diskcache.load(FAMILIES["bernoulli"](), "A") is diskcache.MISS
    before = sorted(cache.rglob("*"))
    assert FAMILIES["poisson"]().mu.shape == (1, 1)  # derived, as with the cache off
    assert sorted(cache.rglob("*")) == before  # and nothing written there


@pytest.mark.parametrize("env", [{"THEORY_CACHE_DIR": "/"}, {"THEORY_CACHE_DIR": "relative/cache"},
                                 {"HOME": "", "XDG_CACHE_HOME": ""}, {"HOME": "/", "XDG_CACHE_HOME": "rel"},
                                 {"HOME": "rel", "XDG_CACHE_HOME": ""}])
def test_no_cache_root_in_slash_or_under_the_working_directory(monkeypatch, tmp_path, env):
    """THEORY_CACHE_DIR=/ or an empty HOME (as root, say) must not create folders in / or under
    the working directory: such a root means no cache."""
    from theory import diskcache
    from theory.families import FAMILIES

    if "THEORY_CACHE_DIR" not in env:
        monkeypatch.delenv("THEORY_CACHE_DIR", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    assert diskcache.cache_dir() is None
    assert FAMILIES["bernoulli"]().mu.shape == (1, 1) and not list(tmp_path.iterdir())


# --- a Dask cluster ------------------------------------------------------------------------------
def _peer(mode: str):
    """A local TCP server that accepts and then says nothing, or says garbage: not a Dask scheduler."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if mode == "garbage":
                try:
                    conn.sendall(b"\xff" * 64 + b"HTTP/1.1 200 OK\r\n\r\n" * 50)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}", server


SWEEP = ["sweep", "--family", "bernoulli", "--M", "5", "--init", "p=0.3", "--generations", "2",
         "--chains", "2", "--quiet"]


@pytest.mark.parametrize("mode", ["silent", "garbage"])
def test_a_peer_that_is_not_dask_fails_in_bounded_time_with_one_line(mode, capsys):
    import time

    pytest.importorskip("distributed", reason="the dask extra is not installed")
    from theory.cli import main

    address, server = _peer(mode)
    try:
        start = time.monotonic()
        assert main([*SWEEP, "--scheduler", address, "--timeout", "1"]) == 2
        assert time.monotonic() - start < 10  # the timeout plus a margin, not a hang
    finally:
        server.close()
    err = capsys.readouterr().err
    assert err.startswith("closedloop: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("flags, says", [
    (["--scheduler", "tls://127.0.0.1:1"], "uses TLS"),
    (["--scheduler", "tcp://127.0.0.1:1", "--tls-ca-file", "ca.pem", "--tls-cert", "me.pem"], "not tls://"),
    (["--scheduler", "tls://127.0.0.1:1", "--tls-ca-file", "ca.pem"], "needs --tls-ca-file and --tls-cert"),
    (["--tls-ca-file", "ca.pem", "--tls-cert", "me.pem"], "for a --scheduler"),
    (["--scheduler", "tls://127.0.0.1:1", "--tls-ca-file", "absent.pem", "--tls-cert", "absent.pem"], "not found"),
])
def test_tls_settings_that_do_not_match_are_refused(flags, says, capsys, tmp_path, monkeypatch):
    from theory.cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("ca.pem", "me.pem"):
        (tmp_path / name).write_text("-")
    for command in (SWEEP, ["validate", "--only", "R1", "bernoulli"], ["figures", "--only", "fig1a_trajectories"]):
        assert main([*command, *flags]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    """A local Dask cluster (threads) that speaks only TLS, and PEM files a client may use."""
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    from dask.distributed import LocalCluster
    from distributed.security import Security

    security = Security.temporary()
    folder = tmp_path_factory.mktemp("tls")
    (folder / "ca.pem").write_text(security.tls_ca_file)
    (folder / "client.pem").write_text(security.tls_client_cert)
    (folder / "client.key").write_text(security.tls_client_key)
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=":0",
                      security=security, protocol="tls") as cluster:
        yield cluster.scheduler_address, folder


def test_tls_certificates_reach_a_tls_cluster_and_results_are_checked(tls_cluster):
    from theory.parallel import TLS, connect, map_tasks

    address, folder = tls_cluster
    assert address.startswith("tls://")
    tls = TLS(str(folder / "ca.pem"), str(folder / "client.pem"), str(folder / "client.key"))
    client, _ = connect(address, 10, tls)
    try:
        assert list(map_tasks(abs, [-1, -2], scheduler=client, check=lambda x, r: r == abs(x))) == [1, 2]
        # a reply that is not a result of its task (here: an int where a str was due) is not used
        with pytest.raises(InputError, match="not a result of that task"):
            list(map_tasks(abs, [-1, -2], scheduler=client, check=lambda x, r: isinstance(r, str)))
    finally:
        client.close()
    with pytest.raises(InputError):  # plain tcp:// to a TLS-only cluster: refused
        connect(address.replace("tls://", "tcp://"), 2)


# --- faults --------------------------------------------------------------------------------------
ORPHAN_SCRIPT = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from theory.parallel import map_tasks

def task(i):
    open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
    time.sleep(120)
    return i

if __name__ == "__main__":
    if sys.argv[2] == "theory":
        list(map_tasks(task, range(2), workers=2, fork_after=lambda: None))
    else:  # the negative control: the same pool without theory's exit_with_parent
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            list(pool.map(task, range(2)))
"""


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has exited (nobody may reap it in a container)


def _orphans(tmp_path, mode: str, wait: float) -> list[int]:
    """Worker pids still running ``wait`` seconds after their parent was killed (SIGKILL)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script, pids = tmp_path / "orphan.py", tmp_path / mode
    script.write_text(ORPHAN_SCRIPT)
    pids.mkdir()
    env = os.environ | {"PYTHONPATH": str(__import__("pathlib").Path(theory.__file__).parents[1])}
    parent = subprocess.Popen([sys.executable, str(script), str(pids), mode], env=env)
    deadline = time.monotonic() + 60
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline and parent.poll() is None:
        time.sleep(0.1)
    workers = [int(p.name) for p in pids.iterdir()]
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + wait
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:  # the control's workers: ended here, by their id
        os.kill(w, signal.SIGKILL)
    assert len(workers) == 2, "the workers never started"
    return left


@pytest.mark.skipif(__import__("sys").platform != "linux", reason="the fork path is Linux's")
def test_forked_workers_exit_when_their_parent_dies(tmp_path):
    assert _orphans(tmp_path, "theory", wait=10) == []
    assert len(_orphans(tmp_path, "control", wait=2)) == 2  # without it they live on: the test can fail


FAKE_PDFLATEX = """#!/bin/sh
# writes half a PDF where pdflatex would, says so, and waits to be killed
for last; do :; done
printf '%%PDF-1.5 truncated' > "${last%.tex}.pdf"
echo $$ > "$READY"
sleep 60
"""


def test_killing_a_pdf_build_leaves_the_previous_pdf_whole(tmp_path):
    """derive killed (SIGKILL) while pdflatex writes: the PDF in place is the previous one."""
    import os
    import signal
    import subprocess
    import sys
    import time

    bin_dir, ready = tmp_path / "bin", tmp_path / "ready"
    bin_dir.mkdir()
    (bin_dir / "pdflatex").write_text(FAKE_PDFLATEX)
    (bin_dir / "pdflatex").chmod(0o755)
    tex, pdf = tmp_path / "doc.tex", tmp_path / "doc.pdf"
    tex.write_text("\\documentclass{article}\\begin{document}x\\end{document}\n")
    pdf.write_bytes(b"%PDF-1.5 the previous, whole document")
    env = os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "READY": str(ready),
                        "PYTHONPATH": str(__import__("pathlib").Path(theory.__file__).parents[1])}
    code = f"from pathlib import Path; from theory.documents import compile_pdf; compile_pdf(Path({str(tex)!r}))"
    build = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 60
    while not (ready.exists() and ready.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    build.kill()
    build.wait()
    os.kill(int(ready.read_text()), signal.SIGKILL)  # the fake pdflatex, by its id
    assert pdf.read_bytes() == b"%PDF-1.5 the previous, whole document"
    truncated = list(tmp_path.glob(".pdflatex-*/doc.pdf"))  # the half-written one, out of the way
    assert truncated and truncated[0].read_bytes() == b"%PDF-1.5 truncated"


def test_a_sweep_over_tls_runs_and_a_reply_that_is_not_a_summary_is_refused(tls_cluster, monkeypatch, capsys):
    """The CLI's TLS flags reach the cluster; a worker answering 0 for a summary (as a tampered
    worker did, and sweep exited 0) is one error line, exit status 2."""
    import json

    from theory import sweep
    from theory.cli import main

    address, folder = tls_cluster
    flags = ["--scheduler", address, "--tls-ca-file", str(folder / "ca.pem"),
             "--tls-cert", str(folder / "client.pem"), "--tls-key", str(folder / "client.key"), "--timeout", "10"]
    assert main([*SWEEP, *flags]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert isinstance(result["summary"], dict) and result["summary"]
    monkeypatch.setattr(sweep, "run_task", lambda options, seed: 0)  # the cluster runs threads here
    assert main([*SWEEP, *flags]) == 2
    err = capsys.readouterr().err
    assert "not a result of that task" in err and err.count("\n") == 1, err
