// The dashboard page: everything it shows comes from the REST API of the server that serves it.
"use strict";

const state = {
  token: sessionStorage.getItem("talkhouse-token") || "",
  bot: null, // {orgUUID, envUUID, botUUID}
  channels: [],
  charts: {},
  pages: { conversations: 1, messages: 1 },
  polling: null,
  refreshes: 0,
};

const $ = (selector, root = document) => root.querySelector(selector);
const number = new Intl.NumberFormat("en");

function prefix() {
  const b = state.bot;
  return `/org/${b.orgUUID}/env/${b.envUUID}/bot/${b.botUUID}`;
}

function say(message, isError = false) {
  const status = $("#status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

/// Calls the API; a refusal becomes an Error carrying the one error body's message.
async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = {};
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const error = await response.json();
      message = error.message;
      if (error.violations) {
        message += ": " + error.violations.map((v) => `${v.field} ${v.message}`).join("; ");
      }
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return raw ? response : response.json();
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  return search.toString();
}

/// The dashboard filter as the API's query parameters.
function filter() {
  const chosen = [...document.querySelectorAll("#channels input:checked")].map((i) => i.value);
  return {
    startDate: $("#start-date").value,
    endDate: $("#end-date").value,
    timezone: $("#timezone").value.trim() || "UTC",
    channelUuids: chosen.length === state.channels.length ? "" : chosen.join(","),
  };
}

async function connect(event) {
  event?.preventDefault();
  state.token = $("#token").value.trim();
  sessionStorage.setItem("talkhouse-token", state.token);
  try {
    say("Listing the bots this token grants…");
    const { bots } = await api("/bots");
    const select = $("#bot");
    select.replaceChildren(...bots.map((b, i) => {
      const option = document.createElement("option");
      option.value = i;
      option.textContent = `bot ${b.botUUID.slice(0, 8)} · env ${b.envUUID.slice(0, 8)} · org ${b.orgUUID.slice(0, 8)}`;
      option.title = `${b.orgUUID} / ${b.envUUID} / ${b.botUUID}`;
      return option;
    }));
    select.disabled = bots.length === 0;
    select.onchange = () => chooseBot(bots[select.value]);
    if (bots.length === 0) {
      say("This token grants no bot with data.", true);
      return;
    }
    await chooseBot(bots[0]);
  } catch (error) {
    say(error.message, true);
  }
}

async function chooseBot(bot) {
  state.bot = bot;
  const summary = await api(`${prefix()}/dashboard/summary`);
  state.channels = summary.channels;
  $("#channels").replaceChildren(
    Object.assign(document.createElement("legend"), { textContent: "Channels" }),
    ...summary.channels.map((c) => {
      const label = document.createElement("label");
      const box = Object.assign(document.createElement("input"), {
        type: "checkbox", value: c.uuid, checked: true,
      });
      label.append(box, ` ${c.name || c.uuid.slice(0, 8)}`);
      return label;
    }),
  );
  if (summary.hasData) {
    const last = new Date(summary.lastDataSet);
    const first = new Date(last.getTime() - 6 * 86400000);
    $("#end-date").value = last.toISOString().slice(0, 10);
    $("#start-date").value = first.toISOString().slice(0, 10);
  }
  await refresh();
}

async function refresh(event) {
  event?.preventDefault();
  if (!state.bot) return;
  say("Loading…");
  state.pages = { conversations: 1, messages: 1 };
  try {
    await Promise.all([boxes(), charts(), list("conversations"), list("messages"), reports()]);
    const f = filter();
    say(`${f.startDate} to ${f.endDate}, ${f.timezone}`);
    document.body.dataset.refreshed = ++state.refreshes;
  } catch (error) {
    say(error.message, true);
  }
}

function percent(value) {
  return value === null || value === undefined ? "" : `${value >= 0 ? "▲" : "▼"} ${Math.abs(value).toFixed(1)}%`;
}

function showBox(name, total, previous, change, increased, format = (v) => number.format(v)) {
  const box = $(`[data-box="${name}"]`);
  $(".total", box).textContent = total === null ? "–" : format(total);
  $(".total", box).dataset.value = total === null ? "" : total;
  $(".change", box).textContent = percent(change);
  $(".change", box).className = `change ${change === null ? "" : increased ? "up" : "down"}`;
  $(".previous", box).textContent =
    previous === null ? "no previous data" : `previous period: ${format(previous)}`;
}

async function boxes() {
  const q = query(filter());
  const [conversations, messages, users, accuracy] = await Promise.all(
    ["conversations", "messages", "users", "accuracy"].map((r) => api(`${prefix()}/dashboard/${r}?${q}`)),
  );
  for (const [name, traffic] of [["conversations", conversations], ["messages", messages], ["users", users]]) {
    const o = traffic.overview;
    showBox(name, o.total, o.previousTotal, o.increasePercentage ?? null, o.increased);
  }
  showBox("accuracy", accuracy.accuracy ?? null, accuracy.previousAccuracy ?? null,
    accuracy.increasePercentage ?? null, accuracy.increased, (v) => `${v.toFixed(1)}%`);
}

/// `2024-03-10T14:00:00+01:00` as `03-10 14:00` for hours, `03-10` otherwise.
function bucketLabel(label, granularity) {
  const date = label.slice(5, 10);
  return granularity === "HOUR" ? `${date} ${label.slice(11, 16)}` : date;
}

/// A local instant `2024-03-10T14:05:09+01:00` as `2024-03-10 14:05`.
function local(instant) {
  return instant ? `${instant.slice(0, 10)} ${instant.slice(11, 16)}` : "";
}

const PALETTE = ["#2f6fde", "#1b8a4b", "#e08a1e", "#8e44ad", "#c2412d", "#16a2b8", "#6c757d"];

async function charts() {
  const q = query(filter());
  await Promise.all(["conversations", "messages", "users"].map(async (resource) => {
    const series = await api(`${prefix()}/dashboard/${resource}/series?${q}`);
    const data = {
      labels: series.buckets.map((b) => bucketLabel(b.label, series.granularity)),
      datasets: series.datasets.map((d, i) => ({
        label: d.channelName || d.channelUuid.slice(0, 8),
        data: d.data,
        fill: true,
        borderColor: PALETTE[i % PALETTE.length],
        backgroundColor: PALETTE[i % PALETTE.length] + "55",
        pointRadius: 0,
        tension: 0.25,
      })),
    };
    const existing = state.charts[resource];
    if (existing) {
      existing.data = data;
      existing.update();
      return;
    }
    state.charts[resource] = new Chart($(`#chart-${resource}`), {
      type: "line",
      data,
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { stacked: true, beginAtZero: true }, x: { ticks: { maxTicksLimit: 8 } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    });
  }));
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

function duration(seconds) {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

async function list(kind) {
  const root = $(`#${kind}`);
  const form = $("form", root);
  const page = await api(`${prefix()}/${kind}?${query({
    ...filter(),
    searchBy: form.search.value ? form.searchBy.value : "",
    search: form.search.value,
    sort: form.sort.value,
    order: form.order.value,
    page: state.pages[kind],
    size: 10,
  })}`);
  $(".count", root).textContent = `(${number.format(page.totalElements)})`;
  $(".count", root).dataset.value = page.totalElements;
  $("tbody", root).replaceChildren(...page.content.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.session = row.sessionCode;
    if (kind === "conversations") {
      tr.append(cell(local(row.startedAtLocal)), cell(row.sessionCode), cell(row.userId),
        cell(row.userMessages + row.botMessages), cell(row.satisfaction ?? "–"),
        cell(row.flows.join(", "), "text"), cell(duration(row.durationSeconds)));
      tr.onclick = () => transcript(row.sessionCode);
    } else {
      tr.append(cell(local(row.sentAtLocal)), cell(row.sessionCode), cell(row.sender),
        cell(row.text || `[${row.contentType}]`, "text"), cell(row.nlpResponse ?? "–"),
        cell(row.confidence === null || row.confidence === undefined ? "–" : row.confidence.toFixed(1)));
    }
    return tr;
  }));
  $(".page", root).textContent = page.totalPages === 0 ? "no rows" : `page ${page.number + 1} of ${page.totalPages}`;
  $(".previous-page", root).disabled = page.first;
  $(".next-page", root).disabled = page.last;
}

async function transcript(sessionCode) {
  try {
    const t = await api(`${prefix()}/conversations/${encodeURIComponent(sessionCode)}?${query({ timezone: filter().timezone })}`);
    const section = $("#transcript");
    $(".session", section).textContent = sessionCode;
    $(".messages", section).replaceChildren(...t.messages.map((m) => {
      const li = document.createElement("li");
      li.className = m.sender;
      const meta = document.createElement("small");
      meta.textContent = `${m.sender} · ${local(m.sentAtLocal)}${m.nlpResponse ? ` · NLP ${m.nlpResponse}` : ""}`;
      li.append(meta, m.text || `[${m.contentType}]`);
      return li;
    }));
    section.hidden = false;
    section.scrollIntoView({ block: "nearest" });
  } catch (error) {
    say(error.message, true);
  }
}

function reportBody() {
  const f = filter();
  const form = $("#report-form");
  return {
    startDate: f.startDate, endDate: f.endDate, timezone: f.timezone,
    channelUuids: f.channelUuids ? f.channelUuids.split(",") : [],
    exportType: form.exportType.value,
  };
}

async function preview() {
  try {
    const kind = $("#report-form").kind.value;
    const { exportType, ...body } = reportBody();
    const p = await api(`${prefix()}/${kind}/report/preview`, { method: "POST", body });
    const result = $(".preview-result");
    result.textContent = `${number.format(p.estimate)} ${kind} would be in the report`;
    result.dataset.value = p.estimate;
  } catch (error) {
    say(error.message, true);
  }
}

async function requestReport(event) {
  event.preventDefault();
  try {
    const kind = $("#report-form").kind.value;
    const created = await api(`${prefix()}/${kind}/report`, { method: "POST", body: reportBody() });
    say(`Report ${created.reportId} requested`);
    await reports();
  } catch (error) {
    say(error.message, true);
  }
}

function size(bytes) {
  return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function reports() {
  const page = await api(`${prefix()}/reports?size=10`);
  $("#reports tbody").replaceChildren(...page.content.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.report = r.reportId;
    tr.dataset.status = r.status;
    const action = document.createElement("td");
    if (r.status === "READY") {
      const button = Object.assign(document.createElement("button"), { textContent: "Download" });
      button.onclick = () => download(r);
      action.append(button);
    } else if (r.error) {
      action.textContent = r.error;
    }
    tr.append(cell(r.requestedAt?.replace("T", " ").slice(0, 19)), cell(r.kind), cell(r.exportType),
      cell(r.status), cell(r.status === "READY" ? number.format(r.rowCount) : ""),
      cell(r.status === "READY" ? size(r.byteSize) : ""), action);
    return tr;
  }));
  const unfinished = page.content.some((r) => r.status === "PENDING" || r.status === "RUNNING");
  clearTimeout(state.polling);
  if (unfinished) state.polling = setTimeout(() => reports().catch((e) => say(e.message, true)), 1000);
}

async function download(report) {
  try {
    const response = await api(`${prefix()}/reports/${report.reportId}/download`, { raw: true });
    const blob = await response.blob();
    const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "")?.[1] || report.fileName;
    const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
    link.click();
    URL.revokeObjectURL(link.href);
    const result = $(".download-result");
    result.textContent = `Downloaded ${name} (${size(blob.size)})`;
    result.dataset.bytes = blob.size;
  } catch (error) {
    say(error.message, true);
  }
}

function page(kind, step) {
  state.pages[kind] += step;
  list(kind).catch((error) => say(error.message, true));
}

window.addEventListener("DOMContentLoaded", () => {
  $("#token").value = state.token;
  const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  $("#zones").replaceChildren(...zones.map((z) => Object.assign(document.createElement("option"), { value: z })));
  $("#connect").addEventListener("submit", connect);
  $("#filters").addEventListener("submit", refresh);
  for (const kind of ["conversations", "messages"]) {
    const root = $(`#${kind}`);
    $("form", root).addEventListener("submit", (event) => {
      event.preventDefault();
      state.pages[kind] = 1;
      list(kind).catch((error) => say(error.message, true));
    });
    $(".previous-page", root).onclick = () => page(kind, -1);
    $(".next-page", root).onclick = () => page(kind, 1);
  }
  $("#transcript .close").onclick = () => { $("#transcript").hidden = true; };
  $("#report-form").addEventListener("submit", requestReport);
  $("#report-form .preview").onclick = preview;
  connect();
});
