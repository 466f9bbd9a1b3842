// Shared helpers of the console pages: strings, element building, time formatting, the socket.
"use strict";

const I18N = JSON.parse(document.getElementById("i18n").textContent);
const LANG = document.documentElement.lang || "zh-CN";

function t(key) {
  return Object.prototype.hasOwnProperty.call(I18N, key) ? I18N[key] : key;
}

// el("li", {class: "x", dataset: {testid: "y"}}, "text", childNode, ...)
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setText(id, value) {
  const node = document.getElementById(id);
  if (node) node.textContent = value === null || value === undefined || value === "" ? "–" : String(value);
}

function formatTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(LANG, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

function formatEpoch(seconds) {
  return seconds ? formatTime(new Date(seconds * 1000).toISOString()) : "–";
}

// Times rendered by the server in UTC are shown in the browser's zone.
function localiseTimes(root) {
  for (const node of (root || document).querySelectorAll("time[data-local]")) {
    node.textContent = formatTime(node.getAttribute("datetime"));
  }
}

function setConnection(connected) {
  const dot = document.getElementById("conn-dot");
  if (!dot) return;
  dot.dataset.state = connected ? "connected" : "disconnected";
  setText("conn-text", t(connected ? "status.connected" : "status.disconnected"));
}

// The Socket.IO connection; the session cookie authenticates it.
function connectSocket() {
  if (typeof io === "undefined") return null;
  const socket = io({ transports: ["websocket", "polling"], withCredentials: true });
  socket.on("connect", () => setConnection(true));
  socket.on("disconnect", () => setConnection(false));
  socket.on("connect_error", () => setConnection(false));
  window.hotlineSocket = socket; // for the page's other scripts (live.js)
  return socket;
}

document.addEventListener("DOMContentLoaded", () => localiseTimes());

// JSON POST with the session's CSRF token; resolves to {ok, status, body}.
async function postJSON(url, body) {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": token },
    credentials: "same-origin",
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, body: answer };
}

function errorText(answer) {
  const b = answer.body || {};
  return (b.message || `HTTP ${answer.status}`) + (b.detail ? ` (${b.detail})` : "");
}

// Server time minus browser time, from the `at` of the last server message.
let clockSkew = 0;
function noteServerTime(at) {
  if (typeof at === "number" && at > 0) clockSkew = at - Date.now() / 1000;
}
function serverNow() {
  return Date.now() / 1000 + clockSkew;
}

function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

function flash(id, text) {
  const node = document.getElementById(id);
  if (!node) return;
  node.textContent = text;
  node.hidden = false;
}
