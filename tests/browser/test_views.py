"""The page's other views in headless Chromium against the real service: a customer's
orders (linked from an order, page by page) and the admin list of dead letters."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest

from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.client.records import Record
from tests.browser.conftest import ADMIN_TOKEN, KAFKA_BOOTSTRAP, Service, sync_api

expect = sync_api.expect
pytestmark = pytest.mark.browser
HOSTILE_REASON_ID = '<img src=x onerror="window.__pwned=1">'


def publish(service: Service, values: list[bytes]) -> None:
    publisher = KafkaPublisher(KAFKA_BOOTSTRAP)
    try:
        publisher.publish(service.topic, [Record(None, value) for value in values])
    finally:
        publisher.close()


def wait_until(check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def test_an_order_links_to_its_customers_orders_page_by_page(page: Any, service: Service) -> None:
    customer = f"browser customer {uuid.uuid4().hex[:8]}"
    ids = [f"cust-{uuid.uuid4().hex[:8]}-{i:02d}" for i in range(23)]
    publish(
        service,
        [
            json.dumps({**service.sample, "order_uid": i, "customer_id": customer}).encode()
            for i in ids
        ],
    )
    listed = f"{service.base_url}/orders"
    wait_until(
        lambda: (
            len(httpx.get(listed, params={"customer_id": customer, "limit": 100}).json()["orders"])
            == len(ids)
        ),
        "the customer's orders saved",
    )

    page.goto(f"/?id={ids[0]}")
    link = page.locator("#customer-link")
    expect(link).to_have_text(customer)
    link.click()
    expect(page).to_have_url(re.compile(r"\?customer=browser(\+|%20)customer"))
    view = page.locator("#customer-view")
    expect(view).to_be_visible()
    expect(page.locator("#customer-name")).to_have_text(customer)
    expect(page.locator("#intro")).to_be_hidden()
    rows = page.locator("#customer-orders tr")
    expect(rows).to_have_count(20)
    expect(page.locator("#customer-status")).to_contain_text("20 orders shown")
    expect(rows.first).to_contain_text("18.17 USD")

    page.get_by_role("button", name="More orders").click()
    expect(rows).to_have_count(23)
    expect(page.locator("#customer-status")).to_contain_text("that is all")
    expect(page.get_by_role("button", name="More orders")).to_be_hidden()
    shown = [text.strip() for text in rows.locator("td:first-child").all_inner_texts()]
    assert sorted(shown) == sorted(ids)

    page.get_by_role("link", name=ids[5], exact=True).click()
    expect(page.locator("#order-heading")).to_have_text(ids[5])
    expect(view).to_be_hidden()
    page.go_back()
    expect(view).to_be_visible()


def test_a_hostile_customer_id_is_shown_as_text(page: Any, service: Service) -> None:
    customer = service.hostile["customer_id"]
    page.goto(f"/?id={service.hostile_id}")
    page.locator("#customer-link").click()
    expect(page.locator("#customer-name")).to_have_text(customer)
    expect(page.locator("#customer-orders tr").first).to_be_visible()
    expect(page.locator("#customer-view i")).to_have_count(0)


def test_the_admin_view_lists_dead_letters_with_reasons_as_text(
    page: Any, service: Service
) -> None:
    publish(service, [json.dumps({**service.sample, "order_uid": HOSTILE_REASON_ID}).encode()])
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    wait_until(
        lambda: any(
            HOSTILE_REASON_ID in letter["reason"]
            for letter in httpx.get(f"{service.base_url}/admin/dead-letters", headers=auth).json()[
                "dead_letters"
            ]
        ),
        "the hostile message dead-lettered",
    )

    page.goto("/")
    page.get_by_role("link", name="dead letters").click()
    view = page.locator("#dead-letters-view")
    expect(view).to_be_visible()
    expect(page.get_by_label("Admin token")).to_be_focused()

    page.get_by_label("Admin token").fill("wrong")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#dead-letters-status")).to_contain_text("refused that token")
    expect(page.locator("#dead-letters-table")).to_be_hidden()

    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Show").click()
    rows = page.locator("#dead-letters tr")
    expect(rows.first).to_be_visible()
    expect(page.locator("#dead-letters")).to_contain_text(HOSTILE_REASON_ID)
    expect(page.locator("#dead-letters")).to_contain_text(f"{service.topic} / partition 0")
    expect(page.locator("#dead-letters-status")).to_contain_text("newest first")
    expect(view.locator("img")).to_have_count(0)
    page.wait_for_timeout(200)  # an onerror handler would have run by now
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert ADMIN_TOKEN not in page.url
