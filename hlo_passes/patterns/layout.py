"""Which original dimensions each dimension of a tensor is made of, through reshapes and transposes.

Attention arrives batched in many shapes: [B, N, T, H] or [B, T, N, H] tensors, merged into [B*N, T, H]
for a 3-D batched dot, broadcast to repeat K/V heads for grouped-query attention, reshaped back. To know
which axis of a dot_general is the head dim, the sequence or the batch, we follow each original axis (an
"atom") through the ops: a layout is, per dimension, the list of atoms it is made of (major to minor).
Size-1 dimensions carry no atoms, so reshapes may add or drop them freely. A reshape that splits an axis
(heads into [kv heads, group] for grouped-query attention) splits its atom into parts that remember where
they sit in it (`stride`); parts that come back together, major next to minor, are one atom again.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from . import values as vals

_fresh = itertools.count()


@dataclass(frozen=True)
class Atom:
    """One original axis, or a part of one: `tag` names its tensor ("q", "k", "v"), `dim` its position
    there; broadcast atoms (new axes made by broadcast_in_dim, as in repeated K/V heads) have tag "bcast".
    A part of an axis split by a reshape has the axis's tag and dim, its own size, and the stride of its
    index in the axis's index (1 for the minor part; a whole axis is its own part with stride 1)."""

    tag: str
    dim: int
    size: int
    stride: int = 1

    def same_axis(self, other: "Atom") -> bool:
        return self.tag == other.tag and self.dim == other.dim


Layout = list  # list[list[Atom]], one entry per dimension


def initial(tag: str, shape) -> Layout:
    return [[Atom(tag, i, n)] if n != 1 else [] for i, n in enumerate(shape)]


def _prod(atoms) -> int:
    p = 1
    for a in atoms:
        p *= a.size
    return p


def through(layout: Layout, op) -> Layout | None:
    """The layout of `op`'s result given its main operand's, or None if the op splits an atom."""
    name = op.name
    if name == "stablehlo.transpose":
        return [layout[p] for p in vals.attr_value(op.attributes["permutation"])]
    if name == "stablehlo.reshape":
        atoms = [a for group in layout for a in group]
        result = []
        for size in vals.shape(op.results[0]):
            group = []
            while _prod(group) < size and atoms:
                a, need = atoms.pop(0), size // _prod(group)
                if a.size > need:  # the reshape splits this atom: take its major part, leave the rest
                    if a.size % need or size % _prod(group):
                        return None
                    rest = a.size // need
                    group.append(Atom(a.tag, a.dim, need, a.stride * rest))
                    atoms.insert(0, Atom(a.tag, a.dim, rest, a.stride))
                else:
                    group.append(a)
            if _prod(group) != size:
                return None
            result.append(_joined(group))
        return result if not atoms else None
    if name == "stablehlo.broadcast_in_dim":
        out_shape = vals.shape(op.results[0])
        in_shape = vals.shape(op.operands[0])
        result: Layout = [[] for _ in out_shape]
        dims = vals.attr_value(op.attributes["broadcast_dimensions"])
        for i, d in enumerate(dims):
            if in_shape[i] == out_shape[d]:
                result[d] = layout[i]
        for d, n in enumerate(out_shape):
            if n != 1 and not result[d]:
                result[d] = [Atom("bcast", next(_fresh), n)]
        return result
    return layout  # elementwise: the same layout


def _joined(group: list) -> list:
    """Neighbouring parts of one axis, major then minor, are one part again."""
    out = []
    for a in group:
        b = out[-1] if out else None
        if b is not None and b.same_axis(a) and b.stride == a.stride * a.size:
            out[-1] = Atom(a.tag, a.dim, a.size * b.size, a.stride)
        else:
            out.append(a)
    return out


def forward(layout: Layout, ops) -> Layout | None:
    """Apply `through` along `ops` (first op first)."""
    for op in ops:
        layout = through(layout, op)
        if layout is None:
            return None
    return layout


def pair_batches(left: list[Atom], right: list[Atom]) -> list[tuple[Atom, tuple[Atom, ...]]] | None:
    """Pair the batch atoms of two dot operands, in order. A left atom pairs with one right atom of the
    same size, or with a right atom followed by a broadcast atom whose sizes multiply to it: heads
    repeated by broadcast+reshape (GQA), where query head h reads key head h // group."""
    pairs, j = [], 0
    for a in left:
        if j < len(right) and right[j].size == a.size:
            pairs.append((a, (right[j],)))
            j += 1
        elif j + 1 < len(right) and right[j + 1].tag == "bcast" and right[j].size * right[j + 1].size == a.size:
            pairs.append((a, (right[j], right[j + 1])))
            j += 2
        else:
            return None
    return pairs if j == len(right) else None
