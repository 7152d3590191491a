// The simulator's live view: state and records over SSE, controls as POSTs. Same origin only.
"use strict";
const $ = (id) => document.getElementById(id);
const MAX_ROWS = 200;
let built = false;

function text(el, value) { el.textContent = value === null || value === undefined ? "-" : String(value); }

function buildGates(gates) {
  const box = $("gates");
  const pick = $("fault-gate");
  for (const g of gates) {
    const card = document.createElement("div");
    card.className = "gate";
    card.id = "gate-" + g.id;
    const title = document.createElement("h2");
    title.textContent = g.id + " (" + g.direction + ")";
    card.appendChild(title);
    if (g.screen) {
      const frame = document.createElement("iframe");
      frame.src = g.screen;
      frame.title = "kiosk screen " + g.id;
      card.appendChild(frame);
    }
    const img = document.createElement("img");
    img.alt = "camera " + g.id;
    img.className = "camera";
    card.appendChild(img);
    const dl = document.createElement("dl");
    for (const key of ["phase", "relay", "door", "leds", "temperature", "online", "outbox",
                       "faults", "clock"]) {
      const dt = document.createElement("dt");
      dt.textContent = key;
      const dd = document.createElement("dd");
      dd.className = "f-" + key;
      dl.appendChild(dt);
      dl.appendChild(dd);
    }
    card.appendChild(dl);
    box.appendChild(card);
    const opt = document.createElement("option");
    opt.textContent = g.id;
    pick.appendChild(opt);
  }
  built = true;
}

function showState(s) {
  if (!built) buildGates(s.gates);
  text($("scenario"), s.scenario);
  text($("clock"), s.sim_time + "  ×" + s.speed + (s.paused ? "  (paused)" : ""));
  text($("progress"), s.decided + " / " + s.visits + " visits decided");
  text($("server-count"), s.server.records);
  for (const g of s.gates) {
    const card = $("gate-" + g.id);
    if (!card) continue;
    const set = (key, value) => text(card.querySelector(".f-" + key), value);
    if (!g.powered) { set("phase", "POWER OFF"); continue; }
    set("phase", g.phase);
    set("relay", g.relay);
    card.querySelector(".f-relay").className = "f-relay " + g.relay;
    set("door", g.door);
    set("leds", g.leds);
    const t = g.temperature;
    set("temperature", "ambient " + t.ambient_c + " °C, forehead " + (t.forehead_c ?? "-"));
    set("online", g.online ? "online" : "offline");
    card.querySelector(".f-online").className = "f-online" + (g.online ? "" : " offline");
    set("outbox", g.outbox_depth + " rows, " + g.outbox_unsettled + " unsettled");
    set("faults", (g.faults || []).join(", ") || "none");
    set("clock", g.clock);
  }
  if (s.summary) { $("summary").hidden = false; text($("summary"), JSON.stringify(s.summary, null, 1)); }
}

function addRecord(r) {
  const li = document.createElement("li");
  if (r.kind === "alarm") {
    li.textContent = r.gate + " #" + r.seq + " " + r.alarm + " " + r.state;
    li.className = "alarm";
    $("alarms").prepend(li);
  } else {
    li.textContent = r.gate + " #" + r.seq + " " + r.event + " " + r.decision + " " +
      (r.reasons || []).join(",");
    li.className = "event " + r.decision;
    $("events").prepend(li);
  }
  for (const list of [$("alarms"), $("events")]) {
    while (list.children.length > MAX_ROWS) list.lastChild.remove();
  }
}

function refreshCameras() {
  for (const img of document.querySelectorAll("img.camera")) {
    const id = img.closest(".gate").id.slice(5);
    img.src = "/camera/" + id + ".png?t=" + Date.now();
  }
}

async function post(path, body) {
  const res = await fetch(path, { method: "POST", body: body ? JSON.stringify(body) : undefined });
  text($("control-result"), res.status + " " + (await res.text()));
}

$("pause").addEventListener("click", () => post("/control/pause"));
$("resume").addEventListener("click", () => post("/control/resume"));
$("speed").addEventListener("change", (e) => post("/control/speed?value=" + e.target.value));
$("inject").addEventListener("click", () =>
  post("/control/fault", { kind: $("fault-kind").value, gate: $("fault-gate").value,
          duration_s: Number($("fault-duration").value) }));

const source = new EventSource("/events");
source.addEventListener("state", (e) => showState(JSON.parse(e.data)));
source.addEventListener("record", (e) => addRecord(JSON.parse(e.data)));
setInterval(refreshCameras, 2000);
