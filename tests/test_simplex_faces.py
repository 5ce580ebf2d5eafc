"""The MLE on a simplex face in closed form (estimators.theta_on_simplex_face) against the Newton
refit's general loop, and runs of Curie–Weiss with θ fitted, whose chains reach the edges of the
parabola's polygon, against the exact Markov chain of their level counts."""

import copy
import itertools

import numpy as np
import pytest
from scipy import optimize, stats

from theory.engine import estimators, numeric_family
from theory.engine.estimators import REFIT_TOL, simplex_faces, solve_theta, theta_on_simplex_face
from theory.engine.model import minimal_face
from theory.families import get_family
from theory.params import from_params


def _zero_penalty(th):
    """A penalty of 0: solve_theta then takes its general loop (the pinv Newton) on every face."""
    return np.zeros(len(th)), np.zeros_like(th), np.zeros(th.shape + th.shape[-1:])


def _random_faces(name, args, rng, C=400):
    """(numeric, face (C, L), levels (C, k) list, weights on them, τ): random simplex faces with a
    random law on their levels. Curie–Weiss: the polygon's edges (two adjacent levels, the two
    ends); categorical: any 2..K − 1 levels (every set of levels is a face of the simplex); the
    binomial's proper faces are its end points, so two random levels (the restricted model)."""
    nf = numeric_family(get_family(name, **args))
    L = len(nf.levels)
    faces = []
    for _ in range(C):
        if name == "curie_weiss":
            j = rng.integers(0, L)
            faces.append(np.array([0, L - 1]) if j == L - 1 else np.array([j, j + 1]))
        elif name == "categorical":
            faces.append(np.sort(rng.choice(L, rng.integers(2, L), replace=False)))
        else:
            faces.append(np.sort(rng.choice(L, 2, replace=False)))
    face = np.zeros((C, L), bool)
    law = np.zeros((C, L))
    for i, levels in enumerate(faces):
        face[i, levels] = True
        counts = rng.integers(1, 40, len(levels))  # an empirical law: every level of F present
        law[i, levels] = counts / counts.sum()
    return nf, face, faces, law, law @ nf.phi_levels


def _closed_form(nf, tau, theta0, faces):
    out = np.empty_like(theta0)
    for k in {len(f) for f in faces}:
        rows = np.flatnonzero([len(f) == k for f in faces])
        out[rows] = theta_on_simplex_face(nf, tau[rows], theta0[rows], np.array([faces[i] for i in rows]))
    return out


def _normal_part(nf, faces, delta):
    """|component of δ orthogonal to the span of φ_{s_i} − φ_{s_0}| per row."""
    out = np.empty(len(delta))
    for i, levels in enumerate(faces):
        u = nf.phi_levels[levels[1:]] - nf.phi_levels[levels[0]]
        q, _ = np.linalg.qr(u.T)
        out[i] = np.linalg.norm(delta[i] - q @ (q.T @ delta[i]))
    return out


CASES = [("categorical", {"K": 3}), ("categorical", {"K": 4}), ("categorical", {"K": 5}),
         ("curie_weiss", {"N": 4}), ("curie_weiss", {"N": 9}), ("curie_weiss", {"N": 20}),
         ("binomial", {"n": 6}), ("binomial", {"n": 10})]


