"""Drawing the computational graph of a :class:`nnlib.autograd.Value` with matplotlib.

:func:`draw_graph` lays the graph out itself (columns by longest path to the result,
waypoints for long edges, one barycenter sweep), so no graphviz is needed. It is
re-exported by :mod:`nnlib.autograd`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from nnlib.autograd import Value

__all__ = ["draw_graph"]


def _layout(
    order: Sequence[Value],
) -> tuple[dict[int, tuple[int, float]], list[tuple[Value, Value, list[tuple[int, float]]]]]:
    """Place the nodes of a graph in columns and route its edges.

    A node's column is set by its longest path to the output: the output sits in the
    rightmost column and every node at least one column left of each of its consumers.
    An edge that spans several columns gets a waypoint in every column it crosses, which
    occupies a row there like a node does, so the edge never runs behind a box. Within a
    column, nodes and waypoints are sorted by the mean row of what they feed (a single
    right-to-left sweep of the barycenter heuristic), which keeps most edges short and
    uncrossed.

    Returns
    -------
    pos : dict
        ``id(node) -> (column, row)``.
    edges : list
        ``(parent, child, waypoints)`` for every distinct edge, waypoints as
        ``(column, row)`` from left to right.
    """
    output = order[-1]
    consumers: dict[int, list[Value]] = {id(v): [] for v in order}
    for v in order:
        for p in v.parents:
            if all(c is not v for c in consumers[id(p)]):
                consumers[id(p)].append(v)
    dist: dict[int, int] = {id(output): 0}
    for v in reversed(order):  # in this direction consumers come before their parents
        if id(v) not in dist:
            dist[id(v)] = 1 + max(dist[id(c)] for c in consumers[id(v)])
    depth = max(dist.values())
    col = {k: depth - d for k, d in dist.items()}
    rank = {id(v): i for i, v in enumerate(order)}

    # Items are the nodes (keyed by id) and the waypoints (keyed by a tuple); each item
    # feeds the items listed in succ, and sits in one column.
    succ: dict[object, list[object]] = {}
    item_col: dict[object, int] = {}
    item_rank: dict[object, float] = {}
    for v in order:
        succ[id(v)] = []
        item_col[id(v)] = col[id(v)]
        item_rank[id(v)] = rank[id(v)]
    chains: list[tuple[Value, Value, list[object]]] = []
    for v in order:
        for c in consumers[id(v)]:
            chain: list[object] = []
            prev: object = id(v)
            for k in range(col[id(v)] + 1, col[id(c)]):
                w = ("via", id(v), id(c), k)
                succ[w] = []
                item_col[w] = k
                item_rank[w] = rank[id(v)] + 0.5
                succ[prev].append(w)
                chain.append(w)
                prev = w
            succ[prev].append(id(c))
            chains.append((v, c, chain))

    columns: dict[int, list[object]] = {}
    for item, k in item_col.items():
        columns.setdefault(k, []).append(item)
    where: dict[object, tuple[int, float]] = {}
    for k in range(depth, -1, -1):
        items = columns.get(k, [])

        def key(item: object) -> tuple[float, float]:
            ys = [where[s][1] for s in succ[item]]
            return (-sum(ys) / len(ys) if ys else 0.0, item_rank[item])

        items.sort(key=key)
        n = len(items)
        for i, item in enumerate(items):
            where[item] = (k, (n - 1) / 2.0 - i)
    pos = {id(v): where[id(v)] for v in order}
    edges = [(v, c, [where[w] for w in chain]) for v, c, chain in chains]
    return pos, edges


def draw_graph(
    value: Value,
    ax: Axes | None = None,
    show_grad: bool = True,
    max_nodes: int = 60,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Draw the computational graph of ``value`` with matplotlib, inputs left, result right.

    Each node is a box showing its label and operation, its ``data`` and (optionally) its
    ``grad``; an arrow runs from every parent to the node computed from it. Leaves are
    blue, intermediate results orange and ``value`` itself green. The layout is computed
    here from the topological order (no graphviz needed).

    Parameters
    ----------
    value : Value
        The result whose graph is drawn.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; by default a new figure of a fitting size is created with
        ``matplotlib.pyplot`` (so ``plt.show()`` displays it in a notebook).
    show_grad : bool
        Also print each node's ``grad`` (call ``value.backward()`` first).
    max_nodes : int
        Refuse larger graphs, which would be unreadable.
    figsize : (float, float), optional
        Size in inches of the new figure; ignored when ``ax`` is given.

    Returns
    -------
    matplotlib.figure.Figure
        The figure that holds the drawing.

    Raises
    ------
    TypeError
        If ``value`` is not a :class:`Value`.
    ValueError
        If the graph has more than ``max_nodes`` nodes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    from nnlib.autograd import Value  # imported here: nnlib.autograd imports this module

    if not isinstance(value, Value):
        raise TypeError(f"draw_graph: expected a Value, got {type(value).__name__}.")
    order = value.topological_order()
    if len(order) > max_nodes:
        raise ValueError(
            f"draw_graph: the graph has {len(order)} nodes, more than max_nodes={max_nodes}; "
            "draw a smaller expression or raise max_nodes.")
    pos, edges = _layout(order)
    ncols = max(k for k, _ in pos.values()) + 1
    rows = [y for _, y in pos.values()] + [y for *_, w in edges for _, y in w]
    nrows = int(round(max(rows) - min(rows))) + 1
    col_step, row_step = 2.0, 1.0 if show_grad else 0.75
    box_w, box_h = 1.45, 0.72 if show_grad else 0.5

    if ax is None:
        if figsize is None:
            figsize = (min(1.05 * col_step * ncols + 0.3, 14.0),
                       min(0.95 * row_step * nrows + 0.4, 10.0))
        fig, ax = plt.subplots(figsize=figsize, dpi=90)
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99)
    else:
        fig = ax.figure

    def xy(k: float, row: float) -> tuple[float, float]:
        return k * col_step, row * row_step

    for parent, child, waypoints in edges:
        x0, y0 = xy(*pos[id(parent)])
        x1, y1 = xy(*pos[id(child)])
        verts = [(x0 + box_w / 2, y0)]
        for k, row in waypoints:  # run straight through each waypoint's slot
            wx, wy = xy(k, row)
            verts += [(wx - box_w / 2, wy), (wx + box_w / 2, wy)]
        verts.append((x1 - box_w / 2, y1))
        ax.add_patch(FancyArrowPatch(
            path=Path(verts), arrowstyle="-|>", mutation_scale=10, color="0.35",
            linewidth=0.9, zorder=1))
    for v in order:
        x, y = xy(*pos[id(v)])
        if v is value:
            face = "#c7e9c0"
        elif v.parents:
            face = "#fdd0a2"
        else:
            face = "#c6dbef"
        ax.add_patch(FancyBboxPatch(
            (x - box_w / 2, y - box_h / 2), box_w, box_h,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=face, edgecolor="0.3", linewidth=0.8, zorder=2))
        title = " ".join(s for s in (v.label, f"[{v.op}]" if v.op else "") if s)
        lines = [title or "const", f"data {v.data:.4g}"]
        if show_grad:
            lines.append(f"grad {v.grad:.4g}")
        ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=8,
                family="monospace", zorder=3)
    ax.set_xlim(-box_w / 2 - 0.15, (ncols - 1) * col_step + box_w / 2 + 0.15)
    ax.set_ylim(min(rows) * row_step - box_h / 2 - 0.1, max(rows) * row_step + box_h / 2 + 0.1)
    ax.axis("off")
    return fig
