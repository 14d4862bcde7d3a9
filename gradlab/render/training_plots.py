"""Figures for training dynamics: loss beside the learning rate (and sharpness), the
spread of mini-batch sweeps over seeds, stability maps over (lr, β), Taylor models.

matplotlib is imported only here and only when one of these is drawn (``plots`` does the
importing); figures use the object API, and :func:`gradlab.render.plots.save` writes them
atomically.
"""

from __future__ import annotations

import numpy as np

from gradlab.render import plots  # noqa: F401  (sets the Agg backend before Figure is used)
from matplotlib.figure import Figure  # noqa: E402

COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive")


def _positive(values: np.ndarray, shift: float) -> tuple[np.ndarray, bool]:
    """Values minus ``shift``, and whether a log scale suits them."""
    v = np.asarray(values, dtype=float) - shift
    finite = v[np.isfinite(v)]
    # an exact 0 (Newton reaching f* in one step) does not forbid a log scale: it is drawn
    # at the bottom edge (see :func:`_floor`), and the legend says so
    return v, bool(finite.size) and bool(np.all(finite >= 0)) and bool(np.any(finite > 0))


def _floor(arrays) -> float:
    """The bottom of a log axis: a decade under the smallest positive value drawn."""
    pos = [a[np.isfinite(a) & (a > 0)] for a in arrays]
    pos = np.concatenate(pos) if pos else np.array([])
    return float(pos.min()) / 10 if pos.size else 1e-300