@pytest.mark.parametrize("name, args", CASES)
def test_closed_form_on_simplex_faces_is_the_newton_limit(name, args, rng):
    """The closed form's model on F is the sample's law (the MLE on a simplex face) to 1e-12; its θ
    moved from θ0 only within the face's span (the pinv Newton's steps lie in χ's range); the
    general loop's θ gives the same law within its tolerance and the same θ to 1e-6 wherever its
    steps stayed in that span (pinv keeps a noise direction of χ when a curvature falls to 1e-10
    of the other: then its θ drifts along the normal, which leaves the law unchanged)."""
    nf, face, faces, law, tau = _random_faces(name, args, rng)
    theta0 = rng.normal(0.0, 2.0, (len(tau), nf.d))
    closed = _closed_form(nf, tau, theta0, faces)
    assert np.all(np.isfinite(closed))
    assert np.abs(nf.level_probabilities(closed, face) - law).max() < 1e-12
    assert np.all(_normal_part(nf, faces, closed - theta0) <= 1e-9 * (1 + np.abs(closed).max(axis=1)))

    newton = solve_theta(nf, tau, theta0, face, penalty=_zero_penalty)
    assert np.all(np.abs(nf.mu(newton, face) - tau) <= REFIT_TOL * nf.scale)
    assert np.abs(nf.level_probabilities(newton, face) - law).max() < 1e-8
    in_span = _normal_part(nf, faces, newton - theta0) < 1e-8
    assert in_span.mean() > 0.8
    assert np.abs(closed - newton)[in_span].max() < 1e-6

    # solve_theta's plain MLE takes the closed form on these faces (mixed with interior chains)
    simplex = [(rows, levels) for rows, levels in simplex_faces(nf, face, *nf.face_size_full(face))]
    assert sum(len(rows) for rows, _ in simplex) == len(face)
    inside = np.ones((5, len(nf.levels)), bool)
    tau_inside = rng.dirichlet(np.ones(len(nf.levels)), 5) @ nf.phi_levels
    both = solve_theta(nf, np.vstack([tau, tau_inside]), np.vstack([theta0, np.zeros((5, nf.d))]),
                       np.vstack([face, inside]))
    assert np.array_equal(both[: len(tau)], closed)
    assert np.array_equal(both[len(tau):], solve_theta(nf, tau_inside, np.zeros((5, nf.d))))


@pytest.mark.parametrize("name, args", [("categorical", {"K": 4}), ("curie_weiss", {"N": 9})])
def test_the_face_comparison_rejects_a_wrong_theta(name, args, rng):
    """Negative controls: θ0 left as it is, and the closed form without the base measure's ratio
    log(h_{s_i}/h_{s_0}) (wrong where h is not constant: Curie–Weiss), fail the same 1e-12 check."""
    nf, face, faces, law, tau = _random_faces(name, args, rng)
    theta0 = rng.normal(0.0, 2.0, (len(tau), nf.d))
    assert np.abs(nf.level_probabilities(theta0, face) - law).max() > 1e-3
    if name == "curie_weiss":
        flat = copy.copy(nf)
        flat.log_h = np.zeros_like(nf.log_h)
        wrong = _closed_form(flat, tau, theta0, faces)
        assert np.abs(nf.level_probabilities(wrong, face) - law).max() > 1e-3


def test_faces_that_are_not_simplices_take_the_general_loop(rng):
    """Curie–Weiss with θ1 fixed (φ2 = (m² − N)/2N): the two ends ±N have the same φ, a face of
    two levels that is no simplex: the general loop solves it, the interior chains by themselves."""
    family = get_family("curie_weiss", N=6).restrict(theta1=0.0)
    nf = numeric_family(family)
    L = len(nf.levels)
    counts = rng.integers(1, 5, (6, L))
    counts[:3, 1:-1] = 0  # on the ends' face
    face = minimal_face(nf, counts > 0)
    size, full = nf.face_size_full(face)
    assert np.count_nonzero(~full) == 3 and not simplex_faces(nf, face, size, full)
    tau = counts @ nf.phi_levels / counts.sum(1, keepdims=True)
    theta = solve_theta(nf, tau, np.zeros((6, 1)), face)
    assert np.all(np.abs(nf.mu(theta, face) - tau) <= REFIT_TOL * nf.scale)


# -- runs with chains on faces against the exact chain of the level counts -------------------------
N, M_POINTS, CHAINS, TIMES = 3, 4, 20_000, (3, 8)


