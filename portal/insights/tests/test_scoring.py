"""The seeds' scoring bands, at every boundary."""

from __future__ import annotations

import pytest

from portal.insights.questions import GROUPS, QUESTIONS, band_for


@pytest.mark.parametrize(
    ("yes", "label"),
    [
        (0, "Level 0"),
        (4, "Level 0"),
        (5, "Level 1"),
        (8, "Level 1"),
        (9, "Level 2"),
        (12, "Level 2"),
        (13, "Level 3-4"),
        (16, "Level 3-4"),
    ],
)
def test_each_band_starts_and_ends_where_the_seeds_say(yes, label):
    assert band_for(yes).label == label


@pytest.mark.parametrize("yes", [-1, 17])
def test_a_count_outside_the_checklist_is_refused(yes):
    with pytest.raises(ValueError, match="0 to 16"):
        band_for(yes)


def test_the_checklist_has_sixteen_questions_four_in_each_group():
    assert len(QUESTIONS) == 16
    for key, _ in GROUPS:
        assert sum(1 for q in QUESTIONS if q.group == key) == 4
