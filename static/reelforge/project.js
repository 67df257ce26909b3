// Project page: clip order, framing editor (crop keyframes, speed, transitions), highlight
// regions editor, renders and their history. Edits save through PATCH /api/projects/{id}
// with the version they were made against; a refused edit reloads the saved project.

import { api, fragment } from "./api.js";
import { reportError } from "./app.js";
import { el } from "./format.js";
import { cropAt, dragWindow, interpolate, outputTime, round } from "./geometry.js";
import { refreshOnJobs, startExport, wireJobButtons } from "./jobs.js";

const data = JSON.parse(document.getElementById("project-data").textContent);
const root = document.querySelector("[data-role=project]");
const $ = (role) => document.querySelector(`[data-role=${role}]`);
const player = $("player");
const overlay = $("overlay");
const scrub = $("scrub");
const clipsById = new Map(data.clips.map((c) => [c.id, c]));

let project = null;
let selected = 0;
let mode = "framing";
let selectedRegion = null;
let saving = Promise.resolve();

// --- model helpers ----------------------------------------------------------------------------

function preset() {
  const p = data.presets[project.aspect];
  return { ...p, ratio: p.width / p.height };
}

function current() {
  return project.clips[selected] || null;
}

function clipOf(pc) {
  return clipsById.get(pc.clip_id);
}

function partAt(t) {
  const parts = data.parts;
  for (let i = parts.length - 1; i >= 0; i -= 1) if (parts[i].offset <= t + 1e-6) return parts[i];
  return parts[0];
}

function sourceOf(pc) {
  const part = partAt(clipOf(pc).start);
  return { width: part.width, height: part.height, part };
}

function clipDuration(pc) {
  const clip = clipOf(pc);
  return round(clip.end - clip.start, 3);
}

/** Clip time at the playhead (0 at the clip's start). */
function clipTime() {
  const pc = current();
  if (!pc) return 0;
  const { part } = sourceOf(pc);
  const t = player.currentTime + part.offset - clipOf(pc).start;
  return Math.min(Math.max(0, t), clipDuration(pc));
}

function setClipTime(t) {
  const pc = current();
  const { part } = sourceOf(pc);
  player.currentTime = clipOf(pc).start - part.offset + t;
}

// --- saving -------------------------------------------------------------------------------------

/** Apply an edit locally, then save it; edits are sent one after another with fresh versions. */
function edit(change, extra = {}) {
  change(project);
  renderAll();
  saving = saving.then(() => save(extra));
  return saving;
}

async function save(extra) {
  const state = $("save-state");
  state.textContent = "Saving…";
  try {
    project = await api(`/projects/${data.project_id}`, {
      method: "PATCH",
      body: { version: project.version, clips: project.clips, ...extra },
    });
    state.textContent = "All changes saved.";
  } catch (err) {
    state.textContent = "Not saved.";
    reportError(err.status === 409 ? "Changed elsewhere: reloaded" : "That change was refused", err);
    await load();
  }
  renderAll();
}

async function load() {
  project = await api(`/projects/${data.project_id}`);
  selected = Math.min(selected, Math.max(0, project.clips.length - 1));
}

// --- clip order -------------------------------------------------------------------------------

