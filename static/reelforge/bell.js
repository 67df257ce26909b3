// The bell: unread badge, and a panel of history (paged by cursor, read, read all, archive).

import { el, timeAgo } from "./format.js";
import { listOf } from "./hub.js";
import { api } from "./api.js";

const PAGE = 20;

export class Bell {
  constructor(root, { hub, onError }) {
    this.hub = hub;
    this.onError = onError;
    this.button = root.querySelector("[data-role=bell-button]");
    this.badge = root.querySelector("[data-role=badge]");
    this.panel = root.querySelector("[data-role=panel]");
    this.list = root.querySelector("[data-role=list]");
    this.more = root.querySelector("[data-role=more]");
    this.empty = root.querySelector("[data-role=empty]");
    this.loaded = false;
    this.before = null;

    this.button.addEventListener("click", () => this.toggle());
    this.more.addEventListener("click", () => this.loadPage());
    root.querySelector("[data-role=read-all]").addEventListener("click", () => this.readAll());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.panel.hidden) this.close(true);
    });
    document.addEventListener("click", (event) => {
      if (!this.panel.hidden && !root.contains(event.target)) this.close(false);
    });
    hub.addEventListener("unread", (event) => this.setBadge(event.detail.count));
    hub.addEventListener("notification", (event) => this.prepend(event.detail.notification));
    hub.addEventListener("read", (event) => this.markItems(event.detail));
    hub.addEventListener("resync", () => this.reload());
  }

  setBadge(count) {
    this.badge.textContent = count > 99 ? "99+" : String(count);
    this.badge.hidden = !count;
    this.button.setAttribute("aria-label", count ? `Notifications, ${count} unread` : "Notifications");
    this.button.dataset.unread = String(count);
  }

  toggle() {
    if (this.panel.hidden) this.openPanel();
    else this.close(true);
  }

  openPanel() {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    if (!this.loaded) this.reload();
    this.panel.querySelector("button, a")?.focus();
  }

  close(returnFocus) {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (returnFocus) this.button.focus();
  }

  reload() {
    this.list.replaceChildren();
    this.before = null;
    this.loaded = true;
    return this.loadPage();
  }

  async loadPage() {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (this.before) query.set("before", String(this.before));
    this.more.disabled = true;
    try {
      const answer = await api(`/notifications?${query}`);
      const items = listOf(answer);
      items.forEach((n) => this.list.append(this.item(n)));
      const last = items.length ? items[items.length - 1].id : null;
      const hasNext = answer && !Array.isArray(answer) && "next" in answer;
      this.before = hasNext ? answer.next : items.length === PAGE ? last : null;
      this.more.hidden = !this.before;
    } catch (err) {
      this.onError("Could not load notifications", err);
    } finally {
      this.more.disabled = false;
      this.empty.hidden = this.list.children.length > 0;
    }
  }

  prepend(notification) {
    if (!this.loaded || notification.archived_at) return;
    if (this.list.querySelector(`[data-notification-id="${notification.id}"]`)) return;
    const newer = [...this.list.children].find((li) => Number(li.dataset.notificationId) < notification.id);
    this.list.insertBefore(this.item(notification), newer || null);
    this.empty.hidden = true;
  }

  item(n) {
    const unread = !n.read_at;
    const li = el(
      "li",
      { class: `note note-${n.level || "info"}${unread ? " unread" : ""}`, dataset: { notificationId: n.id } },
      el(
        "div",
        { class: "note-body" },
        el("strong", {}, n.title),
        n.message ? el("p", {}, n.message) : null,
        el("time", { datetime: n.created_at, class: "muted" }, timeAgo(n.created_at)),
      ),
    );
    const tools = el("div", { class: "note-tools" });
    for (const action of n.actions || []) {
      if ((action.method || "GET").toUpperCase() !== "GET") continue;
      tools.append(el("a", { class: "button small", href: action.url, onclick: () => this.read(n.id) }, action.label));
    }
    if (unread) {
      tools.append(el("button", { type: "button", class: "button small ghost", "data-role": "read", onclick: () => this.read(n.id) }, "Mark read"));
    }
    tools.append(el("button", { type: "button", class: "button small ghost", onclick: () => this.archive(n.id) }, "Archive"));
    li.append(tools);
    return li;
  }

  markItems(message) {
    const rows = message.all
      ? [...this.list.children]
      : (message.ids || []).map((id) => this.list.querySelector(`[data-notification-id="${id}"]`)).filter(Boolean);
    for (const row of rows) {
      if (message.type === "archived") {
        row.remove();
      } else {
        row.classList.remove("unread");
        row.querySelector("[data-role=read]")?.remove();
      }
    }
    this.empty.hidden = this.list.children.length > 0;
  }

  async read(id) {
    try {
      await this.hub.markRead([id]);
    } catch (err) {
      this.onError("Could not mark it read", err);
    }
  }

  async readAll() {
    try {
      await this.hub.readAll();
    } catch (err) {
      this.onError("Could not mark all read", err);
    }
  }

  async archive(id) {
    try {
      await this.hub.archive([id]);
    } catch (err) {
      this.onError("Could not archive it", err);
    }
  }
}
