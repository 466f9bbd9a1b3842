// Live transcripts: the agent's pane (their own call only: the server sends nothing else) and the
// supervisor's live-call view with live alerts. `live_transcript` lines are partial (replaced by the
// next partial of the same stream) or final; `live_alert` an escalation word or taboo phrase;
// `live_call_ended` closes a call. Uses the page's socket (common.js connectSocket).
"use strict";

(function () {
  const socket = window.hotlineSocket;
  if (!socket) return;
  const MAX_FINALS_SHOWN = 200;
  const MAX_FINALS_PER_CALL_SUPERVISOR = 8;
  const MAX_ALERTS = 50;
  const ENDED_KEPT_MS = 60000; // an ended call stays in the supervisor's view this long (late last lines)

  // One call's lines in an <ol>: a partial per stream (updated in place) and the finals in order.
  function lineList(ol, maxFinals) {
    const partials = new Map(); // stream -> <li>
    const seen = new Set(); // "stream:seq" of finals already shown (a replay after reconnect)
    function node(e, kind) {
      const who = el("span", { class: "lt-who" }, t(e.speaker === "agent" ? "live.agent" : "live.customer"));
      const text = el("span", { class: "lt-text", "data-testid": "live-text" }, e.text);
      return el("li", {
        class: `lt-line ${e.speaker} ${kind}`, "data-testid": kind === "partial" ? "live-partial" : "live-final",
        "data-speaker": e.speaker, "data-stream": e.stream, "data-seq": String(e.seq),
      }, who, text);
    }
    function trim() {
      const finals = ol.querySelectorAll("li.final");
      for (let i = 0; i < finals.length - maxFinals; i++) finals[i].remove();
    }
    return {
      apply(e) {
        const key = `${e.stream}:${e.seq}`;
        if (seen.has(key)) return;
        const current = partials.get(e.stream);
        if (current && Number(current.dataset.seq) > e.seq) return; // an older result arriving late
        if (!e.final) {
          if (current) {
            current.querySelector(".lt-text").textContent = e.text;
            current.dataset.seq = String(e.seq);
          } else {
            const li = node(e, "partial");
            partials.set(e.stream, li);
            ol.insertBefore(li, ol.querySelector(".lt-ended"));
          }
          ol.dataset.partials = String(Number(ol.dataset.partials || 0) + 1);
          return;
        }
        seen.add(key);
        const li = node(e, "final");
        if (current) {
          current.replaceWith(li);
          partials.delete(e.stream);
        } else {
          ol.insertBefore(li, ol.querySelector(".lt-ended"));
        }
        ol.dataset.finals = String(Number(ol.dataset.finals || 0) + 1);
        trim();
      },
      end() {
        // recognition may still be finishing the last words: they come as late lines
        if (!ol.querySelector(".lt-ended")) {
          ol.append(el("li", { class: "lt-ended muted small", "data-testid": "live-ended" }, t("live.ended")));
        }
      },
    };
  }

  // --- the agent's pane ------------------------------------------------------------------------
  const pane = document.getElementById("lt-pane");
  if (pane) {
    const ol = document.getElementById("lt-lines");
    let call = null;
    let lines = null;
    // calls that ended before their first line came (recognition behind real time on a loaded machine)
    const endedEarly = [];
    socket.on("live_transcript", (e) => {
      if (e.linkedid !== call) {
        call = e.linkedid;
        ol.replaceChildren();
        delete ol.dataset.partials;
        delete ol.dataset.finals;
        lines = lineList(ol, MAX_FINALS_SHOWN);
        setText("lt-linkedid", call);
        pane.dataset.state = "live";
      }
      document.getElementById("lt-empty").hidden = true;
      lines.apply(e);
      if (endedEarly.includes(call) && pane.dataset.state !== "ended") {
        lines.end();
        pane.dataset.state = "ended";
      }
      ol.scrollTop = ol.scrollHeight;
    });
    socket.on("live_call_ended", (e) => {
      if (e.linkedid !== call || !lines) {
        endedEarly.push(e.linkedid);
        endedEarly.splice(0, endedEarly.length - 20);
        return;
      }
      lines.end();
      pane.dataset.state = "ended";
    });
  }

  // --- the supervisor's live-call view ---------------------------------------------------------
  const calls = document.getElementById("lt-calls");
  if (calls) {
    const views = new Map(); // linkedid -> {article, lines}
    const ended = new Set(); // calls removed from the view: lines still coming for them are not shown
    function view(e) {
      let v = views.get(e.linkedid);
      if (!v) {
        const ol = el("ol", { class: "lt-lines", "data-testid": "lt-call-lines" });
        const article = el("article", { class: "lt-call", "data-testid": `lt-call-${e.linkedid}`, "data-linkedid": e.linkedid,
          "data-state": "live" },
          el("header", { class: "lt-call-head" },
            el("span", { class: "mono small" }, e.linkedid), " · ",
            el("strong", { "data-testid": "lt-call-agent" }, e.agent)),
          ol);
        v = { article, lines: lineList(ol, MAX_FINALS_PER_CALL_SUPERVISOR) };
        views.set(e.linkedid, v);
        calls.prepend(article);
      }
      document.getElementById("lt-calls-empty").hidden = true;
      return v;
    }
    const endedEarly = []; // calls that ended before their first line came (recognition running behind)
    socket.on("live_transcript", (e) => {
      if (ended.has(e.linkedid)) return;
      view(e).lines.apply(e);
      const early = endedEarly.indexOf(e.linkedid);
      if (early >= 0) {
        endedEarly.splice(early, 1);
        closeView(e.linkedid);
      }
    });
    socket.on("live_call_ended", (e) => {
      if (views.has(e.linkedid)) {
        closeView(e.linkedid);
      } else if (!ended.has(e.linkedid)) {
        endedEarly.push(e.linkedid);
        endedEarly.splice(0, endedEarly.length - 50);
      }
    });
    function closeView(linkedid) {
      const v = views.get(linkedid);
      if (v.article.dataset.state === "ended") return;
      v.article.dataset.state = "ended";
      v.lines.end();
      setTimeout(() => {
        ended.add(linkedid);
        views.delete(linkedid);
        v.article.remove();
        document.getElementById("lt-calls-empty").hidden = views.size > 0;
      }, ENDED_KEPT_MS);
    }
    const alerts = document.getElementById("lt-alerts");
    socket.on("live_alert", (a) => {
      const kind = a.rule.startsWith("taboo") ? "live.alert.taboo" : "live.alert.escalation";
      const when = new Date(a.at * 1000).toLocaleTimeString(LANG);
      alerts.prepend(el("li", { class: `lt-alert ${a.rule.split(":")[0]}`, "data-testid": "lt-alert", "data-rule": a.rule },
        el("strong", {}, `${t(kind)}「${a.phrase}」`), " ",
        el("span", { class: "muted small" }, `${when} · ${a.agent} · ${t(a.speaker === "agent" ? "live.agent" : "live.customer")}`),
        el("div", { class: "small" }, a.text)));
      while (alerts.children.length > MAX_ALERTS) alerts.lastElementChild.remove();
      document.getElementById("lt-alerts-empty").hidden = true;
    });
  }
})();