def training_figure(result) -> Figure:
    """Loss per step (and per epoch, and each mini-batch's own loss) beside the learning
    rate each step used; a third panel of λmax(H(x_k)) against 2/lr when sharpness was
    recorded."""
    runs = list(result.runs)
    has_sharp = any(getattr(r, "sharpness", None) is not None for r in runs)
    ncols = 3 if has_sharp else 2
    fig = Figure(figsize=(5.2 * ncols, 4.2), layout="constrained")
    axes = fig.subplots(1, ncols)
    ax_loss, ax_lr = axes[0], axes[1]
    settings = getattr(result, "settings", None)
    bpe = getattr(result, "batches_per_epoch", None)
    minibatch = settings is not None and settings.batch_size is not None and result.rows is not None \
        and settings.batch_size < result.rows
    # A mini-batch's loss can lie below the full f's minimum: then f itself, not f − f*.
    shifted = result.f_star is not None and not minibatch
    f_star = result.f_star if shifted else 0.0
    log = True
    for r in runs:
        if r.trajectory_f is not None:
            log &= _positive(r.trajectory_f, f_star)[1]
        if getattr(r, "batch_loss", None) is not None and len(r.batch_loss):
            log &= _positive(r.batch_loss, f_star)[1]
    drawn = [_positive(v, f_star)[0] for r in runs
             for v in (r.trajectory_f, getattr(r, "batch_loss", None), getattr(r, "epoch_loss", None))
             if v is not None and len(v)]
    floor = _floor(drawn) if log else None

    def at_floor(y):  # on a log axis, an exact 0 sits on the bottom edge
        return np.where(y > 0, y, floor) if log else y

    for i, (c, r) in enumerate(zip(_cycle(), runs)):
        label = f"{r.optimizer} lr={r.lr:g}"
        wide = _under(i)
        if minibatch and getattr(r, "batch_loss", None) is not None:
            y, _ = _positive(r.batch_loss, f_star)
            ax_loss.plot(np.arange(len(y)), at_floor(y), color=c, alpha=0.25, lw=0.7)
        if r.trajectory_f is not None:
            y, _ = _positive(r.trajectory_f, f_star)
            exact = log and bool(np.any(y == 0))
            ax_loss.plot(np.arange(len(y)), at_floor(y), color=c, lw=1.4,
                         label=f"{label}: full f" + (f" (= {'f*' if shifted else '0'} exactly: on the bottom edge)"
                                                     if exact else ""))
        if minibatch and getattr(r, "epoch_loss", None) is not None and bpe:
            y, _ = _positive(r.epoch_loss, f_star)
            ax_loss.plot(np.arange(len(y)) * bpe, at_floor(y), "o", color=c, ms=3, label=f"{label}: after each epoch")
        lr_steps = getattr(r, "lr_per_step", None)
        if lr_steps is not None and len(lr_steps):
            searched = getattr(r, "evaluations", None) is not None
            ax_lr.plot(np.arange(len(lr_steps)), lr_steps, color=c, lw=wide,
                       marker="." if searched and len(lr_steps) < 200 else None,
                       label=f"{label}: " + ("accepted α" if searched else "schedule"))
        else:
            ax_lr.plot([0, max(1, r.steps)], [r.lr, r.lr], color=c, lw=wide, label=f"{label}: constant")
    if minibatch:
        ax_loss.plot([], [], color="grey", alpha=0.4, lw=0.7, label="each step's mini-batch loss")
    what = "f − f*" if shifted else "f"
    ax_loss.set_title(f"loss ({what}) per step")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel(what)
    if log:
        ax_loss.set_yscale("log")
        if any(np.any(y == 0) for y in drawn):  # the exact zeros on the bottom edge
            ax_loss.set_ylim(bottom=floor)
    ax_loss.legend(fontsize=7)
    ax_loss.grid(alpha=0.3)
    sched = getattr(settings, "schedule", None) if settings is not None else None
    title = "learning rate per step"
    if sched is not None and not isinstance(sched, str):
        import textwrap

        # the schedule's parameters under the title, not over the curves
        title = f"lr per step: {sched.name} schedule\n" + "\n".join(textwrap.wrap(sched.describe(), 62))
    elif any(getattr(r, "evaluations", None) is not None for r in runs):
        title = f"accepted step α: {(settings.line_search if settings else None) or 'wolfe'} line search"
    ax_lr.set_title(title, fontsize=12 if "\n" not in title else 9.5)
    ax_lr.set_xlabel("step")
    ax_lr.set_ylabel("lr (α)")
    searched = [np.asarray(r.lr_per_step) for r in runs
                if getattr(r, "evaluations", None) is not None and len(r.lr_per_step)]
    pos = np.concatenate(searched)[np.concatenate(searched) > 0] if searched else np.array([])
    if pos.size and pos.max() / pos.min() > 100:
        ax_lr.set_yscale("log")
    ax_lr.legend(fontsize=7)
    ax_lr.grid(alpha=0.3)
    if has_sharp:
        from gradlab.descent.training import edge_factor

        ax = axes[2]
        top = 0.0
        for i, (c, r) in enumerate(zip(_cycle(), runs)):
            if getattr(r, "sharpness", None) is None:
                continue
            ax.plot(r.sharpness_steps, r.sharpness, color=c, lw=_under(i),
                    label=f"{r.optimizer} lr={r.lr:g}: λmax(H(x_k))")
            if np.isfinite(r.sharpness).any():
                top = max(top, float(np.nanmax(r.sharpness)))
            k, formula = edge_factor(r.optimizer, r.hyper)
            if k is None or getattr(r, "evaluations", None) is not None:
                continue
            lr_steps = getattr(r, "lr_per_step", None)
            if lr_steps is not None and len(lr_steps):
                with np.errstate(divide="ignore"):
                    ax.plot(np.arange(len(lr_steps)), k / np.asarray(lr_steps), "--", color=c, lw=1,
                            label=f"{formula}/lr_t")
                top = max(top, k / max(lr_steps))
            else:
                ax.axhline(k / r.lr, color=c, ls="--", lw=1, label=f"{formula}/lr = {k / r.lr:.4g}")
                top = max(top, k / r.lr)
        if top > 0:
            ax.set_ylim(0, 1.15 * top)
        ax.set_title("sharpness λmax(H) along the run")
        ax.set_xlabel("step")
        ax.set_ylabel("λmax")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    name = result.surface.name or f"f = {result.surface.text}"
    fig.suptitle(name)
    return fig


def _under(i: int) -> float:
    """The line width of the i-th run: earlier runs wider, so that runs whose curves are
    identical (one schedule, one sharpness) show as a band of both colours, not one."""
    return max(1.0, 3.0 - 1.0 * i)


def _cycle():
    while True:
        yield from COLOURS


