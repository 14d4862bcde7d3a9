"""Descent: optimizers as pairs of pure functions, and the loops that run them.

The batch engine (:mod:`~gradlab.descent.runs`), ``descend`` and ``sweep`` as library
calls, learning-rate theory from the Hessian, Taylor models, stability, and the
step-by-step training loop (mini-batches, schedules, line searches, quasi-Newton).
Depends on :mod:`gradlab.calculus`, never on rendering or the CLI.
"""
