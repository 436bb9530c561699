"""SVG plots of the stats (:mod:`provdb.answers.plots`): pure functions of dataclasses."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from provdb.answers.plots import durations_svg, timeline_svg
from provdb.answers.stats import ActivityRow, GroupStats

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \"q\""
T0 = dt.datetime(2020, 1, 18, 1, 0, 0)


def _parse(svg: str) -> etree._Element:
    root = etree.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    w, h = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {w:.0f} {h:.0f}"
    for text in root.iter(f"{SVG}text"):  # every label starts inside the drawing
        assert 0 <= float(text.get("x")) <= w and 0 <= float(text.get("y")) <= h
    return root


def _act(i: int, name: str, start_s: float, dur: float | None, state: str = "completed"):
    start = T0 + dt.timedelta(seconds=start_s)
    return ActivityRow(
        id=f"a{i}",
        name=name,
        night="20200117",
        run="20200117_01807",
        start=start,
        end=None if dur is None else start + dt.timedelta(seconds=dur),
        duration_s=dur,
        state=state,
        status="error" if state == "failed" else None,
        exit_code=1 if state == "failed" else None,
    )


def _group(name: str, med: float, p95: float, mx: float, failed: int = 0) -> GroupStats:
    return GroupStats(name, 10, 10 - failed, failed, 0, med, p95, mx, 10 * med, T0, T0)


def test_durations_one_row_per_group_links_and_escapes() -> None:
    groups = [_group("r0_to_dl1", 60, 120, 300, failed=2), _group(HOSTILE, 1, 2, 3)]
    svg = durations_svg(groups, href=lambda g: f"/ui/stats?step={g}&x=1")
    root = _parse(svg)
    assert "<script>" not in svg
    assert len(root.findall(f".//{SVG}rect[@class='bar']")) == 2
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert links == ["/ui/stats?step=r0_to_dl1&x=1", f"/ui/stats?step={HOSTILE}&x=1"]
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert any("2 failed" in t for t in texts)
    # the p95 bar of r0_to_dl1 is 120/300 of the longest whisker
    bar = root.findall(f".//{SVG}rect[@class='bar']")[0]
    group = root.findall(f".//{SVG}g[@class='group']")[0]
    whisker_end = max(float(x.get("x2")) for x in group.findall(f"{SVG}line"))
    x0 = float(bar.get("x"))
    assert float(bar.get("width")) == pytest.approx((whisker_end - x0) * 120 / 300, abs=0.2)


def test_long_labels_are_cut_inside_the_drawing() -> None:
    svg = durations_svg([_group("x" * 200, 1, 2, 3)], max_label=20)
    root = _parse(svg)
    label = next(t for t in root.iter(f"{SVG}text") if "x" * 10 in "".join(t.itertext()))
    assert label.text == "x" * 19 + "…"
    assert float(label.get("x")) < float(root.get("width")) / 2


def test_timeline_one_bar_per_activity_with_tooltip_and_link() -> None:
    rows = [
        _act(1, "r0_to_dl1", 0, 100),
        _act(2, "r0_to_dl1", 50, 20, "failed"),
        _act(3, HOSTILE, 30, None, "never_ended"),
    ]
    svg = timeline_svg(rows, href=lambda i: f"/ui/activity/{i}")
    root = _parse(svg)
    assert "<script>" not in svg
    bars = root.findall(f".//{SVG}rect")
    bars = [b for b in bars if (b.get("class") or "").startswith("bar")]
    assert len(bars) == 3
    assert {b.get("class") for b in bars} == {"bar completed", "bar failed", "bar never_ended"}
    tips = ["".join(b.find(f"{SVG}title").itertext()) for b in bars]
    assert any(t.startswith("a2 r0_to_dl1: 20.0 s, error (exit code 1)") for t in tips)
    assert any("never ended" in t for t in tips)
    assert sorted(a.get("href") for a in root.iter(f"{SVG}a")) == [
        "/ui/activity/a1", "/ui/activity/a2", "/ui/activity/a3"
    ]  # fmt: skip
    # the never-ended bar runs to the last timestamp (end of a1 at 100 s) with a marker
    (open_bar,) = [b for b in bars if b.get("class") == "bar never_ended"]
    done = next(b for b in bars if b.get("class") == "bar completed")
    assert float(open_bar.get("x")) + float(open_bar.get("width")) == pytest.approx(
        float(done.get("x")) + float(done.get("width")), abs=0.05
    )
    assert len(root.findall(f".//{SVG}path[@class='open-marker']")) == 1


def test_overlapping_activities_get_sub_rows() -> None:
    # a0 and a1 overlap, a2 starts when a0 ends (reuses a0's row), a3 overlaps all three
    rows = [
        _act(0, "r0_to_dl1", 0, 10),
        _act(1, "r0_to_dl1", 5, 20),
        _act(2, "r0_to_dl1", 10, 5),
        _act(3, "r0_to_dl1", 6, 30),
    ]
    root = _parse(timeline_svg(rows))
    y = {
        r.find(f"{SVG}title").text.split()[0]: float(r.get("y"))
        for r in root.iter(f"{SVG}rect")
        if r.get("class") == "bar completed"
    }
    assert y["a0"] == y["a2"]
    assert len({y["a0"], y["a1"], y["a3"]}) == 3
    # sequential activities share one row
    root = _parse(timeline_svg([_act(i, "dl1ab", 10 * i, 10) for i in range(5)]))
    ys = {r.get("y") for r in root.iter(f"{SVG}rect") if r.get("class") == "bar completed"}
    assert len(ys) == 1


def test_timeline_bins_a_crowded_lane_and_says_so() -> None:
    rows = [_act(i, "dl1ab", i * 2.0, 30) for i in range(1000)]
    rows.append(_act(5000, "dl1ab", 100, 10, "failed"))
    rows += [_act(6000 + i, "drs4_pedestal", i, 1) for i in range(3)]
    svg = timeline_svg(rows, max_bars=300, bins=50)
    root = _parse(svg)
    bins = root.findall(f".//{SVG}rect[@class='bin']")
    assert 0 < len(bins) <= 50
    classes = [r.get("class") for r in root.iter(f"{SVG}rect")]
    assert classes.count("bar failed") == 1  # the failure is still drawn on its own
    assert classes.count("bar completed") == 3  # the small lane keeps its bars
    notes = ["".join(t.itertext()) for t in root.findall(f".//{SVG}text[@class='note']")]
    assert notes == [
        "dl1ab: 1,001 activities drawn as density in 50 time bins, "
        "1 failed or never ended drawn one by one"
    ]
    # the bins' counts: the busiest bin holds the most activities running at once
    counts = [int("".join(b.find(f"{SVG}title").itertext()).split()[0]) for b in bins]
    assert max(counts) >= 15 and min(counts) >= 1


def test_many_binned_lanes_share_one_note() -> None:
    rows = [_act(1000 * k + i, f"run{k}", i, 5) for k in range(5) for i in range(40)]
    root = _parse(timeline_svg(rows, lane_by="step", max_bars=30, bins=10))
    notes = ["".join(t.itertext()) for t in root.findall(f".//{SVG}text[@class='note']")]
    assert notes == [
        "5 lanes of more than 30 activities (run0 .. run4) drawn as density in 10 time bins"
    ]


def test_empty_inputs_give_valid_svg() -> None:
    _parse(durations_svg([]))
    _parse(timeline_svg([]))