def seed_sweep_figure(sweep) -> Figure:
    """Final loss against lr over seeds (median, min–max band, each seed a dot), and the
    per-epoch loss of every seed at the rate with the lowest median."""
    fig = Figure(figsize=(11, 4.3), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    lrs = np.array(sweep.lrs)
    med, lo, hi = sweep.median, sweep.low, sweep.high
    ax.fill_between(lrs, lo, hi, color="tab:blue", alpha=0.25, label=f"min–max over {len(sweep.seeds)} seeds")
    ax.plot(lrs, med, color="tab:blue", lw=1.6, label="median")
    for j in range(len(sweep.seeds)):
        ax.plot(lrs, sweep.final[:, j], ".", color="tab:blue", ms=3, alpha=0.6)
    div = sweep.diverged > 0
    if div.any():
        top = np.nanmax(hi) if np.isfinite(hi).any() else sweep.f0
        ax.plot(lrs[div], np.full(div.sum(), top), "x", color="tab:red", label="a seed diverged")
    lsl = sweep.largest_stable_lr
    if lsl is not None:
        ax.axvline(lsl, color="grey", ls=":", label=f"largest stable lr {lsl:.4g}")
    ax.set_xscale("log")
    finite = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
    if finite.size and np.all(finite > 0):
        ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final full f")
    ax.set_title(f"final loss after {sweep.steps} steps, batches of {sweep.batch_size} of {sweep.rows}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    if np.isfinite(med).any():
        i = int(np.nanargmin(med))
        curves = sweep.epoch_loss[i]
        epochs = np.arange(curves.shape[1])
        for j in range(curves.shape[0]):
            ax2.plot(epochs, curves[j], color="tab:green", lw=0.8, alpha=0.5)
        with np.errstate(all="ignore"):
            ax2.fill_between(epochs, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0), color="tab:green",
                             alpha=0.2, label="min–max over seeds")
            ax2.plot(epochs, np.nanmedian(curves, axis=0), color="tab:green", lw=1.6, label="median")
        pos = curves[np.isfinite(curves)]
        if pos.size and np.all(pos > 0):
            ax2.set_yscale("log")
        ax2.set_title(f"full f after each epoch at lr = {sweep.lrs[i]:.4g}")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("full f")
        ax2.legend(fontsize=7)
        ax2.grid(alpha=0.3)
    name = sweep.surface.name or f"f = {sweep.surface.text}"
    fig.suptitle(f"mini-batch {sweep.optimizer} on {name}")
    return fig


def stability_map_figure(m) -> Figure:
    """The measured per-step rate over (lr, β), unstable cells grey, the theory's edge
    lr = 2(1 + β)/λmax, Polyak's optimum and the fastest measured cell."""
    fig = Figure(figsize=(7.6, 6.0), layout="constrained")
    ax = fig.subplots()
    lrs, betas = np.array(m.lrs), np.array(m.betas)
    rate = np.array(m.rate, dtype=float)
    stable = np.isfinite(rate) & (rate < 1)
    shown = np.ma.masked_where(~stable, rate)
    lo = max(float(np.nanmin(rate[stable])) if stable.any() else 0.5, 1e-6)
    mesh = ax.pcolormesh(_edges(lrs), _edges(betas), shown, cmap="viridis_r", vmin=lo, vmax=1.0, shading="flat")
    cb = fig.colorbar(mesh, ax=ax)
    cb.set_label("measured rate per step, (‖∇f(x_K)‖/‖∇f(x_K/2)‖)^(2/K)")
    ax.pcolormesh(_edges(lrs), _edges(betas), np.ma.masked_where(stable, np.ones_like(rate)), cmap="Greys",
                  vmin=0, vmax=4, shading="flat")
    ax.plot([], [], "s", color="lightgrey", mec="dimgrey", ms=9, label="unstable (did not converge or close in)")
    if m.lambda_max:
        bb = np.linspace(betas[0], betas[-1], 200)
        edge = (2 * (1 + bb) / m.lambda_max if m.optimizer == "momentum"
                else 2 * (1 + bb) / ((1 + 2 * bb) * m.lambda_max))
        ax.plot(edge, bb, color="red", lw=2, label=f"theory's edge: {m.region_formula()}")
    if m.optimal and lrs[0] <= m.optimal[0] <= lrs[-1] and betas[0] <= m.optimal[1] <= betas[-1]:
        ax.plot(*m.optimal, "*", color="white", mec="black", ms=16,
                label=f"Polyak's optimum (lr {m.optimal[0]:.3g}, β {m.optimal[1]:.3g})")
    if m.best:
        ax.plot(m.best[0], m.best[1], "o", mfc="none", mec="magenta", ms=12, mew=2,
                label=f"fastest measured (lr {m.best[0]:.3g}, β {m.best[1]:.3g})")
    ax.set_xlim(_edges(lrs)[0], _edges(lrs)[-1])
    ax.set_ylim(_edges(betas)[0], _edges(betas)[-1])
    ax.set_xlabel("learning rate")
    ax.set_ylabel("momentum β")
    name = m.surface.name or f"f = {m.surface.text}"
    ax.set_title(f"{m.optimizer} on {name}: rate of convergence ({m.steps_max} steps)")
    # below the map, not over it: the fastest region is often in a corner
    fig.legend(loc="outside lower center", ncols=2, fontsize=8.5, frameon=False)
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    c = np.asarray(centres, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


# The gradient steps of a Taylor plot: Okabe and Ito's colour-blind-safe palette (its
# vermillion left out, for the red Newton star), each with its own marker too, so the steps
# part even in grey; black edges keep them visible on any colour of the landscape.
STEP_STYLES = (("#E69F00", "s"), ("#56B4E9", "D"), ("#009E73", "^"), ("#F0E442", "v"), ("#CC79A7", "P"),
               ("#0072B2", "X"), ("#FFFFFF", "h"))


def step_style(k: int) -> tuple[str, str]:
    """The colour and marker of the k-th gradient step (repeating after seven)."""
    return STEP_STYLES[k % len(STEP_STYLES)]


def _step_label(c) -> str:
    ratio = f": ρ = actual/m₂'s decrease = {c.ratio:.3g}" if c.ratio is not None else ""
    return f"gradient step lr = {c.lr:g}{ratio}"



def _expansion_label(a) -> str:
    """The legend entry of the point the models are expanded about (a bare "a" says little).

    >>> _expansion_label([2.0, 1.0])
    'a = (2, 1): expansion point'
    """
    coords = ", ".join(f"{float(v) + 0.0:.4g}" for v in a)
    return f"a = ({coords}): expansion point" if len(a) > 1 else f"a = {coords}: expansion point"

def taylor_figure(t, tol: float = 0.1, radius: float | None = None) -> Figure:
    """f with the Taylor model's contours over it, shading where |f − m| < tol; the point,
    the Newton step's minimiser and the gradient steps marked. One variable: the graphs of
    f, m₁ and m₂, with the stretch where |f − m| < tol shaded."""
    from gradlab.calculus.numeric import Compiled

    n = len(t.parsed.variables)
    fc = Compiled([t.parsed.expr], t.parsed.variables)
    a = t.a
    g = t.g
    r = radius
    if r is None:
        reach = [1.0]
        if t.newton_step is not None:
            reach.append(1.3 * float(np.linalg.norm(t.newton_step.value)))
        reach += [1.3 * c.lr * float(np.linalg.norm(g)) for c in t.steps]
        r = min(max(reach), 1e6)
    order = t.order
    mname = "m₂" if order == 2 else "m₁"
    if n == 1:
        fig = Figure(figsize=(7.5, 4.8), layout="constrained")
        ax = fig.subplots()
        x = np.linspace(a[0] - r, a[0] + r, 600)
        with np.errstate(all="ignore"):
            fx = np.broadcast_to(fc(x[None, :])[0], x.shape)
        m1 = t.model(x[None, :], 1)
        ax.plot(x, fx, color="black", lw=2, label="f")
        ax.plot(x, m1, "--", color="tab:blue", label="m₁ (linear)")
        m = m1
        if order == 2:
            m = t.model(x[None, :], 2)
            ax.plot(x, m, "--", color="tab:orange", label="m₂ (quadratic)")
        close = np.abs(fx - m) < tol
        lo, hi = np.nanmin(fx), np.nanmax(fx)
        ax.fill_between(x, 0, 1, where=close, color="tab:green", alpha=0.15, transform=ax.get_xaxis_transform(),
                        label=f"|f − {mname}| < {tol:g}")
        ax.plot(a, [t.f.value], "o", color="black", label=_expansion_label(a))
        if t.minimiser is not None:
            ax.plot(t.minimiser.value, [t.model_min], "*", color="tab:red", ms=12, label="minimiser of m₂")
        pad = 0.1 * (hi - lo if hi > lo else 1.0)
        for k, c in enumerate(t.steps):  # where each step lands, on the graph of f
            x1 = float(a[0] - c.lr * g[0])
            with np.errstate(all="ignore"):
                f1 = float(np.asarray(fc(np.array([[x1]]))[0]).ravel()[0])
            colour, marker = step_style(k)
            ax.plot([x1], [np.clip(f1, lo - pad, hi + pad)], marker, color=colour, mec="black", ms=9, zorder=6,
                    clip_on=False, label=_step_label(c))
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel(t.parsed.variables[0].name)
        fig.legend(loc="outside lower center", ncols=2, fontsize=9, frameon=False)
        ax.grid(alpha=0.3)
        ax.set_title(f"Taylor models of {t.parsed.text} at {t.parsed.variables[0].name} = {a[0]:g}")
        return fig
    fig = Figure(figsize=(7.2, 6.0), layout="constrained")
    ax = fig.subplots()
    X, Y = np.meshgrid(np.linspace(a[0] - r, a[0] + r, 240), np.linspace(a[1] - r, a[1] + r, 240))
    rest = [np.full_like(X, v) for v in a[2:]]
    P = np.stack([X, Y, *rest])
    with np.errstate(all="ignore"):
        F = np.broadcast_to(fc(P)[0], X.shape)
    M = t.model(P)
    Fm = np.ma.masked_invalid(F)
    from matplotlib.ticker import MaxNLocator

    # round levels (0, 20, 40, …), so the colour bar reads
    levels = MaxNLocator(18).tick_values(float(Fm.min()), float(Fm.max())) if Fm.count() else 10
    cs = ax.contourf(X, Y, Fm, levels=levels, cmap="viridis", alpha=0.9)
    cb = fig.colorbar(cs, ax=ax)
    cb.set_label("f")
    ax.contour(X, Y, np.ma.masked_invalid(M), levels=levels, colors="white", linestyles="--", linewidths=1.0)
    close = np.ma.masked_invalid(np.abs(F - M)) < tol
    ax.contourf(X, Y, close.filled(False).astype(float), levels=[0.5, 1.5], colors="none", hatches=["///"])
    ax.contour(X, Y, close.filled(False).astype(float), levels=[0.5], colors="red", linewidths=1.5)
    from matplotlib import patheffects

    # white dashes drawn on black in the legend, which has a white background
    ax.plot([], [], color="white", ls="--", label=f"contours of {mname} (same levels as f)",
            path_effects=[patheffects.withStroke(linewidth=3.2, foreground="dimgrey")])
    ax.plot([], [], color="red", label=f"|f − {mname}| < {tol:g} inside (hatched)")
    ax.plot(*a[:2], "o", color="white", mec="black", ms=8, label=_expansion_label(a))
    if order == 2 and t.minimiser is not None and np.all(np.abs(np.array(t.minimiser.value[:2]) - a[:2]) <= r):
        ax.plot(*t.minimiser.value[:2], "*", color="tab:red", mec="white", ms=16, label="minimiser of m₂ (Newton)")
    outline = [patheffects.withStroke(linewidth=3.6, foreground="black")]
    for k, c in reversed(list(enumerate(t.steps))):  # the longest step first: the shorter drawn over it
        x1 = a - c.lr * g
        colour, marker = step_style(k)
        arrow = ax.annotate("", xy=x1[:2], xytext=a[:2],
                            arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.8, shrinkA=0, shrinkB=0))
        arrow.arrow_patch.set_path_effects(outline)
        ax.plot(*x1[:2], marker, color=colour, mec="black", mew=1.0, ms=10, zorder=6, label=_step_label(c))
    handles, labels = ax.get_legend_handles_labels()
    steps = len(t.steps)
    if steps:  # the steps in the order given
        handles = handles[:-steps] + handles[-steps:][::-1]
        labels = labels[:-steps] + labels[-steps:][::-1]
    ax.set_xlim(a[0] - r, a[0] + r)
    ax.set_ylim(a[1] - r, a[1] + r)
    ax.set_aspect("equal")
    vx, vy = (v.name for v in t.parsed.variables[:2])
    ax.set_xlabel(vx)
    ax.set_ylabel(vy)
    at = ", ".join(f"{v:g}" for v in a)
    ax.set_title(f"{mname} of {t.parsed.text} at ({at})", fontsize=10)
    # below the axes, not over the landscape: every label readable at the default dpi
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    return fig
