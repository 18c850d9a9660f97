"""The live dashboard in a real browser: Debian's headless Chromium, driven by Selenium,
loads ``/dashboard#key=...`` from a real ``stream-app api`` process on the session's
servers and must chart live figures without a console error.

Chromium comes from Debian's ``chromium`` and ``chromium-driver`` packages (``make test``
installs them when missing and run as root); without them this test skips and says so.
The browser may only resolve 127.0.0.1, so the page is shown to work offline (no CDN)
and Chromium's own background services cannot reach out.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from stream_app.devstack.ports import free_port
from stream_app.devstack.processes import ManagedProcess
from stream_app.devstack.workers import api_process
from stream_app.settings import Settings
from tests.integration.api_support import admin_key, customer_with_a_timeline
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import dumps, event, produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCREENSHOT = Path(ARTIFACTS) / "dashboard.png"
CUSTOMER_SCREENSHOT = Path(ARTIFACTS) / "customer-view.png"
#: What the funnel and retention panels show (``static/funnel.js``), once they have data.
FUNNEL = """
const f = window.dashboardFunnel;
if (!f || !f.funnel || !f.funnel.total.stages.acquisition) return null;
return {acquired: f.funnel.total.stages.acquisition, cohorts: f.cohorts.cohorts.length};
"""
CONSOLE = Path(ARTIFACTS) / "logs" / "dashboard-console.json"
T = TypeVar("T")

#: Headless, as root in a container, and quiet: no background services, no name but
#: 127.0.0.1 resolves (so nothing off this machine is ever contacted).
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--window-size=1440,1500",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-extensions",
    "--disable-client-side-phishing-detection",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)

#: What the page charted, read from Chart.js itself (not only the page's own state).
CHARTED = """
const points = (id) => Chart.getChart(id).data.datasets.flatMap((d) => d.data);
const d = window.dashboard;
return d && d.latest && {
  polls: d.polls,
  failures: d.failures,
  status: d.status,
  applied: d.latest.events.applied,
  lag: d.latest.lag.total,
  workersUp: d.latest.workers.filter((w) => w.up).length,
  throughput: points("chart-throughput"),
  latency: points("chart-latency"),
  decisions: points("chart-decisions"),
  loginShown: !document.getElementById("login").hidden,
};
"""


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed: `make test` installs "
            "them when run as root, else `apt-get install chromium chromium-driver`"
        )
    return browser, driver


@pytest.fixture(scope="module")
def api(settings: Settings, worker: ManagedProcess) -> Iterator[tuple[str, ManagedProcess]]:
    """A real ``stream-app api`` child on a free port, on the session's servers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = api_process(settings, Path(ARTIFACTS) / "logs", port)
    with process:
        process.wait_ready(lambda: httpx.get(f"{base}/health").status_code == 200, timeout=60)
        yield base, process


@pytest.fixture(scope="module")
def browser(
    chromium: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebDriver]:
    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tmp_path_factory.mktemp("chromium")
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    log = Path(ARTIFACTS) / "logs" / "chromedriver.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    service = webdriver.ChromeService(executable_path=driver_path, log_output=str(log))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


async def views(settings: Settings, n: int) -> None:
    """``n`` product views by a few fresh customers, timestamped now."""
    run = uuid.uuid4().hex[:8]
    records = []
    for i in range(n):
        customer = f"dash-{run}-{i % 5}"
        view = event(
            "product_view", customer, f"e-{run}-{i}", item_id="sku-1", category="books", price=9.0
        )
        records.append((customer.encode(), dumps(view)))
    await produce(settings, settings.topics.clickstream, records)


def wait_for(read: Callable[[], T], ok: Callable[[T], bool], within: float) -> T:
    deadline = time.monotonic() + within
    value = read()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.25)
        value = read()
    return value


def test_dashboard_charts_live_data_without_console_errors(
    settings: Settings, api: tuple[str, ManagedProcess], browser: WebDriver
) -> None:
    base, process = api
    token = asyncio.run(admin_key(settings))
    asyncio.run(views(settings, 20))

    browser.get(f"{base}/dashboard#key={token}")

    def charted() -> dict[str, Any]:
        found: dict[str, Any] | None = browser.execute_script(CHARTED)
        return found or {}

    first = wait_for(charted, lambda s: s.get("polls", 0) >= 1, within=15)
    assert first.get("polls", 0) >= 1, f"no snapshot charted: {first}"
    assert not first["loginShown"], "a key in the fragment must open the dashboard"
    assert "key=" not in browser.current_url, "the key leaves the address bar"

    asyncio.run(views(settings, 40))  # traffic while the page watches: a rate above 0

    def live(s: dict[str, Any]) -> bool:
        return (
            s["applied"] > 0
            and any(v is not None and v > 0 for v in s["throughput"])
            and any(v is not None and v > 0 for v in s["latency"])
            and s["workersUp"] >= 1
            and s["lag"] is not None
        )

    seen = wait_for(charted, live, within=25)
    assert live(seen), seen
    assert seen["status"] == "live", seen
    assert seen["failures"] == 0, seen

    shown = wait_for(lambda: browser.execute_script(FUNNEL) or {}, bool, within=15)
    assert shown.get("acquired", 0) > 0, shown  # the funnel bars and the heat map show data
    assert shown.get("cohorts", 0) > 0, shown

    polls = seen["polls"]
    wait_for(charted, lambda s: s["polls"] >= polls + 2, within=10)  # lines, not lone points
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))

    console = browser.get_log("browser")
    CONSOLE.write_text(json.dumps(console, indent=2))
    errors = [e for e in console if e["level"] == "SEVERE"]
    assert not errors, errors
    ours = [
        e
        for e in console
        if e["level"] == "WARNING"
        and (e.get("source") == "console-api" or "/dashboard" in e.get("message", ""))
    ]
    assert not ours, ours
    assert token not in process.log_tail(200), "the key never reaches the server's log"


