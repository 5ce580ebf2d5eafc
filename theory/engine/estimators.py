"""The refit of one generation: φ̄ -> the next model, for MLE, conjugate MAP and L2.

* MLE (moment matching):  μ(θ') = φ̄
* MAP, conjugate prior of ν pseudo-observations with mean μ0:  μ(θ') = (M φ̄ + ν μ0)/(M + ν)
* L2:  μ(θ') + λ θ' = φ̄

Partial MLE is the MLE of the restricted family (``family.restrict``), so it needs
nothing here. MLE and MAP only need the target mean; θ is solved for where the
sampler needs it (finite spaces) by the closed-form inverse when the family has
one, else by a damped Newton method on the convex dual
    minimise  A_F(θ) − θ·τ + λ|θ|²/2
on the face F of the marginal polytope that contains the target τ. On a proper
face θ is not identified along the face's normal; the pseudo-inverse of the
Hessian steps within the face, where the dual is strictly convex. The MLE on a
face whose levels are affinely independent (a simplex: every proper face of
Curie–Weiss, every face of the categorical) is the sample's law there, and θ is
that Newton's limit in closed form (:func:`theta_on_simplex_face`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:
    from ..lazy import sympy as sp  # imported on first use (theory.lazy)

from ..setting import L2, MAP, MLE  # noqa: F401  (the declared estimators the refit reads)
from .model import NumericFamily, rows_all


STEP_CAP = 20.0  # largest change of θ·φ per Newton step when the full step finds no decrease
REFIT_TOL = 1e-10  # |μ(θ') + λθ' + ∇pen − target| at which the Newton refit stops


class NotConverged(RuntimeError):
    """The Newton refit left some chains unconverged after ``max_iter`` steps."""


@dataclass(frozen=True, eq=False)
class PriorMAP:
    """MAP with a prior entering once per generation: θ' = argmax n[θ·φ̄ − A(θ)] + log p0(θ).

    Stationarity: μ(θ') − ∇log p0(θ')/n = φ̄, solved by the Newton method below with
    the penalty −log p0/n. ``log_prior`` is the SymPy log-density in the family's θ.
    """

    log_prior: sp.Expr
    names: tuple[str, ...]
    label: str
    name = "map_prior"

    def target(self, phibar, M):
        return phibar

    @functools.cached_property
    def _compiled(self):
        theta = [sp.Symbol(n, real=True) for n in self.names]
        lp = self.log_prior
        grad = [sp.diff(lp, t) for t in theta]
        hess = [[sp.diff(g, t) for t in theta] for g in grad]
        return (sp.lambdify(theta, lp, "numpy"), sp.lambdify(theta, grad, "numpy"),
                sp.lambdify(theta, hess, "numpy"))

    def penalty(self, n: int):
        """θ -> (−log p0/n, −∇log p0/n, −∇∇log p0/n), batched over chains."""
        value, grad, hess = self._compiled

        def pen(th):
            # each derivative is an array over chains or a constant (a normal prior's Hessian):
            # written into preallocated arrays, which broadcasts the constants in place
            C, d = th.shape
            cols = [th[:, a] for a in range(d)]
            v, g, h = np.empty(C), np.empty((C, d)), np.empty((C, d, d))
            with np.errstate(all="ignore"):
                v[:] = value(*cols)
                for a, x in enumerate(grad(*cols)):
                    g[:, a] = x
                for a, row in enumerate(hess(*cols)):
                    for b, x in enumerate(row):
                        h[:, a, b] = x
            return -v / n, -g / n, -h / n
        return pen


def solve_theta(numeric: NumericFamily, tau: np.ndarray, theta0: np.ndarray,
                face: np.ndarray | None = None, lam: float = 0.0,
                tol: float = REFIT_TOL, max_iter: int = 200, penalty=None, kept=None) -> np.ndarray:
    """θ with μ_F(θ) + λθ + ∇pen(θ) = τ, by damped Newton on the convex dual, all chains at once.

    ``penalty`` (optional) maps θ to (value, gradient, Hessian) of a convex penalty
    added to the dual (a prior: see :class:`PriorMAP`). ``kept`` (optional, a
    :class:`.state.Kept`): what the last refit's Newton made at the θ it converged to (the
    cumulants, read here where θ0 is that θ; the level probabilities, the next draw's), replaced
    by this one's where every chain converges in full steps (the MLE of a finite family, d ≤ 2).

    Backtracking (Armijo) on the dual objective keeps every step inside the
    natural domain and makes the iteration converge from any start; chains on a
    vertex of the polytope (a point mass) need no θ and are left as given.
    Raises NotConverged (a RuntimeError) if any chain fails to converge (it never
    silently returns). For the MLE of a finite family, chains on a face whose levels
    are affinely independent take the closed form :func:`theta_on_simplex_face` (the
    Newton's limit), and the chains inside the polytope are solved by themselves.
    """
    theta = np.array(theta0, dtype=float, copy=True)
    if not np.isfinite(theta.sum()):
        theta[~np.isfinite(theta)] = 0.0
    if face is not None:
        size, full_face = numeric.face_size_full(face)
        if np.count_nonzero(full_face) == len(full_face):
            face = None  # every chain on the whole polytope: no face to gather or apply
    plain = not lam and penalty is None  # the MLE's dual: no penalty terms to add
    if plain and face is not None and numeric.finite:
        # chains on a proper face: on a simplex face in closed form; the interior chains by the
        # fast path below, the other faces' (if any) by the general loop, each by themselves
        groups = simplex_faces(numeric, face, size, full_face)
        if groups or np.count_nonzero(full_face):
            other = ~full_face & (size > 1)
            for rows, levels in groups:
                closed = theta_on_simplex_face(numeric, tau[rows], theta[rows], levels)
                if not np.isfinite(closed.sum()):  # a weight rounded to ≤ 0 (τ not a sample's mean)
                    good = rows_all(np.isfinite(closed))
                    rows, closed = rows[good], closed[good]
                theta[rows] = closed
                other[rows] = False
            for part, f in ((np.flatnonzero(full_face), None), (np.flatnonzero(other), face)):
                if len(part):
                    theta[part] = solve_theta(numeric, tau[part], theta[part], None if f is None else f[part],
                                              tol=tol, max_iter=max_iter)
            return theta
    carry = None  # cumulants at θ of the chains going on (see below)
    if plain and face is None and numeric.finite and numeric.d <= 2:
        # the usual refit (every chain inside, d ≤ 2): full Newton steps levels-major; from the
        # first step that needs backtracking on, the loop below, from where the chains are
        active, carry, steps_done = _full_steps(numeric, tau, theta, tol * numeric.scale, max_iter, kept)
        if not np.count_nonzero(active):
            return theta
        full_face = np.ones(len(tau), bool)
    elif face is None:
        active, full_face, steps_done = np.ones(len(tau), bool), np.ones(len(tau), bool), 0
    else:
        active, steps_done = size > 1, 0
    # chains not converged after max_iter from the previous θ (deep in a saturated region its
    # far levels underflow, and E[φφᵀ] − μμᵀ cancels: the curvature there is lost) restart
    # once from the centre, θ = 0 (−1 for negative parameters), where every level is
    # resolved, with the centred covariance
    centre = np.where(numeric.negative, -1.0, 0.0)

    def extra(th):
        """Penalty value, gradient, Hessian: L2 plus the optional prior term."""
        v, g, h = 0.5 * lam * (th**2).sum(-1), lam * th, lam * np.eye(numeric.d)[None]
        if penalty is not None:
            pv, pg, ph = penalty(th)
            v, g, h = v + pv, g + pg, h + ph
        return v, g, h

    def objective(th, idx):
        f = face[idx] if face is not None else None
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing trial is rejected
            value = numeric.A(th, f) - _row_dot(th, tau[idx])
            return value if plain else value + extra(th)[0]

    # cumulants at an accepted full step, computed by the line search's first trial, are the
    # next iteration's (the same chains in the same order): one pass over the levels per Newton
    # step, not two (finite spaces). carry = (taken, A, μ, χ), rows valid where taken.
    reuse = numeric.finite
    tolerance = tol * numeric.scale

    for it in range(steps_done, 2 * max_iter):  # the full steps taken count against max_iter
        if it == max_iter:
            theta[active] = centre
            carry = None
        idx = np.flatnonzero(active)
        if not len(idx):
            return theta
        every = len(idx) == len(active)  # (then no gathers but θ's copy)
        f = face if face is None or every else face[idx]
        th = theta.copy() if every else theta[idx]
        tau_i = tau if every else tau[idx]
        centred = it >= max_iter
        if carry is None:
            a, mu, chi = numeric.cumulants(th, f, centred=centred)
        else:
            taken, a, mu, chi = carry
            if np.count_nonzero(taken) < len(taken):  # (count_nonzero: .all() costs 5×)
                miss = ~taken
                a[miss], mu[miss], chi[miss] = numeric.cumulants(
                    th[miss], None if f is None else f[miss], centred=centred)
        carry = None
        pen_v: np.ndarray | float
        if plain:  # (adding zeros would give the same numbers, at the cost of five passes)
            grad, hess, pen_v = mu - tau_i, chi, 0.0
        else:
            pen_v, pen_g, pen_h = extra(th)
            grad = mu - tau_i + pen_g
            hess = chi + pen_h
            pen_v = np.broadcast_to(pen_v, a.shape)
        done = rows_all(np.abs(grad) <= tolerance)
        if np.count_nonzero(done):  # (no gathers while every chain goes on)
            active[idx[done]] = False
            keep = ~done
            idx, th, grad, tau_i, a, hess = idx[keep], th[keep], grad[keep], tau_i[keep], a[keep], hess[keep]
            if isinstance(pen_v, np.ndarray):
                pen_v = pen_v[keep]
            f = None if f is None else f[keep]
            if not len(idx):
                return theta
        full = full_face if len(idx) == len(full_face) else full_face[idx]
        step = -_newton_direction(hess, grad, full)
        f0 = a - _row_dot(th, tau_i)
        if not plain:
            f0 += pen_v
        slope = _row_dot(grad, step)
        alpha = np.ones(len(idx))
        pending = np.ones(len(idx), bool)
        for capped in (False, True):
            for halving in range(60):  # halving 60 times reaches any scale
                first = not capped and not halving  # every chain pending, full step
                trial = th + step if first else th[pending] + alpha[pending, None] * step[pending]
                # Armijo decrease, up to the rounding of f: close to the optimum the decrease
                # of a Newton step is below what float64 resolves, and the full step is right
                f0p = f0 if first else f0[pending]
                bound = f0p + 1e-4 * (slope if first else alpha[pending] * slope[pending]) \
                    + 1e-13 * (1 + np.abs(f0p))
                if first and reuse and not centred:
                    with np.errstate(over="ignore", invalid="ignore"):
                        a_t, mu_t, chi_t = numeric.cumulants(trial, f)
                        f_t = a_t - _row_dot(trial, tau_i)
                        ok = (f_t if plain else f_t + extra(trial)[0]) <= bound
                    carry = (ok, a_t, mu_t, chi_t)
                else:
                    ok = objective(trial, idx[pending]) <= bound
                if first and np.count_nonzero(ok) == len(ok):
                    th = trial
                    pending[:] = False
                    break
                sel = np.flatnonzero(pending)[ok]
                th[sel] = th[sel] + alpha[sel, None] * step[sel]
                pending[sel] = False
                alpha[pending] /= 2
                if not np.count_nonzero(pending):  # (np.any costs 5× on short arrays)
                    break
            if capped or not np.count_nonzero(pending):
                break
            # deep in a saturated region (a level of probability e^-160 carrying the target)
            # the curvature is ~1e-67 and the Newton step ~1e66 long: no halving reaches a
            # decrease. Cap the change of θ·φ at STEP_CAP and backtrack again from there.
            with np.errstate(divide="ignore", invalid="ignore"):
                cap = STEP_CAP / np.abs(step[pending] * numeric.scale).max(axis=-1)
            step[pending] *= np.minimum(1.0, cap)[:, None]
            slope[pending] = _row_dot(grad[pending], step[pending])
            alpha[pending] = 1.0
        theta[idx] = th
    if active.any():
        raise NotConverged(f"Newton refit did not converge for {active.sum()} chain(s)")
    return theta


def simplex_faces(numeric: NumericFamily, face: np.ndarray, size: np.ndarray,
                  full_face: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The chains on a proper face whose k ≥ 2 levels are affinely independent (a simplex: k =
    its dimension + 1), by k: [(their rows, their levels s_0 < … < s_{k−1} (R, k))]. Two levels
    with distinct φ are; three or more (only in families with d ≥ 3) by the rank of φ_{s_i} − φ_{s_0}."""
    groups = []
    proper = ~full_face
    for k in range(2, numeric.d + 2):
        rows = np.flatnonzero(proper & (size == k))
        if not len(rows):
            continue
        levels = np.nonzero(face[rows])[1].reshape(-1, k)
        u = numeric.phi_levels[levels[:, 1:]] - numeric.phi_levels[levels[:, :1]]  # (R, k − 1, d)
        simplex = (u[:, 0] != 0).any(axis=-1) if k == 2 else np.linalg.matrix_rank(u) == k - 1
        if np.count_nonzero(simplex) < len(rows):
            rows, levels = rows[simplex], levels[simplex]
        if len(rows):
            groups.append((rows, levels))
    return groups


def theta_on_simplex_face(numeric: NumericFamily, tau: np.ndarray, theta0: np.ndarray,
                          levels: np.ndarray) -> np.ndarray:
    """The MLE's θ (C, d) with mean τ on a simplex face F, its levels s_0 < … < s_{k−1} affinely
    independent (``levels`` (C, k), :func:`simplex_faces`), in closed form from φ and h.

    Every law on F's levels is in the family's closure, so the model is the law with mean τ: its
    weights are τ's barycentric coordinates on F,

        (w_{s_1}, …, w_{s_{k−1}}) = G⁻¹U(τ − φ_{s_0}),   w_{s_0} = 1 − Σ_{i≥1} w_{s_i},

    U the rows u_i = φ_{s_i} − φ_{s_0} (k − 1, d), G = UUᵀ. The model h e^{θ·φ} on F is that law
    when θ·u_i = c_i = log(w_{s_i}/w_{s_0}) − log(h_{s_i}/h_{s_0}) (i ≥ 1); θ along the face's
    normals leaves it unchanged. The Newton from θ0 with the pseudo-inverse of χ steps only
    within the span of the u_i (χ's range on F), so its limit is the solution nearest θ0:

        θ = θ0 + Uᵀ G⁻¹ (c − Uθ0);   two levels j < k: θ = θ0 + (c − θ0·u) u/(u·u), u = φ_k − φ_j.
    """
    phi = numeric.phi_levels[levels]  # (C, k, d)
    u = phi[:, 1:] - phi[:, :1]
    ut = u.transpose(0, 2, 1)
    gram = u @ ut
    w = np.empty(levels.shape)
    w[:, 1:] = _solve_small(gram, (u @ (tau - phi[:, 0])[:, :, None])[..., 0])
    w[:, 0] = 1.0 - w[:, 1:].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):  # (a weight ≤ 0: solve_theta's loop takes it)
        log_wh = np.log(w) - numeric.log_h[levels]
    c = log_wh[:, 1:] - log_wh[:, :1]
    shift = _solve_small(gram, c - (u @ theta0[:, :, None])[..., 0])
    return theta0 + (ut @ shift[:, :, None])[..., 0]


