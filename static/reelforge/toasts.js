// The toast stack, bottom right: at most five; info auto-dismisses once seen, errors stay until closed.

import { api } from "./api.js";
import { el } from "./format.js";

const MAX_VISIBLE = 5;
const AUTO_DISMISS_MS = 7000;
const STICKY_LEVELS = new Set(["error", "warning"]);

export class Toasts {
  constructor(container, { onAction, onDismiss } = {}) {
    this.container = container;
    this.onAction = onAction || (() => {});
    this.onDismiss = onDismiss || (() => {});
  }

  /** Show one toast: {id?, level, title, message, actions: [{label, url, method?}]}. */
  show(item) {
    const level = item.level || "info";
    const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
    const toast = el(
      "div",
      {
        class: `toast toast-${level}`,
        role: STICKY_LEVELS.has(level) ? "alert" : "status",
        dataset: item.id != null ? { notificationId: item.id, kind: item.kind || "" } : {},
      },
      el("div", { class: "toast-body" }, el("strong", {}, item.title || ""), item.message ? el("p", {}, item.message) : null),
      this.actions(item),
      close,
    );
    close.addEventListener("click", () => {
      this.remove(toast);
      this.onDismiss(item);
    });
    this.container.append(toast);
    if (item.id != null) {
      // A record of what was toasted in this tab (toasts auto-dismiss; support and tests read it).
      this.container.dataset.shown = `${this.container.dataset.shown || ""} ${item.id}`.trim();
    }
    this.fit();
    if (!STICKY_LEVELS.has(level)) this.autoDismiss(toast);
    return toast;
  }

  actions(item) {
    const list = item.actions || [];
    if (!list.length) return null;
    return el(
      "div",
      { class: "toast-actions" },
      list.map((action) => this.actionElement(item, action)),
    );
  }

  actionElement(item, action) {
    if ((action.method || "GET").toUpperCase() !== "GET") {
      return el(
        "button",
        {
          type: "button",
          class: "button small",
          onclick: async (event) => {
            event.currentTarget.disabled = true;
            try {
              const result = await api(action.url.replace(/^\/api/, ""), { method: action.method, body: {} });
              this.onAction(item, action, result);
            } catch (err) {
              this.show({ level: "error", title: `${action.label} failed`, message: err.describe ? err.describe() : String(err) });
            }
          },
        },
        action.label,
      );
    }
    const isDownload = /download/i.test(action.url) || /download/i.test(action.label);
    return el(
      "a",
      {
        class: "button small",
        href: action.url,
        download: isDownload ? "" : null,
        onclick: () => this.onAction(item, action, null),
      },
      action.label,
    );
  }

  /** Dismiss a while after the tab is seen (never while it is hidden, or under the pointer or focus). */
  autoDismiss(toast) {
    let timer;
    const dismissIn = (ms) => {
      clearTimeout(timer);
      timer = setTimeout(() => this.remove(toast), ms);
    };
    const whenVisible = () => {
      if (document.hidden) document.addEventListener("visibilitychange", whenVisible, { once: true });
      else dismissIn(AUTO_DISMISS_MS);
    };
    whenVisible();
    const hold = () => clearTimeout(timer);
    const release = () => dismissIn(AUTO_DISMISS_MS / 2);
    toast.addEventListener("mouseenter", hold);
    toast.addEventListener("focusin", hold);
    toast.addEventListener("mouseleave", release);
    toast.addEventListener("focusout", release);
  }

  /** Keep at most five: the oldest non-sticky toast goes first, then the oldest of all. */
  fit() {
    while (this.container.children.length > MAX_VISIBLE) {
      const toasts = [...this.container.children];
      const victim = toasts.find((t) => t.getAttribute("role") === "status") || toasts[0];
      this.remove(victim);
    }
  }

  remove(toast) {
    toast.remove();
  }
}
