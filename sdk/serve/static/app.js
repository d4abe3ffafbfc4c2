"use strict";
// The restyle page: a photo stylised over POST /v1/stylize, or the camera over WS /v1/camera.
// `window.restyle` holds the latest results (tests and the curious read it).

const $ = (id) => document.getElementById(id);
const state = window.restyle = {
  styles: [], cameraStyle: null, file: null, result: null, results: 0, seq: 0,
  camera: { frames: 0, fps: 0, lastSent: null, lastReceived: null, pair: null,
            running: false },
};

function setStatus(text, error = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", error);
}

function options() {
  const strength = (Number($("strength").value) / 100).toFixed(2);
  return { style: $("style").value, strength, preserve_color: $("preserve").checked };
}

async function loadStyles() {
  const r = await fetch("/v1/styles");
  const body = await r.json();
  state.styles = body.styles;
  state.cameraStyle = body.camera;
  const select = $("style");
  for (const s of body.styles) {
    const o = document.createElement("option");
    o.value = s.name;
    o.textContent = s.name;
    o.title = s.description;
    select.append(o);
  }
  select.value = body.default;
  describe();
}

function describe() {
  const s = state.styles.find((x) => x.name === $("style").value);
  $("about").textContent = s ? s.description : "";
}

// --- photo mode -------------------------------------------------------------------------------

function pick(file) {
  if (!file) return;
  state.file = file;
  const before = $("before");
  if (before.src) URL.revokeObjectURL(before.src);
  before.src = URL.createObjectURL(file);
  stylize();
}

async function stylize() {
  if (!state.file) return;
  const seq = ++state.seq;                 // answers to older settings are dropped
  const o = options();
  const query = new URLSearchParams({ style: o.style, strength: o.strength,
                                      preserve_color: o.preserve_color, format: "png" });
  setStatus("stylising…");
  const start = performance.now();
  let r;
  try {
    r = await fetch(`/v1/stylize?${query}`, {
      method: "POST", body: state.file,
      headers: { "Content-Type": state.file.type || "application/octet-stream" },
    });
  } catch (err) {
    if (seq === state.seq) setStatus(`cannot reach the server: ${err}`, true);
    return;
  }
  if (seq !== state.seq) return;
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail; } catch (_) { /* not JSON */ }
    setStatus(`${r.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`,
              true);
    return;
  }
  const blob = await r.blob();
  if (seq !== state.seq) return;
  const after = $("after");
  if (after.src) URL.revokeObjectURL(after.src);
  const url = URL.createObjectURL(blob);
  after.src = url;
  await after.decode().catch(() => {});
  state.result = blob;
  state.results += 1;
  after.dataset.strength = o.strength;
  after.dataset.style = o.style;
  const link = $("download");
  link.href = url;
  link.download = `${(state.file.name || "photo").replace(/\.[^.]*$/, "")}-${o.style}.png`;
  link.hidden = false;
  setStatus(`${o.style} at strength ${o.strength}: ${Math.round(performance.now() - start)} ms`);
}

let debounce = 0;
function restylizeSoon() {
  $("strength-value").textContent = (Number($("strength").value) / 100).toFixed(2);
  clearTimeout(debounce);
  debounce = setTimeout(stylize, 120);
}

// --- camera mode ------------------------------------------------------------------------------

let socket = null, stream = null;
const grab = document.createElement("canvas");
grab.width = 320; grab.height = 240;
const stamps = [];

function sendFrame() {
  const cam = state.camera;
  if (!cam.running || !socket || socket.readyState !== WebSocket.OPEN) return;
  const video = $("video");
  if (video.readyState < 2) { setTimeout(sendFrame, 30); return; }
  grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
  grab.toBlob((blob) => {
    if (!blob || !cam.running) return;
    cam.lastSent = blob;
    socket.send(blob);
  }, "image/jpeg", 0.85);
}

async function onCameraMessage(event) {
  const cam = state.camera;
  if (typeof event.data === "string") {
    const msg = JSON.parse(event.data);
    if (msg.error) {
      setStatus(`camera: ${msg.error}`, msg.error !== "busy");
      setTimeout(sendFrame, msg.retry_after_ms || 100);
    }
    return;
  }
  const blob = event.data;
  cam.pair = { sent: cam.lastSent, received: blob };  // one frame in flight: this answers it
  sendFrame();                              // one frame in flight: the next goes out now
  const bitmap = await createImageBitmap(blob);
  $("live").getContext("2d").drawImage(bitmap, 0, 0, $("live").width, $("live").height);
  cam.lastReceived = blob;
  cam.frames += 1;
  const now = performance.now();
  stamps.push(now);
  while (stamps.length && now - stamps[0] > 2000) stamps.shift();
  cam.fps = stamps.length > 1 ? (stamps.length - 1) * 1000 / (now - stamps[0]) : 0;
  $("fps").textContent = `${cam.fps.toFixed(1)} frames/s`;
}

function cameraSettings() {
  const o = options();
  return { style: o.style, strength: Number(o.strength), preserve_color: o.preserve_color };
}

async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 },
                                                          audio: false });
  } catch (err) {
    setStatus(`no camera: ${err.message}`, true);
    return;
  }
  $("video").srcObject = stream;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const s = cameraSettings();
  const query = new URLSearchParams({ style: s.style, strength: s.strength,
                                      preserve_color: s.preserve_color });
  socket = new WebSocket(`${proto}://${location.host}/v1/camera?${query}`);
  socket.binaryType = "blob";
  socket.onmessage = onCameraMessage;
  socket.onopen = () => { state.camera.running = true; setStatus(`camera: ${s.style}`);
                          sendFrame(); };
  socket.onclose = () => { state.camera.running = false; };
  $("camera-start").disabled = true;
  $("camera-stop").disabled = false;
}

function stopCamera() {
  state.camera.running = false;
  if (socket) socket.close();
  if (stream) for (const t of stream.getTracks()) t.stop();
  socket = stream = null;
  $("camera-start").disabled = false;
  $("camera-stop").disabled = true;
}

function settingsChanged() {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(cameraSettings()));
  }
  if (!$("photo-mode").hidden) restylizeSoon();
}

function showMode(camera) {
  $("photo-mode").hidden = camera;
  $("camera-mode").hidden = !camera;
  $("tab-photo").classList.toggle("active", !camera);
  $("tab-camera").classList.toggle("active", camera);
  if (camera && state.cameraStyle) $("style").value = state.cameraStyle;
  describe();
  if (!camera) stopCamera();
}

// --- wiring -----------------------------------------------------------------------------------

$("file").addEventListener("change", (e) => pick(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  pick(e.dataTransfer.files[0]);
});
$("strength").addEventListener("input", () => {
  $("strength-value").textContent = (Number($("strength").value) / 100).toFixed(2);
  settingsChanged();
});
$("preserve").addEventListener("change", settingsChanged);
$("style").addEventListener("change", () => { describe(); settingsChanged(); });
$("tab-photo").addEventListener("click", () => showMode(false));
$("tab-camera").addEventListener("click", () => showMode(true));
$("camera-start").addEventListener("click", startCamera);
$("camera-stop").addEventListener("click", stopCamera);
loadStyles().then(() => { document.body.dataset.ready = "1"; })
  .catch((err) => setStatus(`cannot load the styles: ${err}`, true));
