"""Loss-landscape figures: the (w, b) bowl with descent paths, a 1-D interpolation, and a 2-D
slice as contours and as a 3-D surface."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from looplab.inspect.landscape import LinearLandscape, LossSlice
from looplab.plots.style import DPI, PALETTE, new_figure

# The files `looplab landscape RUN` writes into a run directory, with what each one shows; the
# run's report shows those that exist.
RUN_FIGURES = {
    "landscape_line.png": "the loss on the straight line from the initial to the final weights",
    "landscape_contour.png": "a 2-D slice through the trained weights (filter-normalized "
    "random directions), with the training path projected on it",
    "landscape_surface.png": "the same slice as a surface",
    "landscape_path.png": "the plane of the training path (its two principal directions)",
}


def _log_levels(loss: np.ndarray, count: int = 25) -> np.ndarray:
    """Contour levels evenly spaced in log(loss): a bowl's floor and walls both get lines."""
    finite = loss[np.isfinite(loss) & (loss > 0)]
    low, high = float(finite.min()), float(finite.max())
    if high <= low * 1.0001:
        high = low * 1.01 + 1e-12
    return np.geomspace(low * 1.0001, high, count)


def linear_contour(land: LinearLandscape, title: str) -> Figure:
    """Contours of L(w, b) with the optimum, the common start and each descent path."""
    fig, ax = new_figure(7.0, 5.6)
    ax.grid(False)
    W, B = np.meshgrid(land.w.numpy(), land.b.numpy())
    loss = land.loss.numpy()
    levels = _log_levels(loss)
    filled = ax.contourf(W, B, loss, levels=levels, norm=LogNorm(), cmap="viridis", alpha=0.85)
    ax.contour(W, B, loss, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.6)
    fig.colorbar(filled, ax=ax, label="training loss (MSE, log scale)", format="%.3g")
    # the noisiest (longest) path first, so the smoother ones stay visible on top of it
    order = sorted(land.paths.items(), key=lambda item: -len(item[1]))
    colours = ["white", PALETTE[3], PALETTE[1], PALETTE[5], PALETTE[4]]
    handles = {}
    for k, (label, path) in enumerate(order):
        p = path.numpy()
        last = k == len(order) - 1
        (line,) = ax.plot(
            p[:, 0],
            p[:, 1],
            color=colours[(len(order) - 1 - k) % len(colours)],
            lw=2.2 if last else 1.0,
            alpha=1.0 if last else 0.85,
            marker="o" if len(p) <= 60 else None,
            ms=3.5,
            label=f"{label}: {len(p) - 1} steps, final loss "
            f"{land.final_loss.get(label, float('nan')):.3g}",
        )
        handles[label] = line
    ordered = [handles[label] for label in land.paths]  # legend in the caller's order
    ax.plot(*land.start, marker="s", color="black", ms=7, ls="none", label="start")
    ax.plot(
        *land.optimum,
        marker="*",
        color="white",
        mec="black",
        ms=14,
        ls="none",
        label=f"optimum (lstsq) w={land.optimum[0]:.3g}, b={land.optimum[1]:.3g}",
    )
    ax.set_xlim(float(land.w[0]), float(land.w[-1]))
    ax.set_ylim(float(land.b[0]), float(land.b[-1]))
    ax.set_xlabel("weight w")
    ax.set_ylabel("bias b")
    ax.set_title(title)
    marks = [h for h in ax.get_lines() if str(h.get_label()).startswith(("start", "optimum"))]
    ax.legend(
        handles=[*ordered, *marks],
        loc="lower right",
        fontsize=8,
        framealpha=0.9,
        facecolor="#dddddd",
    )
    return fig


def interpolation_plot(alphas: np.ndarray, losses: np.ndarray, title: str) -> Figure:
    """The loss on the straight line from the initial (alpha 0) to the final (alpha 1) weights."""
    fig, ax = new_figure()
    ax.plot(alphas, losses, color=PALETTE[0], label="loss on the fixed batch")
    ends = ((0.0, "initial weights", PALETTE[1]), (1.0, "final weights", PALETTE[3]))
    for a, name, colour in ends:
        ax.axvline(a, color=colour, ls="--", lw=1, label=name)
    finite = losses[np.isfinite(losses) & (losses > 0)]
    if finite.size and finite.max() / finite.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel(r"$\alpha$ in $(1-\alpha)\,\theta_{initial} + \alpha\,\theta_{final}$")
    ax.set_ylabel("loss (mean per example)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def slice_contour(s: LossSlice, title: str) -> Figure:
    """Contours of the 2-D slice, the trained weights at (0, 0), and the projected path."""
    fig, ax = new_figure(6.8, 5.6)
    ax.grid(False)
    A, Bt = np.meshgrid(s.alphas.numpy(), s.betas.numpy())
    loss = np.clip(s.loss.numpy(), 1e-12, None)
    levels = _log_levels(loss, 30)
    filled = ax.contourf(A, Bt, loss, levels=levels, norm=LogNorm(), cmap="viridis")
    ax.contour(A, Bt, loss, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.6)
    fig.colorbar(filled, ax=ax, label="loss on the fixed batch (log scale)", format="%.3g")
    if s.path is not None:
        p = s.path.numpy()
        ax.plot(
            p[:, 0],
            p[:, 1],
            color=PALETTE[1],
            lw=1.5,
            marker=".",
            ms=4,
            label=f"training path, projected ({len(p)} snapshots)",
        )
        ax.plot(
            p[0, 0],
            p[0, 1],
            marker="s",
            color=PALETTE[1],
            mec="black",
            ms=7,
            ls="none",
            label="initial weights, projected",
        )
    ax.plot(
        0,
        0,
        marker="*",
        color="white",
        mec="black",
        ms=14,
        ls="none",
        label=f"trained weights (loss {s.center_loss:.3g})",
    )
    if s.kind == "pca" and s.explained is not None:
        ax.set_xlabel(
            f"principal direction 1 of the path ({s.explained[0]:.0%} of it), parameter units"
        )
        ax.set_ylabel(f"principal direction 2 ({s.explained[1]:.0%})")
    else:
        ax.set_xlabel(r"$\alpha$ (filter-normalized random direction 1)")
        ax.set_ylabel(r"$\beta$ (filter-normalized random direction 2)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return fig


def slice_surface(s: LossSlice, title: str) -> Figure:
    """The same slice as a 3-D surface (height: the loss)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7.0, 5.6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot(projection="3d")
    A, Bt = np.meshgrid(s.alphas.numpy(), s.betas.numpy())
    loss = s.loss.numpy()
    top = float(np.nanpercentile(loss[np.isfinite(loss)], 95))
    shown = np.clip(np.where(np.isfinite(loss), loss, top), None, top)  # tame exploding corners
    ax.plot_surface(A, Bt, shown, cmap="viridis", linewidth=0, antialiased=True, alpha=0.95)
    ax.set_xlabel(r"$\alpha$ (direction 1)")
    ax.set_ylabel(r"$\beta$ (direction 2)")
    ax.set_zlabel("loss (clipped at 95th pct)")
    ax.set_title(title, fontsize=10)
    return fig
