// The post form's "Suggest captions": ask the admin endpoint (studio.suggest_captions), list the
// variants with their length, and put a chosen one in the caption box.
(function () {
  "use strict";
  const box = document.getElementById("caption-suggest");
  if (!box) return;
  // Rendered after the form (no nested form); shown right under the caption box it fills. Its inputs
  // have no names and its buttons are type=button, so the post form never submits them.
  const captionRow = document.getElementById("id_caption") && document.getElementById("id_caption").closest(".field-row");
  if (captionRow) {
    captionRow.after(box);
    box.classList.remove("mt-6");
    box.classList.add("m-3");
  }
  const $ = (id) => document.getElementById(id);
  const clear = (el) => { while (el.firstChild) el.removeChild(el.firstChild); };
  const item = (parent, text) => { const li = document.createElement("li"); li.textContent = text; parent.appendChild(li); return li; };

  // The post's media as chosen in the form: an AI-made one means the captions carry the AI label.
  function assetIds() {
    return Array.from(document.querySelectorAll('[name^="post_assets-"][name$="-asset"]'))
      .filter((el) => !(document.querySelector('[name="' + el.name.replace(/-asset$/, "-DELETE") + '"]') || {}).checked)
      .map((el) => el.value).filter((v) => /^\d+$/.test(v));
  }

  function creatorId() {
    const select = document.getElementById("id_creator");
    return (select && select.value) || box.dataset.creator || "";
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function show(data) {
    const variants = $("caption-suggest-variants");
    $("caption-suggest-source").textContent = data.source ? "Suggested " + data.source + "." : "";
    (data.notes || []).forEach((note) => item($("caption-suggest-notes"), note));
    (data.variants || []).forEach((v, i) => {
      const li = item(variants, "");
      li.dataset.testid = "suggestion";
      li.className = "border border-base-200 dark:border-base-700 rounded-default p-2 flex items-start gap-3";
      const text = document.createElement("div");
      text.className = "grow whitespace-pre-wrap text-sm";
      text.textContent = v.text;
      const meta = document.createElement("div");
      meta.className = "text-xs whitespace-nowrap " + (v.fits ? "text-green-700" : "text-red-600");
      meta.textContent = v.length + " chars" + (v.fits ? " · fits" : " · too long");
      const use = document.createElement("button");
      use.type = "button";
      use.textContent = "Use";
      use.dataset.testid = "suggestion-use";
      use.className = "border border-base-200 dark:border-base-700 rounded-default px-3 py-1 font-medium";
      use.addEventListener("click", () => {
        const caption = document.getElementById("id_caption");
        if (caption) {
          caption.value = v.text;
          caption.dispatchEvent(new Event("input", { bubbles: true }));
          caption.focus();
        }
      });
      li.append(text, meta, use);
    });
  }

  async function suggest() {
    ["caption-suggest-variants", "caption-suggest-notes", "caption-suggest-errors"].forEach((id) => clear($(id)));
    $("caption-suggest-source").textContent = "Asking…";
    const creator = creatorId();
    if (!creator) {
      $("caption-suggest-source").textContent = "";
      item($("caption-suggest-errors"), "Choose the post's creator first.");
      return;
    }
    const response = await fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ creator: creator, platform: $("caption-suggest-platform").value,
                             topic: $("caption-suggest-topic").value, assets: assetIds() }),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { errors: ["The server answered " + response.status + "."] }; }
    $("caption-suggest-source").textContent = "";
    if (data.refused) {
      item($("caption-suggest-errors"), "Refused by the compliance screen:");
      data.reasons.forEach((reason) => item($("caption-suggest-errors"), reason));
      return;
    }
    if (!response.ok) {
      (data.errors || ["The server answered " + response.status + "."]).forEach((e) => item($("caption-suggest-errors"), e));
      return;
    }
    show(data);
  }

  $("caption-suggest-go").addEventListener("click", suggest);
  $("caption-suggest-topic").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); suggest(); }
  });
})();
