// Game page: mark clips at the playhead, edit them in place, start the annotate export.

import { api, fragment } from "./api.js";
import { reportError } from "./app.js";
import { secs } from "./format.js";
import { startExport } from "./jobs.js";

const root = document.querySelector("[data-role=game]");
const gameId = Number(root.dataset.gameId);
const parts = JSON.parse(document.getElementById("game-parts").textContent);
const player = root.querySelector("[data-role=player]");
const partSelect = root.querySelector("[data-role=part]");
const timeLabel = root.querySelector("[data-role=time]");
const markStart = root.querySelector("[data-role=mark-start]");
const markEnd = root.querySelector("[data-role=mark-end]");
const markStatus = root.querySelector("[data-role=mark-status]");
const clipList = root.querySelector("[data-role=clip-list]");
let part = 0;
let pendingStart = null;

/** Game time at the playhead: the current file's offset plus its own time. */
function gameTime() {
  return Math.round((parts[part].offset + player.currentTime) * 100) / 100;
}

/** Seek to a game time, switching files when it lies in another one. */
function seek(t) {
  const index = Math.max(0, parts.findLastIndex((p) => p.offset <= t + 1e-6));
  const local = t - parts[index].offset;
  if (index !== part) {
    part = index;
    if (partSelect) partSelect.value = String(index);
    player.src = parts[index].url;
    player.addEventListener("loadedmetadata", () => (player.currentTime = local), { once: true });
  } else {
    player.currentTime = local;
  }
}

function onMarkStart() {
  pendingStart = gameTime();
  markEnd.disabled = false;
  markStatus.textContent = `Start marked at ${secs(pendingStart)}. Play on and mark the end.`;
}

async function onMarkEnd() {
  const end = gameTime();
  if (pendingStart == null) return;
  if (end <= pendingStart) {
    markStatus.textContent = `The end (${secs(end)}) must come after the start (${secs(pendingStart)}).`;
    return;
  }
  markEnd.disabled = true;
  try {
    await api(`/games/${gameId}/clips`, { method: "POST", body: { start: pendingStart, end, rating: 3 } });
    markStatus.textContent = `Clip ${secs(pendingStart)}–${secs(end)} saved.`;
    pendingStart = null;
    await refreshClips();
  } catch (err) {
    markEnd.disabled = false;
    reportError("The clip was not saved", err);
  }
}

async function refreshClips() {
  const checked = new Set(selectedClipIds());
  clipList.innerHTML = await fragment(`/games/${gameId}/clips`);
  for (const box of clipList.querySelectorAll("input[name=clips]")) box.checked = checked.has(Number(box.value));
}

function selectedClipIds() {
  return [...clipList.querySelectorAll("input[name=clips]:checked")].map((box) => Number(box.value));
}

function fieldValue(input) {
  const field = input.dataset.field;
  if (field === "rating") return Number(input.value);
  if (field === "tags") return input.value.split(",").map((t) => t.trim()).filter(Boolean);
  return input.value;
}

/** Save one edited field of a clip; a refused value keeps what the user typed, with the reason. */
async function saveField(input) {
  const row = input.closest("[data-clip-id]");
  const errorBox = row.querySelector("[data-role=clip-error]");
  try {
    const clip = await api(`/clips/${row.dataset.clipId}`, { method: "PATCH", body: { [input.dataset.field]: fieldValue(input) } });
    errorBox.hidden = true;
    row.style.setProperty("--rating", clip.colour);
    row.querySelector("[data-role=notation]").textContent = clip.notation;
    row.classList.add("saved");
    setTimeout(() => row.classList.remove("saved"), 800);
  } catch (err) {
    errorBox.textContent = err.describe ? err.describe() : String(err);
    errorBox.hidden = false;
  }
}

async function deleteClip(row) {
  if (!confirm("Delete this clip? Projects using it lose it too.")) return;
  try {
    await api(`/clips/${row.dataset.clipId}`, { method: "DELETE" });
    await refreshClips();
  } catch (err) {
    reportError("The clip was not deleted", err);
  }
}

function onAnnotate(event) {
  const ids = selectedClipIds();
  const options = ids.length ? { clip_ids: ids } : {};
  startExport({ kind: "annotate", gameId, options }, event.currentTarget);
}

player.addEventListener("timeupdate", () => (timeLabel.textContent = secs(gameTime())));
partSelect?.addEventListener("change", () => seek(parts[Number(partSelect.value)].offset));
markStart.addEventListener("click", onMarkStart);
markStart.disabled = false; // the page renders it disabled until this line
markEnd.addEventListener("click", onMarkEnd);
const annotateButton = root.querySelector("[data-role=annotate]");
annotateButton.addEventListener("click", onAnnotate);
annotateButton.disabled = false; // the page renders it disabled until this line
root.querySelector("[data-role=select-all]").addEventListener("click", () => {
  const boxes = [...clipList.querySelectorAll("input[name=clips]")];
  const all = boxes.every((b) => b.checked);
  boxes.forEach((b) => (b.checked = !all));
});
clipList.addEventListener("change", (event) => {
  if (event.target.dataset.field) saveField(event.target);
});
clipList.addEventListener("click", (event) => {
  const row = event.target.closest("[data-clip-id]");
  if (!row) return;
  if (event.target.closest("[data-role=play]")) {
    seek(Number(row.dataset.start));
    player.play().catch(() => {});
  } else if (event.target.closest("[data-role=delete]")) {
    deleteClip(row);
  }
});
document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select")) return;
  if (event.key === "[") onMarkStart();
  if (event.key === "]" && !markEnd.disabled) onMarkEnd();
});