function renderOrder() {
  const list = $("order");
  list.replaceChildren(
    ...project.clips.map((pc, i) => {
      const clip = clipOf(pc);
      const move = (delta) =>
        edit((p) => {
          const [item] = p.clips.splice(i, 1);
          p.clips.splice(i + delta, 0, item);
          if (selected === i) selected = i + delta;
        });
      return el(
        "li",
        { class: `order-item${i === selected ? " selected" : ""}`, style: `--rating: ${clip.colour}`, dataset: { index: i } },
        el("button", { type: "button", class: "link order-name", "aria-pressed": String(i === selected), onclick: () => select(i) },
          el("span", { class: "rating-badge" }, clip.notation), ` ${clip.name}`),
        el("span", { class: "muted small" }, `${clipDuration(pc).toFixed(1)} s · ${pc.transition}`),
        el("span", { class: "order-tools" },
          el("button", { type: "button", class: "button small ghost", "aria-label": `Move ${clip.name} up`, disabled: i === 0, onclick: () => move(-1) }, "↑"),
          el("button", { type: "button", class: "button small ghost", "aria-label": `Move ${clip.name} down`, disabled: i === project.clips.length - 1, onclick: () => move(1) }, "↓"),
          el("button", { type: "button", class: "button small ghost danger", "aria-label": `Remove ${clip.name}`, onclick: () => edit((p) => p.clips.splice(i, 1)) }, "Remove"),
        ),
      );
    }),
  );
  if (!project.clips.length) list.append(el("li", { class: "muted" }, "No clips: add one below."));
  $("add-clip-select").replaceChildren(...data.clips.map((c) => el("option", { value: c.id }, `${c.notation} ${c.name} (${c.start.toFixed(1)}–${c.end.toFixed(1)} s)`)));
}

function select(index) {
  selected = index;
  selectedRegion = null;
  loadClipIntoPlayer();
  renderAll();
}

// --- player and stage -------------------------------------------------------------------------

function loadClipIntoPlayer() {
  const pc = current();
  if (!pc) return;
  const { part, width, height } = sourceOf(pc);
  $("stage").style.aspectRatio = `${width} / ${height}`;
  const start = () => setClipTime(0);
  if (!player.src.endsWith(part.url)) {
    player.src = part.url;
    player.addEventListener("loadedmetadata", start, { once: true });
  } else {
    start();
  }
  scrub.max = String(clipDuration(pc));
}

function toStage(rect, source) {
  return {
    left: `${(rect.x / source.width) * 100}%`,
    top: `${(rect.y / source.height) * 100}%`,
    width: `${(rect.w / source.width) * 100}%`,
    height: `${(rect.h / source.height) * 100}%`,
  };
}

function box(className, rect, source) {
  const node = el("div", { class: className });
  Object.assign(node.style, toStage(rect, source));
  return node;
}

/** Draw the crop window at the playhead and, in regions mode, the ellipses active now. */
function renderStage() {
  const pc = current();
  overlay.replaceChildren();
  if (!pc) return;
  const source = sourceOf(pc);
  const t = clipTime();
  $("clip-time").textContent = `${t.toFixed(2)} s`;
  scrub.value = String(t);
  const crop = cropAt(pc.crop_keyframes, t, source, preset().ratio);
  overlay.append(box(`crop-window${mode === "regions" ? " dim" : ""}`, crop, source));
  if (mode !== "regions") return;
  const outT = outputTime(t, pc.speed_segments);
  pc.highlight_regions.forEach((region, i) => {
    if (outT < region.start || outT > region.end) return;
    const e = interpolate(region.keyframes, outT - region.start, ["x", "y", "rx", "ry"]);
    const scale = crop.w / preset().width;
    const rect = { x: crop.x + (e.x - e.rx) * scale, y: crop.y + (e.y - e.ry) * scale, w: 2 * e.rx * scale, h: 2 * e.ry * scale };
    overlay.append(box(`ellipse ellipse-${region.effect}${i === selectedRegion ? " selected" : ""}`, rect, source));
  });
}

/** Pointer position in source pixels. */
function sourcePoint(event) {
  const source = sourceOf(current());
  const r = overlay.getBoundingClientRect();
  return {
    x: Math.min(Math.max(0, ((event.clientX - r.left) / r.width) * source.width), source.width),
    y: Math.min(Math.max(0, ((event.clientY - r.top) / r.height) * source.height), source.height),
  };
}

