// The callbacks (回电) owed after a change request was approved or refused, on the agent page: the list
// from /api/change-callbacks, kept current by the `change_callback` event, done with
// POST /api/change-callbacks/<id>/done (agent_console/change_callbacks.py); reloaded every minute too.
"use strict";

function startChangeCallbacks(socket) {
  const list = document.getElementById("change-callbacks-list");
  if (!list) return;
  const empty = document.getElementById("change-callbacks-empty");
  const count = document.getElementById("change-callbacks-count");
  const shown = new Map();

  function refresh() {
    if (empty) empty.hidden = shown.size > 0;
    if (count) {
      count.textContent = String(shown.size);
      count.hidden = shown.size === 0;
    }
  }

  function remove(id) {
    const item = shown.get(id);
    if (item) item.remove();
    shown.delete(id);
    refresh();
  }

  function add(c) {
    if (c.done) { remove(c.id); return; }
    if (shown.has(c.id)) shown.get(c.id).remove();
    const good = c.outcome === "applied";
    const button = el("button", { type: "button", class: "small primary", dataset: { testid: `change-callback-done-${c.id}` } },
      t("chg.callback_mark_done"));
    const item = el("li", { class: "task", dataset: { testid: `change-callback-${c.id}`, outcome: c.outcome } },
      el("div", {},
        el("span", { class: "badge " + (good ? "score-ok" : "bad") }, c.outcome_label), " ",
        el("a", { href: `/cases/${c.case_id}`, class: "mono" }, c.case_number), " ",
        el("span", {}, `${c.field_label}: ${c.old_value || "–"} → ${c.new_value}`)),
      el("div", { class: "muted small" }, `${t("chg.decided_by")} ${c.decided_by}`, c.note ? ` · ${c.note}` : "",
        " · ", formatTime(c.created_at), c.agent ? "" : ` · ${t("chg.callback_anyone")}`),
      button);
    button.addEventListener("click", async () => {
      button.disabled = true;
      const answer = await postJSON(`/api/change-callbacks/${c.id}/done`, {});
      if (answer.ok || answer.status === 404 || answer.status === 409) remove(c.id);
      else { button.disabled = false; flash("change-callbacks-error", errorText(answer)); }
    });
    shown.set(c.id, item);
    list.prepend(item);
    refresh();
  }

  async function load() {
    const response = await fetch("/api/change-callbacks", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const body = await response.json();
    for (const id of [...shown.keys()]) remove(id);
    for (const c of (body.callbacks || []).slice().reverse()) add(c);
  }

  if (socket) {
    socket.on("connect", load);
    socket.on("change_callback", add);
  }
  load();
  setInterval(load, 60000);  // those of no one in particular (the IVR's changes) are not pushed to agents
}