def _full_steps(numeric: NumericFamily, tau: np.ndarray, theta: np.ndarray, tolerance: np.ndarray,
                max_iter: int, kept=None):
    """:func:`solve_theta`'s iteration while every step is a full one, for the MLE of a finite
    family with every chain inside its polytope and d ≤ 2: updates ``theta`` (C, d) in place and
    returns (the chains left; the carry of :func:`solve_theta`'s loop for them, their cumulants
    at θ, or None if none is left; the steps taken, which that loop counts as its own). Chains
    are left where a full step fails the Armijo test (a singular χ's non-finite step fails it
    too: all the chains not yet converged then go on in the general loop, from before that step)
    or after ``max_iter`` steps. ``kept`` (a :class:`.state.Kept`, optional): the cumulants at
    θ, if kept there, are read instead of made; when every chain converged at the same step,
    those at the new θ and the level probabilities are kept (μ and χ, sums over the levels by a
    BLAS, are then a batch of every chain's: their last bits may depend on the batch's size);
    for d = 1 the level probabilities are kept too when chains converged at different steps (each
    chain's from the step its convergence was tested on: elementwise, the same numbers in any
    batch).

    The same numbers as the general loop, step for step: the same products in the same order, on
    the same chains at once (the general loop's batches: a product's last bits may depend on how
    many columns it has), levels-major, (d, C) and (L, C) arrays, in fewer NumPy calls: the 2×2
    solve in closed form, the dual's value at the accepted trial carried to the next step, one
    errstate, rows gathered only when chains converge."""
    d = len(tolerance)
    th, tau_t = theta.T.copy(), tau.T.copy()  # (d, C)
    chains = np.arange(len(theta))
    tol = tolerance[:, None]
    levels = None  # (kept) the level probabilities of the chains converged so far, in every chain's column
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        known = None if kept is None else kept.cumulants_at(theta)
        a, mu, chi, q = numeric.cumulants_levels_major(th) if known is None else known
        value = a - _dot_rows(th, tau_t)
        for taken in range(max_iter):
            grad = mu - tau_t
            small = np.abs(grad) <= tol
            done = small[0] if d == 1 else small[0] & small[1]
            finished = np.count_nonzero(done)
            if finished == len(done):  # (no chain at all, too)
                theta[chains] = th.T
                if kept is not None and len(chains) == len(theta):  # every chain at this step, in one batch
                    kept.keep(theta, q, (a, mu, chi))
                elif levels is not None:
                    levels[:, chains] = q
                    kept.keep(theta, levels)
                return np.zeros(len(theta), bool), None, taken
            if finished:
                theta[chains[done]] = th[:, done].T
                keep = ~done
                if kept is not None and d == 1:  # (the draw's, d = 1: Kept.levels_at)
                    if levels is None:
                        levels = np.empty((len(q), len(theta)))
                    levels[:, chains[done]] = q[:, done]
                    q = q[:, keep]
                th, tau_t, grad, value, chains = th[:, keep], tau_t[:, keep], grad[:, keep], value[keep], chains[keep]
                a, mu, chi = a[keep], mu[:, keep], [c[keep] for c in chi]
            step = _newton_step(chi, grad)
            slope = _dot_rows(grad, step)
            bound = value + 1e-4 * slope + 1e-13 * (1 + np.abs(value))
            trial = th + step
            a_t, mu_t, chi_t, q_t = numeric.cumulants_levels_major(trial)
            value_t = a_t - _dot_rows(trial, tau_t)
            if np.count_nonzero(value_t <= bound) < len(value_t):
                break  # the general loop backtracks from th
            th, value, a, mu, chi, q = trial, value_t, a_t, mu_t, chi_t, q_t
        else:
            taken = max_iter
    theta[chains] = th.T
    left = np.zeros(len(theta), bool)
    left[chains] = True
    # the general loop's carry: (taken, A, μ (C, d), χ (C, d, d)) at θ
    hess = np.empty((len(chains), d, d))
    hess[:, 0, 0] = chi[0]
    if d == 2:
        hess[:, 0, 1] = hess[:, 1, 0] = chi[1]
        hess[:, 1, 1] = chi[2]
    return left, (np.ones(len(chains), bool), a, mu.T, hess), taken


