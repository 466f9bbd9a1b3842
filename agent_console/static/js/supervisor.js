// Supervisor wallboard: queues, agents and recent calls, redrawn on every `wallboard` event.
"use strict";

(function () {
  let board = null;
  let receivedAt = 0; // performance.now() when `board` arrived: waits keep ticking on our own clock

  function cell(text, attrs) {
    return el("td", attrs || {}, text === null || text === undefined ? "–" : String(text));
  }

  function ticking() {
    return (performance.now() - receivedAt) / 1000;
  }

  function renderQueues() {
    const body = document.getElementById("queues-body");
    body.replaceChildren();
    for (const q of board.queues) {
      const waiting = q.waiting.length;
      const longest = waiting > 0 ? Math.round(q.longest_wait_s + ticking()) : 0;
      body.append(el("tr", { "data-testid": `queue-row-${q.queue}`, class: waiting > 0 ? "busy" : "" },
        cell(q.queue),
        cell(waiting, { class: "num", "data-testid": `queue-waiting-${q.queue}` }),
        cell(longest, { class: "num", "data-testid": `queue-longest-${q.queue}`, "data-base": q.longest_wait_s,
                        "data-waiting": waiting }),
        cell(q.answered, { class: "num", "data-testid": `queue-answered-${q.queue}` }),
        cell(q.abandoned, { class: "num", "data-testid": `queue-abandoned-${q.queue}` })));
    }
  }

  function renderAgents() {
    const body = document.getElementById("agents-body");
    body.replaceChildren();
    for (const a of board.agents) {
      const state = el("span", { class: `state state-${a.status}`, "data-testid": `agent-state-${a.agent}` },
        t("state." + a.status));
      const paused = a.paused ? `${t("wb.yes")}${a.pause_reason ? " · " + a.pause_reason : ""}` : t("wb.no");
      body.append(el("tr", { "data-testid": `agent-row-${a.agent}` },
        el("td", {}, el("strong", {}, a.agent), a.name ? el("span", { class: "muted" }, " " + a.name) : null),
        el("td", {}, state),
        cell(paused, { "data-testid": `agent-paused-${a.agent}`, class: a.paused ? "paused" : "" }),
        cell(a.linkedid || "", { class: "mono", "data-testid": `agent-call-${a.agent}` })));
    }
  }

  function renderRecent() {
    const body = document.getElementById("recent-body");
    body.replaceChildren();
    document.getElementById("recent-empty").hidden = board.recent_calls.length > 0;
    for (const c of board.recent_calls) {
      body.append(el("tr", { "data-testid": `recent-call-${c.linkedid}` },
        cell(formatTime(c.started_at)),
        cell(c.caller + (c.caller_name ? ` ${c.caller_name}` : ""), { class: "mono" }),
        cell(c.hotline ? t("hotline." + c.hotline) : "–"),
        cell(t("outcome." + c.outcome), { class: `outcome-${c.outcome}` }),
        cell(c.agent || "–"),
        cell(c.wait_s === null ? "–" : Math.round(c.wait_s), { class: "num" }),
        cell(c.talk_s === null ? "–" : Math.round(c.talk_s), { class: "num" })));
    }
  }

  function render(payload) {
    board = payload;
    receivedAt = performance.now();
    setText("wb-live-calls", board.live_calls);
    setText("wb-updated", formatEpoch(board.at));
    renderQueues();
    renderAgents();
    renderRecent();
  }

  // The longest wait ticks every second between pushes.
  setInterval(() => {
    if (!board) return;
    for (const q of board.queues) {
      const node = document.querySelector(`[data-testid="queue-longest-${q.queue}"]`);
      if (node && q.waiting.length > 0) node.textContent = String(Math.round(q.longest_wait_s + ticking()));
    }
  }, 1000);

  const socket = connectSocket();
  if (!socket) return;
  socket.on("wallboard", render);
  socket.on("pbx", (e) => {
    document.getElementById("pbx-state").hidden = e.connected;
  });
  // Back from the background: ask for a fresh picture rather than wait for the next event.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && socket.connected) {
      socket.emit("wallboard_request", (payload) => { if (payload && payload.queues) render(payload); });
    }
  });
})();
