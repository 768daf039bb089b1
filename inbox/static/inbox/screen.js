/* The chatter's screen, live: polls /admin/inbox/live/ every second (10 s while the tab is hidden) and
   applies what changed — the list when its signature moved, new messages of the open thread, delivery and
   read states, who holds the conversation. Typing holds it (a soft lock renewed every 15 s). A script fills
   the compose box. No framework: the admin's CSP allows our own static files only. */
(function () {
  "use strict";
  var root = document.getElementById("inbox-screen");
  if (!root) { return; }
  var POLL_MS = 1000, HIDDEN_POLL_MS = 10000, LOCK_RENEW_MS = 15000;
  var signature = root.dataset.signature || "";
  var conversation = root.dataset.conversation || "";
  var after = root.dataset.after || "0";
  var inFlight = false;

  var rows = document.getElementById("inbox-rows");
  var list = document.getElementById("inbox-messages");
  var lockBox = document.getElementById("inbox-lock");
  var compose = document.getElementById("inbox-compose");
  var text = document.getElementById("inbox-text");

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function scrollDown() { if (list) { list.scrollTop = list.scrollHeight; } }

  function liveUrl() {
    var params = new URLSearchParams();
    if (root.dataset.show && root.dataset.show !== "all") { params.set("show", root.dataset.show); }
    if (root.dataset.q) { params.set("q", root.dataset.q); }
    params.set("sig", signature);
    if (conversation) {
      params.set("c", conversation);
      params.set("after", after);
      params.set("visible", document.hidden ? "0" : "1");
    }
    return root.dataset.liveUrl + "?" + params.toString();
  }

  function apply(data) {
    if (data.list && data.list.html !== null && rows) {
      rows.innerHTML = data.list.html;
      signature = data.list.signature;
    }
    var thread = data.thread;
    if (!thread || String(thread.conversation) !== conversation) { return; }
    if (thread.reload) { window.location.reload(); return; }
    if (thread.html && list) {
      var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      list.insertAdjacentHTML("beforeend", thread.html);
      if (nearBottom) { scrollDown(); }
    }
    after = String(thread.last);
    Object.keys(thread.states || {}).forEach(function (id) {
      var state = document.querySelector('[data-state-for="' + id + '"]');
      if (state && state.textContent !== thread.states[id].state) { state.textContent = thread.states[id].state; }
      var ppv = document.querySelector('[data-ppv-for="' + id + '"]');
      if (ppv && thread.states[id].ppv && ppv.textContent !== thread.states[id].ppv) { ppv.textContent = thread.states[id].ppv; }
    });
    if (lockBox) {
      var holder = thread.lock && thread.lock.holder;
      lockBox.textContent = holder ? holder + " is typing in this conversation: your send waits until they finish." : "";
      lockBox.classList.toggle("ib-hidden", !holder);
    }
  }

  function poll() {
    if (inFlight) { return schedule(); }
    inFlight = true;
    fetch(liveUrl(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { inFlight = false; schedule(); });
  }

  var timer = null;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });

  // --- The soft lock while typing ------------------------------------------------------------------
  var lastLock = 0;
  function hold() {
    if (!root.dataset.lockUrl || Date.now() - lastLock < LOCK_RENEW_MS) { return; }
    lastLock = Date.now();
    var body = new URLSearchParams();
    body.set("csrfmiddlewaretoken", csrf());
    fetch(root.dataset.lockUrl, {method: "POST", credentials: "same-origin", body: body,
                                 headers: {"X-CSRFToken": csrf()}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && !data.held && data.holder && lockBox) {
          lockBox.textContent = data.holder + " is typing in this conversation: your send waits until they finish.";
          lockBox.classList.remove("ib-hidden");
        }
      })
      .catch(function () { lastLock = 0; });
  }
  if (text) { text.addEventListener("input", hold); }
  // Leaving the page lets go at once rather than after the lock lapses (a minute after the last keystroke).
  window.addEventListener("pagehide", function () {
    if (!root.dataset.lockUrl || !lastLock || !navigator.sendBeacon) { return; }
    var body = new FormData();
    body.append("csrfmiddlewaretoken", csrf());
    body.append("release", "1");
    navigator.sendBeacon(root.dataset.lockUrl, body);
  });

  // --- Scripts fill the compose box ----------------------------------------------------------------
  var picker = document.getElementById("inbox-script");
  if (picker && compose) {
    picker.addEventListener("change", function () {
      var option = picker.options[picker.selectedIndex];
      var scriptField = compose.querySelector("input[name=script]");
      if (scriptField) { scriptField.value = option.value; }
      if (!option.value) { return; }
      if (text) { text.value = option.dataset.text || ""; text.focus(); hold(); }
      var ids = (option.dataset.assets || "").split(",").filter(Boolean);
      compose.querySelectorAll("input[name=assets]").forEach(function (box) {
        box.checked = ids.indexOf(box.value) !== -1;
      });
      if (ids.length) { var vault = compose.querySelector("details"); if (vault) { vault.open = true; } }
      var price = document.getElementById("inbox-price");
      if (price) { price.value = option.dataset.price || ""; }
    });
  }

  // --- One click sends once (the form's key would make a second POST harmless anyway) ----------------
  if (compose) {
    compose.addEventListener("submit", function () {
      setTimeout(function () {
        compose.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  }

  scrollDown();
  schedule();
})();
