"""The order lookup page, driven in headless Chromium against the real running service.

Each test leaves a full-page screenshot in ``test-artifacts/browser/<test name>.png``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.browser.conftest import HOSTILE_ITEM_NAME, HOSTILE_NAME, Service, sync_api
from tests.conftest import SAMPLE_ID

expect = sync_api.expect
pytestmark = pytest.mark.browser


def search(page: Any, order_id: str) -> None:
    box = page.get_by_role("searchbox", name="Order ID")
    box.fill(order_id)
    box.press("Enter")


def expect_sample_shown(page: Any, service: Service) -> None:
    result = page.locator("#result")
    expect(page.locator("#track-number")).to_have_text("WBILMTESTTRACK")
    expect(page.locator("#order-heading")).to_have_text(service.sample_id)
    expect(result).to_contain_text("Vivienne Sabo")
    expect(page.locator("#summary-amount")).to_have_text("18.17 USD")
    expect(result.locator(".card-payment")).to_contain_text("18.17 USD")
    expect(page.locator("#items tbody tr")).to_have_count(1)


def test_search_shows_the_order(page: Any, service: Service) -> None:
    page.goto("/")
    expect(page.get_by_role("searchbox", name="Order ID")).to_be_focused()
    search(page, service.sample_id)

    expect_sample_shown(page, service)
    result = page.locator("#result")
    expect(page.locator("#status")).to_contain_text(f"Order {service.sample_id} loaded")
    for text in ("Test Testov", "+9720000000", "test@gmail.com", "Ploshad Mira 15"):
        expect(result).to_contain_text(text)
    for text in ("Kiryat Mozkin", "Kraiot", "2639809", "wbpay", "alpha", "meest"):
        expect(result).to_contain_text(text)
    # Money in major units with the currency; dates readable, in UTC.
    expect(result).to_contain_text("15.00 USD")  # delivery cost
    expect(result).to_contain_text("4.53 USD")  # item price
    expect(result).to_contain_text("26 Nov 2021")  # created and paid, en-GB
    expect(result).to_contain_text("06:22:07 UTC")  # payment_dt 1637907727
    totals = page.locator("#items tfoot")
    expect(totals).to_contain_text("3.17 USD")
    expect(totals).to_contain_text("matches the payment's goods total")
    expect(page).to_have_url(re.compile(rf"/\?id={service.sample_id}$"))
    expect(page).to_have_title(re.compile(service.sample_id))

    page.get_by_text("Raw JSON", exact=True).click()
    raw = page.locator("#raw-json")
    expect(raw).to_be_visible()
    expect(raw).to_contain_text(f'"order_uid": "{SAMPLE_ID}"')


def test_unknown_id_says_not_found(page: Any, service: Service) -> None:
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    page.goto("/")
    search(page, missing)

    status = page.locator("#status")
    expect(status).to_contain_text(f"No order with id {missing}")
    expect(status).to_have_attribute("data-state", "warn")
    expect(page.locator("#result")).to_be_hidden()


def test_bad_id_is_refused_before_any_request(page: Any, service: Service) -> None:
    lookups: list[str] = []
    page.on("request", lambda r: lookups.append(r.url) if "/order?" in r.url else None)
    page.goto("/")
    box = page.get_by_role("searchbox", name="Order ID")
    status = page.locator("#status")

    search(page, "a b<")
    expect(status).to_contain_text("a valid order id")
    expect(status).to_contain_text("only letters, digits")
    expect(status).to_have_attribute("data-state", "error")
    expect(box).to_have_attribute("aria-invalid", "true")

    search(page, "x" * 65)
    expect(status).to_contain_text("at most 64 characters")
    expect(page.locator("#result")).to_be_hidden()
    assert lookups == []
    # The server draws the same line.
    answer = httpx.get(f"{service.base_url}/order", params={"id": "a b<"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_id"


def test_hostile_order_is_shown_as_text(page: Any, service: Service) -> None:
    page.goto(f"/?id={service.hostile_id}")

    result = page.locator("#result")
    expect(page.locator("#order-heading")).to_have_text(service.hostile_id)
    expect(result).to_contain_text(HOSTILE_NAME)
    expect(result).to_contain_text("<script>")
    expect(result).to_contain_text(HOSTILE_ITEM_NAME)
    expect(result).to_contain_text("</td></tr><tr><td>injected")
    expect(page.locator("#items tbody tr")).to_have_count(1)
    expect(page.locator("#totals-mismatch")).to_contain_text(
        "differs from the payment's goods total (4.00 USD)"
    )
    expect(page.locator("#amount-mismatch")).to_contain_text("= 19.00 USD")
    expect(page.locator("#result b", has_text=re.compile(r"^bold$"))).to_have_count(0)
    expect(page.locator("#result i")).to_have_count(0)
    expect(page.locator("#result img")).to_have_count(0)
    expect(page.locator("#result script")).to_have_count(0)
    page.wait_for_timeout(200)  # an onerror handler would have run by now
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_fields_the_page_does_not_know_are_shown_by_name(page: Any, service: Service) -> None:
    # The service serves only the model's fields (it drops unknown ones on the way in), so
    # the browser is made to see its real answer with the fields a newer model might add.
    def with_new_fields(route: Any) -> None:
        order = route.fetch().json()
        order["gift_note"] = "<b>for you</b>"
        order["delivery"]["floor"] = 3
        order["payment"]["refunded"] = False
        order["items"][0]["warehouse"] = "WH-7"
        route.fulfill(status=200, json=order)

    page.route("**/order?*", with_new_fields)
    page.goto(f"/?id={service.sample_id}")

    expect_sample_shown(page, service)
    result = page.locator("#result")
    for where, name, value in (
        (".summary .facts", "gift_note", "<b>for you</b>"),
        (".card-delivery .kv", "floor", "3"),
        (".card-payment .kv", "refunded", "false"),
    ):
        shown = result.locator(f'{where} [data-field="{name}"]')
        expect(shown.locator("dt")).to_have_text(name)
        expect(shown.locator("dd")).to_have_text(value)
    item = page.locator("#items tbody tr").first
    expect(item.locator('[data-field="warehouse"]')).to_have_text("warehouse WH-7")
    # A field of the model the page has no place for (an item's track number) shows too;
    # the fields it does place are not shown twice.
    expect(item.locator('[data-field="track_number"]')).to_have_text("track_number WBILMTESTTRACK")
    expect(result.locator('[data-field="order_uid"], [data-field="amount"]')).to_have_count(0)
    expect(result.locator("b", has_text="for you")).to_have_count(0)  # text, not markup


def test_shared_url_opens_the_order(page: Any, service: Service) -> None:
    page.goto(f"/?id={service.sample_id}")

    expect_sample_shown(page, service)
    expect(page.get_by_role("searchbox", name="Order ID")).to_have_value(service.sample_id)


def test_back_and_forward_follow_the_searches(page: Any, service: Service) -> None:
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    page.goto("/")
    search(page, service.sample_id)
    expect_sample_shown(page, service)
    search(page, missing)
    expect(page.locator("#status")).to_contain_text("No order with id")
    expect(page).to_have_url(re.compile(rf"\?id={missing}$"))

    page.go_back()
    expect_sample_shown(page, service)
    expect(page.get_by_role("searchbox", name="Order ID")).to_have_value(service.sample_id)
    page.go_back()
    expect(page.locator("#result")).to_be_hidden()
    expect(page.get_by_role("searchbox", name="Order ID")).to_have_value("")
    page.go_forward()
    expect_sample_shown(page, service)
    page.go_forward()
    expect(page.locator("#status")).to_contain_text(f"No order with id {missing}")


def test_unavailable_and_network_errors_offer_a_retry(page: Any, service: Service) -> None:
    # The real service is healthy, so the browser is made to see its 503 and a dead network.
    unavailable = '{"error": {"code": "unavailable", "message": "the order store is unavailable"}}'
    page.route(
        "**/order?*",
        lambda route: route.fulfill(status=503, body=unavailable, content_type="application/json"),
    )
    page.goto("/")
    status = page.locator("#status")
    search(page, service.sample_id)
    expect(status).to_contain_text("service is unavailable right now — try again")
    expect(page.locator("#result")).to_be_hidden()

    page.unroute("**/order?*")
    page.route("**/order?*", lambda route: route.abort("internetdisconnected"))
    page.get_by_role("button", name="Try again").click()
    expect(status).to_contain_text("reach the service")

    page.unroute("**/order?*")
    page.get_by_role("button", name="Try again").click()
    expect_sample_shown(page, service)


def test_small_dark_screen(open_page: Callable[..., Any], service: Service) -> None:
    page = open_page(viewport={"width": 375, "height": 812}, color_scheme="dark")
    page.goto(f"/?id={service.sample_id}")

    expect_sample_shown(page, service)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px ({width} px wide)"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)"
