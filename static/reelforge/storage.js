// Direct uploads to the bucket (S3 / R2) with presigned URLs: one PUT for small files,
// multipart for big ones. A multipart upload interrupted by a closed tab or a lost network
// resumes: choosing the same file again sends only the parts the bucket does not hold.
// (The bucket's CORS rules must allow PUT from the app's origin: docs/storage.md.)

import { api, ApiError } from "./api.js";

function resumeKey(file) {
  return `reelforge:upload:${file.name}:${file.size}:${file.lastModified}`;
}

/** The game of an unfinished multipart upload of this very file, if there is one. */
export function resumableGameId(file) {
  try {
    return JSON.parse(localStorage.getItem(resumeKey(file)) || "null")?.game_id ?? null;
  } catch {
    return null;
  }
}

/** PUT a blob to a presigned URL with upload progress. */
function put(url, blob, headers, onLoaded) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => onLoaded(event.loaded));
    xhr.addEventListener("load", () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve()
        : reject(new ApiError(xhr.status, { error: { message: `The storage refused the upload (HTTP ${xhr.status}).` } })),
    );
    xhr.addEventListener("error", () => reject(new ApiError(0, { error: { message: "The upload to storage was interrupted." } })));
    xhr.send(blob);
  });
}

async function startOrResume(game, file) {
  const saved = JSON.parse(localStorage.getItem(resumeKey(file)) || "null");
  if (saved && saved.game_id === game.id) {
    try {
      const state = await api(`/uploads/parts?${new URLSearchParams({ key: saved.key, upload_id: saved.upload_id })}`);
      return { ...saved, part_size: state.part_size, missing: state.missing };
    } catch {
      localStorage.removeItem(resumeKey(file)); // expired or gone: start over
    }
  }
  const started = await api("/uploads", {
    method: "POST",
    body: { game_id: game.id, name: file.name, size: file.size, content_type: file.type || "" },
  });
  if (started.mode === "multipart") {
    const record = { game_id: game.id, key: started.key, upload_id: started.upload_id, part_size: started.part_size };
    localStorage.setItem(resumeKey(file), JSON.stringify(record));
    const missing = Array.from({ length: started.part_count }, (_, i) => i + 1);
    return { ...record, missing };
  }
  return started;
}

async function sendParts(upload, file, onProgress) {
  const partSize = upload.part_size;
  const total = file.size;
  let done = total - upload.missing.reduce((sum, n) => sum + Math.min(partSize, total - (n - 1) * partSize), 0);
  onProgress(done, total);
  for (let i = 0; i < upload.missing.length; i += 20) {
    const batch = upload.missing.slice(i, i + 20);
    const signed = await api("/uploads/parts", {
      method: "POST",
      body: { key: upload.key, upload_id: upload.upload_id, part_numbers: batch },
    });
    for (const part of signed.parts) {
      const start = (part.part_number - 1) * partSize;
      const blob = file.slice(start, Math.min(start + partSize, total));
      await put(part.url, blob, {}, (loaded) => onProgress(done + loaded, total));
      done += blob.size;
    }
  }
}

/** Upload `file` into `game` straight to the bucket; resolves with the confirmed game JSON. */
export async function sendDirect({ game, file, onProgress }) {
  const upload = await startOrResume(game, file);
  if (upload.mode === "single") {
    await put(upload.url, file, upload.headers, (loaded) => onProgress(loaded, file.size));
  } else {
    await sendParts(upload, file, onProgress);
  }
  onProgress(file.size, file.size);
  const confirmed = await api("/uploads/confirm", {
    method: "POST",
    body: { key: upload.key, upload_id: upload.upload_id || "" },
  });
  localStorage.removeItem(resumeKey(file));
  return confirmed;
}
