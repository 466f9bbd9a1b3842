// Agent console: the screen pop, the call state, and the case form.
"use strict";

(function () {
  let current = null; // the pop on screen

  function setCallState(state, key) {
    const node = document.getElementById("call-state");
    node.dataset.state = state;
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

  function renderShipment(pop) {
    const shipment = pop.shipment;
    setText("pop-waybill", pop.waybill || t("pop.no_waybill"));
    const status = document.getElementById("pop-shipment-status");
    if (shipment) {
      status.textContent = shipment.status;
      status.dataset.state = "found";
      setText("pop-route", `${shipment.origin} → ${shipment.destination}`);
      setText("pop-consignee", shipment.consignee_name);
    } else {
      status.textContent = pop.waybill ? t("pop.shipment_unknown") : "–";
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

  function renderPop(pop) {
    current = pop;
    document.getElementById("pop-empty").hidden = true;
    document.getElementById("pop-body").hidden = false;
    document.getElementById("pop").dataset.linkedid = pop.linkedid;
    setText("pop-linkedid", pop.linkedid);
    setText("pop-caller", pop.caller);
    setText("pop-caller-name", pop.caller_name);
    const customer = document.getElementById("pop-customer");
    customer.replaceChildren();
    if (pop.customer) {
      customer.append(el("strong", {}, pop.customer.name));
      if (pop.customer.kind === "key_account") customer.append(" ", el("span", { class: "badge vip" }, t("pop.key_account")));
      if (pop.customer.note) customer.append(" ", el("span", { class: "muted" }, pop.customer.note));
    } else {
      customer.append(el("span", { class: "muted" }, pop.lookup_error || t("pop.no_customer")));
    }
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
    renderShipment(pop);
    fillList("pop-open-cases", pop.open_cases, (c) =>
      el("li", {},
        el("a", { href: `/cases/${c.id}`, class: "mono" }, c.number), " ",
        el("span", { class: "badge" }, t("case.kind." + c.kind)), " ",
        el("span", { class: "badge" }, t("case.status." + c.status)), " ", c.subject));
    fillList("pop-previous-calls", pop.previous_calls, (c) =>
      el("li", {},
        el("time", { datetime: c.started_at || "" }, formatTime(c.started_at)), " ",
        c.hotline ? el("span", { class: "badge" }, t("hotline." + c.hotline)) : null, " ",
        t("outcome." + c.outcome), c.agent ? ` · ${c.agent}` : ""));
    prepareForm(pop);
    setCallState("ringing", "status.ringing");
  }

  // --- case form --------------------------------------------------------------------------

  const form = document.getElementById("case-form");
  const saveButton = document.getElementById("case-save");
  const errorBox = document.getElementById("case-error");
  const resultBox = document.getElementById("case-result");

  function prepareForm(pop) {
    document.getElementById("case-linkedid").value = pop.linkedid;
    document.getElementById("case-customer-id").value = pop.customer ? String(pop.customer.id) : "";
    document.getElementById("case-waybill").value = pop.shipment ? pop.shipment.waybill : (pop.waybill || "");
    document.getElementById("case-kind").value = pop.suggested_kind;
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
      const response = await fetch("/api/cases", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        const detail = answer.detail ? ` (${answer.detail})` : "";
        errorBox.textContent = `${t("case.error")}: ${answer.message || response.statusText}${detail}`;
        errorBox.hidden = false;
        return;
      }
      const link = document.getElementById("case-number");
      link.textContent = answer.number;
      link.href = answer.url;
      resultBox.hidden = false;
      document.getElementById("case-subject").value = "";
      document.getElementById("case-description").value = "";
    } catch (err) {
      errorBox.textContent = `${t("case.error")}: ${err}`;
      errorBox.hidden = false;
    } finally {
      saveButton.disabled = false;
      saveButton.textContent = t("case.save");
    }
  }

  form.addEventListener("submit", saveCase);

  // --- socket -------------------------------------------------------------------------------

  const socket = connectSocket();
  if (!socket) return;
  socket.on("screen_pop", renderPop);
  socket.on("call_answered", (e) => {
    if (!current || current.linkedid === e.linkedid) setCallState("talking", "status.talking");
  });
  socket.on("ring_stopped", (e) => {
    if (current && current.linkedid === e.linkedid) setCallState("ring_stopped", "status.ring_stopped");
  });
  socket.on("call_ended", (e) => {
    if (current && current.linkedid === e.linkedid) setCallState("ended", "status.ended");
  });
  socket.on("agent_status", (e) => {
    const paused = e.paused ? ` · ${t("wb.paused")}${e.pause_reason ? " (" + e.pause_reason + ")" : ""}` : "";
    setText("agent-queue-status", `· ${e.queue}: ${t("state." + e.status)}${paused}`);
  });
  socket.on("pbx", (e) => {
    if (!e.connected) setCallState("pbx_down", "status.pbx_down");
  });
})();
