// Every page: starts the hub client and wires the bell, the toasts and the export indicator.
// Page modules import `hub`, `toasts` and `reportError` from here (one instance per tab).

import { Bell } from "./bell.js";
import { Hub } from "./hub.js";
import { ExportIndicator } from "./indicator.js";
import { Toasts } from "./toasts.js";

const userId = document.body.dataset.userId;

export const hub = userId ? new Hub({ userId }) : null;

export const toasts = new Toasts(document.getElementById("toasts"), {
  onAction: (item, action, result) => {
    if (result && result.id != null && result.status) hub?.track(result);
    if (item.id != null) hub?.markRead([item.id]).catch(() => {});
  },
  onDismiss: (item) => {
    if (item.id != null) hub?.markRead([item.id]).catch(() => {});
  },
});

/** Show an error from the API (or anything thrown) as a sticky toast. */
export function reportError(title, err) {
  const message = err && typeof err.describe === "function" ? err.describe() : String(err?.message || err);
  toasts.show({ level: "error", title, message });
}

const MAX_TOASTS_PER_BATCH = 5;
const HIDDEN_TAB_YIELD_MS = 1000; // a hidden tab asks later, so a tab the user sees gets the toast
let toastedThisBatch = 0;

let pendingChecks = 0;

/** How many toast decisions are still under way (tests wait for 0 before counting toasts). */
function trackPending(delta) {
  pendingChecks += delta;
  document.body.dataset.toastChecks = String(pendingChecks);
}

/** Toast a notification once for the user: not if seen before, only in the tab the server picks. */
async function toastOnce(notification) {
  trackPending(1);
  try {
    await decideToast(notification);
  } finally {
    trackPending(-1);
  }
}

async function decideToast(notification) {
  if (notification.seen_at || notification.read_at || notification.archived_at) return;
  if (document.hidden) await new Promise((resolve) => setTimeout(resolve, HIDDEN_TAB_YIELD_MS));
  if (!(await hub.claimToast(notification.id))) return; // another tab shows it (claims mark it seen)
  if (toastedThisBatch >= MAX_TOASTS_PER_BATCH) return; // the bell has it; a flood of toasts helps nobody
  toastedThisBatch += 1;
  queueMicrotask(() => setTimeout(() => (toastedThisBatch = 0), 1000));
  toasts.show(notification);
}

if (hub) {
  const onError = reportError;
  new Bell(document.querySelector("[data-role=bell]"), { hub, onError });
  new ExportIndicator(document.getElementById("export-indicator"), { hub, onError });
  hub.addEventListener("notification", (event) => toastOnce(event.detail.notification));
  hub.addEventListener("connection", (event) => {
    document.body.dataset.hub = event.detail.state;
  });
  hub.start();
}
