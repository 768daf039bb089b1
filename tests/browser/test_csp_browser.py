"""The admin under its Content-Security-Policy, in Chromium: every page a manager walks through works
(charts draw, Alpine menus open, autocomplete answers, a drag reschedules, a generation runs) and the
browser reports not one CSP violation nor one script error on the way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from compliance import services as compliance
from content.models import Asset, Collection, GenerationJob, PromptTemplate
from scheduling import services
from scheduling.models import Publication
from tests.analytics import factories as dash
from tests.browser.conftest import admin_login
from tests.content.factories import AssetFactory
from tests.content.studio_fixtures import comfy_row
from tests.content.test_admin_studio import template_for
from tests.scheduling.factories import approved_publication
from tests.scheduling.fixtures import World

PASSWORD = "correct-horse-battery"
PARIS = ZoneInfo("Europe/Paris")

# Runs in every document before its own scripts, outside the page's CSP (Playwright injects it).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
                              `at ${e.sourceFile}:${e.lineNumber} ${e.sample || ""}`);
});
"""


class Recorder:
    """CSP violations and script errors of every page the test opens."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        self.policies: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        text, where = message.text, (message.location or {}).get("url", "")
        if where.endswith("/favicon.ico"):
            return  # the browser asks for it by itself; the admin declares its icons
        if message.type == "error" or "Content Security Policy" in text or "Alpine Expression Error" in text:
            self.problems.append(f"console {message.type}: {text} ({where})")

    def _response(self, response: Any) -> None:
        if response.request.resource_type == "document":
            self.policies.append(response.headers.get("content-security-policy", ""))

    def collect(self, label: str) -> None:
        found = self.page.evaluate("window.__cspViolations || []")
        self.problems += [f"{label}: {v}" for v in found]
        self.page.evaluate("window.__cspViolations = []")


@dataclass(frozen=True)
class WalkData(World):
    collection: Collection
    cover: Asset
    pub: Publication
    template: PromptTemplate


@pytest.fixture
def walk_data(world, media_dir, eager_celery, signing, comfy, personas):
    a = world.creator
    yesterday = timezone.localdate() - timedelta(days=1)
    for i in range(14):
        dash.rollup(a, yesterday - timedelta(days=i), tips=5000 + 300 * i, subs=12000, new=2 + i % 3, churned=i % 2,
                    posts=1)
    cover = AssetFactory(creator=a, title="Sunset cover")
    AssetFactory(creator=a, title="Studio portrait")
    collection = Collection.objects.create(creator=a, title="Summer pack")
    pub = approved_publication(world.post, world.fanvue)
    outcome = services.schedule(pub, at=datetime(2026, 12, 10, 20, 30, tzinfo=PARIS))
    assert outcome.verdict.passed, outcome.verdict.reasons
    # A's performer may be depicted by the studio (AI-likeness consent), so generation runs.
    compliance.record_consent(performer=world.performer, platforms=["fanvue", "x"], max_rating="explicit",
                              uses=["ai_likeness"], signed_at=timezone.now() - timedelta(days=1))
    comfy_row(comfy)
    return world.extended(WalkData, collection=collection, cover=cover, pub=pub, template=template_for(a))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_admin_works_under_the_csp_with_zero_violations(page, live_server, walk_data, artifacts_dir):
    w = walk_data
    seen = Recorder(page)
    base = live_server.url

    # Login.
    page.goto(f"{base}/admin/login/")
    seen.collect("login")
    admin_login(page, live_server, "alice", PASSWORD)

    # Dashboard: the charts draw, Alpine runs (the sidebar toggle is remembered).
    page.wait_for_function("() => [...document.querySelectorAll('canvas.chart')].length > 0 && "
                           "[...document.querySelectorAll('canvas.chart')].every(c => c.width > 0)")
    page.wait_for_function("() => window.Alpine && document.body._x_dataStack")
    page.locator("span.material-symbols-outlined", has_text="dock_to_right").first.click()
    page.wait_for_function("() => localStorage.getItem('sidebarDesktopOpen') === '0'")
    page.locator("span.material-symbols-outlined", has_text="dock_to_right").first.click()
    page.wait_for_function("() => localStorage.getItem('sidebarDesktopOpen') === '1'")
    page.keyboard.press("Control+e")  # unfold's theme switch (a registered component's bindings)
    page.wait_for_function("() => ['dark', 'light'].some(c => document.documentElement.classList.contains(c))")
    # The sidebar's search (patched expressions): htmx results open, Escape clears, then leaves.
    page.focus("#nav-filter")
    page.keyboard.type("asset")
    page.wait_for_selector("#search-results a", state="visible")
    page.keyboard.press("Escape")
    assert page.input_value("#nav-filter") == ""
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement.id !== 'nav-filter'")
    page.screenshot(path=str(artifacts_dir / "csp-dashboard.png"), full_page=True)
    seen.collect("dashboard")

    # A changelist, with its action bar (x-model) and the search box (patched expressions).
    page.goto(f"{base}/admin/content/asset/")
    assert page.locator("#result_list tbody tr").count() == 3
    page.locator("#result_list tbody input.action-select").first.check()
    page.select_option("select[name=action]", "tag_selected")
    page.fill("#searchbar", "Sunset")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/content/asset/?q=Sunset")
    assert page.locator("#result_list tbody tr").count() == 1
    seen.collect("asset changelist")

    # A change form with autocomplete (select2 over the admin's JSON endpoint).
    page.goto(f"{base}/admin/content/collection/{w.collection.pk}/change/")
    action = "document.getElementById('collection_form').getAttribute('action')"
    page.wait_for_function(f"() => {action} === '/admin/content/collection/{w.collection.pk}/change/'")
    page.locator(".field-cover .select2-selection").first.click()
    page.locator(".select2-search__field").fill("Sunset")
    page.wait_for_selector(".select2-results__option:has-text('Sunset cover')")
    page.locator(".select2-results__option", has_text="Sunset cover").click()
    page.locator("[name=_continue]").click()
    page.wait_for_selector(".messagelist, [data-testid=messages], .alert, #collection_form")
    w.collection.refresh_from_db()
    assert w.collection.cover_id == w.cover.pk
    seen.collect("collection change form")

    # The calendar: drag a chip to another day.
    page.goto(f"{base}/admin/scheduling/publication/calendar/?date=2026-12-01&creator={w.creator.pk}")
    chip = page.locator(f"[data-testid=calendar-chip][data-publication='{w.pub.pk}']")
    target = page.locator("[data-testid=calendar-day][data-date='2026-12-17']")
    chip.drag_to(target)
    page.wait_for_selector("#calendar-message.cal-message--ok")
    w.pub.refresh_from_db()
    assert w.pub.scheduled_at == datetime(2026, 12, 17, 19, 30, tzinfo=UTC)
    page.screenshot(path=str(artifacts_dir / "csp-calendar.png"), full_page=True)
    seen.collect("calendar")

    # The AI studio: generate from a template, through to the job page.
    page.goto(f"{base}/admin/content/prompttemplate/{w.template.pk}/generate/")
    page.fill("input[name=var_persona]", "Mila")
    page.fill("input[name=var_time]", "sunset")
    seen.collect("studio generate")
    page.click("[data-testid=generate-submit]")
    page.wait_for_selector("[data-testid=job-result]", timeout=60000)
    assert GenerationJob.objects.get().status == GenerationJob.Status.SUCCEEDED
    page.screenshot(path=str(artifacts_dir / "csp-studio-job.png"), full_page=True)
    seen.collect("studio job")

    # The API docs (Swagger UI from our own static files).
    page.goto(f"{base}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=30000)
    seen.collect("api docs")

    assert seen.problems == []
    assert seen.policies and all(p for p in seen.policies)
    for policy in seen.policies:
        assert "'unsafe-eval'" not in policy and "frame-ancestors 'none'" in policy
        assert "object-src 'none'" in policy and "base-uri 'self'" in policy
