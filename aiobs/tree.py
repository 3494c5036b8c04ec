"""The trace tree: events nested under their parents, linked in one pass over the events.

Each node is the event's own fields plus ``event_type`` (``"function"`` or ``"provider"``) and
``children``, exactly as in aiobs 0.2. Siblings are ordered by ``started_at``. An event whose
parent is not in the document is a root. Nesting stops at :data:`MAX_TREE_DEPTH` levels so that
every JSON parser can read the document: deeper events are placed beside their parent, at the last
level, and carry ``"depth_truncated": true`` (their ``parent_span_id`` still names the true parent).

:func:`link` computes the shape from ``(started_at, span_id, parent_span_id)`` triples;
:func:`build_trace_tree` makes nested dicts of it, and the document writer emits JSON from it
directly.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

from ._format import (
    EVENT_PARENT_SPAN_ID,
    EVENT_SPAN_ID,
    EVENT_STARTED_AT,
    FUNCTION_ENH_PROMPT,
    FUNCTION_ENH_PROMPT_ID,
    NODE_CHILDREN,
    NODE_DEPTH_TRUNCATED,
    NODE_EVENT_TYPE,
)

MAX_TREE_DEPTH = 64
"""Levels of nesting kept in the tree (the flat event lists keep every parent link)."""


class TreeShape(NamedTuple):
    """The tree over events ``0..n-1``: indices, not copies of the events."""

    roots: list[int]
    children: list[list[int]]
    truncated: set[int]
    """Events placed beside their parent because the tree reached its maximum depth."""


def link(  # noqa: PLR0915 - the common cases are inlined in the main loop on purpose
    starts: Sequence[float],
    span_ids: Sequence[Hashable],
    parent_ids: Sequence[Hashable],
    max_depth: int = MAX_TREE_DEPTH,
) -> TreeShape:
    """Shape a tree from each event's start time, span id and parent span id.

    Linking is one pass with a dict from span id to event; the one sort, by start time, runs over
    events recorded in end order, which are nearly sorted already. Parents that start after their
    children, duplicate span ids and cyclic parent links (possible only in hand-made events) are
    handled without loss: every event appears exactly once.
    """
    count = len(starts)
    order = sorted(range(count), key=starts.__getitem__)
    by_span: dict[Hashable, int] = {}
    for index in reversed(order):  # the earliest event wins a duplicated span id
        span_id = span_ids[index]
        if span_id:
            by_span[span_id] = index

    children: list[list[int]] = [[] for _ in range(count)]
    level = [0] * count  # 0: not placed yet; roots are at level 1
    holder = [-1] * count  # whose children list holds the event
    waiting: dict[int, list[int]] = {}  # parent -> children met before the parent was placed
    roots: list[int] = []
    truncated: set[int] = set()

    def place(first: int, first_parent: int) -> None:
        stack = [(first, first_parent)]
        while stack:
            index, parent = stack.pop()
            if level[index]:
                continue  # a member of a cycle, met again
            if parent < 0:
                roots.append(index)
                level[index] = 1
            elif level[parent] < max_depth:
                children[parent].append(index)
                holder[index] = parent
                level[index] = level[parent] + 1
            else:
                keeper = holder[parent]
                children[keeper].append(index)
                holder[index] = keeper
                level[index] = max_depth
                truncated.add(index)
            # Children that arrived before this event follow it, in their own start order.
            stack.extend((child, index) for child in reversed(waiting.pop(index, ())))

    get_parent = by_span.get
    for index in order:
        parent = get_parent(parent_ids[index], -1)
        if parent < 0 or parent == index:
            if index in waiting:
                place(index, -1)
            else:  # the common case, inline: a root with no early children
                roots.append(index)
                level[index] = 1
        elif level[parent] and level[parent] < max_depth and index not in waiting:
            children[parent].append(index)  # the common case, inline: parent already placed
            holder[index] = parent
            level[index] = level[parent] + 1
        elif level[parent]:
            place(index, parent)
        else:
            waiting.setdefault(parent, []).append(index)

    # What still waits hangs off a parent that was never placed: a cycle of parent links.
    # The earliest-starting member becomes a root and the rest are placed beneath it.
    placed = len(roots)
    for index in order:
        if not level[index]:
            place(index, -1)
    if len(roots) != placed:  # cycle roots were appended last: restore start order
        roots.sort(key=starts.__getitem__)
    return TreeShape(roots, children, truncated)


def preorder(shape: TreeShape) -> list[int]:
    """Event indices in depth-first pre-order."""
    found: list[int] = []
    stack = list(reversed(shape.roots))
    while stack:
        index = stack.pop()
        found.append(index)
        stack.extend(reversed(shape.children[index]))
    return found


Node = dict[str, Any]


def build_trace_tree(events: Sequence[tuple[dict[str, Any], str]]) -> list[Node]:
    """Nest ``(event, event_type)`` pairs into a list of root nodes (new dicts)."""
    shape = link(
        [event.get(EVENT_STARTED_AT) or 0.0 for event, _ in events],
        [event.get(EVENT_SPAN_ID) for event, _ in events],
        [event.get(EVENT_PARENT_SPAN_ID) for event, _ in events],
    )
    nodes: list[Node] = []
    for index, (event, event_type) in enumerate(events):
        node = dict(event)
        node[NODE_EVENT_TYPE] = event_type
        if index in shape.truncated:
            node[NODE_DEPTH_TRUNCATED] = True
        node[NODE_CHILDREN] = []
        nodes.append(node)
    for index, kids in enumerate(shape.children):
        nodes[index][NODE_CHILDREN] = [nodes[kid] for kid in kids]
    return [nodes[index] for index in shape.roots]


def enh_prompt_ids(roots: Sequence[Node]) -> list[str]:
    """``enh_prompt_id`` of every node marked ``enh_prompt``, in depth-first pre-order."""
    found: list[str] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if node.get(FUNCTION_ENH_PROMPT) is True and node.get(FUNCTION_ENH_PROMPT_ID):
            found.append(node[FUNCTION_ENH_PROMPT_ID])
        stack.extend(reversed(node.get(NODE_CHILDREN) or ()))
    return found
