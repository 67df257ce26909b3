// The notification hub client: one WebSocket per tab, with resume, polling fallback and tab sync.
//
// Events (CustomEvent, the payload in `detail`):
//   "notification" {notification, live}  a notification this tab had not seen yet
//   "job"          job frame               progress or a final status of an export
//   "unread"       {count}                 the unread count changed (here or in another tab)
//   "connection"   {state}                 "open" | "polling" | "signed-out"
//   "resync"       {}                      more was missed than a snapshot carries: reload history
//
// The cursor (the highest notification id known) lives in localStorage, so a refreshed tab
// resumes where it was; the server hands each toast to one tab (claimToast).

import { api, ApiError } from "./api.js";

const CLOSE_UNAUTHENTICATED = 4401;
const FINISHED = new Set(["complete", "error", "cancelled"]);
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;
const POLL_MS = 1500;
const PING_MS = 25000;
const SILENCE_MS = 70000;

/** Items of a list answer, whatever the envelope (`items`, `results`, ... or a bare list). */
export function listOf(answer) {
  if (Array.isArray(answer)) return answer;
  if (!answer) return [];
  return answer.items || answer.results || answer.jobs || answer.notifications || [];
}

/** The count in an unread answer: a number, or {unread} / {count}. */
export function countOf(answer) {
  if (typeof answer === "number") return answer;
  if (!answer) return null;
  for (const key of ["unread", "count", "unread_count"]) {
    if (typeof answer[key] === "number") return answer[key];
  }
  return null;
}

/** True when frame `a` of a job is older than `b` (ISO `updated_at`, same zone, from the server). */
function isOlder(a, b) {
  return Boolean(a.updated_at && b.updated_at && a.updated_at < b.updated_at);
}

