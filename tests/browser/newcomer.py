"""The newcomer's journey in the admin, step by step, as the two browser tests that take it click it: one
against the test server and its fixtures, one against a fresh `make run` and its demo data."""

from __future__ import annotations

from datetime import date
from typing import Any

PRICE = "9.99"


def compose(page: Any, base: str, *, creator: dict[str, str], caption: str, asset: str,
            accounts: list[dict[str, str]]) -> int:
    """A post with a price, one photo from the vault and one target per account; returns its id.
    `creator` and each account are Playwright option selectors ({"value": …} or {"label": …})."""
    page.goto(f"{base}/admin/scheduling/post/add/")
    page.select_option("select[name=creator]", **creator)
    page.fill("textarea[name=caption]", caption)
    page.fill("input[name=price]", PRICE)
    page.fill("input[name=currency]", "EUR")
    page.locator("#post_assets-group a.add-row").click()
    page.locator("select[name='post_assets-0-asset'] + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill(asset)
    page.locator(".select2-results__option", has_text=asset).click()
    for n, account in enumerate(accounts):
        page.locator("#publications-group a.add-row").click()
        page.select_option(f"select[name=publications-{n}-account]", **account)
    page.locator("[name=_continue]").click()
    page.wait_for_url("**/change/")
    return int(page.url.rstrip("/").split("/")[-2])


def submit_and_be_refused_by_four_eyes(page: Any, targets: int, refusal: str) -> None:
    """The author submits, then tries to approve their own post: refused, with who may approve."""
    page.get_by_role("link", name="Submit for approval").click()
    page.click("[data-testid=confirm-action]")
    page.wait_for_selector(f"text={targets} targets sent for approval.")
    page.get_by_role("link", name="Approve…").click()
    page.click("[data-testid=confirm-approve]")
    page.wait_for_selector(f"text={refusal}")


def approve_from_review_inbox(page: Any, post_id: int, targets: int) -> None:
    """A second person opens the post from the Review inbox, reads its price and verdicts, approves."""
    page.get_by_role("link", name="Review inbox").first.click()
    row = page.locator(f"[data-testid=inbox-post][data-key='post:{post_id}']")
    row.get_by_role("link", name="Review in full…").click()
    page.wait_for_selector("[data-testid=approve-post]")
    assert f"€{PRICE}" in page.locator("[data-testid=post-price]").inner_text()
    assert page.locator("[data-testid=gate-verdict][data-passed=yes]").count() == targets
    page.click("[data-testid=confirm-approve]")
    page.wait_for_selector(f"text=the gate passes on all {targets} targets")


def schedule_from_publications(page: Any, base: str, *, search: str, day: date, at: str, targets: int) -> None:
    """Tick the post's publications in the list and schedule them with the action's form."""
    page.goto(f"{base}/admin/scheduling/publication/?q={search}")
    boxes = page.locator("#result_list tbody input.action-select")
    assert boxes.count() == targets
    for i in range(targets):
        boxes.nth(i).check()
    page.select_option("select[name=action]", "reschedule_selected")
    page.locator("button[name=index]").first.click()
    page.fill("input[name=day]", day.isoformat())
    page.fill("input[name=at]", at)
    page.click("[data-testid=confirm-action]")
    page.wait_for_selector(f"text={targets} publications scheduled")