def _exact_class_laws(loop):
    """P(class of the refit's face at generation t), t in TIMES, by the exact Markov chain of the
    sample's level counts (C(M + L − 1, L − 1) states). Each state's model: on a proper face (a
    vertex, two adjacent levels or the two ends of the parabola: simplices) the sample's law, the
    MLE there; inside the MLE by scipy's root finder on μ(θ) = φ̄ from the family's φ and h."""
    nf = loop.numeric
    L, phi, log_h = len(nf.levels), nf.phi_levels, nf.log_h
    states = np.array([c for c in itertools.product(range(M_POINTS + 1), repeat=L) if sum(c) == M_POINTS])

    def law(theta):
        z = log_h + phi @ theta
        p = np.exp(z - z.max())
        return p / p.sum()

    def cls(counts):
        present = tuple(int(j) for j in np.flatnonzero(counts))
        edges = {(j, j + 1) for j in range(L - 1)} | {(0, L - 1)}
        return present if len(present) == 1 or present in edges else "inside"

    models = []
    for c in states:
        if cls(c) == "inside":
            target = c @ phi / M_POINTS
            sol = optimize.root(lambda th, t=target: law(th) @ phi - t, np.zeros(nf.d), tol=1e-13)
            assert np.abs(law(sol.x) @ phi - target).max() < 1e-10
            models.append(law(sol.x))
        else:
            models.append(c / M_POINTS)
    P = np.array([stats.multinomial.pmf(states, M_POINTS, q) for q in models])
    assert np.allclose(P.sum(1), 1)
    pi = stats.multinomial.pmf(states, M_POINTS, law(loop.theta0[0]))
    classes = sorted({str(cls(c)) for c in states})
    out = {}
    for t in range(1, max(TIMES) + 1):
        if t > 1:
            pi = pi @ P
        if t in TIMES:
            out[t] = {k: sum(p for p, c in zip(pi, states, strict=True) if str(cls(c)) == k) for k in classes}
    return out, cls


def _z_scores(loop, laws, cls):
    """(fraction of the run's chains in each class − the exact chain's)/its standard error, at
    each of TIMES (a run each). A chain's class is its face's: the face's levels are the sample's."""
    zs = []
    for t in TIMES:
        got = {}
        for levels in loop.run(t, CHAINS, seed=11 + t).state.face:
            k = "inside" if levels.all() else str(cls(levels))
            got[k] = got.get(k, 0) + 1
        for k, p in laws[t].items():
            if 0 < p < 1:
                zs.append((got.get(k, 0) / CHAINS - p) / np.sqrt(p * (1 - p) / CHAINS))
    return np.array(zs)


def _cw_loop():
    return from_params("curie_weiss", M_POINTS, {"theta1": 0.2, "theta2": 0.3}, family_args={"N": N})


# classes: inside, 4 edges, 4 vertices at 2 times: 18 z-scores; family-wise 1e-3 (Bonferroni,
# two-sided): |z| < 4.03
Z_MAX = stats.norm.isf(1e-3 / 2 / 18)


def test_runs_with_chains_on_faces_follow_the_exact_chain():
    loop = _cw_loop()
    laws, cls = _exact_class_laws(loop)
    assert min(laws[TIMES[0]][str(e)] for e in [(0, 1), (1, 2), (2, 3), (0, 3)]) > 0.01  # faces are reached
    zs = _z_scores(loop, laws, cls)
    assert len(zs) == 18 and np.abs(zs).max() < Z_MAX, zs


def test_the_exact_chain_comparison_rejects_theta0_left_on_faces(monkeypatch):
    """Negative control: the model on a face left at θ0's law restricted to it (no refit there)."""
    monkeypatch.setattr(estimators, "theta_on_simplex_face", lambda nf, tau, theta0, levels: theta0.copy())
    loop = _cw_loop()
    laws, cls = _exact_class_laws(loop)
    assert np.abs(_z_scores(loop, laws, cls)).max() > Z_MAX


def test_blocks_and_the_whole_agree_with_chains_on_faces(monkeypatch):
    """Curie–Weiss with θ fitted, M = 6: many chains on edges; chains advanced in blocks give the
    same means, faces and hitting times bit for bit, as without faces (θ's last bits may depend on
    how many chains a refit batches, on main too: a matrix product's kernel depends on its size)."""
    import theory.engine.loop as loop_module

    def final(block):
        monkeypatch.setattr(loop_module, "CHAIN_BLOCK", block)
        loop = from_params("curie_weiss", 6, {"theta1": 0.1, "theta2": 0.3}, family_args={"N": 8})
        state = loop.run(12, 3000, seed=2).state
        return state.mu, state.face, state.hit_time, state.vertex

    whole, blocked = final(2**18), final(777)
    faces = ~whole[1].all(axis=1) & (whole[1].sum(axis=1) == 2)
    assert faces.mean() > 0.05
    for a, b in zip(whole, blocked, strict=True):
        assert np.array_equal(a, b)
