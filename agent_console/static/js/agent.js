// Agent console: the agent's state (from AMI, versioned), the screen pops, the case form and case
// work, callback tasks. The page renders the server's snapshot and applies `agent_delta`s in version
// order; a gap or a reconnect fetches the snapshot again.
"use strict";

(function () {
  const CONFIG = JSON.parse(document.getElementById("agent-config").textContent);
  let state = null; // the agent's snapshot, kept current by deltas
  let selected = null; // linkedid of the pop on screen
  let lastCase = null; // the case saved from this pop: {id, number}

  function setCallState(s, key) {
    const node = document.getElementById("call-state");
    node.dataset.state = s;
    node.textContent = t(key);
  }

  function fillList(id, items, render) {
    const list = document.getElementById(id);
    list.replaceChildren();
    if (!items || items.length === 0) {
      list.append(el("li", { class: "muted" }, t("pop.none")));
      return;
    }
    for (const item of items) list.append(render(item));
  }

  // --- the agent's state ------------------------------------------------------------------

  function applySnapshot(snap) {
    if (!snap || snap.error) return;
    noteServerTime(snap.at);
    state = snap;
    renderState();
  }

  function applyDelta(delta) {
    noteServerTime(delta.at);
    if (!state || delta.version !== state.version + 1) {
      if (!state || delta.version > state.version) requestSnapshot();
      return;
    }
    Object.assign(state, delta.set);
    state.version = delta.version;
    renderState();
  }

  function requestSnapshot() {
    if (socket && socket.connected) socket.emit("agent_state", {}, applySnapshot);
  }

  function renderState() {
    const pill = document.getElementById("agent-state");
    pill.dataset.state = state.state;
    pill.dataset.version = String(state.version);
    pill.textContent = t("astate." + state.state);
    const reason = state.paused ? (CONFIG.reasons[state.pause_reason] || state.pause_reason) : "";
    document.getElementById("agent-reason").textContent = reason && state.state === "paused" ? reason : "";
    document.getElementById("state-ready").disabled = !state.paused;
    for (const b of document.querySelectorAll(".pause-btn")) {
      b.classList.toggle("active", state.paused && b.dataset.reason === state.pause_reason);
    }
    document.getElementById("wrapup-box").hidden = !state.wrap_up_until;
    renderPops();
    tick();
  }

  function tick() {
    if (!state) return;
    setText("agent-since", fmtDuration(serverNow() - state.since));
    if (state.wrap_up_until) setText("wrapup-left", Math.max(0, Math.ceil(state.wrap_up_until - serverNow())));
  }
  setInterval(tick, 1000);

  async function setAgentState(body) {
    document.getElementById("state-error").hidden = true;
    const answer = await postJSON("/api/agent/state", body);
    if (!answer.ok) flash("state-error", errorText(answer));
  }

  document.getElementById("state-ready").addEventListener("click", () => setAgentState({ state: "ready" }));
  for (const b of document.querySelectorAll(".pause-btn")) {
    b.addEventListener("click", () => setAgentState({ state: "paused", reason: b.dataset.reason }));
  }
  document.getElementById("wrapup-extend").addEventListener("click", async () => {
    const answer = await postJSON("/api/agent/wrap-up/extend", {});
    if (!answer.ok) flash("state-error", errorText(answer));
  });

  // --- pops -------------------------------------------------------------------------------

  function allPops() {
    const pops = [...(state ? state.pops : [])];
    if (state && state.call && state.call.pop) pops.unshift(state.call.pop);
    return pops;
  }

  function renderPops() {
    const list = document.getElementById("pops-list");
    list.replaceChildren();
    const ringing = state ? state.pops : [];
    for (const pop of ringing) {
      const card = el("li", { class: "ring-card" + (pop.linkedid === selected ? " selected" : ""),
                              "data-testid": `pop-card-${pop.linkedid}` },
        el("span", { class: "ring-dot", "aria-hidden": "true" }),
        el("strong", { class: "mono" }, pop.caller || "?"), " ",
        el("span", {}, pop.customer ? pop.customer.name : t("pop.no_customer")), " ",
        el("span", { class: "badge" }, t("hotline." + (pop.hotline || ""))));
      card.addEventListener("click", () => { selected = pop.linkedid; renderPop(pop); renderPops(); });
      list.append(card);
    }
    const pops = allPops();
    const current = pops.find((p) => p.linkedid === selected);
    if (current) {
      renderPop(current, true);
    } else if (pops.length > 0) {
      selected = pops[0].linkedid;
      renderPop(pops[0]);
    }
    if (state && state.call) setCallState("talking", "status.talking");
    else if (ringing.length > 0) setCallState("ringing", "status.ringing");
  }

  function renderShipment(pop) {
    const shipment = pop.shipment;
    setText("pop-waybill", pop.waybill || t("pop.no_waybill"));
    const status = document.getElementById("pop-shipment-status");
    if (shipment) {
      status.textContent = shipment.status;
      status.dataset.state = "found";
      setText("pop-route", `${shipment.origin} → ${shipment.destination}`);
      setText("pop-consignee", `${shipment.consignee_name} ${shipment.consignee_phone || ""}` +
        (shipment.consignee_address ? ` · ${shipment.consignee_address}` : ""));
    } else {
      const missing = pop.waybill_lookup === "unavailable" ? "pop.shipment_unavailable" : "pop.shipment_unknown";
      status.textContent = pop.waybill ? t(missing) : "–";
      status.dataset.state = pop.waybill_lookup;
      setText("pop-route", "");
      setText("pop-consignee", "");
    }
    const events = shipment ? [...shipment.events].reverse() : [];
    fillList("pop-shipment-history", events, (e) =>
      el("li", {},
        el("time", { datetime: e.at }, formatTime(e.at)), " ",
        el("strong", {}, e.status), " ",
        el("span", { class: "muted" }, [e.place, e.note].filter(Boolean).join(" · "))));
  }

  function renderCandidates(pop) {
    const box = document.getElementById("pop-candidates");
    const list = document.getElementById("pop-candidates-list");
    list.replaceChildren();
    const candidates = pop.candidates || [];
    box.hidden = candidates.length < 2;
    if (box.hidden) return;
    const chosen = document.getElementById("case-customer-id").value;
    for (const c of candidates) {
      const input = el("input", { type: "radio", name: "pop-candidate", value: String(c.id),
                                  "data-testid": `candidate-${c.id}` });
      if (String(c.id) === chosen) input.checked = true;
      input.addEventListener("change", () => {
        document.getElementById("case-customer-id").value = String(c.id);
        setCustomer({ ...c });
      });
      list.append(el("label", { class: "candidate" }, input, " ", el("strong", {}, c.name), " ",
        c.kind === "key_account" ? el("span", { class: "badge vip" }, t("pop.key_account")) : null, " ",
        el("span", { class: "muted mono" }, c.phones.join(", "))));
    }
  }

  function setCustomer(customer, pop) {
    const node = document.getElementById("pop-customer");
    node.replaceChildren();
    if (customer) {
      node.append(el("strong", {}, customer.name));
      if (customer.kind === "key_account") node.append(" ", el("span", { class: "badge vip" }, t("pop.key_account")));
      if (customer.note) node.append(" ", el("span", { class: "muted" }, customer.note));
    } else if (pop && (pop.candidates || []).length > 1) {
      node.append(el("span", { class: "warn-text" }, t("pop.several_customers")));
    } else {
      node.append(el("span", { class: "muted" }, (pop && pop.lookup_error) || t("pop.no_customer")));
    }
  }

  function renderPop(pop, keepForm) {
    const fresh = document.getElementById("pop").dataset.linkedid !== pop.linkedid;
    document.getElementById("pop-empty").hidden = true;
    document.getElementById("pop-body").hidden = false;
    document.getElementById("pop").dataset.linkedid = pop.linkedid;
    setText("pop-linkedid", pop.linkedid);
    setText("pop-caller", pop.caller);
    setText("pop-caller-name", pop.caller_name);
    const hotline = document.getElementById("pop-hotline");
    hotline.textContent = t("hotline." + (pop.hotline || ""));
    hotline.dataset.hotline = pop.hotline;
    setText("pop-queue", pop.queue);
    const ivr = document.getElementById("pop-ivr");
    ivr.replaceChildren();
    if (pop.ivr_choices.length === 0) ivr.append(el("li", { class: "muted" }, t("pop.none")));
    for (const c of pop.ivr_choices) {
      const label = LANG === "en" ? c.label_en : c.label_zh;
      ivr.append(el("li", { class: label ? "chip" : "chip invalid" }, el("kbd", {}, c.digit), " ", label || "?"));
    }
    setText("pop-ivr-path", pop.ivr_path || "–");
    renderShipment(pop);
    fillList("pop-open-cases", pop.open_cases, (c) =>
      el("li", {},
        el("a", { href: `/cases/${c.id}`, class: "mono" }, c.number), " ",
        el("span", { class: "badge" }, t("case.kind." + c.kind)), " ",
        el("span", { class: "badge" }, t("case.status." + c.status)), " ",
        c.claim_stage ? el("span", { class: "badge claim-stage", "data-testid": `pop-claim-stage-${c.id}`,
                                     title: t("intake.claim_stage") },
          `${t("intake.claim_stage")}: ${LANG === "en" ? c.claim_stage_en : c.claim_stage_zh}`) : null, " ",
        c.subject));
    fillList("pop-previous-calls", pop.previous_calls, (c) =>
      el("li", {},
        el("time", { datetime: c.started_at || "" }, formatTime(c.started_at)), " ",
        c.hotline ? el("span", { class: "badge" }, t("hotline." + c.hotline)) : null, " ",
        t("outcome." + c.outcome), c.agent ? ` · ${c.agent}` : ""));
    if (fresh && !keepForm) prepareForm(pop);
    else if (fresh) prepareForm(pop);
    const chosenId = document.getElementById("case-customer-id").value;
    const chosen = (pop.candidates || []).find((c) => String(c.id) === chosenId) || pop.customer;
    setCustomer(chosen, pop);
    renderCandidates(pop);
  }

  // --- case form --------------------------------------------------------------------------

  const form = document.getElementById("case-form");
  const saveButton = document.getElementById("case-save");
  const errorBox = document.getElementById("case-error");
  const resultBox = document.getElementById("case-result");

  // the fields of the chosen kind (a complaint's type, a claim's cause and amount, a change's field and new
  // value): the others are hidden and disabled, so the form sends only the kind's own
  const kindSelect = document.getElementById("case-kind");
  function showKindFields() {
    for (const box of document.querySelectorAll(".kind-fields")) {
      const on = box.dataset.kinds.split(" ").includes(kindSelect.value);
      box.hidden = !on;
      box.disabled = !on;
    }
  }
  kindSelect.addEventListener("change", showKindFields);
  showKindFields();

  function resetKindFields() {
    document.getElementById("case-complaint-type").value = "other";
    document.getElementById("case-accident-cause").value = "other";
    for (const id of ["case-claimed", "case-branch", "case-change-field", "case-change-value"]) {
      document.getElementById(id).value = "";
    }
  }

  function workflowText(body) {
    if (body.complaint_id) return ` · ${t("intake.complaint_recorded")}`;
    if (body.claim_id) return ` · ${t("intake.claim_reported")} · ${t("intake.claim_stage")}: ${t("intake.stage." + body.claim_stage)}`;
    if (body.change_request_id) return ` · ${t("intake.change_requested")}`;
    return "";
  }

  function prepareForm(pop) {
    document.getElementById("case-linkedid").value = pop.linkedid;
    document.getElementById("case-customer-id").value = pop.customer ? String(pop.customer.id) : "";
    document.getElementById("case-waybill").value = pop.shipment ? pop.shipment.waybill : (pop.waybill || "");
    document.getElementById("case-kind").value = pop.suggested_kind;
    resetKindFields();
    showKindFields();
    document.getElementById("pop-withdrawn").hidden = true;
    errorBox.hidden = true;
    resultBox.hidden = true;
  }

  async function saveCase(event) {
    event.preventDefault();
    errorBox.hidden = true;
    resultBox.hidden = true;
    const body = {};
    for (const [name, value] of new FormData(form).entries()) {
      if (String(value).trim() !== "") body[name] = String(value).trim();
    }
    if (body.customer_id) body.customer_id = Number(body.customer_id);
    saveButton.disabled = true;
    saveButton.textContent = t("case.saving");
    try {
      const answer = await postJSON("/api/cases", body);
      if (!answer.ok) {
        flash("case-error", `${t("case.error")}: ${errorText(answer)}`);
        return;
      }
      const link = document.getElementById("case-number");
      link.textContent = answer.body.number;
      link.href = answer.body.url;
      setText("case-workflow", workflowText(answer.body));
      resultBox.hidden = false;
      lastCase = answer.body;
      showCaseWork();
      document.getElementById("case-subject").value = "";
      document.getElementById("case-description").value = "";
      resetKindFields();
    } catch (err) {
      flash("case-error", `${t("case.error")}: ${err}`);
    } finally {
      saveButton.disabled = false;
      saveButton.textContent = t("case.save");
    }
  }

  form.addEventListener("submit", saveCase);

  // --- case work: wrap-up code, note, referral with deadline, change request ----------------

  function showCaseWork() {
    document.getElementById("case-work").hidden = false;
    setText("work-case-number", lastCase.number);
    document.getElementById("change-box").open = lastCase.kind === "change_request";
  }

  document.getElementById("work-save").addEventListener("click", async () => {
    if (!lastCase) return;
    document.getElementById("work-error").hidden = true;
    const body = {};
    const code = document.getElementById("work-wrapup").value;
    const note = document.getElementById("work-note").value.trim();
    const status = document.getElementById("work-status").value;
    const dept = document.getElementById("work-department").value;
    const due = document.getElementById("work-due").value;
    if (code) body.wrap_up_code = code;
    if (note) body.note = note;
    if (status) body.status = status;
    if (dept) body.department = dept;
    if (due) body.follow_up_due = due;
    const answer = await postJSON(`/api/cases/${lastCase.id}/update`, body);
    if (!answer.ok) { flash("work-error", errorText(answer)); return; }
    document.getElementById("work-note").value = "";
    flash("work-result", `${t("work.saved")} · ${t("case.status." + answer.body.status)}` +
      (answer.body.follow_up_due ? ` · ${t("work.deadline")} ${formatTime(answer.body.follow_up_due)}` : ""));
  });

  document.getElementById("change-save").addEventListener("click", async () => {
    if (!lastCase) return;
    document.getElementById("work-error").hidden = true;
    const answer = await postJSON(`/api/cases/${lastCase.id}/change-request`, {
      field: document.getElementById("change-field").value,
      new_value: document.getElementById("change-value").value.trim(),
      reason: document.getElementById("change-reason").value.trim(),
    });
    if (!answer.ok) { flash("work-error", errorText(answer)); return; }
    document.getElementById("change-value").value = "";
    document.getElementById("change-reason").value = "";
    flash("work-result", `${t("change.saved")}: ${answer.body.old_value} → ${answer.body.new_value}`);
  });

  // --- callback tasks ---------------------------------------------------------------------------

  async function loadCallbacks() {
    const response = await fetch("/api/callbacks", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const { tasks } = await response.json();
    fillList("callbacks-list", tasks, (task) => {
      const button = el("button", { type: "button", class: "small primary", "data-testid": `callback-accept-${task.case_id}` },
        t("tasks.accept"));
      button.addEventListener("click", async () => {
        document.getElementById("callback-error").hidden = true;
        const answer = await postJSON(`/api/callbacks/${task.case_id}/accept`, {});
        if (!answer.ok) { flash("callback-error", errorText(answer)); return; }
        flash("callback-result", `${t("tasks.calling")} ${answer.body.calling} · ${answer.body.number}`);
        loadCallbacks();
      });
      return el("li", { class: "task", "data-testid": `callback-${task.case_id}` },
        el("div", {}, el("strong", { class: "mono" }, task.caller || "?"), " ",
          el("span", { class: "badge" }, t("case.status." + task.status)),
          task.assigned_to ? el("span", { class: "muted small" }, ` · ${task.assigned_to}`) : null),
        el("div", { class: "muted small" }, el("a", { href: `/cases/${task.case_id}`, class: "mono" }, task.number),
          " · ", formatTime(task.created_at)),
        button);
    });
  }
  document.getElementById("callbacks-refresh").addEventListener("click", loadCallbacks);
  loadCallbacks();

  // --- socket -------------------------------------------------------------------------------

  const socket = connectSocket();
  if (typeof startReminders === "function") startReminders(socket);
  if (typeof startChangeCallbacks === "function") startChangeCallbacks(socket);
  if (!socket) return;
  socket.on("agent_state", applySnapshot);
  socket.on("agent_delta", applyDelta);
  socket.on("connect", requestSnapshot);
  socket.on("pop_withdrawn", (e) => {
    const key = e.reason === "answered_elsewhere" ? "pop.withdrawn_answered" : "pop.withdrawn";
    flash("pop-withdrawn", `${t(key)}${e.by ? " · " + e.by : ""}`);
    if (selected === e.linkedid) setCallState("ring_stopped", "status.ring_stopped");
  });
  socket.on("call_ended", (e) => {
    if (selected === e.linkedid) setCallState("ended", "status.ended");
    loadCallbacks();
  });
  socket.on("agent_status", (e) => {
    setText("agent-queue-status", `· ${e.queue}: ${t("state." + e.status)}`);
  });
  socket.on("pbx", (e) => {
    if (!e.connected) setCallState("pbx_down", "status.pbx_down");
  });
})();
