// Small formatting helpers shared by the hub UI and the pages.

const KIND_LABELS = { annotate: "Annotated compilation", framing: "Framing", overlay: "Overlay" };
const STAGE_LABELS = {
  queued: "Waiting for a worker",
  pending: "Waiting for a worker",
  fetching: "Fetching the source",
  rendering: "Rendering",
  joining: "Joining clips",
  uploading: "Saving the video",
  verifying: "Checking the output",
};

export function kindLabel(kind) {
  return KIND_LABELS[kind] || kind;
}

/** "1:05" or "1:02:03" for a number of seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** Seconds with one decimal, for clip marks. */
export function secs(value) {
  return `${(Number(value) || 0).toFixed(1)} s`;
}

export function bytes(size) {
  if (size == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(size);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

/** The words under a progress bar: the job's own message, else its stage and item count. */
export function stageText(job) {
  if (job.status === "pending") return "Waiting for a worker";
  if (job.message) return job.message;
  const items = job.items || {};
  if (job.stage === "rendering" && items.total) {
    return `Rendering clip ${Math.min(items.done + 1, items.total)} of ${items.total}`;
  }
  return STAGE_LABELS[job.stage] || (job.stage ? job.stage[0].toUpperCase() + job.stage.slice(1) : "Starting");
}

export function etaText(eta) {
  if (eta == null || eta === "") return "";
  if (eta < 5) return "almost done";
  return `about ${clock(eta)} left`;
}

export function timeAgo(iso) {
  if (!iso) return "";
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

/** Create an element: el("button", {class: "x", onclick}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
