"""A newcomer can go from a fresh `make run` to a post approved and scheduled for two platforms without
leaving the admin: the README's first command on embedded defaults, the demo data it seeds, and then
only clicks in Chromium, as the demo staff would make them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.browser import newcomer
from tests.make_run import make_run

SLOW_MACHINE_MS = 60000  # each page runs the gate per target; a loaded CI box needs more than the default
CAPTION = "Fresh start set, tonight at nine"
# Everything the suite sets for itself (pyproject's pytest_env) or points at its own services is left out,
# so `make run` starts the way it does on a newcomer's laptop: DEBUG on, SQLite, files, no 2FA asked.
NOT_A_NEWCOMERS = ("ATELIER_REQUIRE_2FA", "SECURE_SSL_REDIRECT", "SCHEDULING_CONNECTORS", "DJANGO_SETTINGS_MODULE")


def login(page, base: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.timeout(600)
def test_newcomer_goes_from_fresh_make_run_to_a_post_scheduled_on_two_platforms(page, tmp_path, artifacts_dir):
    page.set_default_timeout(SLOW_MACHINE_MS)
    with make_run(tmp_path, leave_out=NOT_A_NEWCOMERS) as run:
        try:
            run.wait_until_serving("/health/")
            # The demo password is random per machine; `make run` prints it and keeps it here.
            password = (run.var / "demo-login.txt").read_text().strip()
            assert password in run.output()
            journey(page, run.base, password, artifacts_dir)
        finally:
            print(run.output()[-3000:])


def journey(page, base: str, password: str, artifacts_dir: Path) -> None:
    # mara, manager of Luna Vale, composes a post for her Fanvue and X with a photo the vault already holds.
    login(page, base, "mara", password)
    post_id = newcomer.compose(page, base, creator={"label": "Luna Vale"}, caption=CAPTION, asset="Demo set 3",
                               accounts=[{"label": "Fanvue @lunavale"}, {"label": "X @lunavale"}])

    # She submits it; approving it herself is refused, and the refusal names who may.
    newcomer.submit_and_be_refused_by_four_eyes(
        page, 2, "You submitted this post; Eli (editor) or Agency owner (owner) may approve it (four-eyes review).")

    # eli, the second person, approves it from his review inbox after reading what he approves.
    login(page, base, "eli", password)
    newcomer.approve_from_review_inbox(page, post_id, 2)

    # mara schedules both for tomorrow 21:00, Luna's time; neither account is connected yet, and she is told.
    login(page, base, "mara", password)
    day = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).date()
    newcomer.schedule_from_publications(page, base, search="Fresh+start", day=day, at="21:00", targets=2)
    for account in ("Fanvue @lunavale", "X @lunavale"):
        assert page.get_by_text(f"scheduled, but {account} is not connected: nothing goes out through it until "
                                f"someone connects it.").count() == 1, account

    # The admin itself shows the end state: two scheduled publications, one per platform, at 21:00.
    page.goto(f"{base}/admin/scheduling/publication/?q=Fresh+start&status=scheduled")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    texts = rows.all_inner_texts()
    accounts = sorted(a for t in texts for a in ("Fanvue @lunavale", "X @lunavale") if a in t)
    assert accounts == ["Fanvue @lunavale", "X @lunavale"], texts
    for text in texts:
        assert f"{day:%Y-%m-%d} 21:00" in text, text
        assert "Not connected: connect it before anything can go out" in " ".join(text.split()), text
    page.screenshot(path=str(artifacts_dir / "fresh-make-run-scheduled.png"), full_page=True)
    page.goto(f"{base}/admin/scheduling/post/{post_id}/change/")
    assert page.locator("[data-testid=gate-verdict][data-passed=yes]").count() == 2
