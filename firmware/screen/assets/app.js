// The kiosk screen: renders each display state the firmware pushes over server-sent events,
// and shows "out of service" by itself when the stream or its heartbeat stops.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("config").textContent);
  const langs = config.languages;
  const symbols = ["idle", "measuring", "granted", "denied", "fever", "fault", "out_of_service"];
  const el = (id) => document.getElementById(id);
  const renders = [];
  // Read by the tests and the benchmark: when each state reached the DOM.
  window.gateScreen = { renders: renders, online: false };
  let lastMessage = 0;
  let lastState = null;
  let source = null;

  function lines(container, texts, kind) {
    container.replaceChildren();
    langs.forEach(function (lang, i) {
      const text = texts && texts[lang];
      if (!text) return;
      const p = document.createElement("p");
      p.lang = lang;
      p.className = kind + (i === 0 ? " primary" : " secondary");
      p.textContent = text;
      container.appendChild(p);
    });
  }

  function labelled(name) {
    const label = config.labels[name] || {};
    return langs.map(function (lang) { return label[lang]; }).filter(Boolean).join(" · ");
  }

  function render(view) {
    const outcome = symbols.indexOf(view.outcome) >= 0 ? view.outcome : "fault";
    document.body.className = "outcome-" + outcome;
    document.body.dataset.outcome = outcome;
    document.documentElement.lang = langs[0];
    el("symbol").setAttribute("href", "#sym-" + outcome);
    lines(el("prompt"), view.text, "prompt-line");
    lines(el("next"), view.next_step, "next-line");
    const temp = el("temperature");
    temp.hidden = typeof view.body_c !== "number";
    if (!temp.hidden) {
      temp.querySelector(".label").textContent = labelled("temperature");
      temp.querySelector(".value").textContent = view.body_c.toFixed(1) + " °C";
    }
    const pass = el("pass");
    pass.hidden = !view.pass_type && !view.unit;
    pass.querySelector(".label").textContent = view.pass_type ? labelled(view.pass_type) :
      labelled("unit");
    pass.querySelector(".value").textContent = view.unit || "";
    renders.push({ seq: view.seq, outcome: outcome, at: performance.timeOrigin + performance.now() });
    if (renders.length > 500) renders.shift();
  }

  function outOfService() {
    window.gateScreen.online = false;
    render({ seq: -1, outcome: "out_of_service", text: config.out_of_service.text,
             next_step: config.out_of_service.next_step });
  }

  function connect() {
    source = new EventSource("/events");
    source.addEventListener("state", function (event) {
      lastMessage = Date.now();
      lastState = JSON.parse(event.data);
      window.gateScreen.online = true;
      render(lastState);
    });
    source.addEventListener("beat", function () {
      lastMessage = Date.now();
      if (!window.gateScreen.online && lastState) {
        window.gateScreen.online = true;
        render(lastState);
      }
    });
    source.onerror = function () {
      if (window.gateScreen.online) outOfService();
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
    };
  }

  function tick() {
    if (window.gateScreen.online && Date.now() - lastMessage > 3 * config.heartbeat_ms) {
      // Silent but maybe still connected (a hung firmware): say so, and dial again.
      outOfService();
      source.close();
      connect();
    }
    const now = new Date();
    const hhmm = String(now.getHours()).padStart(2, "0") + ":" +
                 String(now.getMinutes()).padStart(2, "0");
    if (el("clock").textContent !== hhmm) el("clock").textContent = hhmm;
  }

  outOfService();
  tick();
  setInterval(tick, 250);
  connect();
})();
