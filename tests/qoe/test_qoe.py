"""QoE from CMCD, the pure parts: parsing every transmission form (RFC 8941 via http_sf), the
per-session fold into one-minute windows, the KPIs and the alarm thresholds."""

from __future__ import annotations

import pytest

from qoe import alarms, cmcd
from qoe.kpi import MAX_GAP_MS, WINDOW_MS, ended, fold, kpis, split_interval, window_of

T0 = 1_800_000_000_000 - 1_800_000_000_000 % WINDOW_MS  # a minute boundary, in ms


# -- parsing ---------------------------------------------------------------------------------


def test_query_form_v1_keys() -> None:
    [r] = cmcd.from_query(['br=3200,bs,cid="faith",d=4004,mtp=25400,ot=v,sf=d,sid="6e2f",su,v=1'])
    assert r == {
        "br": 3200,
        "bs": True,
        "cid": "faith",
        "d": 4004,
        "mtp": 25400,
        "ot": "v",
        "sf": "d",
        "sid": "6e2f",
        "su": True,
        "v": 1,
    }


def test_header_form_merges_the_four_headers() -> None:
    headers = {
        "cmcd-object": "br=3200,d=4004,ot=v",
        "CMCD-Request": "mtp=25400,su",
        "CMCD-Session": 'cid="faith",sid="6e2f"',
        "CMCD-Status": "bs,rtp=15000",
        "Accept": "*/*",
    }
    [r] = cmcd.from_headers(headers)
    assert r["sid"] == "6e2f" and r["bs"] is True and r["rtp"] == 15000 and r["su"] is True
    assert cmcd.from_headers({"Accept": "*/*"}) == []


def test_event_body_v2_inner_lists_tokens_and_custom_keys() -> None:
    body = (
        b'br=(1243),e=bc,sf=d,sid="abc",sn=1,st=v,ts=1796235505199,v=2\n\n'
        b'e=ps,sta=p,msd=818,sid="abc",com.example-cdn="edge7",zz=1\n'
    )
    first, second = cmcd.from_body(body)
    assert first["br"] == [1243] and cmcd.bitrate_kbps(first) == 1243.0
    assert first["e"] == "bc" and first["ts"] == 1796235505199
    assert second == {
        "e": "ps",
        "sta": "p",
        "msd": 818,
        "sid": "abc",
        "com.example-cdn": "edge7",
    }  # the unknown key `zz` is dropped


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: cmcd.from_query(["br=((("]), "CMCD query argument"),
        (lambda: cmcd.from_headers({"CMCD-Object": "br=,"}), "CMCD-Object header"),
        (lambda: cmcd.from_body(b'sid="ok"\n\xff\xfe'), "not UTF-8"),
        (lambda: cmcd.from_body(b'sid="a"\nbr=1,,\n'), "CMCD line 2"),
        (lambda: cmcd.from_query([f'sid="{"x" * 65}"']), "sid must be a string"),
        (lambda: cmcd.from_query(["sid=5"]), "sid must be a string"),
        (lambda: cmcd.from_body(b'sid="a"\n' * 201), "max 200"),
        (lambda: cmcd.from_query(["br=" + "9" * 9000]), "longer than"),
    ],
)
def test_malformed_reports_say_what_and_where(call, message: str) -> None:
    with pytest.raises(cmcd.CmcdError, match=message):
        call()


# -- the fold --------------------------------------------------------------------------------


def run(reports: list[tuple[int, dict]], sid: str = "s1") -> dict[int, dict[str, float]]:
    """Fold (offset ms, report) pairs from T0; summed counters per window."""
    state = None
    windows: dict[int, dict[str, float]] = {}
    for offset, report in reports:
        out = fold(state, sid, report, T0 + offset)
        state = out.state
        for w, counter, amount in out.contributions:
            windows.setdefault(w, {}).setdefault(counter, 0.0)
            windows[w][counter] += amount
    return windows


def test_watch_with_one_stall_and_a_bitrate_switch() -> None:
    w = run(
        [
            (0, {"e": "ps", "sta": "s"}),
            (800, {"e": "ps", "sta": "p", "br": [3000]}),  # started after 800 ms
            (10_800, {"e": "ps", "sta": "r", "br": [1500]}),  # 10 s played at 3000 kbps
            (12_800, {"e": "ps", "sta": "p"}),  # 2 s stalled
            (20_800, {"e": "ps", "sta": "q"}),  # 8 s played at 1500 kbps
        ]
    )[T0]
    k = kpis(w)
    assert k["video_starts"] == 1 and k["video_start_time_ms"] == 800
    assert k["watch_ms"] == 20_000 and k["rebuffering_ratio"] == 2_000 / 20_000
    assert k["average_bitrate_kbps"] == round((3000 * 10_000 + 1500 * 8_000) / 18_000, 1)
    assert k["exits_before_video_start"] == 0 and k["playback_failures"] == 0
    assert k["sessions"] == 1 and k["reports"] == 5


