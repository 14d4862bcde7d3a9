"""gradlab's own SymPy functions: the machine-learning activations.

They stay unexpanded in symbolic output (``sigmoid(x)`` reads better than
``1/(1 + exp(-x))``), know their derivatives, and turn into closed forms as soon as the
argument is a number, so exact evaluation needs nothing special.

>>> import sympy
>>> x = sympy.Symbol("x", real=True)
>>> sympy.diff(sigmoid(x), x)
(1 - sigmoid(x))*sigmoid(x)
>>> relu(-3), relu(sympy.Rational(1, 2))
(0, 1/2)
"""

from __future__ import annotations

import sympy
from sympy import Function


class sigmoid(Function):  # noqa: N801 - SymPy prints the class name; users type it
    """The logistic function 1/(1 + exp(-x)); its derivative is s(1 - s)."""

    @classmethod
    def eval(cls, x):
        if x.is_number:
            return 1 / (1 + sympy.exp(-x))
        return None

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _eval_is_real(self):
        return self.args[0].is_real


class softplus(Function):  # noqa: N801
    """log(1 + exp(x)), the smooth ReLU; its derivative is sigmoid(x)."""

    @classmethod
    def eval(cls, x):
        if x.is_number:
            return sympy.log(1 + sympy.exp(x))
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sympy.log(1 + sympy.exp(x))

    def _eval_is_real(self):
        return self.args[0].is_real


class step(Function):  # noqa: N801
    """The Heaviside step with step(0) = 0: the derivative gradlab gives relu.

    At 0 this is the subgradient convention PyTorch uses; its own derivative is taken
    as 0 everywhere (the Dirac spike at 0 is not a number a descent can use).
    """

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_extended_real:
            return sympy.S.One if x.is_positive else sympy.S.Zero
        return None

    def fdiff(self, argindex=1):
        return sympy.S.Zero

    def _eval_is_real(self):
        return True


class relu(Function):  # noqa: N801
    """max(x, 0); its derivative is step(x), so relu'(0) = 0 as in PyTorch."""

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_extended_real:
            return x if x.is_positive else sympy.S.Zero
        return None

    def fdiff(self, argindex=1):
        return step(self.args[0])

    def _eval_is_real(self):
        return self.args[0].is_real


#: Functions with a kink: their derivative uses a convention at the kink.
KINKED = (sympy.Abs, relu, step, sympy.sign)
