// Follow-up reminders on the agent and supervisor pages: the list from /api/reminders, kept current by
// the `reminder` / `reminder_cleared` events, acknowledged with POST /api/reminders/ack.
"use strict";

function startReminders(socket) {
  const list = document.getElementById("reminders-list");
  if (!list) return;
  const empty = document.getElementById("reminders-empty");
  const count = document.getElementById("reminders-count");
  const shown = new Map();

  function refreshEmpty() {
    if (empty) empty.hidden = shown.size > 0;
    if (count) {
      count.textContent = String(shown.size);
      count.hidden = shown.size === 0;
    }
  }

  function add(r) {
    if (shown.has(r.key)) shown.get(r.key).remove();
    const ack = el("button", { type: "button", class: "small", dataset: { testid: "reminder-ack" } }, t("reminder.ack"));
    const item = el("li", { class: "reminder" + (r.overdue ? " overdue" : ""), dataset: { testid: "reminder", key: r.key, kind: r.kind } },
      el("div", { class: "reminder-main" },
        el("span", { class: "badge " + (r.overdue ? "bad" : "warn") }, t("reminder." + r.kind)),
        " ",
        el("a", { href: `/cases/${r.case_id}`, class: "mono" }, r.case_number),
        " ",
        el("span", {}, r.subject)),
      el("div", { class: "reminder-meta muted small" },
        `${t(r.kind.startsWith("follow_up") || r.kind === "claim_overdue" ? "reminder.due" : "reminder.since")} ${formatTime(r.due)}`,
        r.department ? ` · ${t("dept." + r.department)}` : "",
        r.assignee ? ` · ${t("reminder.assignee")} ${r.assignee}` : ""),
      ack);
    ack.addEventListener("click", async () => {
      ack.disabled = true;
      const answer = await postJSON("/api/reminders/ack", { key: r.key });
      if (answer.ok || answer.status === 404) remove(r.key);
      else ack.disabled = false;
    });
    shown.set(r.key, item);
    list.append(item);
    refreshEmpty();
  }

  function remove(key) {
    const item = shown.get(key);
    if (item) item.remove();
    shown.delete(key);
    refreshEmpty();
  }

  async function load() {
    const response = await fetch("/api/reminders", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const body = await response.json();
    for (const key of [...shown.keys()]) remove(key);
    for (const r of body.reminders || []) add(r);
  }

  if (socket) {
    socket.on("connect", load);
    socket.on("reminder", add);
    socket.on("reminder_cleared", (e) => remove(e.key));
  }
  load();
}
