/* The admin's glue under the Content-Security-Policy: no 'unsafe-eval', no inline script or handler.
 *
 * Unfold's templates are written for standard Alpine, which compiles every attribute expression with
 * `new Function` (blocked without 'unsafe-eval'). We load Alpine's CSP build instead, which interprets
 * a safe subset of expressions and calls only functions it was given. So unfold's global x-data
 * functions are registered here as components, and the few expressions outside the subset are
 * rewritten (core/template_patches.py) to call methods defined here. Loaded before Alpine starts.
 */
(function () {
  "use strict";

  document.addEventListener("alpine:init", function () {
    // x-data="theme(…)", "searchForm()", "searchDropdown()", "searchCommand()" in unfold's templates.
    Alpine.data("theme", function (value) { return theme(value); });
    Alpine.data("searchForm", function () { return searchForm(); });
    Alpine.data("searchCommand", function () { return searchCommand(); });
    Alpine.data("searchDropdown", function () {
      return Object.assign(searchDropdown(), {
        openResults: function () {
          this.openSearchResults = true;
          this.currentIndex = 0;
        },
        closeOrClear: function () {
          var input = this.$refs.searchInput;
          this.openSearchResults = false;
          if (input.value === "") { input.blur(); } else { input.value = ""; }
        },
        // Enter opens the highlighted result, or the last one ("All results for …") when none is.
        selectItem: function () {
          var links = document.querySelectorAll("#search-results a");
          var link = links[this.currentIndex - 1] || links[links.length - 1];
          if (link) { window.location = link.href; }
        },
      });
    });

    // The <body>: the active tab of a change form, and the sidebar state remembered across pages.
    Alpine.data("adminLayout", function (defaultTab, hasTabs) {
      var stored = localStorage.getItem("sidebarDesktopOpen");
      return {
        activeTab: hasTabs ? defaultTab : "",
        sidebarMobileOpen: false,
        sidebarDesktopOpen: stored === null ? true : stored === "1",
        init: function () {
          this.activeTab = hasTabs ? (getCurrentTab() || defaultTab) : "";
          this.$watch("sidebarDesktopOpen", function (value) {
            localStorage.setItem("sidebarDesktopOpen", value ? "1" : "0");
          });
        },
        // A change form posts back to itself, keeping the open tab in the fragment.
        formAction: function (tab) {
          var here = window.location.pathname + window.location.search;
          return tab && tab !== "general" ? here + "#" + tab : here;
        },
      };
    });
  });

  // <select data-autosubmit> submits its form on change (data-autosubmit-clear names a field to empty
  // first); <button data-print> prints the page. They replace inline on… handlers.
  document.addEventListener("change", function (event) {
    var field = event.target.closest && event.target.closest("[data-autosubmit]");
    if (!field || !field.form) { return; }
    var clear = field.dataset.autosubmitClear;
    if (clear && field.form.elements[clear]) { field.form.elements[clear].value = ""; }
    field.form.submit();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) { window.print(); }
  });
})();
