"""Drawing kit for the course's concept diagrams: boxes, arrows and labels on a grid, saved as SVG with the text as paths.

Text becomes outlines (svg.fonttype = 'path'), so a diagram looks the same in JupyterLab, on a code host and in the
HTML book, with no CJK font on the reader's machine. Labels use the package's font (`t2i_course.core.cjk_font`).
Coordinates are in "units" (1 unit = 0.5 inch at dpi 100 equivalent); y points up. Each diagram is a function in a
module of tools/diagrams/ that returns a Figure; `python tools/diagrams/build.py` writes them all to nbs/images/.
"""
from __future__ import annotations

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from t2i_course.core import cjk_font

plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "t2i-course", "svg.id": "t2i"})   # outlines; stable ids

UNIT = 0.5                      # inches per unit
# colours by role, used by every diagram so a learner can read them the same way
COLORS = {
    "text": "#dbeafe",          # text side: captions, tokens, word vectors, the text CNN
    "image": "#dcfce7",         # image side: images, encoder, decoder
    "latent": "#fef3c7",        # latents, priors, distributions
    "loss": "#fee2e2",          # losses
    "judge": "#ede9fe",         # discriminators, judges, metrics
    "plain": "#f3f4f6",         # everything else
}
EDGE = "#374151"


def canvas(width: float, height: float, title: str | None = None):
    "A blank figure of width x height units with no axes; returns (fig, ax) with ax in unit coordinates."
    fig = plt.figure(figsize=(width * UNIT, height * UNIT))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width); ax.set_ylim(0, height); ax.axis("off")
    if title: ax.text(width / 2, height - 0.35, title, ha="center", va="top", fontproperties=cjk_font(), fontsize=11, weight="bold")
    return fig, ax


def text(ax, x, y, s, size=9, color="#111827", ha="center", va="center", **kw):
    "A label (中文 and English both fine)."
    return ax.text(x, y, s, ha=ha, va=va, fontproperties=cjk_font(), fontsize=size, color=color, **kw)


def box(ax, x, y, w, h, label="", role="plain", size=9, sub=None, dashed=False, radius=0.15):
    """A rounded box with its centre at (x, y), w x h units, filled by `role`; `sub` is a smaller second line.
    Returns the box's anchor points as a dict: 'l', 'r', 't', 'b' (middles of the sides) and 'c'."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=f"round,pad=0,rounding_size={radius}",
                                facecolor=COLORS[role], edgecolor=EDGE, linewidth=1.0, linestyle="--" if dashed else "-"))
    if sub is None: text(ax, x, y, label, size=size)
    else:
        text(ax, x, y + h * 0.16, label, size=size)
        text(ax, x, y - h * 0.2, sub, size=size - 2, color="#4b5563")
    return {"l": (x - w / 2, y), "r": (x + w / 2, y), "t": (x, y + h / 2), "b": (x, y - h / 2), "c": (x, y)}


def arrow(ax, a, b, label=None, color=EDGE, style="-|>", dashed=False, bend=0.0, size=8, label_at=0.5, offset=(0, 0.18)):
    "An arrow from point a to point b (x, y), optionally curved (`bend`) and labelled near `label_at` along it."
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=11, color=color, linewidth=1.1,
                                 linestyle="--" if dashed else "-", connectionstyle=f"arc3,rad={bend}", shrinkA=2, shrinkB=2))
    if label:
        x = a[0] + (b[0] - a[0]) * label_at + offset[0]
        y = a[1] + (b[1] - a[1]) * label_at + offset[1]
        text(ax, x, y, label, size=size, color=color)


def legend(ax, x, y, roles: dict[str, str], size=7.5):
    "A row of small colour swatches with their meaning, starting at (x, y)."
    for k, (role, name) in enumerate(roles.items()):
        box(ax, x + 0.25, y, 0.4, 0.3, role=role, radius=0.05)
        text(ax, x + 0.55, y, name, size=size, ha="left")
        x += 0.75 + 0.16 * len(name)
