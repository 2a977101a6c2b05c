"""Name a Node container from a heap snapshot's retainer paths.

The heap sampling profile says which function's allocations keep growing
(``addSubscriber``) but not what holds them. A snapshot taken while V8 tracked
allocations gives every object allocated in that window its allocation stack; the ones
still alive, grouped by the same site naming as the sampling profile (``node_site``),
are walked up their shortest retainer path from the GC roots to the nearest collection
(a Map, Set or Array, or an object holding very many properties) and that collection is
named by the edge holding it: ``(GC roots) > ... > sockets: Map`` is ``sockets Map``.

Each site becomes a naming hint: a Finding with ``source=RETAINER_SOURCE``, the site's
``where`` and allocation stack, and the container's name, unique per container (two
different containers that the code names alike get V8's ``@id``, as DevTools shows it),
so the leak engine folds every site that one container holds into one finding.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt

from ..model.findings import RETAINER_SOURCE, Finding
from ..model.heapgraph import TracedSnapshot, bfs_tree
from .leak_sources import MAX_STACK_FRAMES, _node_user, _where, node_site

I64 = npt.NDArray[np.int64]

# JS collections by constructor name -> (finding kind, how the name says it)
_COLLECTIONS = {"Map": ("map", "Map"), "Set": ("set", "Set"), "Array": ("list", "array"), "WeakMap": ("map", "WeakMap")}
# a plain object used as a dictionary (``cache[key] = v``) holds many properties
_DICT_OBJECT_EDGES = 512
MAX_OBJECTS_PER_SITE = 200  # objects of one site whose retainer paths are walked
# a site is named after a container only when most of its live objects (and a few at least)
# are held there: a timer's bookkeeping that happens to reach one entry is not "filling" it
MIN_HELD_SHARE = 0.5
MIN_HELD = 3
# a caller keyed by the objects allocated under it (a fallback) must send nearly all of them
# to one container: a dispatcher calling several fillers names none of them
MIN_HELD_SHARE_UNDER = 0.8
MAX_SITES = 256
MAX_PATH = 64  # hops walked up from an object (the nearest collection is usually 1-3 away)
_PATH_SHOWN = 6  # hops shown in the evidence, nearest the container


def bfs_parents(snap: TracedSnapshot) -> tuple[I64, I64]:
    """(parent node, edge into it) per node on the shortest retainer tree, -1 where unreachable."""
    skip = None
    # the inspector's own handles (``HeapProfiler.getObjectByHeapObjectId`` puts the objects it
    # hands out under "(Global handles) > N / DevTools console") are not how the code holds them
    console = [i for i, x in enumerate(snap.strings) if isinstance(x, str) and x.endswith("/ DevTools console")]
    if console:
        etype = np.clip(snap.e_type, 0, len(snap.edge_types))
        named = ~np.isin(etype, [i for i, t in enumerate(snap.edge_types) if t in ("element", "hidden")])
        skip = named & np.isin(snap.e_name, np.asarray(console, dtype=np.int32))
    return bfs_tree(snap.first, snap.e_type, snap.e_to, snap.edge_types, skip=skip)


def _container_of(snap: TracedSnapshot, parent: I64, via: I64, node: int) -> tuple[int, list[tuple[int, int]]] | None:
    """(container node, path from the container's holder down to ``node`` as (node, edge) hops),
    the container being the nearest collection above ``node``; None if unreachable or none."""
    hops: list[tuple[int, int]] = []
    cur = node
    while len(hops) < MAX_PATH:
        up = int(parent[cur])
        if up < 0:
            return None
        hops.append((cur, int(via[cur])))
        cur = up
        if cur == 0:
            return None
        if snap.type(cur) == "object" and (
            snap.name(cur) in _COLLECTIONS or int(snap.first[cur + 1] - snap.first[cur]) >= _DICT_OBJECT_EDGES
        ):
            hops.append((cur, int(via[cur])))
            return cur, hops[::-1]
    return None


def _holder_label(snap: TracedSnapshot, parent: I64, via: I64, node: int) -> str:
    """How the code refers to a container: the variable or property holding it, with the
    property path of a user object holding that (``rows.map``), never V8 internals."""
    parts: list[str] = []
    cur = node
    for _ in range(3):
        e = int(via[cur])
        up = int(parent[cur])
        if e < 0 or up < 0:
            break
        kind = snap.edge_kind(e)
        name = snap.edge_name(e)
        if kind in ("element", "hidden") or name.startswith(("[", "<")) or name.isdigit():
            parts.append("[]")
        else:
            parts.append(name)
        holder = snap.name(up)
        # a closure's Context or a module's scope is where a variable lives: stop there
        if kind == "context" or snap.type(up) != "object" or holder.startswith("system /") or up == 0:
            break
        cur = up
    label = ".".join(reversed(parts)).replace(".[]", "[]")
    return label or "(anonymous)"


def _path_text(snap: TracedSnapshot, parent: I64, via: I64, container: int, hops: list[tuple[int, int]]) -> str:
    above: list[str] = []
    cur = container
    while len(above) < _PATH_SHOWN:
        e, up = int(via[cur]), int(parent[cur])
        if e < 0 or up <= 0:
            break
        above.append(f"{snap.edge_name(e)}: {snap.name(cur) or snap.type(cur)}")
        cur = up
    text = " > ".join(reversed(above))
    below = [f"{snap.edge_name(e)}: {snap.name(n) or snap.type(n)}" for n, e in hops[1:3]]
    lead = "(GC roots) > ... > " if len(above) == _PATH_SHOWN else "(GC roots) > "
    return lead + " > ".join([text, *below])


def retainer_hints(snap: TracedSnapshot, target: str = "", containers: dict[str, int] | None = None) -> list[Finding]:
    """One naming hint per allocation site whose tracked objects a collection holds.
    ``containers`` (when given) receives each named container's V8 heap object id by its
    name, so the capture can read the container's real size between snapshots."""
    traced = np.flatnonzero(snap.trace_id > 0)
    if not traced.size:
        return []
    # group the traced objects by allocation site, as the sampling profile names sites
    by_trace: dict[int, list[int]] = {}
    for node, tid in zip(traced.tolist(), snap.trace_id[traced].tolist(), strict=True):
        lst = by_trace.setdefault(int(tid), [])
        if len(lst) < MAX_OBJECTS_PER_SITE:
            lst.append(int(node))
    # a site is keyed as the sampling profile keys it (node_site's ``where``); every other
    # user function on the allocation stack is a fallback key, for a sampling site that V8's
    # inlining named differently (an executor inlined into its caller, an async function's
    # continuation): ``exact`` says which sites the objects' own naming gave
    sites: dict[str, tuple[list[str], list[int]]] = {}
    exact: set[str] = set()
    for tid, nodes in by_trace.items():
        frames = snap.stack(tid)
        if not frames:
            continue
        _kind, _name, where = node_site(frames)
        if not where:
            continue
        exact.add(where)
        keys = [where] + [w for w in dict.fromkeys(_where(f) for f in reversed(frames) if _node_user(f)) if w != where]
        for key in keys:
            entry = sites.get(key)
            if entry is None:
                if len(sites) >= MAX_SITES:
                    continue
                entry = sites[key] = ([_where(f) for f in frames[-MAX_STACK_FRAMES:]], [])
            room = MAX_OBJECTS_PER_SITE - len(entry[1])
            entry[1].extend(nodes[:room])
    if not sites:
        return []
    parent, via = bfs_parents(snap)
    out: list[Finding] = []
    labels: dict[str, int] = {}  # label -> the container it names
    for where, (stack, nodes) in sites.items():
        votes: Counter[int] = Counter()
        example: dict[int, list[tuple[int, int]]] = {}
        for node in nodes:
            found = _container_of(snap, parent, via, node)
            if found is None:
                continue
            votes[found[0]] += 1
            example.setdefault(found[0], found[1])
        if not votes:
            continue
        container, held = votes.most_common(1)[0]
        share = MIN_HELD_SHARE if where in exact else MIN_HELD_SHARE_UNDER
        if held < min(MIN_HELD, len(nodes)) or held < share * len(nodes):
            continue
        cname = snap.name(container)
        kind, shown = _COLLECTIONS.get(cname, ("objects", "object"))
        label = f"{_holder_label(snap, parent, via, container)} {shown}"
        if labels.setdefault(label, container) != container:
            label = f"{label} @{int(snap.node_id[container])}"
        path = _path_text(snap, parent, via, container, example[container])
        if containers is not None and cname != "WeakMap":  # a WeakMap has no size to read
            containers[label] = int(snap.node_id[container])
        how = "it allocated" if where in exact else "allocated under it"
        out.append(
            Finding(
                kind=kind,
                name=label,
                where=where,
                growth_per_min=0.0,
                unit="objects",
                confidence=round(held / len(nodes), 3),
                evidence=f"{held} of {len(nodes)} live objects {how} are held by {path}",
                target=target,
                suspect=False,
                stack=stack,
                source=RETAINER_SOURCE,
            )
        )
    return out
