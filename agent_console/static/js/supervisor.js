// Supervisor wallboard: the whole board on connect, then versioned deltas (`wallboard_delta`);
// a version gap or a reconnect fetches the whole board again. Waits, durations and times in state
// tick on the page's own clock between pushes. Listen / whisper / barge and re-route go to the API.
"use strict";

(function () {
  const CONFIG = JSON.parse(document.getElementById("wb-config").textContent);
  const KEYS = { queues: "queue", agents: "agent", live_calls: "linkedid", alerts: "id", recent_calls: "linkedid",
    probes: "hotline", prompt_faults: "prompt" };
  let board = null;

  function cell(text, attrs) {
    return el("td", attrs || {}, text === null || text === undefined ? "–" : String(text));
  }

  function queueName(q) {
    const label = t("queue." + q);
    return label === "queue." + q ? q : label;
  }

  function pct(x) {
    return x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`;
  }

  function slClass(x) {
    if (x === null || x === undefined) return "";
    return x >= board.settings.service_level_target ? "good" : x >= board.settings.service_level_target - 0.15 ? "warn" : "bad";
  }

  function longest(q) {
    if (!q.waiting.length) return 0;
    return Math.max(...q.waiting.map((w) => serverNow() - w.since));
  }

  function renderKpis() {
    const box = document.getElementById("kpis");
    box.replaceChildren();
    const waiting = board.queues.reduce((n, q) => n + q.waiting.length, 0);
    const answered = board.queues.reduce((n, q) => n + q.answered, 0);
    const abandoned = board.queues.reduce((n, q) => n + q.abandoned, 0);
    const ready = board.agents.filter((a) => a.state === "ready").length;
    const talking = board.agents.filter((a) => a.state === "talking").length;
    const longestAll = Math.max(0, ...board.queues.map(longest));
    const tiles = [
      ["waiting", t("wb.waiting"), waiting, waiting > 0 ? "warn" : ""],
      ["longest", t("wb.longest"), fmtDuration(longestAll), longestAll >= board.settings.long_wait_alert_s ? "bad" : ""],
      ["answered", t("wb.answered"), answered, ""],
      ["abandoned", t("wb.abandoned"), abandoned, abandoned > 0 ? "warn" : ""],
      ["ready", t("astate.ready"), ready, "good"],
      ["talking", t("astate.talking"), talking, ""],
    ];
    for (const [key, label, value, tone] of tiles) {
      box.append(el("div", { class: `kpi ${tone}`, "data-testid": `kpi-${key}` },
        el("div", { class: "kpi-value" }, String(value)), el("div", { class: "kpi-label" }, label)));
    }
  }

  function renderQueues() {
    const body = document.getElementById("queues-body");
    body.replaceChildren();
    for (const q of board.queues) {
      const waiting = q.waiting.length;
      body.append(el("tr", { "data-testid": `queue-row-${q.queue}`, class: waiting > 0 ? "busy" : "" },
        el("td", {}, el("strong", {}, queueName(q.queue))),
        cell(waiting, { class: "num", "data-testid": `queue-waiting-${q.queue}` }),
        cell(waiting ? fmtDuration(longest(q)) : "–", { class: "num tick-longest", "data-queue": q.queue,
                                                       "data-testid": `queue-longest-${q.queue}` }),
        cell(q.answered, { class: "num", "data-testid": `queue-answered-${q.queue}` }),
        cell(q.abandoned, { class: "num", "data-testid": `queue-abandoned-${q.queue}` }),
        cell(pct(q.service_level), { class: `num sl ${slClass(q.service_level)}`, "data-testid": `queue-sl-${q.queue}` }),
        cell(q.aht_s === null ? "–" : fmtDuration(q.aht_s), { class: "num", "data-testid": `queue-aht-${q.queue}` })));
    }
  }

  async function act(url, body, okText) {
    document.getElementById("action-error").hidden = true;
    document.getElementById("action-result").hidden = true;
    const answer = await postJSON(url, body);
    if (!answer.ok) { flash("action-error", errorText(answer)); return; }
    flash("action-result", okText(answer.body));
  }

  // The agent's call as a supervisor knows it: who calls, on which queue (else hotline), for how long.
  function currentCall(a) {
    const td = el("td", { class: "call-cell", "data-testid": `agent-call-${a.agent}`, "data-linkedid": a.linkedid || "" });
    const c = a.call;
    if (!a.linkedid || !c) { td.textContent = "–"; return td; }
    const where = c.queue ? queueName(c.queue) : c.hotline ? t("hotline." + c.hotline) : "";
    td.append(
      c.caller_name ? el("strong", {}, c.caller_name + " ") : null,
      el("span", { class: "mono" }, c.caller || t("wb.withheld")),
      where ? el("span", { class: "muted" }, ` · ${where}`) : null,
      c.since ? el("span", { class: "muted" }, " · ") : null,
      c.since ? el("span", { class: "mono tick-since", "data-since": c.since }, fmtDuration(serverNow() - c.since)) : null);
    return td;
  }

  function renderAgents() {
    const body = document.getElementById("agents-body");
    body.replaceChildren();
    for (const a of board.agents) {
      const reason = a.paused ? (CONFIG.reasons[a.pause_reason] || a.pause_reason) : "";
      const state = el("span", { class: `state-pill small`, "data-state": a.state, "data-testid": `agent-state-${a.agent}` },
        t("astate." + a.state), reason ? ` · ${reason}` : "");
      const monitor = el("td", { class: "monitor" });
      if (a.linkedid && a.state === "talking") {
        for (const mode of ["listen", "whisper", "barge"]) {
          const b = el("button", { type: "button", class: `small spy-${mode}`, "data-testid": `spy-${mode}-${a.agent}` },
            t("spy." + mode));
          b.addEventListener("click", () => act("/api/supervisor/spy", { agent: a.agent, mode },
            (r) => `${t("spy." + mode)} ${a.agent} · ${t("spy.ringing")} ${r.phone}`));
          monitor.append(b);
        }
      }
      body.append(el("tr", { "data-testid": `agent-row-${a.agent}` },
        el("td", {}, el("strong", {}, a.agent), a.name ? el("span", { class: "muted" }, " " + a.name) : null),
        el("td", {}, state),
        a.since > 0
          ? cell(fmtDuration(serverNow() - a.since), { class: "num mono tick-since", "data-since": a.since,
                                                       "data-testid": `agent-since-${a.agent}` })
          : cell("–", { class: "num", "data-testid": `agent-since-${a.agent}` }),
        currentCall(a),
        monitor));
      // kept for older tests and tools: the paused flag with its reason
      body.lastChild.dataset.paused = a.paused ? "1" : "0";
    }
  }

  function renderLive() {
    const body = document.getElementById("live-body");
    body.replaceChildren();
    document.getElementById("live-empty").hidden = board.live_calls.length > 0;
    const queues = board.queues.map((q) => q.queue);
    for (const c of board.live_calls) {
      const reroute = el("td", {});
      const others = queues.filter((q) => q !== c.queue);
      if (c.in_queue && others.length > 0) {  // re-route to another queue (none known: nothing to offer)
        const select = el("select", { class: "small", "data-testid": `reroute-queue-${c.linkedid}` });
        for (const q of others) select.append(el("option", { value: q }, queueName(q)));
        const b = el("button", { type: "button", class: "small", "data-testid": `reroute-${c.linkedid}` }, t("wb.reroute_do"));
        b.addEventListener("click", () => act("/api/supervisor/reroute", { linkedid: c.linkedid, queue: select.value },
          () => `${t("wb.rerouted")} ${c.caller} → ${queueName(select.value)}`));
        reroute.append(select, " ", b);
      }
      const since = c.answered_at || c.started_at || serverNow();
      body.append(el("tr", { "data-testid": `live-call-${c.linkedid}`, class: c.in_queue ? "busy" : "" },
        el("td", {}, c.caller_name ? el("strong", {}, c.caller_name + " ") : null, el("span", { class: "mono" }, c.caller)),
        cell(c.hotline ? t("hotline." + c.hotline) : "–"),
        cell(c.queue ? queueName(c.queue) : "–"),
        cell(c.agent || (c.in_queue ? t("wb.in_queue") : "–")),
        cell(fmtDuration(serverNow() - since), { class: "num mono tick-since", "data-since": since }),
        reroute));
    }
  }

  function renderAlerts() {
    const list = document.getElementById("alerts-list");
    list.replaceChildren();
    document.getElementById("alerts-empty").hidden = board.alerts.length > 0;
    for (const a of board.alerts) {
      let text = "";
      if (a.kind === "long_wait") text = `${t("alert.long_wait")} · ${a.queue} · ${a.caller} · ${fmtDuration(serverNow() - a.since)}`;
      else if (a.kind === "sla") text = `${t("alert.sla")} · ${a.queue} · ${pct(a.service_level)} < ${pct(a.target)}`;
      else if (a.kind === "pbx_down") text = `${t("status.pbx_down")} · ${a.pbx}`;
      else if (a.kind === "probe_down") text = `${t("alert.probe_down")} · ${hotlineName(a.hotline)} · ${a.reason}`;
      else if (a.kind === "probe_stale") text = `${t("alert.probe_stale")} · ${hotlineName(a.hotline)} · ${formatEpoch(a.since)}`;
      else if (a.kind === "prompt_missing") text = `${t("alert.prompt_missing")} · ${hotlineName(a.hotline)} · ${a.prompt} · ×${a.count} · ${formatEpoch(a.since)}`;
      list.append(el("li", { class: `alert-item ${a.kind}`, "data-testid": `alert-${a.id}` }, text));
    }
  }

  function hotlineName(h) {
    const label = t("hotline." + h);
    return label === "hotline." + h ? h : label;
  }

  function ms(x) {
    return x === null || x === undefined ? "–" : Math.round(x * 1000);
  }

  function renderProbes() {
    const body = document.getElementById("probes-body");
    body.replaceChildren();
    const probes = board.probes || [];
    document.getElementById("probes-empty").hidden = probes.length > 0;
    for (const p of probes) {
      const state = !p.up ? "down" : p.stale ? "stale" : "up";
      body.append(el("tr", { "data-testid": `probe-${p.hotline}`, "data-state": state },
        cell(hotlineName(p.hotline)),
        el("td", {}, el("span", { class: `badge probe-${state}` }, t("wb.probe_" + state))),
        cell(formatEpoch(p.started_at)),
        cell(ms(p.setup_s), { class: "num" }),
        cell(ms(p.first_audio_s), { class: "num" }),
        cell(p.up ? "–" : `${p.stage}: ${p.reason}`)));
    }
  }

  function renderRecent() {
    const body = document.getElementById("recent-body");
    body.replaceChildren();
    document.getElementById("recent-empty").hidden = board.recent_calls.length > 0;
    for (const c of board.recent_calls.slice(0, 8)) {
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

  function render() {
    setText("wb-live-calls", board.live_calls_count);
    setText("wb-updated", formatEpoch(board.at));
    setText("wb-version", board.version);
    renderKpis();
    renderQueues();
    renderAlerts();
    renderAgents();
    renderLive();
    renderRecent();
    renderProbes();
  }

  function applyWhole(payload) {
    if (!payload || !payload.queues) return;
    noteServerTime(payload.at);
    board = payload;
    render();
  }

  function applyDelta(delta) {
    if (!board || delta.version !== board.version + 1) {
      if (!board || delta.version > board.version) requestWhole();
      return;
    }
    noteServerTime(delta.at);
    for (const section of Object.keys(KEYS)) {
      const change = delta[section];
      if (!change) continue;
      const key = KEYS[section];
      const rows = new Map(board[section].map((r) => [r[key], r]));
      for (const k of change.remove) rows.delete(k);
      for (const r of change.upsert) rows.set(r[key], r);
      board[section] = change.order.map((k) => rows.get(k)).filter(Boolean);
    }
    board.at = delta.at;
    board.live_calls_count = delta.live_calls_count;
    board.version = delta.version;
    render();
  }

  function requestWhole() {
    if (socket && socket.connected) socket.emit("wallboard_request", applyWhole);
  }

  // Waits, durations and times in state tick between pushes.
  setInterval(() => {
    if (!board) return;
    for (const node of document.querySelectorAll(".tick-since")) {
      node.textContent = fmtDuration(serverNow() - Number(node.dataset.since));
    }
    for (const q of board.queues) {
      const node = document.querySelector(`[data-testid="queue-longest-${q.queue}"]`);
      if (node && q.waiting.length > 0) node.textContent = fmtDuration(longest(q));
    }
  }, 1000);

  const socket = connectSocket();
  if (typeof startReminders === "function") startReminders(socket);
  if (!socket) return;
  socket.on("wallboard", applyWhole);
  socket.on("wallboard_delta", applyDelta);
  socket.on("pbx", (e) => {
    document.getElementById("pbx-state").hidden = e.connected;
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) requestWhole();
  });
})();
