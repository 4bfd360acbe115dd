// looplab playground: the page. Plain JavaScript and canvas, no library, nothing fetched from
// anywhere but this server. The server trains (looplab's fit) and streams frames; the page
// draws the latest frame once per animation frame, and keeps the whole run in its URL.
"use strict";

const PLANE = 6;                       // the plane is [-6, 6]^2
const NEG = [229, 129, 27];            // orange: negative values, class 0
const POS = [28, 120, 192];            // blue: positive values, class 1
const MID = [246, 247, 249];           // the middle of the diverging scale
const CLASS_COLOURS = [[229, 129, 27], [28, 120, 192], [0, 158, 115], [204, 121, 167], [213, 94, 0], [86, 180, 233]];
const LR_CHOICES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_CHOICES = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const MOMENTUM_CHOICES = [0, 0.5, 0.9, 0.95, 0.99];
const DECAY_CHOICES = [0, 0.0001, 0.001, 0.01, 0.1];
const FEATURE_FN = {
  "x1": (a, b) => a, "x2": (a, b) => b, "x1^2": (a, b) => a * a, "x2^2": (a, b) => b * b,
  "x1*x2": (a, b) => a * b, "sin(x1)": (a, b) => Math.sin(a), "sin(x2)": (a, b) => Math.sin(b),
  "cos(x1)": (a, b) => Math.cos(a), "cos(x2)": (a, b) => Math.cos(b),
};
const FEATURE_LABEL = {
  "x1": "X\u2081", "x2": "X\u2082", "x1^2": "X\u2081\u00B2", "x2^2": "X\u2082\u00B2", "x1*x2": "X\u2081X\u2082",
  "sin(x1)": "sin(X\u2081)", "sin(x2)": "sin(X\u2082)", "cos(x1)": "cos(X\u2081)", "cos(x2)": "cos(X\u2082)",
};

const S = {
  schema: null, settings: null, session: null, source: null,
  frame: null, data: null, curve: [], dirty: false, structureDirty: true,
  hover: null, wantPlaying: false, queue: Promise.resolve(), layout: null,
  notesShown: -1, featureImages: {},
};
// What the benchmark and the browser tests read: frames received and drawn, and draw times.
window.playgroundStats = { frames: 0, draws: 0, drawMs: 0, session: null };

const $ = (id) => document.getElementById(id);
const ICON_PLAY = '<svg viewBox="0 0 24 24" width="26" height="26"><path fill="currentColor" d="M8 5v14l11-7z"/></svg>';
const ICON_PAUSE = '<svg viewBox="0 0 24 24" width="26" height="26"><path fill="currentColor" d="M6 5h4v14H6zM14 5h4v14h-4z"/></svg>';

// ---- talking to the server ------------------------------------------------------------------

