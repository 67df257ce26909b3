// Games page: upload a video with a progress bar, then show what the probe found.
//
// Through the app the file is the raw body of PUT /api/games/{id}/upload (streamed to disk by
// the server; XHR for upload progress events). When the server says uploads go direct to the
// bucket (GET /api/uploads/config -> direct), storage.js sends it with presigned URLs.

import { api, ApiError, csrfToken, fragment } from "./api.js";
import { reportError } from "./app.js";
import { bytes } from "./format.js";

const VIDEO_EXTENSIONS = /\.(mp4|m4v|mov|mkv|webm|avi|mts|m2ts|3gp|mpg|mpeg|ts)$/i;

const form = document.querySelector("[data-role=upload-form]");
const progress = form.querySelector("[data-role=upload-progress]");
const bar = progress.querySelector("[role=progressbar]");
const status = form.querySelector("[data-role=upload-status]");
const errorBox = form.querySelector("[data-role=upload-error]");
const submit = form.querySelector("button[type=submit]");

/** Upload settings from the server; without that endpoint, through the app up to the page's limit. */
async function uploadConfig() {
  try {
    return await api("/uploads/config");
  } catch {
    return { direct: false, max_bytes: Number(form.dataset.maxBytes) };
  }
}

/** A sentence when the file cannot be a video or is too big, else null. */
export function fileProblem(file, maxBytes) {
  if (!file) return "Choose a video file.";
  const looksLikeVideo = file.type ? file.type.startsWith("video/") : VIDEO_EXTENSIONS.test(file.name);
  if (!looksLikeVideo && !VIDEO_EXTENSIONS.test(file.name)) {
    return `“${file.name}” is not a video file. Choose an MP4, MOV, MKV or WebM video.`;
  }
  if (file.size === 0) return `“${file.name}” is empty.`;
  if (maxBytes && file.size > maxBytes) {
    return `“${file.name}” is ${bytes(file.size)}; the limit is ${bytes(maxBytes)}.`;
  }
  return null;
}

function showProgress(loaded, total) {
  const percent = total ? Math.round((loaded / total) * 100) : 0;
  progress.hidden = false;
  bar.setAttribute("aria-valuenow", String(percent));
  bar.firstElementChild.style.width = `${percent}%`;
  status.textContent = percent < 100 ? `Uploading… ${percent} % of ${bytes(total)}` : "Checking the video…";
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

/** PUT the file to the app with XHR, reporting upload progress; resolves with the game JSON. */
function sendThroughApp(game, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `/api/games/${game.id}/upload?${new URLSearchParams({ name: file.name })}`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded, event.total || file.size));
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { error: { message: "The upload was interrupted (network error)." } })));
    xhr.send(file);
  });
}

async function sendFile(config, game, file) {
  if (config.direct) {
    const { sendDirect } = await import("./storage.js");
    return sendDirect({ config, game, file, onProgress: showProgress });
  }
  return sendThroughApp(game, file, showProgress);
}

async function refreshRows() {
  document.querySelector("[data-role=game-rows]").innerHTML = await fragment("/games/rows");
}

async function onSubmit(event) {
  event.preventDefault();
  showError("");
  const title = form.elements.title.value.trim();
  const file = form.elements.file.files[0];
  const config = await uploadConfig();
  const problem = !title ? "Give the game a title." : fileProblem(file, config.max_bytes);
  if (problem) {
    showError(problem);
    return;
  }
  submit.disabled = true;
  let game = null;
  try {
    const resumeId = config.direct ? (await import("./storage.js")).resumableGameId(file) : null;
    game = resumeId ? { id: resumeId } : await api("/games", { method: "POST", body: { title } });
    showProgress(0, file.size);
    const result = await sendFile(config, game, file);
    await refreshRows();
    if (result && result.status === "invalid") {
      showError(`“${file.name}” could not be used: ${result.status_reason || "it is not a readable video."}`);
    } else {
      // The hub's "upload completed" notification toasts it (once, in one tab).
      form.reset();
    }
  } catch (err) {
    // An interrupted direct multipart upload is kept to resume; anything else leaves no game.
    if (game && !(config.direct && (await import("./storage.js")).resumableGameId(file))) {
      await api(`/games/${game.id}`, { method: "DELETE" }).catch(() => {});
    }
    showError(err instanceof ApiError ? err.describe() : String(err));
    if (!(err instanceof ApiError)) reportError("Upload failed", err);
  } finally {
    submit.disabled = false;
    progress.hidden = true;
  }
}

form.addEventListener("submit", onSubmit);
form.dataset.ready = "1"; // from here on the page checks files before sending them
