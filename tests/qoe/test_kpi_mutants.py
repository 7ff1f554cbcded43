"""The KPI fold's edges that mutation testing (scripts/mutation.sh qoe/kpi.py) found untested:
stalls, each failure signal on its own, a zero start delay, non-string states, the released
session's own time, exact rounding, and the session state's JSON round trip."""

from __future__ import annotations

from qoe.kpi import SessionQoe, ended, fold, kpis
from tests.qoe.test_qoe import T0, run


def test_buffer_starvation_counts_a_stall_only_once_started() -> None:
    w = run(
        [
            (0, {"sta": "s", "bs": True}),  # start-up: not a stall
            (1_000, {"sta": "p"}),
            (2_000, {"sta": "r", "bs": True}),
            (3_000, {"sta": "p"}),  # playing without bs: not a stall
            (4_000, {"sta": "r", "bs": "yes"}),  # only the boolean flag counts
        ]
    )[T0]
    assert w["stalls"] == 1
    assert kpis(w)["stalls"] == 1


def test_a_fatal_state_alone_is_a_failure() -> None:
    k = kpis(run([(0, {"sta": "s"}), (500, {"sta": "f"})])[T0])
    assert k["playback_failures"] == 1 and k["playback_failure_ratio"] == 1.0


def test_an_error_event_alone_is_a_failure() -> None:
    k = kpis(run([(0, {"sta": "s"}), (500, {"e": "e"})])[T0])
    assert k["playback_failures"] == 1
    other = kpis(run([(0, {"sta": "s"}), (500, {"e": "ps", "sta": "F"})])[T0])
    assert other["playback_failures"] == 0


def test_a_zero_measured_start_delay_is_a_start_of_zero_ms() -> None:
    w = run([(0, {"e": "t"}), (5_000, {"e": "t", "msd": 0}), (7_000, {"e": "t"})])[T0]
    k = kpis(w)
    assert k["video_starts"] == 1 and k["video_start_time_ms"] == 0.0
    assert k["watch_ms"] == 2_000


def test_the_session_state_counts_its_reports_and_keeps_its_id() -> None:
    out = fold(None, "s7", {"sta": "s"}, T0)
    assert out.state.sid == "s7" and out.state.reports == 1 and out.state.state_ms == T0
    out = fold(out.state, "s7", {"sta": "p"}, T0 + 10)
    out = fold(out.state, "s7", {}, T0 + 20)
    assert out.state.reports == 3


def test_a_non_string_state_is_ignored() -> None:
    first = fold(None, "s", {"sta": "p"}, T0)
    odd = fold(first.state, "s", {"sta": ["r"]}, T0 + 1_000)
    assert odd.state.state == "p"
    last = fold(odd.state, "s", {"sta": 7}, T0 + 3_000)
    assert last.state.state == "p"
    assert (T0, "play_ms", 2_000) in last.contributions


def test_release_credits_the_played_time_of_that_session() -> None:
    first = fold(None, "s", {"sta": "p"}, T0)
    out = ended(first.state, "other-id-ignored", T0 + 3_000)
    assert (T0, "play_ms", 3_000) in out.contributions
    assert out.state.sid == "s" and out.state.state == "q"
    fresh = ended(None, "s9", T0)
    assert fresh.state.sid == "s9" and (T0, "exits_before_start", 1) in fresh.contributions


def test_kpis_round_ratios_to_six_places_and_start_time_to_one() -> None:
    k = kpis({"rebuffer_ms": 1, "play_ms": 2, "starts": 2, "start_ms": 1_001, "stalls": 3})
    assert k["rebuffering_ratio"] == 0.333333
    assert k["video_start_time_ms"] == 500.5
    assert k["stalls"] == 3
    assert kpis({"starts": 3, "start_ms": 1_000})["video_start_time_ms"] == 333.3


def test_session_state_round_trips_through_json() -> None:
    state = fold(None, "s", {"sta": "p", "br": [900]}, T0).state
    data = state.to_json()
    assert data["sid"] == "s" and data["started"] is True
    assert SessionQoe.from_json({**data, "unknown": 1}) == state
