// The global export indicator: every active job with a bar, stage text, ETA and cancel.

import { api } from "./api.js";
import { el, etaText, kindLabel, stageText } from "./format.js";

const FINISHED = new Set(["complete", "error", "cancelled"]);

export class ExportIndicator {
  constructor(root, { hub, onError }) {
    this.root = root;
    this.list = root.querySelector("[data-role=jobs]");
    this.summary = root.querySelector("[data-role=summary]");
    this.hub = hub;
    this.onError = onError;
    hub.addEventListener("job", (event) => this.update(event.detail));
  }

  update(job) {
    const row = this.list.querySelector(`[data-job-id="${job.id}"]`);
    if (FINISHED.has(job.status)) {
      row?.remove();
    } else if (row) {
      this.fill(row, job);
    } else {
      const fresh = this.build(job);
      this.list.append(fresh);
      this.fill(fresh, job);
    }
    this.refreshSummary();
  }

  build(job) {
    const title = job.title || `${kindLabel(job.kind)} #${job.id}`;
    const cancel = el("button", { type: "button", class: "button small ghost", "aria-label": `Cancel ${title}` }, "Cancel");
    cancel.addEventListener("click", () => this.cancel(job.id, cancel));
    return el(
      "li",
      { class: "job", dataset: { jobId: job.id } },
      el(
        "div",
        { class: "job-head" },
        el("span", { class: "job-title" }, title),
        el("span", { class: "job-eta", "data-role": "eta" }),
        cancel,
      ),
      el(
        "div",
        { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": `${title} progress` },
        el("div", { class: "bar-fill" }),
      ),
      el("div", { class: "job-stage", "data-role": "stage" }),
    );
  }

  fill(row, job) {
    const percent = Math.max(0, Math.min(100, Math.round(Number(job.progress) || 0)));
    const stage = stageText(job);
    row.dataset.status = job.status;
    const bar = row.querySelector("[role=progressbar]");
    bar.setAttribute("aria-valuenow", String(percent));
    bar.setAttribute("aria-valuetext", `${percent} %, ${stage}`);
    bar.firstElementChild.style.width = `${percent}%`;
    row.querySelector("[data-role=stage]").textContent = `${stage} · ${percent} %`;
    row.querySelector("[data-role=eta]").textContent = job.status === "processing" ? etaText(job.eta) : "";
  }

  refreshSummary() {
    const count = this.list.children.length;
    this.root.hidden = count === 0;
    this.summary.textContent = count === 1 ? "1 export running" : `${count} exports running`;
  }

  async cancel(id, button) {
    button.disabled = true;
    button.textContent = "Cancelling…";
    try {
      this.hub.track(await api(`/exports/${id}/cancel`, { method: "POST", body: {} }));
    } catch (err) {
      button.disabled = false;
      button.textContent = "Cancel";
      this.onError("Could not cancel the export", err);
    }
  }
}
