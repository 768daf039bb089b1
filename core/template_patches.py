"""Small, checked edits to third-party admin templates, applied as they load.

The admin runs under a Content-Security-Policy without 'unsafe-eval', so it uses Alpine's CSP build
(see core/static/core/admin.js). A handful of unfold's Alpine expressions fall outside what that
build interprets (statements, `if`, arrow functions, globals such as localStorage); each is rewritten
here to call a method of admin.js, and unfold's script tag points at the CSP build.

Patching beats copying the templates: an unfold upgrade keeps every other change it brings, and a
patch whose text is no longer there fails loudly (ImproperlyConfigured, caught by the test suite)
instead of leaving a stale copy that half-works.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.template import Origin
from django.template.loaders.app_directories import Loader as AppDirectoriesLoader

ALPINE_CSP = "core/vendor/alpinejs-csp-3.17.4/cdn.min.js"


@dataclass(frozen=True)
class Patch:
    template: str
    old: str
    new: str
    why: str
    package: str = "/unfold/templates/"  # whose template: a fragment of its path on disk


PATCHES: tuple[Patch, ...] = (
    Patch(
        "unfold/layouts/skeleton.html",
        """<script src="{% static 'unfold/js/alpine/alpine.js' %}" defer></script>""",
        f"""<script src="{{% static '{ALPINE_CSP}' %}}" defer></script>""",
        "Alpine's CSP build instead of the standard one"),
    Patch(
        "unfold/layouts/skeleton.html",
        """          x-data="{
                  {% if opts %}activeTab: '{% tabs_primary_active inline_admin_formsets %}',{% endif %}
                  sidebarMobileOpen: false,
                  sidebarDesktopOpen: (localStorage.getItem('sidebarDesktopOpen') !== null) ? (localStorage.getItem('sidebarDesktopOpen') == '1') : true
                  }"
          x-init="
                  activeTab = {% if opts %}getCurrentTab() || '{% tabs_primary_active inline_admin_formsets %}'{% else %}''{% endif %};
                  $watch('sidebarDesktopOpen', value => localStorage.setItem('sidebarDesktopOpen', value ? '1' : '0'));
                 "
""",  # noqa: E501 - unfold's own lines, matched verbatim
        """          x-data="adminLayout('{% if opts %}{% tabs_primary_active inline_admin_formsets %}{% endif %}', {% if opts %}true{% else %}false{% endif %})"
""",  # noqa: E501
        "the body's tab and sidebar state read localStorage and use an arrow function"),
    Patch(
        "unfold/helpers/welcomemsg.html",
        """x-on:click="sidebarDesktopOpen = !sidebarDesktopOpen; localStorage.setItem('sidebarDesktopOpen', sidebarDesktopOpen ? '1' : '0');\"""",  # noqa: E501
        """x-on:click="sidebarDesktopOpen = !sidebarDesktopOpen\"""",
        "the sidebar toggle wrote localStorage itself (adminLayout watches the value instead)"),
    Patch(
        "unfold/helpers/search.html",
        """x-on:focus="openSearchResults = true; currentIndex = 0\"""",
        """x-on:focus="openResults()\"""",
        "two statements"),
    Patch(
        "unfold/helpers/search.html",
        """x-on:keydown.escape.prevent="openSearchResults = false; if ($refs.searchInput.value === '') { $refs.searchInput.blur() } else { $refs.searchInput.value = '' }\"""",  # noqa: E501
        """x-on:keydown.escape.prevent="closeOrClear()\"""",
        "an if statement"),
    Patch(
        "unfold/helpers/search.html",
        """placeholder="{% trans 'Search apps and models...' %}\"""",
        """placeholder="Search records and menus…\"""",
        "the sidebar search finds records too (config.views_search)"),
    Patch(
        "unfold/helpers/command.html",
        """x-on:keydown.enter.prevent="if (!$event.metaKey && !$event.ctrlKey) selectItem(""",
        """x-on:keydown.enter.prevent="!$event.metaKey && !$event.ctrlKey && selectItem(""",
        "an if statement"),
    Patch(
        "admin/change_form.html",
        """x-bind:action="activeTab && activeTab !== 'general' ? window.location.pathname + window.location.search + '#' + activeTab : window.location.pathname + window.location.search\"""",  # noqa: E501
        """x-bind:action="formAction(activeTab)\"""",
        "reads window.location"),
)


def apply_patches(origin: Origin, contents: str) -> str:
    path = str(origin.name).replace("\\", "/")
    for patch in PATCHES:
        if origin.template_name != patch.template or patch.package not in path:
            continue
        if contents.count(patch.old) != 1:
            raise ImproperlyConfigured(
                f"{origin.name} no longer contains the text core/template_patches.py rewrites ({patch.why}). "
                f"The installed unfold changed: review the patch against the new template.")
        contents = contents.replace(patch.old, patch.new)
    return contents


class Loader(AppDirectoriesLoader):
    """Installed apps' templates, with PATCHES applied to the ones they name."""

    def get_contents(self, origin: Origin) -> str:
        return apply_patches(origin, super().get_contents(origin))