function onPointerDown(event) {
  if (!current() || event.button !== 0) return;
  event.preventDefault();
  player.pause();
  overlay.setPointerCapture(event.pointerId);
  const start = sourcePoint(event);
  const source = sourceOf(current());
  const ghost = el("div", { class: mode === "framing" ? "drag-rect" : "ellipse ellipse-drag" });
  overlay.append(ghost);
  const shape = (end) =>
    mode === "framing"
      ? dragWindow(start.x, start.y, end.x, end.y, source, preset().ratio)
      : { x: start.x - Math.abs(end.x - start.x), y: start.y - Math.abs(end.y - start.y), w: 2 * Math.abs(end.x - start.x), h: 2 * Math.abs(end.y - start.y) };
  const move = (e) => Object.assign(ghost.style, toStage(shape(sourcePoint(e)), source));
  const up = (e) => {
    overlay.removeEventListener("pointermove", move);
    overlay.removeEventListener("pointerup", up);
    const rect = shape(sourcePoint(e));
    ghost.remove();
    if (rect.w < 8 || rect.h < 8) return renderStage();
    if (mode === "framing") addKeyframe(rect);
    else addRegion(start, rect.w / 2, rect.h / 2);
  };
  overlay.addEventListener("pointermove", move);
  overlay.addEventListener("pointerup", up);
}

// --- framing ----------------------------------------------------------------------------------

function addKeyframe(rect) {
  const t = round(clipTime(), 2);
  edit((p) => {
    const kfs = p.clips[selected].crop_keyframes.filter((kf) => Math.abs(kf.t - t) > 0.04);
    kfs.push({ t, ...rect });
    kfs.sort((a, b) => a.t - b.t);
    p.clips[selected].crop_keyframes = kfs;
  });
}

function renderFraming() {
  const pc = current();
  const rows = (pc ? pc.crop_keyframes : []).map((kf, i) =>
    el("tr", { dataset: { keyframe: i } },
      el("td", {}, el("button", { type: "button", class: "link", onclick: () => { setClipTime(kf.t); } }, `${kf.t.toFixed(2)} s`)),
      ...["x", "y", "w", "h"].map((k) => el("td", {}, Math.round(kf[k]))),
      el("td", {}, el("button", { type: "button", class: "button small ghost danger", "aria-label": `Delete keyframe at ${kf.t.toFixed(2)} s`, onclick: () => edit((p) => p.clips[selected].crop_keyframes.splice(i, 1)) }, "Delete")),
    ),
  );
  $("keyframes").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No keyframes: the centre of the frame is used."))]));
  const speeds = (pc ? pc.speed_segments : []).map((seg, i) =>
    el("tr", {},
      el("td", {}, `${seg.start} s`), el("td", {}, `${seg.end} s`), el("td", {}, `${seg.speed}×`),
      el("td", {}, el("button", { type: "button", class: "button small ghost danger", onclick: () => edit((p) => p.clips[selected].speed_segments.splice(i, 1)) }, "Delete")),
    ),
  );
  $("speeds").replaceChildren(...(speeds.length ? speeds : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "Normal speed throughout."))]));
  $("transition").replaceChildren(...data.transitions.map((tr) => el("option", { value: tr.value, selected: pc && pc.transition === tr.value }, tr.label)));
  $("transition-duration").value = pc ? pc.transition_duration : "";
}

function onSpeedSubmit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const seg = { start: Number(form.elements.start.value), end: Number(form.elements.end.value), speed: Number(form.elements.speed.value) };
  edit((p) => {
    const segs = [...p.clips[selected].speed_segments, seg].sort((a, b) => a.start - b.start);
    p.clips[selected].speed_segments = segs;
  });
}

// --- highlight regions ------------------------------------------------------------------------

