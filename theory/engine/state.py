"""The state of C chains of a closed loop, arrays along axis 0 (read by the loop and the lattice path)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class State:
    """Current models of C chains (arrays along axis 0)."""

    mu: np.ndarray                 # (C, d) expectation parameters
    theta: np.ndarray              # (C, d) natural parameters (finite spaces, L2); else unused
    face: np.ndarray | None        # (C, L) levels of the face the model lives on (finite spaces)
    vertex: np.ndarray             # (C,) index of the point mass the chain is on, −1 if none
    hit_time: np.ndarray           # (C,) first generation on a point mass, −1 if never
    collapse_time: np.ndarray | None = None  # (C,) first generation collapsed (engine.collapse), −1 if never

    def subset(self, index) -> State:
        """The chains ``index`` selects (a slice gives views, an index array copies)."""
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return State(mu=self.mu[index], theta=self.theta[index], face=pick(self.face),
                     vertex=self.vertex[index], hit_time=self.hit_time[index],
                     collapse_time=pick(self.collapse_time))
