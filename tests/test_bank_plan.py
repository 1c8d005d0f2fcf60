"""Stable pseudonyms on hand-made clusterings: growth, merges, splits, retirement (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from linkage_service.bank.plan import plan_persons
from linkage_service.bank.pseudonyms import PSEUDONYM_PATTERN, check_pseudonym, new_pseudonym
from vinculo_common.errors import InputError


def _plan(old: list[int], new: list[int], live: list[int] | None = None):
    return plan_persons(old_person=np.array(old), new_label=np.array(new),
                        live_persons=live if live is not None else [p for p in old if p >= 0])


def test_untouched_person_keeps_its_id_when_records_join() -> None:
    plan = _plan([5, 5, -1, -1], [0, 0, 0, 1])
    assert plan.cluster_person == {0: 5, 1: None}
    assert not plan.merged and not plan.split and not plan.retired


def test_merge_keeps_the_larger_then_older_person() -> None:
    plan = _plan([5, 8, 8, 3], [0, 0, 0, 0])
    assert plan.cluster_person == {0: 8}
    assert plan.merged == {5: 0, 3: 0}
    tie = _plan([5, 3], [0, 0])
    assert tie.cluster_person == {0: 3} and tie.merged == {5: 0}


def test_split_gives_every_part_a_new_person() -> None:
    plan = _plan([5, 5, 5], [0, 0, 1])
    assert plan.cluster_person == {0: None, 1: None}
    assert plan.split == {5: [0, 1]}


def test_split_part_joining_a_whole_person_goes_to_that_person() -> None:
    plan = _plan([5, 5, 9], [0, 1, 1])
    assert plan.cluster_person == {0: None, 1: 9}
    assert plan.split == {5: [0, 1]} and not plan.merged


def test_person_without_current_records_is_retired() -> None:
    plan = _plan([5], [0], live=[5, 7])
    assert plan.retired == [7]


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(InputError):
        _plan([1, 2], [0])
    with pytest.raises(InputError):
        _plan([1], [-1])


def test_pseudonyms_are_random_and_well_formed() -> None:
    made = {new_pseudonym() for _ in range(2000)}
    assert len(made) == 2000
    assert all(PSEUDONYM_PATTERN.match(p) for p in made)
    assert check_pseudonym("P-ABCDEFGH23") == "P-ABCDEFGH23"
    with pytest.raises(InputError):
        check_pseudonym("P-1")
