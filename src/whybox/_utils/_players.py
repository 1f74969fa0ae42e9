"""The players of a Shapley game or a perturbation: single features or groups of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from whybox._exceptions import InputError


@dataclass(frozen=True)
class Players:
    """The players of the Shapley game: single features or groups of features.

    Attributes
    ----------
    names : tuple of str
        One name per player (the feature name, or the group's name).
    columns : tuple of ndarray of int
        For each player, the column indices (in the model's column order) it owns.
    n_features : int
        The number of columns of the data.
    grouped : bool
        True when ``feature_groups`` was given.
    """

    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]
    n_features: int
    grouped: bool

    @property
    def n_players(self) -> int:
        return len(self.names)

    def membership(self) -> np.ndarray:
        """Boolean matrix of shape (n_players, n_features): player i owns column j."""
        out = np.zeros((self.n_players, self.n_features), dtype=bool)
        for i, cols in enumerate(self.columns):
            out[i, cols] = True
        return out

    def column_masks(self, coalitions: np.ndarray) -> np.ndarray:
        """Turn player coalitions into column masks.

        Parameters
        ----------
        coalitions : ndarray of shape (..., n_players), bool

        Returns
        -------
        ndarray of shape (..., n_features), bool
        """
        if not self.grouped:
            return coalitions
        member = self.membership()
        return (coalitions.astype(np.int64) @ member.astype(np.int64)) > 0

    def groups_as_dict(self) -> dict[str, list[int]]:
        """The players as a JSON-ready dict name -> list of column indices."""
        return {n: [int(c) for c in cols] for n, cols in zip(self.names, self.columns, strict=True)}


def resolve_players(
    feature_groups: Mapping[str, Sequence[Any]] | None, feature_names: Sequence[str]
) -> Players:
    """Check ``feature_groups`` and turn it into :class:`Players`.

    Parameters
    ----------
    feature_groups : dict of str to sequence of (str or int), or None
        Group name -> the columns of the group, by name or by position in the
        model's column order. Columns in no group become players of their own,
        after the groups, in column order. ``None``: every column is a player.
    feature_names : sequence of str
        The column names, in the model's order.

    Returns
    -------
    Players

    Raises
    ------
    InputError
        If ``feature_groups`` is not a dict, a group is empty, names an unknown
        column, or two groups share a column.
    """
    names = tuple(str(f) for f in feature_names)
    d = len(names)
    if feature_groups is None:
        return Players(names, tuple(np.array([j]) for j in range(d)), d, False)
    if not isinstance(feature_groups, Mapping):
        raise InputError(
            "feature_groups must be a dict mapping a group name to a list of columns, "
            f"got {type(feature_groups).__name__}; give e.g. {{'size': ['height', 'weight']}}."
        )
    owner: dict[int, str] = {}
    group_names: list[str] = []
    group_cols: list[np.ndarray] = []
    for gname, members in feature_groups.items():
        gname = str(gname)
        if isinstance(members, (str, int, np.integer)):
            members = [members]
        members = list(members)
        if not members:
            raise InputError(
                f"feature_groups[{gname!r}] is empty; give at least one column per group."
            )
        cols = []
        for m in members:
            if isinstance(m, (int, np.integer)) and not isinstance(m, bool):
                if not -d <= int(m) < d:
                    raise InputError(
                        f"feature_groups[{gname!r}] names column position {int(m)} but the "
                        f"data has {d} columns; use positions 0..{d - 1} or column names."
                    )
                j = int(m) % d
            else:
                if str(m) not in names:
                    raise InputError(
                        f"feature_groups[{gname!r}] names the column {m!r}, which is not one "
                        f"of the data's columns {list(names)[:10]}; fix the column name."
                    )
                j = names.index(str(m))
            if j in owner:
                raise InputError(
                    f"the column {names[j]!r} is in both feature_groups[{owner[j]!r}] and "
                    f"feature_groups[{gname!r}]; put each column in one group only."
                )
            owner[j] = gname
            cols.append(j)
        group_names.append(gname)
        group_cols.append(np.array(sorted(cols), dtype=np.intp))
    for j in range(d):
        if j not in owner:
            if names[j] in group_names:
                raise InputError(
                    f"the group name {names[j]!r} is also the name of a column in no group; "
                    "rename the group or put the column in a group."
                )
            group_names.append(names[j])
            group_cols.append(np.array([j], dtype=np.intp))
    return Players(tuple(group_names), tuple(group_cols), d, True)
