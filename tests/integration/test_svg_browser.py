"""The exported SVG in a real headless Chromium: zoom, search, details, and hostile names inert."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.svg import (
    HOSTILE_NAMES,
    assert_no_markup_from_names,
    embedded_data,
    hostile_profile,
    parse_svg,
    py,
    sample_profile,
)
from workbench.formats.svg import write_svg
from workbench.model import CPU_NS, INUSE_SPACE, SAMPLES, Profile

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(offline=True)  # "self-contained": nothing may be fetched
    pg = context.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.errors, pg.dialogs = errors, dialogs
    try:
        yield pg
    finally:
        context.close()


def _frame_index(svg: Path, label_prefix: str) -> int:
    data = embedded_data(parse_svg(svg))
    frames, f = data["frames"], data["f"]
    return next(i for i, fi in enumerate(f) if frames[fi][0].startswith(label_prefix))  # type: ignore[index, union-attr, arg-type]


def _rect(page: Any, i: int) -> Any:
    return page.locator("#frames > g").nth(i).locator("rect")


def test_zoom_search_hover_and_reset(page: Any, tmp_path: Path) -> None:
    svg = tmp_path / "sample.svg"
    write_svg(sample_profile(), svg)
    page.goto(svg.as_uri())
    page.wait_for_function("window.flamegraph !== undefined")
    parse, expr, idle = (_frame_index(svg, n) for n in ("parse ", "expr ", "idle "))
    assert _rect(page, parse).get_attribute("width") == "590.0"  # 8 of 16 samples of 1180 px

    # hover shows the details line
    _rect(page, parse).hover()
    details = page.locator("#details").text_content()
    assert details.startswith("Function: parse (app.py:1), 8 samples (50.00%)"), details

    # click zooms: the frame spans the full width, its child scales, unrelated frames hide
    _rect(page, parse).click()
    assert _rect(page, parse).get_attribute("width") == "1180.0"
    assert _rect(page, expr).get_attribute("width") == "737.5"  # 5 of 8
    assert not page.locator("#frames > g").nth(idle).is_visible()
    assert page.locator("#unzoom").is_visible()
    assert page.evaluate("window.flamegraph.zoomed()") == parse

    # search through the Search button's prompt: a regex, then an invalid regex as a substring
    page.once("dialog", lambda d: d.accept("^(expr|term) "))
    page.locator("#search").click()
    assert page.locator("#matched").text_content() == "Matched: 50.0%"
    assert _rect(page, expr).get_attribute("fill") == "rgb(230,0,230)"
    page.locator("#search").click()  # now "Reset Search"
    assert page.locator("#matched").text_content().strip() == ""
    page.once("dialog", lambda d: d.accept("compress (zlib"))
    page.locator("#search").click()
    assert page.locator("#matched").text_content() == "Matched: 25.0%"

    # reset zoom restores the layout
    page.locator("#unzoom").click()
    assert _rect(page, parse).get_attribute("width") == "590.0"
    assert page.locator("#frames > g").nth(idle).is_visible()
    assert not page.locator("#unzoom").is_visible()
    assert page.errors == []


def test_view_is_kept_in_the_url(page: Any, tmp_path: Path) -> None:
    svg = tmp_path / "sample.svg"
    write_svg(sample_profile(), svg)
    parse = _frame_index(svg, "parse ")
    page.goto(svg.as_uri() + "?s=main")
    page.wait_for_function("window.flamegraph !== undefined")
    assert page.locator("#matched").text_content() == "Matched: 87.5%"
    _rect(page, parse).click()
    assert f"x={parse}" in page.url and "s=main" in page.url
    page.reload()  # a link to this URL shows the same view
    page.wait_for_function("window.flamegraph !== undefined")
    assert _rect(page, parse).get_attribute("width") == "1180.0"
    assert page.locator("#matched").text_content() == "Matched: 87.5%"
    page.locator("#unzoom").click()
    page.locator("#search").click()  # "Reset Search"
    assert "?" not in page.url
    assert page.errors == []


def test_hostile_names_run_no_script(page: Any, tmp_path: Path) -> None:
    svg = tmp_path / "hostile.svg"
    write_svg(hostile_profile(), svg, title=HOSTILE_NAMES[0])
    assert_no_markup_from_names(parse_svg(svg))

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(svg.as_uri())
    page.wait_for_function("window.flamegraph !== undefined")
    groups = page.locator("#frames > g")
    n = groups.count()
    assert n == 2 + 3 * len(HOSTILE_NAMES)  # root, main; each name under main, at the top, and its leaf
    # exercise every code path that touches a name: hover, zoom, search, reset; real mouse
    # input on a few boxes, DOM events (same listeners) on all of them
    for i in range(0, n, 9):
        groups.nth(i).locator("rect").hover()
        groups.nth(i).locator("rect").click()
        page.keyboard.press("Escape")
    page.evaluate(
        """() => document.querySelectorAll('#frames > g > rect').forEach(r => {
            for (const type of ['mouseover', 'click', 'mouseout']) r.dispatchEvent(new MouseEvent(type, {bubbles: true}));
        })"""
    )
    for term in ("script", "<img", "]]>", "{{7*7}}", "alert("):
        page.evaluate("t => window.flamegraph.search(t)", term)
    page.evaluate("window.flamegraph.resetSearch()")

    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    counts = page.evaluate(
        """() => ({
            scripts: document.getElementsByTagName('script').length,
            images: document.getElementsByTagName('img').length,
            foreign: document.getElementsByTagName('foreignObject').length,
            handlers: Array.from(document.querySelectorAll('*')).flatMap(
                e => Array.from(e.attributes).map(a => a.name)).filter(a => a.startsWith('on')).length,
        })"""
    )
    assert counts == {"scripts": 2, "images": 0, "foreign": 0, "handlers": 0}
    # the names are shown as text, verbatim (after control characters became U+FFFD)
    shown = page.evaluate("Array.from(document.querySelectorAll('#frames title')).map(t => t.textContent).join('\\n')")
    assert HOSTILE_NAMES[0] in shown and HOSTILE_NAMES[1] in shown and "{{7*7}}" in shown
    assert page.locator("#title").text_content() == HOSTILE_NAMES[0]
    assert page.errors == []


def test_zoom_adds_labels_to_boxes_too_narrow_for_one(page: Any, tmp_path: Path) -> None:
    p = Profile([SAMPLES], name="narrow")
    p.add_stack([py("main"), py("wide")], [1000])
    p.add_stack([py("main"), py("tiny")], [5])  # 5.9 px: no room for a label
    p.add_stack([py("main"), py("sliver")], [0.5])  # 0.59 px: no <title> in the file either
    svg = tmp_path / "narrow.svg"
    write_svg(p, svg)
    tiny = _frame_index(svg, "tiny ")
    group = page.locator("#frames > g").nth(tiny)
    page.goto(svg.as_uri())
    page.wait_for_function("window.flamegraph !== undefined")
    assert group.locator("text").count() == 0
    group.locator("rect").click()
    assert group.locator("text").text_content() == "tiny (app.py:1)"
    page.locator("#unzoom").click()
    assert group.locator("text").text_content() == ""

    sliver = page.locator("#frames > g").nth(_frame_index(svg, "sliver "))
    assert sliver.locator("title").count() == 0
    page.evaluate("i => window.flamegraph.zoom(i)", _frame_index(svg, "sliver "))
    sliver.locator("rect").hover()
    assert sliver.locator("title").text_content() == "sliver (app.py:1) (0.50 samples, 0.05%)"
    assert page.locator("#details").text_content().startswith("Function: sliver (app.py:1), 0.50 samples")
    assert page.errors == []


def test_details_use_the_sample_unit(page: Any, tmp_path: Path) -> None:
    p = Profile([CPU_NS, INUSE_SPACE], name="units")
    p.add_stack([py("main"), py("work")], [2_500_000_000, 3 << 20])
    p.add_stack([py("main")], [1_500, 512])
    for index, expected in ((0, "Function: all, 2.50 s (100.00%)"), (1, "Function: all, 3.00 MiB (100.00%)")):
        svg = tmp_path / f"units{index}.svg"
        write_svg(p, svg, sample_index=index)
        page.goto(svg.as_uri())
        page.wait_for_function("window.flamegraph !== undefined")
        _rect(page, 0).hover()
        assert page.locator("#details").text_content() == expected
    main = _frame_index(svg, "main ")
    _rect(page, main).hover()
    assert page.locator("#details").text_content().endswith("self 512 B")
    assert page.errors == []
