"""The page's other views in headless Chromium against the real service: a customer's
orders (linked from an order, page by page) and the admin list of dead letters.

The service's dead-letter topic has one partition; a listing of several is answered by the
real app over an in-memory archive of four partitions (tests.unit.dead_letter_archive), to
which the browser's request is routed."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest
from dependency_injector import providers
from starlette.testclient import TestClient

from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.client.records import Record
from adapters.kafka.dead_letters import format as dlq_format
from adapters.kafka.dead_letters.format import Source, dead_letter, stub
from entrypoints.container import build_container, http_dependencies
from entrypoints.http.app import create_app
from entrypoints.settings import load
from tests.browser.conftest import ADMIN_TOKEN, KAFKA_BOOTSTRAP, Service, sync_api
from tests.unit.dead_letter_archive import MemoryArchive, letter

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
    # One partition: each dead letter is 0:OFFSET, and the kept range is as short as ever.
    body = httpx.get(f"{service.base_url}/admin/dead-letters", headers=auth).json()
    (kept,) = body["partitions"]
    first, following = kept["first_offset"], kept["next_offset"]
    if following - first == 1:
        ranges = f"offset {first} is kept"
    else:
        ranges = f"offsets {first} to {following - 1} are kept"
    expect(page.locator("#dead-letters-status")).to_contain_text(f"newest first ({ranges}).")
    expect(page.locator("#dead-letters-status")).not_to_contain_text("partition")
    labels = [text.strip() for text in rows.locator("td:first-child").all_inner_texts()]
    assert labels == [f"0:{shown['offset']}" for shown in body["dead_letters"]]
    expect(view.locator("img")).to_have_count(0)
    page.wait_for_timeout(200)  # an onerror handler would have run by now
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert ADMIN_TOKEN not in page.url


# The multi-partition listing: partition:offset -> (ms after T0, the dead letter's record).
T0 = 1_700_000_000_000
SOURCE = Source("orders", 1, 7, T0, b"k", b"{}")


def replay_of(letter_id: bytes) -> Source:
    return attrs.evolve(SOURCE, headers=((dlq_format.REPLAY_OF, letter_id),))


SPREAD: dict[tuple[int, int], tuple[int, Record]] = {
    (0, 0): (1000, dead_letter(SOURCE, "not JSON")),
    (0, 1): (2000, dead_letter(SOURCE, "missing order_uid")),
    (0, 2): (4000, dead_letter(SOURCE, f"order_uid: got {HOSTILE_REASON_ID!r}")),
    (1, 3): (5000, dead_letter(replay_of(b"2:16"), "still not JSON")),  # the rest expired
    (2, 16): (3000, stub(SOURCE, "too large")),
    (2, 17): (6000, dead_letter(replay_of(b"2"), "replayed, failed again")),  # a bare offset: 0's
}


@pytest.fixture
def dead_letters_app(service: Service) -> Iterator[TestClient]:
    """The real app over an in-memory dead-letter topic of four partitions (SPREAD; the
    fourth keeps none), with the browser service's admin token."""
    archive = MemoryArchive(
        [letter(p, o, T0 + ms, record) for (p, o), (ms, record) in sorted(SPREAD.items())],
        partitions=4,
        name=f"{service.topic}.dlq",
    )
    container = build_container(
        load(
            {},
            {
                "repository": "memory",
                "cache_backend": "memory",
                "admin_token": ADMIN_TOKEN,
                "lag_poll_seconds": "0",
            },
        )
    )
    container.dead_letter_archive.override(providers.Object(archive))
    with TestClient(create_app(http_dependencies(container))) as client:
        yield client


def test_the_admin_view_names_dead_letters_of_every_partition(
    page: Any, service: Service, dead_letters_app: TestClient
) -> None:
    asked: list[str] = []

    def answer(route: Any) -> None:
        request = route.request
        asked.append(request.url)
        path = request.url.removeprefix(service.base_url)
        answered = dead_letters_app.get(
            path, headers={"Authorization": request.headers.get("authorization", "")}
        )
        route.fulfill(
            status=answered.status_code,
            body=answered.content,
            headers={"Content-Type": answered.headers["content-type"]},
        )

    page.route("**/admin/dead-letters?*", answer)
    page.goto("/?view=dead-letters")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Show").click()

    rows = page.locator("#dead-letters tr")
    expect(rows).to_have_count(len(SPREAD))
    status = page.locator("#dead-letters-status")
    expect(status).to_have_text(
        f"6 dead letters of {service.topic}.dlq, newest first (kept: partition 0: offsets 0 to 2,"
        " partition 1: offset 3, partition 2: offsets 16 to 17, partition 3: none)."
    )
    assert asked == [f"{service.base_url}/admin/dead-letters?limit=50"]
    expect(page.locator("#dead-letters-table th").first).to_have_text("Partition:offset")
    labels = rows.locator("td:first-child")
    expect(labels).to_have_text(["2:17", "1:3", "0:2", "2:16", "0:1", "0:0"])
    expect(labels.first).to_have_attribute("title", "partition 2, offset 17")
    # A replay names its dead letter the same way, with the partition it is kept in.
    expect(rows.nth(0).locator(".tag")).to_have_text(["replay of 0:2"])
    expect(rows.nth(1).locator(".tag")).to_have_text(["replay of 2:16"])
    expect(rows.nth(3).locator(".tag")).to_have_text(["stub"])
    expect(rows.nth(2)).to_contain_text(HOSTILE_REASON_ID)
    expect(page.locator("#dead-letters-view img")).to_have_count(0)
