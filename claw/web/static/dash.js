// The dashboard's small script: live device states (SSE), controls, the confirmation box, camera refresh.
(function () {
  "use strict";
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  const toast = document.getElementById("toast");
  let toastTimer = 0;
  function say(text) {
    if (!toast) return;
    toast.textContent = text; toast.hidden = false;
    clearTimeout(toastTimer); toastTimer = setTimeout(function () { toast.hidden = true; }, 6000);
  }
  async function post(url, body) {
    const r = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body) });
    const j = await r.json().catch(function () { return {}; });
    if (!r.ok) {
      const d = typeof j.detail === "string" ? j.detail : (j.detail || []).map(function (e) { return e.msg; }).join("; ");
      say("Error: " + (d || r.status)); return null;
    }
    return j;
  }
  // the confirmation box: the code's own prompt, with Confirm / Cancel
  const box = document.getElementById("confirm");
  let pendingId = null;
  function ask(c) {
    pendingId = c.id; document.getElementById("confirm-text").textContent = c.prompt; box.hidden = false;
  }
  async function answer(yes) {
    box.hidden = true;
    const j = await post("/home/answer", { id: pendingId, yes: yes });
    if (j) say(j.reply);
  }
  if (box) {
    document.getElementById("confirm-yes").onclick = function () { answer(true); };
    document.getElementById("confirm-no").onclick = function () { answer(false); };
  }
  async function act(el) {
    const args = {};
    if (el.dataset.arg) args[el.dataset.arg] = el.type === "number" ? parseFloat(el.value) : parseInt(el.value, 10);
    const j = await post("/home/act", { device: el.dataset.device, command: el.dataset.act, args: args });
    if (!j) return;
    if (j.confirm) ask(j.confirm); else say(j.reply);
  }
  // a long POST (a scan, learning): the button waits with a spinner until the page comes back
  document.querySelectorAll("form[data-busy]").forEach(function (f) {
    f.addEventListener("submit", function () {
      const b = f.querySelector("button");
      if (b) { b.disabled = true; b.textContent = f.dataset.busy; b.classList.add("busy"); }
      const s = f.parentElement.querySelector(".spinner");
      if (s) s.hidden = false;
    });
  });
  document.querySelectorAll("button[data-act]").forEach(function (b) { b.onclick = function () { act(b); }; });
  document.querySelectorAll("button[data-scene]").forEach(function (b) {
    b.onclick = async function () {
      const j = await post("/home/scene", { name: b.dataset.scene });
      if (j) { if (j.confirm) ask(j.confirm); else say(j.reply); }
    };
  });
  document.querySelectorAll("input[data-act]").forEach(function (i) { i.onchange = function () { act(i); }; });
  // live states
  function summary(s) {
    if (s.available === false) return "offline";
    const parts = [];
    if ("power" in s && !("hvac_mode" in s)) parts.push(s.power ? "on" : "off");
    if ("brightness" in s && s.power) parts.push(s.brightness + "%");
    if ("playback" in s) parts.push(s.playback + " · vol " + s.volume + (s.title ? " · " + s.title : ""));
    const deg = function (t) { return typeof t === "number" ? (Math.round(t * 10) / 10) + " °C" : "?"; };
    if ("hvac_mode" in s) parts.push(s.hvac_mode + " · " + deg(s.current_temperature) + " → " + deg(s.target_temperature));
    if ("position" in s) parts.push(s.position === 0 ? "closed" : s.position + "% open");
    if ("locked" in s) parts.push(s.locked ? "locked" : "UNLOCKED");
    return parts.join(" · ");
  }
  function show(id, s) {
    document.querySelectorAll('[data-state-of="' + CSS.escape(id) + '"]').forEach(function (el) {
      el.textContent = summary(s); el.dataset.on = s.power ? "1" : "0";
    });
    const card = document.querySelector('.device[data-device="' + CSS.escape(id) + '"]');
    if (!card) return;
    card.querySelectorAll("input[data-arg]").forEach(function (i) {
      if (document.activeElement === i) return;
      const v = { brightness: s.brightness, volume: s.volume, temperature: s.target_temperature }[i.dataset.arg];
      if (v !== undefined) i.value = v;
    });
  }
  const page = document.body.dataset.page;
  const known = document.getElementById("states");  // the states the server already knew: in the first paint
  if (known) {
    const states = JSON.parse(known.textContent || "{}");
    Object.keys(states).forEach(function (id) { show(id, states[id]); });
  }
  // one live stream while the page is visible (a tab in the background or a phone in a pocket costs the claw
  // nothing); device states only for Home
  let es = null;
  function listen() {
    if (es || document.visibilityState === "hidden") return;
    es = new EventSource(page === "home" ? "/events?devices=1" : "/events");
    const newest = parseInt(document.body.dataset.newestEvent || "0", 10);
    es.addEventListener("device", function (e) { const d = JSON.parse(e.data); show(d.id, d.state); });
    es.addEventListener("camera", function (e) {
      const d = JSON.parse(e.data);
      if (page === "cameras" && d.id > newest && !location.search.includes("day=")) location.reload();
    });
    es.addEventListener("chat", function (e) {  // a new message or reply: shown unless something is being typed
      const box = document.querySelector(".chatform input[name=text]");
      if (page === "chat" && JSON.parse(e.data).marker !== document.body.dataset.chatMarker && box && !box.value) {
        location.reload();
      }
    });
  }
  function quiet() { if (es) { es.close(); es = null; } }
  if (page === "home" || page === "cameras" || page === "chat") {
    listen();
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") quiet(); else listen();
    });
    window.addEventListener("pagehide", quiet);
  }
  // cameras: refresh each live snapshot every few seconds
  document.querySelectorAll("img[data-live]").forEach(function (img) {
    setInterval(function () { img.src = img.dataset.live + "?t=" + Date.now(); }, 3000);
  });
})();
