"""Side chains PDBFixer built, checked and, where needed, placed again.

PDBFixer lays its template residue on the atoms a residue has and then relaxes the
new atoms with a soft force field. In a crowded site that is not enough: a long
side chain in the template's rotamer runs into a neighbour, and the relaxation
either leaves it there or bends it out of shape (a guanidinium's nitrogens 1.6 Å
apart). meeko reads both as bonds and refuses the residue. A side chain so placed is
laid again from the template's ideal geometry, turning each of its rotatable bonds
to the staggered rotamer (60°, 180°, 300°) that keeps it farthest from every
other atom.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Closer than this (nm) to an atom of another residue (hydrogens included), a new
#: heavy atom may be read as bonded to it (meeko bonds atoms within 1.2 times their
#: covalent radii, up to 0.22 nm for carbon and sulfur), or crowds the hydrogens
#: added next.
CLASH_NM = 0.23
#: How far (nm) a distance between a new atom and an atom one or two bonds away may
#: stray from the template before the residue counts as bent.
DISTORTION_NM = 0.02
_BACKBONE = {"N", "CA", "C", "O", "OXT"}
_STAGGERED = np.radians([0.0, 120.0, 240.0])
Vector = NDArray[np.float64]


def settle_side_chains(fixer: Any, residues: set[tuple[str, int, str]]) -> None:
    """Check each residue (by key) PDBFixer completed; lay it again where it clashes
    or is bent."""
    from openmm import Vec3
    from openmm.unit import nanometer

    positions = np.array(fixer.positions.value_in_unit(nanometer), dtype=float)
    changed = False
    for residue in fixer.topology.residues():
        key = (str(residue.chain.id), int(residue.id), str(residue.insertionCode).strip())
        template = fixer.templates.get(residue.name)
        if key not in residues or template is None:
            continue
        ideal = {
            atom.name: np.array(template.positions[atom.index].value_in_unit(nanometer))
            for atom in template.topology.atoms()
            if atom.element.symbol != "H"
        }
        index = {atom.name: atom.index for atom in residue.atoms() if atom.name in ideal}
        side = [name for name in index if name not in _BACKBONE and name != "CB"]
        if not side or not {"N", "CA", "C", "CB"} <= set(index):
            continue
        mine = {atom.index for atom in residue.atoms()}
        others = np.array([i for i in range(len(positions)) if i not in mine])
        bonds = _heavy_bonds(template)
        now = {name: positions[i] for name, i in index.items()}
        if not _bent(now, ideal, bonds, side) and _room(now, side, positions[others]) >= CLASH_NM:
            continue
        placed = _best_rotamer(now, ideal, bonds, side, positions[others])
        for name, point in placed.items():
            positions[index[name]] = point
        changed = True
    if changed:
        fixer.positions = [Vec3(*point) for point in positions] * nanometer


def _heavy_bonds(template: Any) -> dict[str, set[str]]:
    bonded: dict[str, set[str]] = {}
    for first, second in template.topology.bonds():
        if "H" in (first.element.symbol, second.element.symbol):
            continue
        bonded.setdefault(first.name, set()).add(second.name)
        bonded.setdefault(second.name, set()).add(first.name)
    return bonded


def _bent(
    now: dict[str, Vector], ideal: dict[str, Vector], bonds: dict[str, set[str]], side: list[str]
) -> bool:
    for atom in side:
        near = set(bonds.get(atom, ()))
        for neighbour in list(near):
            near |= bonds.get(neighbour, set())
        for other in near - {atom}:
            if other not in now:
                continue
            actual = np.linalg.norm(now[atom] - now[other])
            if abs(actual - np.linalg.norm(ideal[atom] - ideal[other])) > DISTORTION_NM:
                return True
    return False


def _room(now: dict[str, Vector], side: Iterable[str], others: Vector) -> float:
    """The shortest distance from a side-chain atom to an atom of another residue."""
    points = np.array([now[name] for name in side])
    if not len(others):
        return float("inf")
    near = others[np.all(np.abs(others - points.mean(axis=0)) < 1.2, axis=1)]
    if not len(near):
        return float("inf")
    return float(np.min(np.linalg.norm(points[:, None, :] - near[None, :, :], axis=-1)))


def _best_rotamer(
    now: dict[str, Vector],
    ideal: dict[str, Vector],
    bonds: dict[str, set[str]],
    side: list[str],
    others: Vector,
) -> dict[str, Vector]:
    """The side chain at the template's geometry, laid on the residue's N, CA, C and
    CB, in the staggered rotamer with the most room."""
    frame = [name for name in ("N", "CA", "C", "CB") if name in now]
    rotation, shift_ideal, shift_now = _superpose(
        np.array([now[name] for name in frame]), np.array([ideal[name] for name in frame])
    )
    base = {name: (ideal[name] - shift_ideal) @ rotation.T + shift_now for name in side}
    base.update({name: now[name] for name in frame})
    axes = _rotatable(bonds, side)
    best, best_room = dict(base), -1.0
    for angles in itertools.product(_STAGGERED, repeat=len(axes)):
        trial = dict(base)
        for (pivot, head, moving), angle in zip(axes, angles, strict=True):
            axis = trial[head] - trial[pivot]
            for name in moving:
                trial[name] = _rotate(trial[name], trial[head], axis, angle)
        room = _room(trial, side, others)
        if room > best_room:
            best, best_room = trial, room
    return {name: best[name] for name in side}


def _rotatable(bonds: dict[str, set[str]], side: list[str]) -> list[tuple[str, str, list[str]]]:
    """(pivot, head, atoms turned) for each side-chain bond whose turning moves atoms
    and is not in a ring, from CA-CB outwards."""
    axes: list[tuple[str, str, list[str]]] = []
    chain = ["CA", "CB"]
    seen = {"CA", "CB"}
    while True:
        pivot, head = chain[-2], chain[-1]
        moving = _beyond(bonds, pivot, head)
        if not moving or pivot in moving or set(moving) - set(side):
            break
        axes.append((pivot, head, moving))
        following = sorted(n for n in bonds.get(head, ()) if n not in seen and n in side)
        if not following:
            break
        seen.add(following[0])
        chain.append(following[0])
        if len(axes) == 4:
            break
    return axes


def _beyond(bonds: dict[str, set[str]], pivot: str, head: str) -> list[str]:
    found: list[str] = []
    stack = [n for n in bonds.get(head, ()) if n != pivot]
    visited = {head}
    while stack:
        name = stack.pop()
        if name in visited:
            continue
        visited.add(name)
        found.append(name)
        stack.extend(n for n in bonds.get(name, ()) if n not in visited)
    return found


def _rotate(point: Vector, origin: Vector, axis: Vector, angle: float) -> Vector:
    unit = axis / np.linalg.norm(axis)
    v = point - origin
    turned = (
        v * np.cos(angle)
        + np.cross(unit, v) * np.sin(angle)
        + unit * np.dot(unit, v) * (1 - np.cos(angle))
    )
    return np.asarray(turned + origin, dtype=float)


def _superpose(target: Vector, mobile: Vector) -> tuple[Vector, Vector, Vector]:
    """Kabsch: the rotation and centres that lay ``mobile`` on ``target``."""
    centre_t, centre_m = target.mean(axis=0), mobile.mean(axis=0)
    h = (mobile - centre_m).T @ (target - centre_t)
    u, _s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rotation, centre_m, centre_t
