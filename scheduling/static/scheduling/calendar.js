/* Drag a scheduled chip to another day (month) or day and hour (week), or an approved post from the
   tray onto a day; the server decides. Without script, the tray's "Schedule…" links do the same. */
(function () {
  "use strict";
  var root = document.getElementById("calendar");
  if (!root) { return; }
  var moveUrl = root.getAttribute("data-move-url");
  var scheduleUrl = root.getAttribute("data-schedule-url");
  var message = document.getElementById("calendar-message");
  var dragged = null;
  var draggedPost = null;

  function csrfToken() {
    var input = root.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function show(kind, title, reasons) {
    message.className = "cal-message--" + kind;
    message.textContent = "";
    var head = document.createElement("div");
    head.className = "font-semibold";
    head.textContent = title;
    message.appendChild(head);
    if (reasons && reasons.length) {
      var list = document.createElement("ul");
      list.className = "list-disc pl-5";
      reasons.forEach(function (r) {
        var li = document.createElement("li");
        li.setAttribute("data-reason", r.code);
        li.textContent = r.message;
        list.appendChild(li);
      });
      message.appendChild(list);
    }
  }

  root.addEventListener("dragstart", function (e) {
    var waiting = e.target.closest && e.target.closest(".cal-tray-item--movable");
    if (waiting) {
      draggedPost = waiting;
      waiting.classList.add("cal-chip--moving");
      e.dataTransfer.effectAllowed = "copyMove";
      e.dataTransfer.setData("text/plain", "post:" + waiting.getAttribute("data-post"));
      return;
    }
    var chip = e.target.closest && e.target.closest(".cal-chip--movable");
    if (!chip) { return; }
    dragged = chip;
    chip.classList.add("cal-chip--moving");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", chip.getAttribute("data-publication"));
  });
  root.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("cal-chip--moving"); }
    if (draggedPost) { draggedPost.classList.remove("cal-chip--moving"); draggedPost = null; }
    root.querySelectorAll(".cal-cell--over").forEach(function (c) { c.classList.remove("cal-cell--over"); });
  });
  root.addEventListener("dragover", function (e) {
    var cell = e.target.closest && e.target.closest("[data-drop]");
    if (!cell || !(dragged || draggedPost)) { return; }
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    cell.classList.add("cal-cell--over");
  });
  root.addEventListener("dragleave", function (e) {
    var cell = e.target.closest && e.target.closest("[data-drop]");
    if (cell && !cell.contains(e.relatedTarget)) { cell.classList.remove("cal-cell--over"); }
  });
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: body,
      headers: {"X-CSRFToken": csrfToken(), "Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}
    }).then(function (response) {
      return response.json().catch(function () { return {ok: false, error: "The server answered " + response.status + "."}; });
    });
  }

  function dropPost(cell, item) {
    var body = new URLSearchParams();
    body.set("post", item.getAttribute("data-post"));
    body.set("date", cell.getAttribute("data-date"));
    if (cell.getAttribute("data-drop") === "hour") { body.set("hour", cell.getAttribute("data-hour")); }
    if (root.getAttribute("data-label-zones") === "1") { body.set("labels", "1"); }
    post(scheduleUrl, body).then(function (data) {
      if (!data.ok) {
        show("error", data.error || "The post was not scheduled.", data.reasons);
        return;
      }
      var moreLink = cell.querySelector(".cal-more");
      var holder = document.createElement("div");
      (data.chips || []).forEach(function (html) {
        holder.innerHTML = html;  // rendered and escaped by the server
        while (holder.firstElementChild) { cell.insertBefore(holder.firstElementChild, moreLink); }
      });
      cell.classList.remove("cal-cell--empty");
      var list = item.parentNode;
      var tray = list && list.closest("[data-testid=calendar-tray]");
      item.remove();
      if (tray && !list.children.length) { tray.remove(); }
      var count = tray && tray.querySelector("[data-role=tray-count]");
      if (count) { count.textContent = String(list.children.length); }
      var text = (data.already ? "Already scheduled for " : "Scheduled for ") + data.label + ".";
      if (data.warnings && data.warnings.length) {
        show("error", text + " But: " + data.warnings.join(" "));
      } else { show("ok", text); }
    }).catch(function () {
      show("error", "The post was not scheduled: the server could not be reached.");
    });
  }

  root.addEventListener("drop", function (e) {
    var cell = e.target.closest && e.target.closest("[data-drop]");
    if (cell && draggedPost) {
      e.preventDefault();
      cell.classList.remove("cal-cell--over");
      var item = draggedPost;
      draggedPost = null;
      item.classList.remove("cal-chip--moving");
      dropPost(cell, item);
      return;
    }
    if (!cell || !dragged) { return; }
    e.preventDefault();
    cell.classList.remove("cal-cell--over");
    var chip = dragged;
    dragged = null;
    chip.classList.remove("cal-chip--moving");
    var body = new URLSearchParams();
    body.set("publication", chip.getAttribute("data-publication"));
    body.set("date", cell.getAttribute("data-date"));
    if (cell.getAttribute("data-drop") === "hour") { body.set("hour", cell.getAttribute("data-hour")); }
    fetch(moveUrl, {
      method: "POST", credentials: "same-origin", body: body,
      headers: {"X-CSRFToken": csrfToken(), "Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}
    }).then(function (response) {
      return response.json().catch(function () { return {ok: false, error: "The server answered " + response.status + "."}; });
    }).then(function (data) {
      if (!data.ok) {
        show("error", data.error || "The publication was not moved.", data.reasons);
        return;
      }
      var moreLink = cell.querySelector(".cal-more");
      cell.insertBefore(chip.closest(".cal-chip-wrap") || chip, moreLink);
      cell.classList.remove("cal-cell--empty");
      var time = chip.querySelector("[data-role=time]");
      if (time) { time.textContent = time.textContent.replace(/^\d\d:\d\d/, data.label.slice(0, 5)); }
      chip.setAttribute("data-scheduled-at", data.scheduled_at);
      // Moved, but its account cannot publish: say so now rather than at the due time.
      if (data.warning) { show("error", "Moved to " + data.date + " " + data.label + ", but " + data.warning); }
      else { show("ok", "Moved to " + data.date + " " + data.label + "."); }
    }).catch(function () {
      show("error", "The publication was not moved: the server could not be reached.");
    });
  });
})();
