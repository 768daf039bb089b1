"""Sidebar grouped by domain. Links appear only to those who hold the model permission.

The "System" group (task schedules, results, login lockouts, two-factor devices: the libraries'
tables) is the owner's alone, whatever permissions someone else was given; the dashboard shows the
same apps under "System" to the owner and nothing of them to anyone else.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from analytics.dashboard import may_open_dashboard
from compliance.views import may_open_board
from content.views_studio import may_generate
from inbox.views import may_open_inbox
from scheduling.review import may_review
from scheduling.views_calendar import may_open_calendar
from scheduling.views_review import waiting_for

# The libraries' apps: infrastructure only the owner looks after.
SYSTEM_APPS = frozenset({"auth", "django_celery_beat", "django_celery_results", "axes", "otp_static", "otp_totp"})
SYSTEM = "System"


def is_owner(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def _owner_only(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    check = item["permission"]

    def permission(request: HttpRequest) -> bool:
        return is_owner(request.user) and check(request)

    return {**item, "permission": permission}


def _item(title: str, icon: str, model: str) -> dict[str, Any] | None:
    if model.startswith("admin:"):
        return _view_item(title, icon, model)
    app_label, model_name = model.split(".")
    try:
        apps.get_model(app_label, model_name)
        link = reverse(f"admin:{app_label}_{model_name}_changelist")
    except (LookupError, NoReverseMatch):
        return None  # model or admin not there yet

    def permission(request: HttpRequest) -> bool:
        return request.user.has_perm(f"{app_label}.view_{model_name}")

    return {"title": title, "icon": icon, "link": link, "permission": permission}


def _view_item(title: str, icon: str, url_name: str) -> dict[str, Any] | None:
    """A custom admin page; who may open it is decided by the page's own check."""
    try:
        link = reverse(url_name)
    except NoReverseMatch:
        return None
    check = VIEW_PERMISSIONS.get(url_name)
    if check is None:
        return None

    def permission(request: HttpRequest) -> bool:
        return check(request.user)

    return {"title": title, "icon": icon, "link": link, "permission": permission}


def _may_open_board(user: Any) -> bool:
    return may_open_board(user)


def _may_open_analytics(user: Any) -> bool:
    return may_open_dashboard(user)


def _may_open_calendar(user: Any) -> bool:
    return may_open_calendar(user)


def _may_generate(user: Any) -> bool:
    return may_generate(user)


def _may_review(user: Any) -> bool:
    return may_review(user)


def _may_open_inbox(user: Any) -> bool:
    return may_open_inbox(user)


def _may_see_chatter_pages(user: Any) -> bool:
    # The sidebar asks the permissions the person's roles carry (cached on the user: no query per page);
    # the pages themselves narrow to the creators where the person holds them (404 elsewhere).
    return bool(user.is_active and user.is_staff and user.has_perm("inbox.view_reportingevent"))


def _may_review_messages(user: Any) -> bool:
    return bool(_may_see_chatter_pages(user) and user.has_perm("inbox.view_message"))


def _may_read_notifications(user: Any) -> bool:
    # Every staff member has an inbox of their own; it needs no model permission.
    return bool(user.is_active and user.is_staff)


VIEW_PERMISSIONS = {"admin:scheduling_calendar": _may_open_calendar, "admin:compliance_board": _may_open_board,
                    "admin:analytics_creator_dashboard": _may_open_analytics,
                    "admin:content_generationjob_generate": _may_generate,
                    "admin:scheduling_review_inbox": _may_review,
                    "admin:notifications_inbox": _may_read_notifications,
                    "admin:analytics_report_on_demand": _may_open_analytics,
                    "admin:inbox_chatter_performance": _may_see_chatter_pages,
                    "admin:inbox_message_review": _may_review_messages,
                    "admin:inbox_screen": _may_open_inbox}

