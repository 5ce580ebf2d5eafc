"""Mutation harness: plausible one-line bugs in the mathematics, each with the tests that must kill it.

    python tests/mutants.py            # every mutant against its killing tests (a minute or two)
    python tests/mutants.py --suite    # every mutant against the whole default suite (slow)
    python tests/mutants.py NAME ...   # only these mutants

Each mutant is applied to a scratch copy of the repository (the files git tracks, plus the
working tree's edits), with its own empty cache directory, and the tests are run there with
``PYTHONPATH`` pointing at the copy; a mutant is killed when the tests fail. Nothing here
runs in the default suite except :func:`tests.test_mutations.test_every_mutant_still_applies`,
which keeps the list in step with the source.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str          # relative to the repository
    old: str           # occurs exactly once in the file
    new: str
    kill: tuple[str, ...]  # pytest node ids (or files) that must fail
    why: str


MUTATIONS = "tests/test_mutations.py"
MUTANTS = (
    Mutant("prior-M-times", "theory/engine/loop.py",
           "prior = est.penalty(n) if", "prior = est.penalty(n / self.M) if",
           (f"{MUTATIONS}::test_one_generation_refits_with_the_prior_once",),
           "the prior of a Newton refit enters M times per generation instead of once"),
    Mutant("prior-n-times", "theory/engine/estimators.py",
           "return -v / n, -g / n, -h / n", "return -v, -g, -h",
           (f"{MUTATIONS}::test_one_generation_refits_with_the_prior_once",),
           "the penalty of the MAP refit not divided by n: the prior enters n times"),
    Mutant("closed-form-prior-n-times", "theory/engine/loop.py",
           "n * (xbar - mu) + g, 0)", "n * (xbar - mu) + n * g, 0)",
           (f"{MUTATIONS}::test_one_generation_refits_with_the_prior_once",),
           "the closed-form MAP refit (Fig. 3) with the prior n times"),
    Mutant("refit-over-M-points", "theory/engine/loop.py",
           "return self.regime.model_points(t, self.M) + self.external + len(self.data)",
           "return self.regime.model_points(t, self.M) + len(self.data)",
           (f"{MUTATIONS}::test_one_generation_refits_with_the_prior_once",),
           "fresh external points drawn but not counted in the refit's n"),
    Mutant("anchors-on-top", "theory/engine/loop.py",
           "return self.regime.model_points(t, self.M) - self.M0", "return self.regime.model_points(t, self.M)",
           (f"{MUTATIONS}::test_one_generation_refits_with_the_prior_once",),
           "M model points drawn and the M0 anchors on top of them (anchors confused with fresh points)"),
    Mutant("r9-drift-over-M-plus-1", "theory/results/general.py",
           'drift = _tidy(_specialise(setting, gen["drift_theta"])) / S.M',
           'drift = _tidy(_specialise(setting, gen["drift_theta"])) / (S.M + 1)',
           (f"{MUTATIONS}::test_r9_drift_is_minus_chi_inverse_grad_U_over_M",),
           "the R9 drift divided by M + 1: equal to O(M^-2), invisible to an M ladder"),
    Mutant("r9-noise-over-M-squared", "theory/results/general.py",
           "noise = _tidy(inverse(fam.chi)) / S.M", "noise = _tidy(inverse(fam.chi)) / S.M**2",
           (f"{MUTATIONS}::test_r9_drift_is_minus_chi_inverse_grad_U_over_M",),
           "the R9 covariance of Δθ divided by M² instead of M"),
    Mutant("r9-prior-sign", "theory/results/general.py",
           "grad_U = grad_logdet / 2 - u_sym * g", "grad_U = grad_logdet / 2 + u_sym * g",
           (f"{MUTATIONS}::test_r9_drift_is_minus_chi_inverse_grad_U_over_M",
            f"{MUTATIONS}::test_r9_drift_is_the_exact_one_step_mean_at_large_M"),
           "the prior enters the R9 potential with the wrong sign"),
    Mutant("r9-logdet-doubled", "theory/results/general.py",
           "grad_U = grad_logdet / 2 - u_sym * g", "grad_U = grad_logdet - u_sym * g",
           (f"{MUTATIONS}::test_r9_drift_is_the_exact_one_step_mean_at_large_M",),
           "the ½ log det χ (Itô) term of U doubled: seen against the exact one-step mean"),
    Mutant("r9-external-halved", "theory/results/general.py",
           "+ m_ext * (mu - mu_q)", "+ m_ext * (mu - mu_q) / 2",
           (f"{MUTATIONS}::test_r9_drift_is_minus_chi_inverse_grad_U_over_M",),
           "the external points' pull on the R9 drift halved"),
    Mutant("normal-prior-variance", "theory/setting.py",
           "-(t - m) ** 2 / (2 * v)", "-(t - m) ** 2 / v",
           (f"{MUTATIONS}::test_one_generation_refits_with_the_prior_once",
            f"{MUTATIONS}::test_r9_drift_is_minus_chi_inverse_grad_U_over_M"),
           "the Gaussian prior's variance halved (shared by engine and derivations: only a "
           "hand-built oracle sees it)"),
    Mutant("eq18-prior-not-squared", "theory/results/general.py",
           "log_p = 2 * setting.log_prior - 2 * setting.m", "log_p = setting.log_prior - 2 * setting.m",
           ("tests/test_general.py::test_named_stationary_laws_of_the_paper_settings",),
           "Eq. 18 with p0 instead of p0^2"),
    Mutant("eq18-exponent-halved", "theory/results/general.py",
           "2 * setting.log_prior - 2 * setting.m * setting.divergence",
           "2 * setting.log_prior - setting.m * setting.divergence",
           ("tests/test_general.py::test_named_stationary_laws_of_the_paper_settings",
            "tests/test_general.py::test_fig3_summary_against_eq18_and_the_exact_recursion"),
           "Eq. 18 with e^{-m D} instead of e^{-2m D}"),
    Mutant("mu-q-over-m-plus-1", "theory/setting.py",
           "return total / self.m if self.m != 0 else total",
           "return total / (self.m + 1) if self.m != 0 else total",
           (f"{MUTATIONS}::test_r9_drift_is_minus_chi_inverse_grad_U_over_M",),
           "E_q[φ] of the external points averaged over m + 1"),
    Mutant("data-added-twice", "theory/engine/loop.py",
           "sums = sums + self._data", "sums = sums + 2 * self._data",
           (f"{MUTATIONS}::test_one_generation_refits_with_the_prior_once",
            "tests/test_general.py::test_fig2i_summary_against_eq18_and_the_exact_chain"),
           "the fixed data points entering a generation's sum twice"),
    Mutant("exact-chain-refit-over-M", "theory/engine/markov.py",
           "n = loop.n_total ", "n = loop.M ",
           ("tests/test_general.py::test_fig2i_summary_against_eq18_and_the_exact_chain",),
           "the exact chain refitting over the M model points only (the fixed point left out of n)"),
    Mutant("entropy-rate-minus-d", "theory/results/general.py",
           "(chi_inv * hess_S).trace() / 2)", "(chi_inv * hess_S).trace())",
           ("tests/test_general.py::test_pure_loop_identities_in_every_dimension",),
           "the pure loop's entropy rate -d (the paper's printed Eq. 17) instead of -d/2"),
    Mutant("r1-anchors-on-top", "theory/results/common.py",
           "mean = ((M - M0) * mu + M0 * mu_star) / M", "mean = (M * mu + M0 * mu_star) / M",
           (f"{MUTATIONS}::test_r1_r2_with_anchors_equal_the_exact_one_step_law",),
           "R1 with the anchors on top of the M model points"),
    Mutant("r2-over-M", "theory/results/common.py",
           "cov = ((M - M0) * chi + M0 * chi_star) / M**2", "cov = ((M - M0) * chi + M0 * chi_star) / M",
           (f"{MUTATIONS}::test_r1_r2_with_anchors_equal_the_exact_one_step_law",),
           "R2, the covariance of the mean of M points, divided by M instead of M²"),
    Mutant("r2-anchors-at-the-model", "theory/results/common.py",
           "M0 * chi_star) / M**2", "M0 * chi) / M**2",
           (f"{MUTATIONS}::test_r1_r2_with_anchors_equal_the_exact_one_step_law",),
           "R2 with the anchors' covariance taken at the model instead of the truth"),
)


def apply(mutant: Mutant, root: Path) -> None:
    path = root / mutant.file
    text = path.read_text()
    if text.count(mutant.old) != 1:
        raise ValueError(f"{mutant.name}: {mutant.old!r} occurs {text.count(mutant.old)} times "
                         f"in {mutant.file}")
    path.write_text(text.replace(mutant.old, mutant.new))


def scratch_copy(dest: Path) -> Path:
    """The repository's tracked files as they are in the working tree, copied to ``dest``."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def run(mutant: Mutant | None, suite: bool = False, targets: tuple[str, ...] = ()) -> bool:
    """True when the tests fail (the mutant is killed); ``None`` runs the unmutated copy."""
    name = mutant.name if mutant else "none"
    with tempfile.TemporaryDirectory(prefix=f"mutant-{name}-") as tmp:
        root = scratch_copy(Path(tmp) / "repo")
        if mutant is not None:
            apply(mutant, root)
            targets = mutant.kill
        env = os.environ | {"PYTHONPATH": str(root), "THEORY_CACHE_DIR": str(Path(tmp) / "cache")}
        targets = [] if suite else list(targets)
        cmd = [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", *targets]
        # the list's own check fails on any mutated source: it would "kill" every mutant
        cmd += ["--deselect", f"{MUTATIONS}::test_every_mutant_still_applies"]
        cmd += [] if suite else ["-x", "-n", "0"]
        r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        for line in r.stdout.splitlines():  # which tests killed it
            if line.startswith("FAILED "):
                print(f"    {line.split(' - ')[0]}", flush=True)
        return r.returncode != 0


def main(argv: list[str]) -> int:
    suite = "--suite" in argv
    names = [a for a in argv if not a.startswith("--")]
    chosen = [m for m in MUTANTS if not names or m.name in names]
    # the killing tests pass on the unmutated copy, or a "kill" would mean nothing
    if run(None, suite, tuple(sorted({node for m in chosen for node in m.kill}))):
        print("the killing tests fail without any mutant: fix them first")
        return 2
    survivors = []
    for m in chosen:
        killed = run(m, suite)
        print(f"{'killed  ' if killed else 'SURVIVED'} {m.name}: {m.why}", flush=True)
        if not killed:
            survivors.append(m.name)
    print(f"{len(chosen) - len(survivors)}/{len(chosen)} mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
