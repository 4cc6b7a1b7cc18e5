"""The static leaderboard page: checked as text, then driven in headless Chromium (Debian's `chromium`).

The browser test is skipped, with a message, where playwright or Chromium is missing; CI installs both.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from compbench.leaderboard.pareto import Point, frontier, to_svg
from compbench.leaderboard.site import build_leaderboard
from compbench.leaderboard.store import init_store
from compbench.leaderboard.submit import submit
from compbench.tasks import MAIN_SUBTASKS
from tests.support.leaderboard_factory import make_release, write_results_dir

QWEN, LLAMA = "qwen2.5-1.5b", "llama-3.2-1b"
SCRIPT = "<script>alert('page')</script>"
PLAN = {"zero-shot": 0, "linear": 2, "lc": 3, "lc++": 4, "multi-step": 4}
CHROMIUM = os.environ.get("COMPBENCH_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("page")
    release, rows = make_release(tmp / "release", subtasks=MAIN_SUBTASKS)
    store = tmp / "store"
    init_store(store, str(release), bootstrap=100)
    for model in (QWEN, LLAMA):
        for method, k in PLAN.items():
            d = write_results_dir(tmp / "runs" / f"{method}-{model}", release, rows, method, model,
                                  lambda s, k=k: k, bootstrap=100)
            submit(d, store, workers=1)
    hostile = write_results_dir(tmp / "runs" / "hostile", release, rows, "ties", "evil/" + SCRIPT, lambda s: 1,
                                bootstrap=100, authors=[SCRIPT, '<img src=x onerror="alert(2)">'],
                                description=SCRIPT)
    submit(hostile, store, workers=1)
    return build_leaderboard(store, tmp / "site")


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _inline(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)


def test_page_is_self_contained(site):
    html = (site.out / "index.html").read_text()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html).group(1)
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        (body,) = _inline(html, tag)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp
    tags = _tags(html)
    assert not [t for t in tags if t[0] in ("img", "link", "iframe", "object", "embed", "audio", "video", "base")]
    assert not [t for t in tags if {"src", "srcset", "style", "onerror", "onload", "onclick"} & set(t[1])]
    assert [t[0] for t in tags].count("script") == 2 and [t[0] for t in tags].count("style") == 1
    assert "@import" not in html and "url(" not in _inline(html, "style")[0]
    data = re.search(r'<script type="application/json" id="leaderboard-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in data and ">" not in data
    document = json.loads(data)
    (group,) = document["groups"]
    assert len(group["entries"]) == 2 * len(PLAN) + 1
    assert {e["base_model"] for e in group["entries"]} >= {"evil/" + SCRIPT}
    assert group["marks"][""]["sum+tr"]["leader"].startswith("multi-step__")
    assert any(t.startswith("lc++__") for t in group["marks"][""]["sum+tr"]["tied"])
    # One plot per filter state: (all models + each model) x (the mean + each family).
    assert html.count('<figure class="pareto"') == (len(group["models"]) + 1) * (len(group["targets"]) + 1) == 20
    assert (site.out / "figures" / f"pareto-{group['id']}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (site.out / "figures" / f"pareto-{group['id']}.svg").read_text().lstrip().startswith("<?xml")


def test_pareto_frontier_and_svg():
    points = [Point("a", "A", 0.0, 10.0), Point("b", "B", 0.0, 12.0), Point("c", "C", 0.05, 11.0),
              Point("d", "D", 0.3, 20.0), Point("e", "E", 57.1, 19.0)]
    assert [p.key for p in frontier(points)] == ["b", "d"]
    svg = to_svg(points, "t <x>", "Mean", "pareto-test")
    assert svg.count("<circle") == 5 and svg.count("on-frontier") == 2
    assert re.search(r'<path class="frontier" d="M [\d.]+ [\d.]+ H [\d.]+ V [\d.]+"/>', svg)
    assert "<title>t &lt;x&gt;</title>" in svg


@pytest.fixture()
def playwright_api():
    """Playwright's sync API, or a skip saying what is missing (checked before the site is built)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (Debian), or set COMPBENCH_CHROMIUM")
    return sync_playwright