GROUPS: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("Creators & team", [
        ("Creators", "face", "accounts.creator"),
        ("Memberships", "group", "accounts.membership"),
        ("Staff users", "badge", "accounts.user"),
        ("API keys", "key", "accounts.apikey"),
    ]),
    ("Compliance", [
        ("Compliance board", "space_dashboard", "admin:compliance_board"),
        ("Performers", "verified_user", "compliance.performer"),
        ("Identity checks", "fingerprint", "compliance.identityverification"),
        ("Consents", "contract", "compliance.consentrecord"),
        ("Takedowns", "gavel", "compliance.takedownrequest"),
        ("Blocked terms", "block", "compliance.blockedterm"),
        ("Audit log", "history", "accounts.auditevent"),
    ]),
    ("Fan inbox", [
        ("Conversations", "chat", "inbox.conversation"),
        ("Scripts", "description", "inbox.script"),
        ("Shifts", "schedule", "inbox.shift"),
        ("Messages", "mark_chat_read", "inbox.message"),
        ("AI drafts", "smart_toy", "inbox.aidraft"),
        ("Fan notes", "sticky_note_2", "inbox.fannote"),
        ("Chatter performance", "leaderboard", "admin:inbox_chatter_performance"),
        ("Message review", "rate_review", "admin:inbox_message_review"),
    ]),
    ("Content", [
        ("Assets", "photo_library", "content.asset"),
        ("Collections", "collections", "content.collection"),
        ("Watermarks", "branding_watermark", "content.watermark"),
    ]),
    ("AI studio", [
        ("Generate", "auto_awesome", "admin:content_generationjob_generate"),
        ("Generation jobs", "pending_actions", "content.generationjob"),
        ("Prompt templates", "article", "content.prompttemplate"),
        ("Prompt categories", "category", "content.promptcategory"),
        ("Caption templates", "short_text", "content.captiontemplate"),
        ("Hashtag sets", "tag", "content.hashtagset"),
        ("Usage and cost", "receipt_long", "content.generationusage"),
        ("Backends", "dns", "content.generationbackend"),
    ]),
    ("Scheduling", [
        ("Calendar", "calendar_month", "admin:scheduling_calendar"),
        ("Posts", "edit_note", "scheduling.post"),
        ("Publications", "send", "scheduling.publication"),
        ("Platform accounts", "hub", "scheduling.platformaccount"),
        ("Takedown tasks", "delete_sweep", "scheduling.takedowntask"),
    ]),
    ("Notifications", [
        ("My notifications", "inbox", "admin:notifications_inbox"),
        ("Notifications", "notifications", "notifications.notification"),
        ("Webhook endpoints", "webhook", "notifications.webhookendpoint"),
        ("Webhook deliveries", "outbox", "notifications.webhookdelivery"),
    ]),
    ("Analytics", [
        ("Analytics dashboard", "monitoring", "admin:analytics_creator_dashboard"),
        ("Reports on demand", "summarize", "admin:analytics_report_on_demand"),
        ("Transactions", "payments", "analytics.transaction"),
        ("Fans", "favorite", "analytics.fan"),
        ("Daily rollups", "table_chart", "analytics.dailyrollup"),
        ("Best posting hours", "schedule", "analytics.postinghour"),
        ("Offers", "sell", "analytics.offer"),
        ("Tracking links", "link", "analytics.trackinglink"),
        ("Alert rules", "notification_important", "analytics.alertrule"),
        ("Report subscriptions", "forward_to_inbox", "analytics.reportsubscription"),
        ("Exchange rates", "currency_exchange", "analytics.exchangerate"),
    ]),
    (SYSTEM, [
        ("Periodic tasks", "schedule", "django_celery_beat.periodictask"),
        ("Interval schedules", "timer", "django_celery_beat.intervalschedule"),
        ("Crontab schedules", "event_repeat", "django_celery_beat.crontabschedule"),
        ("Task results", "task_alt", "django_celery_results.taskresult"),
        ("Login lockouts", "lock", "axes.accessattempt"),
        ("Login log", "login", "axes.accesslog"),
        ("Failed logins", "gpp_bad", "axes.accessfailurelog"),
        ("Backup codes", "password", "otp_static.staticdevice"),
        ("Authenticator apps", "phonelink_lock", "otp_totp.totpdevice"),
        ("Role groups", "groups", "auth.group"),
    ]),
]


def sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    home = {"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}
    review = _view_item("Review inbox", "inbox", "admin:scheduling_review_inbox")
    if review is not None and waiting_for(request):
        # Two COUNT queries per page (none for a role that approves nothing): what waits for this person.
        review["badge"] = "scheduling.views_review.inbox_badge"
    # Chatters spend their shift on the inbox screen: it sits at the top, never in a folded group.
    inbox = _view_item("Inbox", "forum", "admin:inbox_screen")
    navigation: list[dict[str, Any]] = [{"title": "Atelier", "separator": False,
                                         "items": [home, *([inbox] if inbox else []), *([review] if review else [])]}]
    for title, entries in GROUPS:
        items = [i for i in (_item(*entry) for entry in entries) if i is not None]
        if title == SYSTEM:
            items = [i for i in map(_owner_only, items) if i is not None]
        if items:
            navigation.append({"title": title, "separator": True, "collapsible": True, "items": items})
    return navigation