async function api(method, path, body, headers) {
  const init = { method, headers: headers || {} };
  if (body !== undefined) {
    init.body = typeof body === "string" || body instanceof ArrayBuffer ? body : JSON.stringify(body);
    if (!(body instanceof ArrayBuffer) && typeof body !== "string") init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch (e) { value = { error: text }; }
  if (!response.ok) {
    const error = new Error((value && value.error) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return value;
}

function banner(message) {
  const el = $("banner");
  el.textContent = message;
  el.hidden = !message;
  clearTimeout(banner.timer);
  if (message) banner.timer = setTimeout(() => { el.hidden = true; }, 9000);
}

// Requests go one after another: a fast slider never races its own earlier change.
function enqueue(task) {
  S.queue = S.queue.then(task).catch((e) => banner(e.message));
  return S.queue;
}

async function openSession(settings) {
  let summary;
  try {
    summary = await api("POST", "/api/sessions", { settings });
  } catch (e) {
    if (e.status === 400 && settings.dataset === "upload" && await reupload(settings.upload)) {
      summary = await api("POST", "/api/sessions", { settings });
    } else {
      throw e;
    }
  }
  adopt(summary);
  connect();
}

async function reupload(id) {
  const text = localStorage.getItem("looplab-upload-" + id);
  if (!text) return false;
  const name = localStorage.getItem("looplab-upload-name-" + id) || "upload.csv";
  await api("POST", "/api/uploads", text, { "X-Filename": name });
  return true;
}

function adopt(summary) {
  S.session = summary.id;
  window.playgroundStats.session = summary.id;
  S.settings = summary.settings;
  S.structureDirty = true;
  writeHash();
  renderControls();
}

function connect() {
  if (S.source) S.source.close();
  const source = new EventSource(`/api/sessions/${S.session}/stream`);
  S.source = source;
  source.addEventListener("data", (e) => {
    S.data = JSON.parse(e.data);
    S.dirty = true;
  });
  source.addEventListener("frame", (e) => {
    const message = JSON.parse(e.data);
    S.frame = message.frame;
    if (message.curve.reset) S.curve = [];
    for (const p of message.curve.points) S.curve.push(p);
    S.dirty = true;
    window.playgroundStats.frames++;
  });
  source.onerror = async () => {
    if (source.readyState !== EventSource.CLOSED || S.source !== source) return;
    try {  // the session is gone (server restarted, or idle): start a new one
      await api("GET", `/api/sessions/${S.session}`);
      setTimeout(connect, 1000);
    } catch (e) {
      enqueue(() => openSession(S.settings));
    }
  };
}

function change(patch) {
  enqueue(async () => {
    const wasPlaying = S.frame && S.frame.status === "running" && !S.stepping;
    const next = Object.assign({}, S.settings, patch);
    try {
      adopt(await api("PUT", `/api/sessions/${S.session}/settings`, { settings: next }));
    } catch (e) {
      renderControls();  // back to the settings the server has
      throw e;
    }
    if (wasPlaying) await act("play");
  });
}

async function act(action) {
  await api("POST", `/api/sessions/${S.session}/${action}`);
}

// ---- the URL holds the whole run -------------------------------------------------------------

function writeHash() {
  const parts = Object.entries(S.settings).map(([k, v]) => {
    const text = Array.isArray(v) ? v.join(",") : String(v);
    return `${k}=${encodeURIComponent(text)}`;
  });
  history.replaceState(null, "", "#" + parts.join("&"));
}

function readHash(defaults) {
  const out = Object.assign({}, defaults);
  const hash = location.hash.replace(/^#/, "");
  if (!hash) return out;
  for (const part of hash.split("&")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    const key = decodeURIComponent(part.slice(0, at));
    const text = decodeURIComponent(part.slice(at + 1));
    if (!(key in defaults)) { out[key] = text; continue; }  // the server names unknown keys
    const d = defaults[key];
    if (Array.isArray(d)) {
      const items = text === "" ? [] : text.split(",");
      out[key] = key === "hidden" ? items.map(Number) : items;
    } else if (typeof d === "number") {
      out[key] = Number(text);
    } else if (typeof d === "boolean") {
      out[key] = text === "true";
    } else {
      out[key] = text;
    }
  }
  return out;
}

// ---- controls ---------------------------------------------------------------------------------

function fillSelect(el, values, label) {
  el.innerHTML = "";
  for (const v of values) {
    const option = document.createElement("option");
    option.value = String(v);
    option.textContent = label ? label(v) : String(v);
    el.appendChild(option);
  }
}

function setSelect(el, value) {
  const text = String(value);
  if (![...el.options].some((o) => o.value === text)) {  // a value from a link: show it too
    const option = document.createElement("option");
    option.value = option.textContent = text;
    el.appendChild(option);
  }
  el.value = text;
}

function buildControls() {
  const f = S.schema.fields;
  $("play").innerHTML = ICON_PLAY;
  fillSelect($("lr"), LR_CHOICES);
  fillSelect($("activation"), f.activation.choices, (v) => (v === "identity" ? "linear" : v));
  fillSelect($("regularization"), f.regularization.choices, (v) => (v === "none" ? "None" : v));
  fillSelect($("reg_rate"), REG_CHOICES);
  fillSelect($("problem"), f.problem.choices, (v) => (v === "classification" ? "Classification" : "Regression"));
  fillSelect($("optimizer"), f.optimizer.choices, (v) => ({ sgd: "SGD", momentum: "SGD + momentum", nesterov: "Nesterov", rmsprop: "RMSprop", adam: "Adam", adamw: "AdamW" }[v] || v));
  fillSelect($("schedule"), f.schedule.choices, (v) => v.replace("_", " "));
  fillSelect($("init"), f.init.choices, (v) => (v === "default" ? "PyTorch default" : v.replace("_", " ")));
  fillSelect($("norm"), f.norm.choices, (v) => ({ none: "none", batch: "batch norm", layer: "layer norm" }[v]));
  fillSelect($("momentum"), MOMENTUM_CHOICES);
  fillSelect($("weight_decay"), DECAY_CHOICES);

  const numbers = { lr: Number, reg_rate: Number, momentum: Number, weight_decay: Number };
  for (const id of ["lr", "activation", "regularization", "reg_rate", "optimizer", "schedule", "init", "norm", "momentum", "weight_decay"]) {
    $(id).addEventListener("change", (e) => change({ [id]: numbers[id] ? numbers[id](e.target.value) : e.target.value }));
  }
  $("problem").addEventListener("change", (e) => {
    const problem = e.target.value;
    const first = S.schema.datasets.find((d) => d.problem === problem);
    change({ problem, dataset: first.name, upload: "" });
  });
  const ranges = { train_percent: Number, noise: (v) => Number(v) / 100, n: Number, batch_size: Number, classes: Number, dropout: Number };
  for (const [id, parse] of Object.entries(ranges)) {
    $(id).addEventListener("input", (e) => showRangeValue(id, parse(e.target.value)));
    $(id).addEventListener("change", (e) => change({ [id]: parse(e.target.value) }));
  }
  for (const id of ["seed", "epochs", "warmup", "init_scale"]) {
    $(id).addEventListener("change", (e) => change({ [id]: Number(e.target.value) }));
  }
  $("residual").addEventListener("change", (e) => change({ residual: e.target.checked }));
  $("regenerate").addEventListener("click", () => change({ seed: (S.settings.seed + 1) % 2147483647 }));
  $("add-layer").addEventListener("click", () => {
    if (S.settings.hidden.length < S.schema.limits.layers) change({ hidden: [...S.settings.hidden, 2] });
  });
  $("remove-layer").addEventListener("click", () => {
    if (S.settings.hidden.length > 0) change({ hidden: S.settings.hidden.slice(0, -1) });
  });
  $("play").addEventListener("click", togglePlay);
  $("step").addEventListener("click", () => enqueue(async () => { S.stepping = true; await act("step"); }));
  $("reset").addEventListener("click", () => enqueue(() => act("reset")));
  $("show-test").addEventListener("change", () => { S.dirty = true; });
  $("discretize").addEventListener("change", () => { S.dirty = true; });
  $("copy-link").addEventListener("click", () => copy(location.href, "link copied: it reproduces this run"));
  $("export-torch").addEventListener("click", () => download(`/api/sessions/${S.session}/export/pytorch`));
  $("export-looplab").addEventListener("click", () => enqueue(showLooplabExport));
  $("upload-button").addEventListener("click", () => $("upload-file").click());
  $("upload-file").addEventListener("change", uploadFile);
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === " ") { e.preventDefault(); togglePlay(); }
    else if (e.key === "s") enqueue(async () => { S.stepping = true; await act("step"); });
    else if (e.key === "r") enqueue(() => act("reset"));
  });
}

function togglePlay() {
  enqueue(async () => {
    S.stepping = false;
    const running = S.frame && S.frame.status === "running";
    await act(running ? "pause" : "play");
  });
}

function showRangeValue(id, value) {
  const shown = {
    train_percent: `${value}% / ${100 - value}%`,
    noise: `${Math.round(value * 100)}%`,
    dropout: value > 0 ? value.toFixed(2) : "off",
  }[id];
  $(id + "-value").textContent = shown !== undefined ? shown : String(value);
}

function renderControls() {
  const s = S.settings;
  for (const id of ["lr", "activation", "regularization", "reg_rate", "problem", "optimizer", "schedule", "init", "norm", "momentum", "weight_decay"]) {
    setSelect($(id), s[id]);
  }
  const ranges = { train_percent: s.train_percent, noise: s.noise * 100, n: s.n, batch_size: s.batch_size, classes: s.classes, dropout: s.dropout };
  for (const [id, v] of Object.entries(ranges)) {
    const el = $(id);
    if (Number(v) > Number(el.max)) el.max = String(v);
    el.value = String(v);
  }
  for (const id of ["train_percent", "n", "batch_size", "classes", "dropout"]) showRangeValue(id, s[id]);
  showRangeValue("noise", s.noise);
  for (const id of ["seed", "epochs", "warmup", "init_scale"]) $(id).value = String(s[id]);
  $("residual").checked = s.residual;
  $("reg_rate").disabled = s.regularization === "none";
  $("momentum").disabled = !["momentum", "nesterov"].includes(s.optimizer);
  $("classes-field").hidden = s.dataset !== "blobs";
  for (const id of ["n", "noise"]) {  // your CSV has its own points
    $(id).disabled = s.dataset === "upload";
    $(id).title = s.dataset === "upload" ? "your CSV sets the points" : "";
  }
  $("layer-count").textContent = `${s.hidden.length} hidden layer${s.hidden.length === 1 ? "" : "s"}`;
  $("upload-name").textContent = s.dataset === "upload" ? (localStorage.getItem("looplab-upload-name-" + s.upload) || "your CSV") : "";
  renderDatasets();
  S.structureDirty = true;
  S.dirty = true;
}

// ---- datasets: thumbnails of each, from the server's generators --------------------------------

function renderDatasets() {
  const box = $("datasets");
  if (!S.previews) return;
  box.innerHTML = "";
  let family = null;
  for (const d of S.schema.datasets) {
    if (d.problem !== S.settings.problem || d.name === "upload") continue;
    if (d.family !== family) {
      family = d.family;
      const head = document.createElement("div");
      head.className = "dataset-family";
      head.textContent = family;
      box.appendChild(head);
    }
    const button = document.createElement("button");
    button.className = "dataset" + (d.name === S.settings.dataset ? " active" : "");
    button.dataset.name = d.name;
    button.title = d.label;
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 64;
    drawPreview(canvas, S.previews[d.name] || [], d.problem);
    button.appendChild(canvas);
    button.appendChild(document.createTextNode(d.label));
    button.addEventListener("click", () => change({ dataset: d.name, upload: "" }));
    box.appendChild(button);
  }
}

function drawPreview(canvas, points, problem) {
  const g = canvas.getContext("2d");
  g.fillStyle = "#f7f8fa";
  g.fillRect(0, 0, canvas.width, canvas.height);
  for (const [x1, x2, label] of points) {
    g.fillStyle = rgb(problem === "regression" ? diverging(label) : classColour(label, 2));
    g.fillRect((x1 + PLANE) / (2 * PLANE) * 64 - 1, (PLANE - x2) / (2 * PLANE) * 64 - 1, 2.2, 2.2);
  }
}

// ---- upload -----------------------------------------------------------------------------------

async function uploadFile(e) {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file) return;
  if (file.size > S.schema.limits.upload_bytes) {
    banner(`${file.name} has ${file.size.toLocaleString()} bytes; the limit is ${S.schema.limits.upload_bytes.toLocaleString()}`);
    return;
  }
  const text = await file.text();
  enqueue(async () => {
    const info = await api("POST", "/api/uploads", text, { "X-Filename": file.name });
    try {
      localStorage.setItem("looplab-upload-" + info.id, text);
      localStorage.setItem("looplab-upload-name-" + info.id, info.name);
    } catch (err) { /* storage full: the link then needs the file again */ }
    const regression = info.numeric && info.labels > S.schema.limits.classes;
    const problem = regression ? "regression" : "classification";
    const next = Object.assign({}, S.settings, { dataset: "upload", upload: info.id, problem });
    adopt(await api("PUT", `/api/sessions/${S.session}/settings`, { settings: next }));
  });
}

