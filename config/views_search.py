"""The admin's search answers: the sidebar's dropdown, the command palette and the full results page.

Unfold routes its sidebar search and command palette to `admin:search` (`?s=`); Atelier's site answers
that URL here, adding records (config.search) to unfold's menu matches. The same URL without `s`
(`/admin/search/?q=`) is the full page, grouped by kind of record. Nothing is cached: results depend on
memberships, which change at any time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.admin import AdminSite
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse
from unfold.dataclasses import SearchResult

from config import search

MENU_LIMIT = 8


def _menu_matches(site: Any, request: HttpRequest, term: str) -> list[SearchResult]:
    """Unfold's own matching of app and model names, among those the person may open."""
    apps = AdminSite.get_app_list(site, request)
    return site._search_apps(apps, term.lower())[:MENU_LIMIT]


def results_for(site: Any, request: HttpRequest, term: str) -> list[SearchResult]:
    """Menu entries first, then records group by group, then a way to the full page."""
    if not term:
        return []
    results = _menu_matches(site, request, term)
    for group, hit in search.flat_hits(search.search(site, request, term)):
        results.append(SearchResult(title=hit.title, description=f"{group.label} · {hit.detail}", link=hit.link,
                                    icon=group.icon))
    full = f"{reverse('admin:search')}?{urlencode({'q': term})}"
    results.append(SearchResult(title=f"All results for “{term}”", description="Search", link=full, icon="search"))
    return results


def fragment(site: Any, request: HttpRequest) -> HttpResponse:
    """What the sidebar dropdown (`?s=`) and the command palette (`?s=&extended=1`) swap in."""
    term = search.clean_term(request.GET.get("s"))
    if not term:
        return HttpResponse()
    results = results_for(site, request, term)
    if "extended" not in request.GET:
        return TemplateResponse(request, "admin/search/dropdown.html", {"results": results},
                                headers={"HX-Trigger": "search"})
    paginator = Paginator(results, len(results) or 1)
    return TemplateResponse(request, "unfold/helpers/command_results.html", {
        "page_obj": paginator, "results": paginator.page(1), "page_counter": 0, "execution_time": 0,
        "command_show_history": False}, headers={"HX-Trigger": "search"})


def page(site: Any, request: HttpRequest) -> HttpResponse:
    """The full results page, `/admin/search/?q=`."""
    raw = request.GET.get("q", "")
    term = search.clean_term(raw)
    groups = search.search(site, request, term, per_group=search.PER_GROUP * 2) if term else []
    context = {
        **site.each_context(request),
        "title": f"Search: {term}" if term else "Search",
        "term": term,
        "groups": groups,
        "too_short": 0 < len(term) < search.MIN_RECORD_TERM,
        "shortened": len(str(raw).strip()) > search.MAX_TERM,
        "max_term": search.MAX_TERM,
    }
    return render(request, "admin/search/page.html", context)