function addRegion(centre, rx, ry) {
  const pc = current();
  const crop = cropAt(pc.crop_keyframes, clipTime(), sourceOf(pc), preset().ratio);
  const scale = preset().width / crop.w;
  const kf = {
    x: Math.round(Math.min(Math.max(0, (centre.x - crop.x) * scale), preset().width)),
    y: Math.round(Math.min(Math.max(0, (centre.y - crop.y) * scale), preset().height)),
    rx: Math.max(1, Math.round(rx * scale)),
    ry: Math.max(1, Math.round(ry * scale)),
  };
  const outT = round(outputTime(clipTime(), pc.speed_segments), 2);
  const outEnd = round(outputTime(clipDuration(pc), pc.speed_segments), 2);
  const region = selectedRegion != null ? pc.highlight_regions[selectedRegion] : null;
  if (region && outT >= region.start && outT <= region.end) {
    const t = round(outT - region.start, 2);
    edit((p) => {
      const target = p.clips[selected].highlight_regions[selectedRegion];
      target.keyframes = [...target.keyframes.filter((k) => Math.abs(k.t - t) > 0.04), { t, ...kf }].sort((a, b) => a.t - b.t);
    });
    return;
  }
  if (outEnd - outT < 0.2) {
    reportError("No room for a region here", { message: "Move the playhead earlier in the clip." });
    return;
  }
  edit((p) => {
    p.clips[selected].highlight_regions.push({ start: outT, end: round(Math.min(outT + 2, outEnd), 2), effect: $("effect").value, keyframes: [{ t: 0, ...kf }] });
    selectedRegion = p.clips[selected].highlight_regions.length - 1;
  });
}

function renderRegions() {
  const pc = current();
  $("effect").replaceChildren(...data.effects.map((e) => el("option", { value: e.value }, e.label)));
  const rows = (pc ? pc.highlight_regions : []).map((region, i) => {
    const set = (key, value) => edit((p) => (p.clips[selected].highlight_regions[i][key] = value));
    const number = (key) =>
      el("input", { type: "number", step: "0.1", min: "0", value: region[key], "aria-label": `Region ${i + 1} ${key}`, onchange: (e) => set(key, Number(e.target.value)) });
    const first = region.keyframes[0];
    return el("tr", { class: i === selectedRegion ? "selected" : "", onclick: (e) => { if (!e.target.closest("input,select,button")) { selectedRegion = i; renderAll(); } } },
      el("td", {}, number("start")), el("td", {}, number("end")),
      el("td", {}, el("select", { "aria-label": `Region ${i + 1} effect`, onchange: (e) => set("effect", e.target.value) },
        ...data.effects.map((eff) => el("option", { value: eff.value, selected: eff.value === region.effect }, eff.label)))),
      el("td", { class: "muted small" }, `${first.x}, ${first.y} · ${region.keyframes.length} key${region.keyframes.length > 1 ? "s" : ""}`),
      el("td", {}, el("button", { type: "button", class: "button small ghost danger", "aria-label": `Delete region ${i + 1}`, onclick: () => { selectedRegion = null; edit((p) => p.clips[selected].highlight_regions.splice(i, 1)); } }, "Delete")),
    );
  });
  $("regions").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No regions in this clip."))]));
}

// --- rendering the page -------------------------------------------------------------------------

function setMode(next) {
  mode = next;
  for (const tab of document.querySelectorAll("[data-mode]")) tab.setAttribute("aria-selected", String(tab.dataset.mode === mode));
  for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== mode;
  $("stage-hint").textContent =
    mode === "framing"
      ? "Drag across the video to set the crop window at the playhead."
      : "Drag from a player outwards to draw an ellipse at the playhead (select a region first to add a keyframe to it).";
  renderStage();
}

function renderAll() {
  renderOrder();
  renderFraming();
  renderRegions();
  renderStage();
  const pc = current();
  $("editing-name").textContent = pc ? `“${clipOf(pc).name}”` : "";
  document.querySelector("[data-role=aspect]").value = project.aspect;
}