def _newton_step(chi: list, grad: np.ndarray) -> np.ndarray:
    """−χ⁻¹g levels-major (d, C), χ from its distinct entries: :func:`_solve_small`'s numbers,
    negated (its χ21 is χ12: the same products), non-finite where χ is singular."""
    if len(chi) == 1:
        return -(grad / chi[0])
    a, b, e = chi
    det = a * e - b * b
    step = np.empty_like(grad)
    np.divide(b * grad[1] - e * grad[0], det, out=step[0])
    np.divide(b * grad[0] - a * grad[1], det, out=step[1])
    return step


def _dot_rows(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Σ_a u_a v_a of levels-major (d, C) arrays, d ≤ 2: :func:`_row_dot`'s numbers."""
    out = u[0] * v[0]
    if len(u) == 2:
        out += u[1] * v[1]
    return out


def _newton_direction(hess: np.ndarray, grad: np.ndarray, full: np.ndarray) -> np.ndarray:
    """H⁻¹g per chain: a batched solve on the full polytope, the pseudo-inverse on a face.

    On a proper face H is singular along the face's normal; pinv's rcond drops those
    directions (null up to rounding), while genuine curvatures stay far above it (the
    sample mean is ≥ 1/M away from any face). Interior chains take the cheaper solve,
    falling back to pinv if it fails or is not finite.
    """
    if np.count_nonzero(full) == len(full):  # every chain interior: no gathers
        out, pinv = np.empty_like(grad), np.ones(len(full), bool)
        try:
            with np.errstate(all="ignore"):
                out = _solve_small(hess, grad)
                if np.isfinite(out.sum()):  # (one pass; a sum that overflows looks row by row)
                    return out
            pinv = ~rows_all(np.isfinite(out))
        except np.linalg.LinAlgError:
            pass
        if not np.count_nonzero(pinv):
            return out
    else:
        out = np.empty_like(grad)
        pinv = ~full
        if full.any():
            try:
                with np.errstate(all="ignore"):
                    out[full] = _solve_small(hess[full], grad[full])
                pinv[np.flatnonzero(full)[~rows_all(np.isfinite(out[full]))]] = True
            except np.linalg.LinAlgError:
                pinv |= full
    if pinv.any():
        out[pinv] = np.einsum("cab,cb->ca", np.linalg.pinv(hess[pinv], rcond=1e-10, hermitian=True),
                              grad[pinv])
    return out


def _solve_small(hess: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """H⁻¹g per chain; d = 1 and 2 in closed form (a batched LAPACK call per 2×2 system cost
    more than the rest of a Newton step); a singular H gives a non-finite result."""
    d = grad.shape[-1]
    if d == 1:
        return grad / hess[:, 0]
    if d == 2:
        a, b, c, e = hess[:, 0, 0], hess[:, 0, 1], hess[:, 1, 0], hess[:, 1, 1]
        det = a * e - b * c
        g0, g1 = grad[:, 0], grad[:, 1]
        out = np.empty_like(grad)
        np.divide(e * g0 - b * g1, det, out=out[:, 0])
        np.divide(a * g1 - c * g0, det, out=out[:, 1])
        return out
    return np.linalg.solve(hess, grad[..., None])[..., 0]


def _row_dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Σ_a u_ca v_ca per row: column by column for d ≤ 2 (einsum's numbers, at a third of its
    cost), einsum beyond (whose order of summation then differs)."""
    if u.shape[1] > 2:
        return np.einsum("ca,ca->c", u, v)
    out = u[:, 0] * v[:, 0]
    if u.shape[1] == 2:
        out += u[:, 1] * v[:, 1]
    return out