// ---- exports ----------------------------------------------------------------------------------

function download(url) {
  const a = document.createElement("a");
  a.href = url;
  a.download = "";
  document.body.appendChild(a);
  a.click();
  a.remove();
}

async function showLooplabExport() {
  const out = await api("GET", `/api/sessions/${S.session}/export/looplab`);
  $("export-command").textContent = out.command;
  $("export-toml").textContent = out.toml;
  const list = $("export-unsupported");
  list.innerHTML = "";
  for (const line of out.unsupported) {
    const li = document.createElement("li");
    li.textContent = line;
    list.appendChild(li);
  }
  const csv = $("download-csv");
  csv.hidden = !out.csv;
  if (out.csv) {
    csv.href = `/api/sessions/${S.session}/data.csv`;
    csv.textContent = `Download ${out.csv}`;
    csv.setAttribute("download", out.csv);
  }
  $("copy-command").onclick = () => copy(out.command, "command copied");
  $("download-toml").onclick = () => {
    const blob = new Blob([out.toml], { type: "application/toml" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = "playground.toml";
    a.click();
    URL.revokeObjectURL(url);
  };
  $("export-dialog").showModal();
}

async function copy(text, done) {
  try {
    await navigator.clipboard.writeText(text);
    banner(done);
  } catch (e) {
    banner("copy it from the address bar (the browser refused the clipboard)");
  }
}

// ---- colours ----------------------------------------------------------------------------------

function mix(a, b, t) {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}
function diverging(v) {  // -1 orange .. 0 light .. +1 blue
  const t = Math.max(-1, Math.min(1, v));
  return t < 0 ? mix(MID, NEG, -t) : mix(MID, POS, t);
}
function classColour(label, classes) {
  return CLASS_COLOURS[label % CLASS_COLOURS.length];
}
function rgb(c) {
  return `rgb(${c[0] | 0},${c[1] | 0},${c[2] | 0})`;
}
function decode(b64) {
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
function decodeFloats(b64) {
  const bytes = decode(b64);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

// Paint a cells x cells grid of bytes (0..255 <-> -1..1) into an ImageData.
function paintGrid(image, values, cells, options) {
  const px = image.data;
  const labels = options && options.labels;
  const discrete = options && options.discrete;
  const fade = options && options.fade !== undefined ? options.fade : 0;
  for (let i = 0; i < cells * cells; i++) {
    let v = values[i] / 127.5 - 1;
    let c;
    if (labels) {  // multiclass: the class colour, as strong as the model is sure
      const base = classColour(labels[i]);
      const sure = discrete ? 1 : (v + 1) / 2;
      c = mix(MID, base, Math.max(0, Math.min(1, sure)));
    } else {
      if (discrete) v = v > 0 ? 1 : -1;
      c = diverging(v);
    }
    if (fade) c = mix(c, [255, 255, 255], fade);
    px[4 * i] = c[0]; px[4 * i + 1] = c[1]; px[4 * i + 2] = c[2]; px[4 * i + 3] = 255;
  }
}

// ---- the network diagram ----------------------------------------------------------------------

function layoutNetwork() {
  const net = $("net");
  for (const el of [...net.querySelectorAll(".node, .node-label, .layer-head")]) el.remove();
  const s = S.settings;
  const width = net.clientWidth, height = net.clientHeight;
  const features = S.schema.fields.features.choices;
  const outputs = S.frame && S.frame.neurons ? S.frame.neurons[S.frame.neurons.length - 1].length : 1;
  const columns = [features.length, ...s.hidden, outputs];
  const top = 40, bottom = 6, left = 60, right = 20;
  const columnX = (i) => left + (columns.length === 1 ? 0 : i * (width - left - right - 30) / (columns.length - 1));
  const layout = { columns: [], nodeSize: [] };
  columns.forEach((count, c) => {
    const room = height - top - bottom;
    const size = Math.max(5, Math.min(34, Math.floor(room / count) - (count > 16 ? 1 : 8)));
    const gap = count > 1 ? Math.min(size + 10, (room - size) / (count - 1)) : 0;
    const x = columnX(c);
    const nodes = [];
    for (let j = 0; j < count; j++) {
      const y = top + j * gap;
      const canvas = document.createElement("canvas");
      canvas.className = "node";
      canvas.width = canvas.height = 25;
      Object.assign(canvas.style, { left: `${x}px`, top: `${y}px`, width: `${size}px`, height: `${size}px` });
      if (c === 0) {
        const name = features[j];
        canvas.classList.add("feature");
        if (!s.features.includes(name)) canvas.classList.add("off");
        canvas.title = `${name}: click to ${s.features.includes(name) ? "leave it out" : "use it"}`;
        canvas.addEventListener("click", () => toggleFeature(name));
        drawFeature(canvas, name);
        const label = document.createElement("div");
        label.className = "node-label";
        label.textContent = FEATURE_LABEL[name];
        Object.assign(label.style, { left: `${x - 56}px`, top: `${y + size / 2 - 8}px`, width: "50px", textAlign: "right" });
        net.appendChild(label);
      } else {
        const layer = c - 1;
        canvas.dataset.layer = String(layer);
        canvas.dataset.neuron = String(j);
        canvas.title = c === columns.length - 1 ? `output ${j + 1}` : `layer ${c}, neuron ${j + 1}`;
        canvas.addEventListener("mouseenter", () => { S.hover = [layer, j]; S.dirty = true; });
        canvas.addEventListener("mouseleave", () => { S.hover = null; S.dirty = true; });
      }
      net.appendChild(canvas);
      nodes.push({ canvas, x: x + size / 2, y: y + size / 2, size });
    }
    layout.columns.push(nodes);
    if (c > 0 && c < columns.length - 1) {  // a hidden layer: its width, with + and -
      const head = document.createElement("div");
      head.className = "layer-head";
      const k = c - 1;
      head.innerHTML = `<button class="mini" title="Add a neuron">+</button><button class="mini" title="Remove a neuron">&minus;</button><div>${count} neuron${count === 1 ? "" : "s"}</div>`;
      const [plus, minus] = head.querySelectorAll("button");
      plus.addEventListener("click", () => setWidth(k, S.settings.hidden[k] + 1));
      minus.addEventListener("click", () => setWidth(k, S.settings.hidden[k] - 1));
      Object.assign(head.style, { left: `${x + size / 2 - 40}px`, width: "80px", top: "-4px" });
      net.appendChild(head);
    }
  });
  const links = $("links");
  links.width = width * devicePixelRatio;
  links.height = height * devicePixelRatio;
  S.layout = layout;
  S.structureDirty = false;
}

function setWidth(layer, width) {
  const limit = S.schema.limits.width;
  if (width < 1 || width > limit) { banner(`a hidden layer has 1 to ${limit} neurons`); return; }
  const hidden = [...S.settings.hidden];
  hidden[layer] = width;
  change({ hidden });
}

function toggleFeature(name) {
  const on = S.settings.features.includes(name);
  const features = on ? S.settings.features.filter((f) => f !== name) : [...S.settings.features, name];
  change({ features });
}

function drawFeature(canvas, name) {
  if (!S.featureImages[name]) {
    const cells = 25;
    const g = canvas.getContext("2d");
    const image = g.createImageData(cells, cells);
    const values = new Float32Array(cells * cells);
    let top = 1e-9;
    for (let r = 0; r < cells; r++) {
      for (let c = 0; c < cells; c++) {
        const x1 = -PLANE + (c + 0.5) * 2 * PLANE / cells, x2 = PLANE - (r + 0.5) * 2 * PLANE / cells;
        const v = FEATURE_FN[name](x1, x2);
        values[r * cells + c] = v;
        top = Math.max(top, Math.abs(v));
      }
    }
    const bytes = new Uint8Array(cells * cells);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round((values[i] / top + 1) * 127.5);
    paintGrid(image, bytes, cells);
    S.featureImages[name] = image;
  }
  canvas.getContext("2d").putImageData(S.featureImages[name], 0, 0);
}

function drawNetwork(frame) {
  if (S.structureDirty || !S.layout) layoutNetwork();
  const layout = S.layout;
  const activeIndex = S.schema.fields.features.choices
    .map((name, j) => (S.settings.features.includes(name) ? j : -1)).filter((j) => j >= 0);
  // neuron heatmaps
  const sub = frame.sub;
  frame.neurons.forEach((layer, l) => {
    const nodes = layout.columns[l + 1];
    if (!nodes) return;
    layer.forEach((b64, j) => {
      const node = nodes[j];
      if (!node) return;
      const g = node.canvas.getContext("2d");
      if (node.canvas.width !== sub) node.canvas.width = node.canvas.height = sub;
      const image = g.createImageData(sub, sub);
      paintGrid(image, decode(b64), sub);
      g.putImageData(image, 0, 0);
    });
  });
  // links: colour is the sign, width the size of each weight
  const links = $("links");
  const g = links.getContext("2d");
  g.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
  g.clearRect(0, 0, links.width, links.height);
  frame.weights.forEach((layer, l) => {
    const [outs, ins] = layer.shape;
    const w = decodeFloats(layer.w);
    const from = layout.columns[l], to = layout.columns[l + 1];
    if (!from || !to) return;
    const many = outs * ins > 600;
    for (let o = 0; o < outs; o++) {
      for (let i = 0; i < ins; i++) {
        const a = from[l === 0 ? activeIndex[i] : i], b = to[o];
        if (!a || !b) continue;
        const v = w[o * ins + i];
        const size = Math.min(1, Math.abs(v) / 2);
        g.strokeStyle = rgb(v >= 0 ? POS : NEG);
        g.globalAlpha = many ? 0.08 + 0.5 * size : 0.25 + 0.75 * size;
        g.lineWidth = many ? 0.4 + 1.5 * size : 0.6 + 5 * size;
        g.beginPath();
        g.moveTo(a.x + a.size / 2, a.y);
        g.bezierCurveTo((a.x + b.x) / 2, a.y, (a.x + b.x) / 2, b.y, b.x - b.size / 2, b.y);
        g.stroke();
      }
    }
  });
  g.globalAlpha = 1;
}

// ---- the output plane -------------------------------------------------------------------------

function drawBoundary(frame) {
  const canvas = $("boundary");
  const size = Math.round(canvas.clientWidth * devicePixelRatio);
  if (canvas.width !== size) canvas.width = canvas.height = size;
  const g = canvas.getContext("2d");
  const discrete = $("discretize").checked;
  // the grid: the output, or the hovered neuron's heatmap
  let cells = frame.cells, values, labels = null, caption = "";
  if (S.hover && frame.neurons[S.hover[0]] && frame.neurons[S.hover[0]][S.hover[1]]) {
    cells = frame.sub;
    values = decode(frame.neurons[S.hover[0]][S.hover[1]]);
    const last = S.hover[0] === frame.neurons.length - 1;
    caption = last ? `output ${S.hover[1] + 1} (its logit) over the plane` : `layer ${S.hover[0] + 1}, neuron ${S.hover[1] + 1}: its output over the plane`;
  } else {
    values = decode(frame.output);
    if (frame.label) labels = decode(frame.label);
    caption = S.data && S.data.task === "regression" ? "the network's prediction over the plane" : "the decision boundary: colour is the predicted class, its strength the confidence";
  }
  $("plane-caption").textContent = caption;
  const off = S.offscreen && S.offscreen.width === cells ? S.offscreen : document.createElement("canvas");
  off.width = off.height = cells;
  S.offscreen = off;
  const og = off.getContext("2d");
  const image = og.createImageData(cells, cells);
  paintGrid(image, values, cells, { labels, discrete, fade: 0.3 });
  og.putImageData(image, 0, 0);
  g.imageSmoothingEnabled = true;
  g.drawImage(off, 0, 0, size, size);
  // the points: training with a white rim, test with a dark one
  if (S.data) {
    const scale = S.data.value_scale || 1;
    const radius = 3.2 * devicePixelRatio;
    const draw = (points, rim) => {
      g.strokeStyle = rim;
      g.lineWidth = devicePixelRatio;
      for (const [x1, x2, y] of points) {
        const colour = S.data.task === "regression" ? diverging(y / scale) : classColour(y);
        g.fillStyle = rgb(colour);
        g.beginPath();
        g.arc((x1 + PLANE) / (2 * PLANE) * size, (PLANE - x2) / (2 * PLANE) * size, radius, 0, 2 * Math.PI);
        g.fill();
        g.stroke();
      }
    };
    draw(S.data.train, "#ffffff");
    if ($("show-test").checked) draw(S.data.test, "#1d2430");
  }
  // axes
  g.fillStyle = "rgba(29,36,48,.75)";
  g.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
  for (const t of [-6, -3, 0, 3, 6]) {
    const p = (t + PLANE) / (2 * PLANE) * size;
    g.fillText(String(t), Math.min(size - 14 * devicePixelRatio, Math.max(2, p - 4 * devicePixelRatio)), size - 4 * devicePixelRatio);
    if (t !== -6) g.fillText(String(-t), 3, Math.max(12 * devicePixelRatio, p + 4 * devicePixelRatio));
  }
}

// ---- loss curves, gradient bars, numbers, notes ---------------------------------------------

function drawCurve() {
  const canvas = $("curve");
  const w = Math.round(canvas.clientWidth * devicePixelRatio), h = Math.round(canvas.clientHeight * devicePixelRatio);
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, w, h);
  const d = devicePixelRatio;
  const points = S.curve.filter((p) => p[1] !== null && p[2] !== null);
  const pad = { l: 34 * d, r: 8 * d, t: 8 * d, b: 16 * d };
  g.strokeStyle = "#dde2e8";
  g.lineWidth = d;
  g.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
  g.fillStyle = "#5f6b7a";
  g.font = `${10 * d}px system-ui, sans-serif`;
  if (points.length < 1) { g.fillText("loss over steps: press play", pad.l + 6 * d, h / 2); return; }
  const maxStep = Math.max(1, points[points.length - 1][0]);
  let top = 0;
  for (const p of points) top = Math.max(top, p[1], p[2]);
  top = top > 0 ? top * 1.05 : 1;
  const X = (s) => pad.l + (s / maxStep) * (w - pad.l - pad.r);
  const Y = (v) => h - pad.b - (v / top) * (h - pad.t - pad.b);
  const line = (k, colour, dash) => {
    g.strokeStyle = colour;
    g.setLineDash(dash);
    g.lineWidth = 1.6 * d;
    g.beginPath();
    points.forEach((p, i) => (i ? g.lineTo(X(p[0]), Y(p[k])) : g.moveTo(X(p[0]), Y(p[k]))));
    g.stroke();
    g.setLineDash([]);
  };
  line(1, "#1d2430", []);
  line(2, "#c2570c", [4 * d, 3 * d]);
  g.fillStyle = "#5f6b7a";
  g.fillText(top.toPrecision(2), 2, pad.t + 8 * d);
  g.fillText("0", 2, h - pad.b);
  g.fillText(`step ${maxStep}`, w - pad.r - 60 * d, h - 3 * d);
  g.fillText("loss", 2, h - 3 * d);
  g.fillStyle = "#1d2430"; g.fillText("\u2014 train", w - pad.r - 105 * d, pad.t + 11 * d);
  g.fillStyle = "#c2570c"; g.fillText("- - test", w - pad.r - 50 * d, pad.t + 11 * d);
}

function drawGrads(frame) {
  const canvas = $("grads");
  const layers = frame.grad_norms.length;
  const d = devicePixelRatio;
  const cssHeight = 18 * layers + 18;
  canvas.style.height = `${cssHeight}px`;
  const w = Math.round(canvas.clientWidth * d), h = Math.round(cssHeight * d);
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, w, h);
  const lo = -6, hi = 2;  // log10 of the norm
  const left = 40 * d, right = 70 * d;
  const X = (v) => left + (Math.max(lo, Math.min(hi, Math.log10(Math.max(v, 1e-12)))) - lo) / (hi - lo) * (w - left - right);
  g.font = `${11 * d}px system-ui, sans-serif`;
  const row = frame.epoch_row || {};
  for (let i = 0; i < layers; i++) {
    const y = (i * 18 + 3) * d;
    const mean = row[`grad_norm/fc${i + 1}`];
    const last = frame.grad_norms[i];
    g.fillStyle = "#5f6b7a";
    g.fillText(`fc${i + 1}`, 4 * d, y + 11 * d);
    g.fillStyle = "#eef1f5";
    g.fillRect(left, y, w - left - right, 14 * d);
    if (mean !== undefined && mean !== null) {
      g.fillStyle = "#6a8fbf";
      g.fillRect(left, y, X(mean) - left, 14 * d);
    }
    if (last > 0) {
      g.fillStyle = "#1d2430";
      g.fillRect(X(last) - d, y - d, 2 * d, 16 * d);
    }
    g.fillStyle = "#1d2430";
    const shown = mean !== undefined && mean !== null ? mean : last;
    g.fillText(shown > 0 ? shown.toExponential(1) : "\u2013", w - right + 6 * d, y + 11 * d);
  }
  g.fillStyle = "#5f6b7a";
  const yAxis = (layers * 18 + 14) * d;
  for (const p of [-6, -4, -2, 0, 2]) g.fillText(`1e${p}`, X(10 ** p) - 8 * d, yAxis);
}

function fmt(v, digits) {
  return v === null || v === undefined ? "\u2013" : v.toFixed(digits);
}

function drawNumbers(frame) {
  const sc = frame.scores;
  $("test-loss").textContent = fmt(sc.test_loss, 3);
  $("train-loss").textContent = fmt(sc.train_loss, 3);
  const metric = sc.test_accuracy !== undefined ? "accuracy" : "r2";
  const label = metric === "accuracy" ? "accuracy" : "R\u00B2";
  const show = (v) => (metric === "accuracy" && v !== null ? `${(100 * v).toFixed(1)}%` : fmt(v, 3));
  $("test-metric").textContent = `${label} ${show(sc["test_" + metric])}`;
  $("train-metric").textContent = `${label} ${show(sc["train_" + metric])}`;
  $("epoch-count").textContent = frame.epoch.toLocaleString("en-US", { minimumIntegerDigits: 3 }).replace(/,/g, "\u2009");
  $("step-count").textContent = `step ${frame.step.toLocaleString("en-US")} \u00B7 lr ${Number(frame.lr.toPrecision(3))}`;
  const words = { ready: "ready", running: "training", paused: "paused", done: `done: ${frame.epochs} epochs`, stopped: "stopped", diverged: "stopped: the loss is not finite", error: "error" };
  $("status").textContent = words[frame.status] || frame.status;
  const play = $("play");
  const running = frame.status === "running";
  const icon = running ? ICON_PAUSE : ICON_PLAY;
  if (play.dataset.icon !== String(running)) { play.innerHTML = icon; play.dataset.icon = String(running); }
  play.setAttribute("aria-label", running ? "pause" : "play");
  play.title = running ? "Pause (space)" : "Play (space)";
  if (frame.error) banner(frame.error);
}

function drawNotes(frame) {
  if (frame.notes.length === S.notesShown) return;
  S.notesShown = frame.notes.length;
  const list = $("notes");
  list.innerHTML = "";
  if (!frame.notes.length) {
    list.innerHTML = '<li class="none">Nothing to report yet.</li>';
    return;
  }
  for (const note of frame.notes) {
    const li = document.createElement("li");
    const kind = document.createElement("b");
    kind.textContent = note.kind + ": ";
    li.appendChild(kind);
    li.appendChild(document.createTextNode(note.text));
    if (note.advice) {
      const advice = document.createElement("span");
      advice.className = "advice";
      advice.textContent = note.advice;
      li.appendChild(advice);
    }
    list.appendChild(li);
  }
}

// ---- the draw loop: at most one redraw per animation frame, only when something changed ------

function draw() {
  const frame = S.frame;
  if (!frame || !frame.neurons) return;
  const started = performance.now();
  drawNetwork(frame);
  drawBoundary(frame);
  drawCurve();
  drawGrads(frame);
  drawNumbers(frame);
  drawNotes(frame);
  const stats = window.playgroundStats;
  stats.draws++;
  stats.drawMs += performance.now() - started;
}

function loop() {
  if (S.dirty) {
    S.dirty = false;
    try { draw(); } catch (e) { console.error(e); }
  }
  requestAnimationFrame(loop);
}

async function start() {
  try {
    S.schema = await api("GET", "/api/schema");
    S.previews = await api("GET", "/api/previews");
    buildControls();
    const defaults = {};
    for (const [k, f] of Object.entries(S.schema.fields)) defaults[k] = f.default;
    const wanted = readHash(defaults);
    try {
      await openSession(wanted);
    } catch (e) {
      banner(`this link's settings were refused (${e.message}); showing the defaults`);
      await openSession(defaults);
    }
    window.addEventListener("resize", () => { S.structureDirty = true; S.dirty = true; });
    // a link pasted into this tab changes only the hash: take its settings
    window.addEventListener("hashchange", () => change(readHash(defaults)));
    window.addEventListener("beforeunload", () => { if (S.source) S.source.close(); });
    requestAnimationFrame(loop);
  } catch (e) {
    banner(`the playground could not start: ${e.message}`);
  }
}

start();
