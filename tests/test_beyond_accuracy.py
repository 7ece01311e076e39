"""Coverage, long-tail share, ARP and Gini on hand-made top-K lists."""

import numpy as np
import pytest

from protocols.beyond_accuracy import (
    average_popularity,
    coverage,
    gini,
    long_tail_share,
    summarise_lists,
)

# 6 items; item 1 and 2 are the short head.
POP = np.array([0, 40, 30, 10, 10, 5, 5], dtype=float)
HEAD = np.array([False, True, True, False, False, False, False])
TOP = np.array([[1, 2, 3], [1, 4, 5], [2, 1, 3]])  # 3 users, top-3


def test_coverage_counts_distinct_items_over_the_catalogue():
    assert coverage(TOP, 3, 6) == pytest.approx(5 / 6)
    assert coverage(TOP, 1, 6) == pytest.approx(2 / 6)  # items 1 and 2


def test_long_tail_share_counts_slots_outside_the_short_head():
    assert long_tail_share(TOP, 3, HEAD) == pytest.approx(4 / 9)
    assert long_tail_share(TOP, 2, HEAD) == pytest.approx(1 / 6)


def test_arp_is_the_mean_over_users_of_mean_list_popularity():
    expected = np.mean([(40 + 30 + 10) / 3, (40 + 10 + 5) / 3, (30 + 40 + 10) / 3])
    assert average_popularity(TOP, 3, POP) == pytest.approx(expected)


def test_gini_of_equal_and_of_concentrated_recommendations():
    equal = np.array([[1, 2], [3, 4], [5, 6]])  # every item once
    assert gini(equal, 2, 6) == pytest.approx(0.0)
    one_item = np.array([[1], [1], [1]])
    assert gini(one_item, 1, 6) == pytest.approx(5 / 6)  # (n - 1) / n
    # counts: item 1 three times, 2 and 3 twice, 4 and 5 once, 6 never; sorted 0,1,1,2,2,3:
    # sum (2i - n - 1) c_i / (n sum c) = (-3 - 1 + 2 + 6 + 15) / (6 * 9)
    assert gini(TOP, 3, 6) == pytest.approx(19 / 54)


def test_summary_names_and_cut_offs_beyond_the_list_are_skipped():
    out = summarise_lists(TOP, (2, 3, 10), POP, HEAD)
    names = ("coverage", "long_tail", "ARP", "Gini", "top1%_share", "top10%_share")
    assert set(out) == {f"{m}@{k}" for m in names for k in (2, 3)}


def test_empty_slots_count_in_no_figure():
    # user 1 had two candidates only: its third slot is empty (-1), never padding or an item
    short = np.array([[1, 2, 3], [4, 5, -1], [2, 1, 3]])
    assert coverage(short, 3, 6) == pytest.approx(5 / 6)
    assert long_tail_share(short, 3, HEAD) == pytest.approx(4 / 8)  # of 8 filled slots
    expected = np.mean([(40 + 30 + 10) / 3, (10 + 5) / 2, (30 + 40 + 10) / 3])
    assert average_popularity(short, 3, POP) == pytest.approx(expected)
    # counts 2, 2, 2, 1, 1, 0 sorted 0,1,1,2,2,2: (-5*0 - 3 - 1 + 2 + 6 + 10) / (6 * 8)
    assert gini(short, 3, 6) == pytest.approx(14 / 48)


def test_share_of_slots_taken_by_the_most_recommended_items():
    from protocols.beyond_accuracy import top_items_share

    # counts at 3: item 1 three times, 2 and 3 twice, 4 and 5 once (9 slots, 6 items)
    assert top_items_share(TOP, 3, 6, 0.01) == pytest.approx(3 / 9)  # at least one item
    assert top_items_share(TOP, 3, 6, 0.5) == pytest.approx(7 / 9)  # the three most shown
    assert top_items_share(np.full((2, 3), -1), 3, 6, 0.1) == 0.0  # nothing recommended
