"""Quasi-Newton directions: BFGS and L-BFGS (Nocedal & Wright, chapters 6 and 7).

Each keeps curvature pairs s = x_{k+1} − x_k, y = ∇f_{k+1} − ∇f_k and proposes the
direction p = −H∇f, with H an approximation of the inverse Hessian built from them:

- BFGS keeps H itself, starting from the identity (as ``scipy.optimize.minimize`` does),
  and updates it as H ← (I − ρsyᵀ)H(I − ρysᵀ) + ρssᵀ, ρ = 1/yᵀs.
- L-BFGS keeps only the last ``memory`` pairs and applies H by the two-loop recursion,
  with H₀ = (sᵀy/yᵀy)·I from the newest pair.

A pair with yᵀs ≤ 0 (possible after a step that only met Armijo's condition) would make H
indefinite, so it is skipped; the strong Wolfe line search never produces one.

>>> import numpy as np
>>> q = BFGS(2)
>>> q.update(np.array([1.0, 0.0]), np.array([2.0, 0.0]))   # curvature 2 along x
True
>>> q.direction(np.array([2.0, 0.0])).tolist()              # the Newton step along x
[-1.0, -0.0]
"""

from __future__ import annotations

from collections import deque

import numpy as np

MEMORY = 10
NAMES = ("bfgs", "lbfgs")


class BFGS:
    """The dense inverse-Hessian approximation H (n × n)."""

    name = "bfgs"

    def __init__(self, n: int):
        self.H = np.eye(n)

    def direction(self, g: np.ndarray) -> np.ndarray:
        return -(self.H @ g)

    def update(self, s: np.ndarray, y: np.ndarray) -> bool:
        """Fold in one curvature pair; False when it was skipped (yᵀs ≤ 0)."""
        ys = float(y @ s)
        if not ys > 0:
            return False
        rho = 1.0 / ys
        n = len(s)
        A = np.eye(n) - rho * np.outer(s, y)
        self.H = A @ self.H @ A.T + rho * np.outer(s, s)
        return True


class LBFGS:
    """The last ``memory`` curvature pairs and the two-loop recursion."""

    name = "lbfgs"

    def __init__(self, n: int, memory: int = MEMORY):
        self.pairs: deque = deque(maxlen=memory)

    def direction(self, g: np.ndarray) -> np.ndarray:
        q = np.array(g, dtype=float)
        alphas = []
        for s, y, rho in reversed(self.pairs):
            a = rho * float(s @ q)
            alphas.append(a)
            q -= a * y
        if self.pairs:
            s, y, _ = self.pairs[-1]
            q *= float(s @ y) / float(y @ y)
        for (s, y, rho), a in zip(self.pairs, reversed(alphas)):
            b = rho * float(y @ q)
            q += (a - b) * s
        return -q

    def update(self, s: np.ndarray, y: np.ndarray) -> bool:
        ys = float(y @ s)
        if not ys > 0:
            return False
        self.pairs.append((np.array(s, dtype=float), np.array(y, dtype=float), 1.0 / ys))
        return True


def make(name: str, n: int):
    """A fresh BFGS or L-BFGS state for n variables."""
    if name == "bfgs":
        return BFGS(n)
    if name == "lbfgs":
        return LBFGS(n)
    raise ValueError(f"unknown quasi-Newton method {name!r}")
