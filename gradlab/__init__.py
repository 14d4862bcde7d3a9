"""gradlab: a command-line gradient lab.

Exact derivatives with SymPy, optimizers on NumPy arrays, and plots with matplotlib.
The library is usable without the CLI:

>>> from gradlab.parsing import parse
>>> from gradlab.derivatives import gradient
>>> p = parse("x**2*y + 3*y")
>>> gradient(p.expr, p.variables)
(2*x*y, x**2 + 3)
"""

__version__ = "0.1.0"
