"""A newcomer can go from a fresh `make run` to a post approved and scheduled for two platforms without
leaving the admin: the README's first command on embedded defaults, the demo data it seeds, and then
only clicks in Chromium, as the demo staff would make them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.config.test_make_run import free_port, get

ROOT = Path(__file__).resolve().parents[2]
SLOW_MACHINE_MS = 60000  # each page runs the gate per target; a loaded CI box needs more than the default
CAPTION = "Fresh start set, tonight at nine"
# Everything the suite sets for itself (pyproject's pytest_env) or points at its own services is left out,
# so `make run` starts the way it does on a newcomer's laptop: DEBUG on, SQLite, files, no 2FA asked.
NOT_A_NEWCOMERS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME", "SECRET_KEY", "DEBUG",
                   "ALLOWED_HOSTS", "ATELIER_VAR_DIR", "ATELIER_REQUIRE_2FA", "SECURE_SSL_REDIRECT",
                   "SCHEDULING_CONNECTORS", "DJANGO_SETTINGS_MODULE")


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
    port = free_port()
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in NOT_A_NEWCOMERS}
    env.update({"ATELIER_VAR_DIR": str(var), "ATELIER_PORT": str(port),
                "VENV": str(Path(sys.executable).parent.parent)})
    # Its output goes to a file, never an unread pipe: a full pipe would stall web, worker and beat.
    log = tmp_path / "make-run.log"
    sink = log.open("wb")
    proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env, stdout=sink,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while not get_ok(f"{base}/health/"):
            assert proc.poll() is None, f"make run exited early:\n{log.read_text(errors='replace')[-4000:]}"
            assert time.monotonic() - started < 180, "make run did not come up within 180 s"
            time.sleep(0.5)
        # The demo password is random per machine; `make run` prints it and keeps it here.
        password = (var / "demo-login.txt").read_text().strip()
        assert password in log.read_text(errors="replace")
        journey(page, base, password, artifacts_dir)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        sink.close()
        print(log.read_text(errors="replace")[-3000:])


def journey(page, base: str, password: str, artifacts_dir: Path) -> None:
    # mara, manager of Luna Vale, composes a post for her Fanvue and X with a photo the vault already holds.
    login(page, base, "mara", password)
    page.goto(f"{base}/admin/scheduling/post/add/")
    page.select_option("select[name=creator]", label="Luna Vale")
    page.fill("textarea[name=caption]", CAPTION)
    page.fill("input[name=price]", "9.99")
    page.fill("input[name=currency]", "EUR")
    page.locator("#post_assets-group a.add-row").click()
    page.locator("select[name='post_assets-0-asset'] + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill("Demo set 3")
    page.locator(".select2-results__option", has_text="Demo set 3").click()
    for n, label in enumerate(("Fanvue @lunavale", "X @lunavale")):
        page.locator("#publications-group a.add-row").click()
        page.select_option(f"select[name=publications-{n}-account]", label=label)
    page.locator("[name=_continue]").click()
    page.wait_for_url("**/change/")
    post_id = int(page.url.rstrip("/").split("/")[-2])

    # She submits it; approving it herself is refused, and the refusal names who may.
    page.get_by_role("link", name="Submit for approval").click()
    page.click("[data-testid=confirm-action]")
    page.wait_for_selector("text=2 targets sent for approval.")
    page.get_by_role("link", name="Approve…").click()
    page.click("[data-testid=confirm-approve]")
    page.wait_for_selector("text=You submitted this post; Eli (editor) or Agency owner (owner) may approve it "
                           "(four-eyes review).")

    # eli, the second person, approves it from his review inbox after reading what he approves.
    login(page, base, "eli", password)
    page.get_by_role("link", name="Review inbox").first.click()
    row = page.locator(f"[data-testid=inbox-post][data-key='post:{post_id}']")
    row.get_by_role("link", name="Review in full…").click()
    page.wait_for_selector("[data-testid=approve-post]")
    assert "€9.99" in page.locator("[data-testid=post-price]").inner_text()
    assert page.locator("[data-testid=gate-verdict][data-passed=yes]").count() == 2
    page.click("[data-testid=confirm-approve]")
    page.wait_for_selector("text=the gate passes on all 2 targets")

    # mara schedules both for tomorrow 21:00, Luna's time; neither account is connected yet, and she is told.
    login(page, base, "mara", password)
    page.goto(f"{base}/admin/scheduling/publication/?q=Fresh+start")
    boxes = page.locator("#result_list tbody input.action-select")
    assert boxes.count() == 2
    for i in range(2):
        boxes.nth(i).check()
    page.select_option("select[name=action]", "reschedule_selected")
    page.locator("button[name=index]").first.click()
    day = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).date()
    page.fill("input[name=day]", day.isoformat())
    page.fill("input[name=at]", "21:00")
    page.click("[data-testid=confirm-action]")
    page.wait_for_selector("text=2 publications scheduled")
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


def get_ok(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except OSError:
        return False