def test_without_a_key_the_page_asks_for_one(
    settings: Settings, api: tuple[str, ManagedProcess], browser: WebDriver
) -> None:
    base, _ = api
    browser.get(f"{base}/dashboard")
    browser.execute_script("window.sessionStorage.clear()")  # the first test's key
    browser.get(f"{base}/dashboard")
    browser.get_log("browser")  # start afresh
    shown = browser.find_element(By.ID, "login")
    assert shown.is_displayed()
    assert not browser.find_element(By.ID, "board").is_displayed()

    field = browser.find_element(By.ID, "key-input")
    field.send_keys("sak_0123456789abcdef_" + "x" * 43)  # well formed, unknown: 401
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    error = browser.find_element(By.ID, "login-error")
    wait_for(lambda: error.text, bool, within=10)
    assert "refused" in error.text

    field.send_keys(asyncio.run(admin_key(settings)))
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    charted = wait_for(lambda: browser.execute_script(CHARTED) or {}, bool, within=10)
    assert charted, "no snapshot after the key was pasted"
    assert not charted["loginShown"], charted
    assert browser.find_element(By.ID, "board").is_displayed()
    assert "key" not in browser.current_url, "a pasted key never goes into a URL"

    console = browser.get_log("browser")
    unexpected = [
        e
        for e in console
        if e["level"] in ("SEVERE", "WARNING")
        # The refused key's request, which Chromium reports itself; nothing else.
        and not ("/v1/dashboard" in e["message"] and "401" in e["message"])
    ]
    assert not unexpected, unexpected


#: The customer view's panels and what the page shows in them.
SHOWN = """
const v = window.customerView;
const shown = (id) => {
  const node = document.getElementById(id);
  return !!node && !node.closest("[hidden]") && node.getBoundingClientRect().height > 0;
};
return v && v.shown && {
  lookups: v.lookups,
  failures: v.failures,
  panels: ["panel-value", "panel-tastes", "panel-rhythm", "panel-cart", "panel-segments",
    "panel-consent", "panel-sentiment", "panel-timeline"].filter(shown),
  cells: document.querySelectorAll("#rhythm .cell").length,
  lit: [...document.querySelectorAll("#rhythm .cell")]
    .filter((c) => c.style.backgroundColor).length,
  tastes: document.querySelectorAll("#tastes li").length,
  cart: document.querySelectorAll("#cart tbody tr").length,
  timeline: [...document.querySelectorAll("#timeline tbody tr")].map((r) => r.className),
  whyNot: document.querySelector("#timeline tr.suppressed td:last-child")?.textContent,
  address: window.location.href,
};
"""


def test_the_customer_view_looks_a_customer_up_without_console_errors(
    settings: Settings, api: tuple[str, ManagedProcess], browser: WebDriver
) -> None:
    base, process = api
    customer, token = asyncio.run(customer_with_a_timeline(settings))
    browser.get(f"{base}/customer")
    browser.execute_script("window.sessionStorage.clear()")
    browser.get(f"{base}/customer")
    browser.get_log("browser")  # start afresh
    assert browser.find_element(By.ID, "login").is_displayed()
    browser.find_element(By.ID, "key-input").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    browser.find_element(By.ID, "customer-input").send_keys(customer)
    browser.find_element(By.CSS_SELECTOR, "#search button").click()

    seen = wait_for(lambda: browser.execute_script(SHOWN) or {}, bool, within=15)
    assert seen, "no customer shown"
    assert len(seen["panels"]) == 8, seen["panels"]
    assert seen["cells"] == 168
    assert seen["lit"] >= 1, "the visit lights its hour"
    assert seen["tastes"] >= 1
    assert seen["cart"] == 1
    assert seen["timeline"] == ["suppressed", "sent"], seen["timeline"]  # newest first
    assert "cap_day" in seen["whyNot"]
    assert customer not in seen["address"], "the id never goes into the address"
    assert seen["failures"] == 0
    CUSTOMER_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(CUSTOMER_SCREENSHOT))

    console = browser.get_log("browser")
    assert not [e for e in console if e["level"] in ("SEVERE", "WARNING")], console
    log = process.log_tail(400)
    assert customer not in log, "the customer id never reaches the server's log"
    assert token not in log
