"""Mutation-driven tests for pipeline/planning/grouping.py's fps_label (issue 18): whole rates
are printed from the fraction's numerator, exactly, not via a rounded float."""

from __future__ import annotations

from pipeline.planning.grouping import fps_label


def test_whole_frame_rates_print_their_exact_numerator():
    assert fps_label("0/1") == "0"
    assert fps_label("12345678901234567891/1") == "12345678901234567891"  # beyond float's 53 bits
    assert fps_label("50/2") == "25"  # reduced by Fraction first


def test_fractional_rates_print_two_decimals_without_trailing_zeros():
    assert fps_label("30000/1001") == "29.97"
    assert fps_label("25/2") == "12.5"