/** Exponential backoff with jitter: half the capped delay fixed, half random. */
export function backoffDelay(attempt) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export class Hub extends EventTarget {
  constructor({ userId, url }) {
    super();
    this.userId = userId;
    this.url = url || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/notifications`;
    this.keys = {
      cursor: `reelforge:${userId}:cursor`,
      jobs: `reelforge:${userId}:jobs`,
    };
    this.cursor = Number(localStorage.getItem(this.keys.cursor)) || 0;
    this.jobs = new Map();
    this.remembered = this.recallJobs();
    this.unread = null;
    this.socket = null;
    this.open = false;
    this.attempt = 0;
    this.pendingSeen = new Set();
    this.toastedOffline = new Set();
    this.counted = new Set();
    this.lastMessageAt = 0;
    this.channel = "BroadcastChannel" in window ? new BroadcastChannel(`reelforge:${userId}`) : null;
  }

  /** Connect, and poll until the socket is up. */
  start() {
    this.channel?.addEventListener("message", (event) => this.onTabMessage(event.data));
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
    setInterval(() => this.keepAlive(), PING_MS);
    this.startPolling();
    this.connect();
  }

  // --- socket -------------------------------------------------------------------------------

  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.lastMessageAt = Date.now();
      this.send({ type: "hello", since: this.cursor });
    });
    socket.addEventListener("message", (event) => this.onFrame(event.data));
    socket.addEventListener("close", (event) => this.onClose(socket, event.code));
  }

  onClose(socket, code) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.open = false;
    if (code === CLOSE_UNAUTHENTICATED) {
      // The session ended (signed out in another tab, or expired): retrying cannot help.
      this.emit("connection", { state: "signed-out" });
      window.location.assign(`/login/?next=${encodeURIComponent(window.location.pathname)}`);
      return;
    }
    this.emit("connection", { state: "polling" });
    this.startPolling();
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.reconnectTimer) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.socket || !this.reconnectTimer) return;
    this.attempt = 0;
    this.connect();
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  keepAlive() {
    if (!this.open) return;
    if (Date.now() - this.lastMessageAt > SILENCE_MS) {
      // A socket that went quiet past the server's ping interval is dead; start over.
      this.socket?.close();
      return;
    }
    this.send({ type: "ping" });
  }

  onFrame(raw) {
    this.lastMessageAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    switch (frame.type) {
      case "snapshot":
        this.onSnapshot(frame);
        break;
      case "notification":
        this.receive(frame.notification || frame, true);
        break;
      case "job":
        this.receiveJob(frame);
        break;
      case "unread":
        this.setUnread(countOf(frame), { broadcast: false });
        this.onServerChange(frame);
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      default:
        break;
    }
  }

  /** Another tab (or this one) read or archived something: keep this tab's lists in step. */
  onServerChange(frame) {
    if (frame.change === "read_all") this.emit("read", { type: "read", all: true });
    else if (frame.change === "read") this.emit("read", { type: "read", ids: frame.ids || [] });
    else if (frame.change === "archive") this.emit("read", { type: "archived", ids: frame.ids || [] });
  }

  onSnapshot(frame) {
    if (typeof frame.cursor === "number" && frame.cursor < this.cursor) {
      // The server never issued our cursor (its data was reset): start from its newest id.
      this.cursor = frame.cursor;
      localStorage.setItem(this.keys.cursor, String(this.cursor));
    }
    this.open = true;
    this.attempt = 0;
    this.stopPolling();
    this.emit("connection", { state: "open" });
    this.setUnread(countOf(frame), { broadcast: false });
    for (const notification of frame.notifications || []) this.receive(notification, false);
    if (frame.resync) this.emit("resync", {});
    this.syncJobs(frame.jobs || []);
    if (this.pendingSeen.size) this.markSeen([...this.pendingSeen]);
  }

  // --- polling fallback ---------------------------------------------------------------------

  startPolling() {
    if (this.pollTimer) return;
    const tick = async () => {
      await this.pollOnce();
      if (this.pollTimer) this.pollTimer = setTimeout(tick, POLL_MS);
    };
    this.pollTimer = setTimeout(tick, 0);
  }

  stopPolling() {
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  /** One HTTP round: active jobs, notifications after the cursor, the unread count. */
  async pollOnce() {
    try {
      const [active, page, count] = await Promise.all([
        api("/exports?state=active"),
        api("/notifications?limit=50"),
        api("/notifications/unread-count"),
      ]);
      if (this.open) return; // the socket came up meanwhile; its snapshot is authoritative
      this.syncJobs(listOf(active));
      const fresh = listOf(page).filter((n) => n.id > this.cursor).sort((a, b) => a.id - b.id);
      for (const notification of fresh) this.receive(notification, this.cursor > 0);
      this.setUnread(countOf(count), { broadcast: false });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
  }

  // --- jobs -----------------------------------------------------------------------------------

  /** `jobs` is every active job; a job we track that is missing has finished: fetch its end. */
  syncJobs(jobs) {
    const active = new Set();
    for (const job of jobs) {
      active.add(job.id);
      this.receiveJob(job);
    }
    for (const id of [...this.jobs.keys()]) {
      if (!active.has(id)) this.refreshJob(id);
    }
  }

  async refreshJob(id) {
    try {
      this.receiveJob(await api(`/exports/${id}`));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) this.receiveJob({ id, status: "cancelled" });
    }
  }

  receiveJob(job) {
    if (!job || job.id == null) return;
    const known = this.jobs.get(job.id);
    // Frames can arrive out of order (socket and poll): never step back in time.
    if (known && isOlder(job, known)) return;
    const beforeRefresh = this.remembered.get(job.id);
    this.remembered.delete(job.id);
    // The snapshot reads the job row, written once a second: the frames this tab showed
    // before a refresh can be newer, and the bar must not step back.
    if (!known && beforeRefresh && isOlder(job, beforeRefresh)) job = beforeRefresh;
    if (FINISHED.has(job.status)) this.jobs.delete(job.id);
    else this.jobs.set(job.id, job);
    this.rememberJobs();
    this.emit("job", job);
  }

  /** Active jobs as last shown, kept for this tab's next page load (sessionStorage). */
  rememberJobs() {
    try {
      sessionStorage.setItem(this.keys.jobs, JSON.stringify([...this.jobs.values()]));
    } catch {
      // storage full or disabled: a refresh then starts from the snapshot
    }
  }

  recallJobs() {
    try {
      const jobs = JSON.parse(sessionStorage.getItem(this.keys.jobs) || "[]");
      return new Map(jobs.map((job) => [job.id, job]));
    } catch {
      return new Map();
    }
  }

  /** Track a job this tab just started, so the indicator shows it before the first frame. */
  track(job) {
    this.receiveJob(job);
  }

  // --- notifications -------------------------------------------------------------------------

  receive(notification, live) {
    if (!notification || notification.id == null) return;
    if (notification.id <= this.cursor && live === false) return;
    if (notification.id > this.cursor) {
      this.cursor = notification.id;
      const stored = Number(localStorage.getItem(this.keys.cursor)) || 0;
      if (this.cursor > stored) localStorage.setItem(this.keys.cursor, String(this.cursor));
    }
    if (live && !notification.read_at && this.unread != null && !this.counted.has(notification.id)) {
      // The server pushes a new count only after reads; a new notification adds one here.
      this.counted.add(notification.id);
      this.setUnread(this.unread + 1, { broadcast: false });
    }
    this.emit("notification", { notification, live });
  }

  /**
   * True for exactly one tab per notification, across tabs, browsers and devices: the server
   * answers yes once (and marks it seen). A Web Lock around localStorage cannot do this:
   * Chromium syncs localStorage between tab processes after the lock is gone.
   * If the server cannot be asked, this tab toasts it once and sends `seen` later.
   */
  async claimToast(id) {
    try {
      const answer = await api(`/notifications/${id}/claim-toast`, { method: "POST" });
      return answer.claimed === true;
    } catch {
      if (this.toastedOffline.has(id)) return false;
      this.toastedOffline.add(id);
      this.markSeen([id]);
      return true;
    }
  }

  /** A toast showed these: never toast them again, in any tab or after a refresh. */
  async markSeen(ids) {
    if (!ids.length) return;
    if (this.send({ type: "seen", ids })) {
      ids.forEach((id) => this.pendingSeen.delete(id));
      return;
    }
    try {
      await api("/notifications/seen", { method: "POST", body: { ids } });
      ids.forEach((id) => this.pendingSeen.delete(id));
    } catch {
      ids.forEach((id) => this.pendingSeen.add(id)); // sent with the next snapshot
    }
  }

  async markRead(ids) {
    const answer = await api("/notifications/read", { method: "POST", body: { ids } });
    await this.afterRead(answer, { type: "read", ids });
  }

  async readAll() {
    const answer = await api("/notifications/read", { method: "POST", body: { all: true } });
    await this.afterRead(answer, { type: "read", all: true });
  }

  async archive(ids) {
    const answer = await api("/notifications/archive", { method: "POST", body: { ids } });
    await this.afterRead(answer, { type: "archived", ids });
  }

  async afterRead(answer, message) {
    let count = countOf(answer);
    if (count == null) count = countOf(await api("/notifications/unread-count"));
    this.setUnread(count, { broadcast: true });
    this.channel?.postMessage(message);
    this.emit("read", message);
  }

  setUnread(count, { broadcast }) {
    if (count == null || Number.isNaN(count)) return;
    this.unread = count;
    this.emit("unread", { count });
    if (broadcast) this.channel?.postMessage({ type: "unread", count });
  }

  onTabMessage(message) {
    if (!message) return;
    if (message.type === "unread") this.setUnread(message.count, { broadcast: false });
    else if (message.type === "read" || message.type === "archived") this.emit("read", message);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
