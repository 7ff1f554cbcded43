"""Planning helpers that mutation testing (scripts/mutation.sh pipeline/planning/grouping.py)
found loosely tested: the 10% merge rule (measured against the group's smallest, as a share of
the larger value, boundary included), the -2/-3 suffixes of repeated names and fps labels."""

from __future__ import annotations

from pipeline.planning.grouping import MERGE_TOLERANCE, cluster, fps_label, uniquify


def _kbps(values: list[int]) -> list[list[int]]:
    return cluster(values, key=lambda v: v)


def test_merge_tolerance_is_ten_percent():
    assert MERGE_TOLERANCE == 0.10


def test_exactly_ten_percent_of_the_larger_value_still_merges():
    # 100 - 90 = 10 = 10% of 100: the boundary is inclusive.
    assert _kbps([90, 100]) == [[90, 100]]
    # 112 - 100 = 12 > 11.2: two encodes.
    assert _kbps([100, 112]) == [[100], [112]]


def test_tolerance_is_a_share_of_the_larger_value_not_the_smaller():
    # 111 - 100 = 11: more than 10% of 100, but within 10% of 111.
    assert _kbps([100, 111]) == [[100, 111]]


def test_members_are_compared_with_the_group_smallest_not_the_last_added():
    # 109 joins 100; 118 is 18 above 100 (> 11.8) although only 9 above 109.
    assert _kbps([100, 109, 118]) == [[100, 109], [118]]
    assert _kbps([100, 105, 111]) == [[100, 105, 111]]


def test_items_are_sorted_by_key_and_keep_their_payload():
    pairs = [(300, "c"), (128, "a"), (130, "b")]
    assert cluster(pairs, key=lambda p: p[0]) == [[(128, "a"), (130, "b")], [(300, "c")]]
    assert cluster([], key=lambda v: v) == []


def test_repeated_names_get_numbered_suffixes_from_two():
    assert uniquify(["a", "a", "a", "b"]) == ["a", "a-2", "a-3", "b"]


def test_a_suffix_that_is_already_taken_is_skipped():
    assert uniquify(["a-2", "a", "a"]) == ["a-2", "a", "a-3"]
    assert uniquify(["a", "a", "a-2"]) == ["a", "a-2", "a-2-2"]


def test_fps_labels_drop_the_denominator_or_keep_two_decimals():
    assert fps_label("30/1") == "30"
    assert fps_label("60/2") == "30"
    assert fps_label("30000/1001") == "29.97"
    assert fps_label("60000/1001") == "59.94"
    assert fps_label("24000/1001") == "23.98"  # 23.976 rounded to two places
    assert fps_label("25/2") == "12.5"  # trailing zero dropped