def test_start_up_stall_is_start_time_not_rebuffering() -> None:
    k = kpis(run([(0, {"sta": "r"}), (2_500, {"sta": "p"}), (6_500, {"sta": "p"})])[T0])
    assert k["video_start_time_ms"] == 2_500 and k["rebuffering_ratio"] == 0.0
    assert k["watch_ms"] == 4_000


def test_measured_start_delay_wins_and_samples_without_sta_keep_playing() -> None:
    # shaka's periodic `t` events: no sta, msd once playback has begun.
    k = kpis(
        run(
            [
                (0, {"e": "t"}),
                (2_000, {"e": "t", "msd": 900, "br": [2138]}),
                (4_000, {"e": "t"}),
                (6_000, {"e": "t"}),
            ]
        )[T0]
    )
    assert k["video_start_time_ms"] == 900 and k["watch_ms"] == 4_000
    assert k["average_bitrate_kbps"] == 2138


def test_exit_before_start_and_failure_are_counted_once() -> None:
    exits = kpis(run([(0, {"sta": "s"}), (3_000, {"sta": "q"}), (3_100, {"sta": "q"})])[T0])
    assert exits["exits_before_video_start"] == 1 and exits["video_starts"] == 0
    assert exits["exits_before_video_start_ratio"] == 1.0
    fails = kpis(run([(0, {"sta": "s"}), (500, {"e": "e", "ec": "3016"}), (600, {"sta": "f"})])[T0])
    assert fails["playback_failures"] == 1 and fails["exits_before_video_start"] == 0
    assert fails["playback_failure_ratio"] == 1.0


def test_released_session_is_an_exit_before_start() -> None:
    first = fold(None, "s", {"sta": "s"}, T0)
    out = ended(first.state, "s", T0 + 4_000)
    assert (T0, "exits_before_start", 1) in out.contributions


def test_time_is_split_at_minute_boundaries_and_gaps_are_capped() -> None:
    assert split_interval(T0 - 5_000, T0 + 5_000) == [(T0 - WINDOW_MS, 5_000), (T0, 5_000)]
    assert split_interval(T0, T0) == []
    w = run([(-5_000, {"sta": "p", "msd": 100}), (5_000, {"sta": "p"})])
    assert w[T0 - WINDOW_MS]["play_ms"] == 5_000 and w[T0]["play_ms"] == 5_000
    w = run([(0, {"sta": "p", "msd": 100}), (MAX_GAP_MS * 3, {"sta": "p"})])
    assert sum(v.get("play_ms", 0) for v in w.values()) == MAX_GAP_MS
    assert window_of(T0 + 59_999) == T0 and window_of(T0 + 60_000) == T0 + WINDOW_MS


def test_each_session_counts_once_per_window() -> None:
    w = run([(0, {"sta": "p", "msd": 1}), (1_000, {}), (61_000, {})])
    assert w[T0]["sessions"] == 1 and w[T0 + WINDOW_MS]["sessions"] == 1


# -- thresholds ------------------------------------------------------------------------------

REBUF = next(t for t in alarms.DEFAULT_THRESHOLDS if t.indicator == "rebuffering_ratio")


@pytest.mark.parametrize(
    "ratio, watch_ms, is_open, expected",
    [
        (0.20, 60_000, False, "raise"),
        (0.20, 5_000, False, None),  # too little watched to judge
        (0.20, 60_000, True, "update"),  # already open: refresh it
        (0.02, 60_000, True, "update"),  # hysteresis: between clear and raise it stays
        (0.005, 60_000, True, "clear"),
        (0.005, 60_000, False, None),
        (None, 0, True, None),
    ],
)
def test_rebuffering_threshold_with_hysteresis(ratio, watch_ms, is_open, expected) -> None:
    values = {"rebuffering_ratio": ratio, "watch_ms": watch_ms}
    assert alarms.verdict(REBUF, values, is_open) == expected


def test_threshold_description() -> None:
    assert REBUF.describe(0.125) == "rebuffering ratio 12.5% above 3.0%"
    vst = next(t for t in alarms.DEFAULT_THRESHOLDS if t.unit == "ms")
    assert vst.describe(5123) == "video start time 5123 ms above 4000 ms"
