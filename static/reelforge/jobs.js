// Starting and acting on export jobs from pages; the hub then reports their progress.

import { api } from "./api.js";
import { hub, reportError, toasts } from "./app.js";
import { kindLabel } from "./format.js";

function idempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/** POST /api/exports; one key per click, so a double submit never renders twice. */
export async function startExport({ kind, projectId, gameId, options = {} }, button) {
  const body = { kind, options };
  if (projectId != null) body.project_id = projectId;
  if (gameId != null) body.game_id = gameId;
  if (button) button.disabled = true;
  try {
    const job = await api("/exports", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey() } });
    hub?.track(job);
    toasts.show({ level: "info", title: `${kindLabel(kind)} export started`, message: "Progress shows at the top of every page." });
    return job;
  } catch (err) {
    reportError(`Could not start the ${kindLabel(kind).toLowerCase()} export`, err);
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Cancel or retry buttons rendered by the server: data-job-action="cancel|retry" data-job-id. */
export function wireJobButtons(root) {
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-job-action]");
    if (!button) return;
    const { jobAction, jobId } = button.dataset;
    button.disabled = true;
    try {
      const job = await api(`/exports/${jobId}/${jobAction}`, { method: "POST", body: {} });
      hub?.track(job);
      root.dispatchEvent(new CustomEvent("jobs-changed"));
    } catch (err) {
      reportError(`Could not ${jobAction} export #${jobId}`, err);
      button.disabled = false;
    }
  });
}

/** Re-render a server fragment whenever a job matching `filter` changes status. */
export function refreshOnJobs(filter, refresh) {
  const statuses = new Map();
  let timer = null;
  hub?.addEventListener("job", (event) => {
    const job = event.detail;
    if (!filter(job) || statuses.get(job.id) === job.status) return;
    statuses.set(job.id, job.status);
    clearTimeout(timer);
    timer = setTimeout(refresh, 150); // one refresh for a burst of status changes
  });
}