@pytest.mark.slow
def test_page_in_headless_chromium(playwright_api, site, tmp_path):
    external, problems, dialogs = [], [], []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    with playwright_api() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                       headless=True, args=FLAGS,
                                                       viewport={"width": 1400, "height": 1000})
        try:
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else external.append(r.url))
            page.goto((site.out / "index.html").as_uri())
            _drive(page, tmp_path)
        finally:
            context.close()
    assert external == [], f"the page asked another origin for {external}"
    assert problems == [], problems
    assert dialogs == [], "submitted text ran as script"


def _entries(page) -> list[str]:
    return page.eval_on_selector_all("#board-table tbody tr", "rows => rows.map(r => r.dataset.entry)")


def _column(page, key: str) -> list[str]:
    index = page.eval_on_selector_all("#board-table thead th", f"hs => hs.findIndex(h => h.dataset.key === '{key}')")
    return page.eval_on_selector_all("#board-table tbody tr",
                                     f"rows => rows.map(r => r.children[{index}].textContent)")


def _drive(page, tmp_path: Path) -> None:
    page.wait_for_selector("#board-table tbody tr")
    everyone = _entries(page)
    assert len(everyone) == 2 * len(PLAN) + 1
    # Sorting: a family column, descending then ascending.
    page.click('#board-table th[data-key="score:sum+tr"]')
    descending = _entries(page)
    values = [float(re.match(r"[\d.]+", v).group()) for v in _column(page, "score:sum+tr")]
    assert values == sorted(values, reverse=True) and values[0] == 100.0
    page.click('#board-table th[data-key="score:sum+tr"]')
    ascending = _entries(page)
    assert ascending != descending and ascending[0].startswith("zero-shot__")
    values = [float(re.match(r"[\d.]+", v).group()) for v in _column(page, "score:sum+tr")]
    assert values == sorted(values)
    # Tie marks: the leader in bold, lc++ tied with multi-step (identical per-example scores).
    assert page.locator("td.leader").count() >= 1
    tied = page.locator("td.tied")
    assert tied.count() >= 1 and "≈" in tied.first.text_content()
    # Filtering by base model.
    page.select_option("#model-filter", LLAMA)
    llama = _entries(page)
    assert len(llama) == len(PLAN) and all(LLAMA in e for e in llama)
    assert set(_column(page, "model")) == {LLAMA}
    # Filtering by family: only that family's columns, and the Pareto plot follows.
    page.select_option("#family-filter", "reply+tone")
    keys = page.eval_on_selector_all("#board-table thead th", "hs => hs.map(h => h.dataset.key)")
    assert "score:reply+tone" in keys and "score:sum+tr" not in keys and "score:mean" not in keys
    visible = page.locator("figure.pareto:not([hidden])")
    assert visible.count() == 1
    assert visible.get_attribute("data-measure") == "reply+tone" and visible.get_attribute("data-model") == LLAMA
    assert visible.locator("circle").count() == len(PLAN)
    page.select_option("#model-filter", "")
    page.select_option("#family-filter", "")
    assert len(_entries(page)) == len(everyone)
    # The detail view of the hostile entry: its text shown as text, no script run.
    page.click('#board-table tr[data-entry^="ties__"] button.entry-link')
    page.wait_for_selector("#detail:not([hidden])")
    meta = page.text_content("#detail-meta")
    assert SCRIPT in meta and '<img src=x onerror="alert(2)">' in meta
    assert page.locator("#detail-meta img, #detail-meta script").count() == 0
    assert page.locator("#detail-table tbody tr").count() == len(MAIN_SUBTASKS)
    assert page.locator("#detail-table tbody tr").first.locator("th").text_content() == "sum+tr-es"
    shot = tmp_path / "leaderboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