function onAspectChange(event) {
  const next = event.target.value;
  const before = data.presets[project.aspect];
  const after = data.presets[next];
  const hasKeyframes = project.clips.some((pc) => pc.crop_keyframes.length);
  if (hasKeyframes && !confirm(`Crop keyframes were drawn for ${project.aspect}; changing to ${next} removes them. Continue?`)) {
    event.target.value = project.aspect;
    return;
  }
  // Regions are in output pixels: scale them to the new frame so they stay on the player.
  const sx = after.width / before.width;
  const sy = after.height / before.height;
  edit(
    (p) => {
      for (const pc of p.clips) {
        pc.crop_keyframes = [];
        for (const region of pc.highlight_regions) {
          region.keyframes = region.keyframes.map((k) => ({ t: k.t, x: Math.round(k.x * sx), y: Math.round(k.y * sy), rx: Math.max(1, Math.round(k.rx * sx)), ry: Math.max(1, Math.round(k.ry * sy)) }));
        }
      }
      p.aspect = next;
    },
    { aspect: next },
  );
}

async function refreshOutputs() {
  const outputs = $("outputs");
  outputs.innerHTML = await fragment(`/projects/${data.project_id}/outputs`);
  enableExportButtons();
}

/** The page renders the export buttons disabled until they are wired; overlay needs a working video. */
function enableExportButtons() {
  const hasWorking = $("outputs").querySelector("[data-has-working]")?.dataset.hasWorking === "1";
  $("export-framing").disabled = false;
  const overlayButton = $("export-overlay");
  overlayButton.disabled = !hasWorking;
  overlayButton.title = hasWorking ? "" : "Render the working video first";
}

function wire() {
  overlay.addEventListener("pointerdown", onPointerDown);
  player.addEventListener("timeupdate", renderStage);
  player.addEventListener("seeked", renderStage);
  player.addEventListener("timeupdate", () => {
    if (current() && clipTime() >= clipDuration(current()) - 0.01 && !player.paused) player.pause();
  });
  scrub.addEventListener("input", () => setClipTime(Number(scrub.value)));
  $("play").addEventListener("click", () => {
    if (player.paused) {
      if (clipTime() >= clipDuration(current()) - 0.05) setClipTime(0);
      player.play().catch(() => {});
    } else player.pause();
  });
  player.addEventListener("play", () => ($("play").textContent = "Pause"));
  player.addEventListener("pause", () => ($("play").textContent = "Play"));
  for (const tab of document.querySelectorAll("[data-mode]")) tab.addEventListener("click", () => setMode(tab.dataset.mode));
  $("speed-form").addEventListener("submit", onSpeedSubmit);
  $("transition").addEventListener("change", (e) => edit((p) => (p.clips[selected].transition = e.target.value)));
  $("transition-duration").addEventListener("change", (e) => edit((p) => (p.clips[selected].transition_duration = Number(e.target.value))));
  $("add-clip").addEventListener("click", () =>
    edit((p) => p.clips.push({ clip_id: Number($("add-clip-select").value), crop_keyframes: [], speed_segments: [], transition: "cut", transition_duration: 0.5, highlight_regions: [] })),
  );
  document.querySelector("[data-role=aspect]").addEventListener("change", onAspectChange);
  $("export-framing").addEventListener("click", (e) => startExport({ kind: "framing", projectId: data.project_id, options: { scale: Number($("scale").value) } }, e.currentTarget));
  $("export-overlay").addEventListener("click", (e) => startExport({ kind: "overlay", projectId: data.project_id }, e.currentTarget));
  const outputs = $("outputs");
  wireJobButtons(outputs);
  outputs.addEventListener("jobs-changed", refreshOutputs);
  refreshOnJobs((job) => job.project_id === data.project_id, refreshOutputs);
  new ResizeObserver(renderStage).observe(overlay);
  enableExportButtons();
}

async function main() {
  await load();
  wire();
  setMode("framing");
  if (project.clips.length) loadClipIntoPlayer();
  renderAll();
  root.dataset.ready = "1";
}

main().catch((err) => reportError("The project could not be loaded", err));
