// The connection to the /live namespace and the client state machine of docs/PROTOCOL.md:
//   connect -> hello (state = hello.sample, charts = hello.history)
//   sample  -> full: replace; seq == last + 1: merge values, delete gone; else resync
//   disconnect -> "disconnected, retrying"; socket.io reconnects; next hello replaces all.
// Panels subscribe with live.on(event, fn); events: hello, sample, facts, processes,
// conn (connection state / RTT), error.

const PING_EVERY_MS = 2000;
const PING_TIMEOUT_MS = 5000;
const RESYNC_RETRY_MS = 3000;

// What the server sends is checked for its type before use: a host's facts come from its
// agent, and an unexpected type must not stop the page (it shows what it can).
export function objectOr(value, fallback = {}) {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : fallback;
}

export class Live {
  constructor({ io = window.io, url = "/live", path = "/socket.io", host = null } = {}) {
    this.listeners = new Map();
    this.host = null;
    this.facts = {};
    this.values = new Map();
    this.seq = null;
    this.ts = null;
    this.interval = 1;
    this.ready = false; // true once a hello with a sample has been applied
    this.conn = "connecting";
    this.rtt = null;
    this.clockOffset = 0; // server epoch - client epoch, seconds
    this.resyncSentAt = 0;
    this.panels = [];
    this.pingTimer = null;

    this.socket = io(url, {
      path,
      transports: ["websocket", "polling"],
      tryAllTransports: true, // fall back to long-polling if websockets are blocked
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.3,
      timeout: 8000,
      // Which host this page shows (protocol 2); sent again on every reconnect.
      auth: host ? { host } : {},
    });
    this.bind();
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(fn);
  }

  emitLocal(event, ...args) {
    for (const fn of this.listeners.get(event) || []) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`hostpulse: ${event} handler failed`, err);
      }
    }
  }

  /** Server epoch "now", from the last sample's timestamp and the local clock. */
  serverNow() {
    return Date.now() / 1000 + this.clockOffset;
  }

  /** The panels this page shows (e.g. ["processes"]); re-sent after every reconnect. */
  watch(panels) {
    this.panels = [...panels];
    if (this.socket.connected) this.socket.emit("watch", { panels: this.panels });
  }

  setConn(state) {
    if (this.conn === state) return;
    this.conn = state;
    if (state !== "connected") this.rtt = null;
    this.emitLocal("conn", { state, rtt: this.rtt, transport: this.transport() });
  }

  transport() {
    return this.socket.io?.engine?.transport?.name ?? null;
  }

  bind() {
    const s = this.socket;
    s.on("connect", () => {
      this.setConn("connected");
      this.startPing();
    });
    s.on("disconnect", (reason) => {
      this.stopPing();
      this.setConn("disconnected");
      // socket.io does not reconnect on its own after a server-side disconnect.
      if (reason === "io server disconnect") setTimeout(() => s.connect(), 1000);
    });
    s.on("connect_error", () => {
      this.setConn("disconnected");
    });
    s.io.on("reconnect_attempt", () => {
      if (this.conn !== "connected") this.setConn("disconnected");
    });
    s.io.engine?.on?.("upgrade", () => this.emitLocal("conn", { state: this.conn, rtt: this.rtt, transport: this.transport() }));

    s.on("hello", (msg) => this.onHello(msg));
    s.on("sample", (msg) => this.onSample(msg));
    s.on("host", (msg) => {
      if (msg && msg.facts) {
        this.facts = objectOr(msg.facts);
        this.emitLocal("facts", this.facts);
      }
    });
    s.on("processes", (msg) => this.emitLocal("processes", msg));
    s.on("error", (msg) => {
      console.warn("hostpulse: server error", msg);
      this.emitLocal("error", msg);
    });

    // A laptop waking up or a network coming back: don't wait for the backoff timer.
    const nudge = () => {
      if (!s.connected && document.visibilityState === "visible") s.connect();
    };
    window.addEventListener("online", nudge);
    document.addEventListener("visibilitychange", nudge);
  }

  onHello(msg) {
    if (!msg || typeof msg !== "object") return;
    this.host = typeof msg.host === "string" ? msg.host : null;
    this.facts = objectOr(msg.facts);
    this.interval = typeof msg.interval === "number" && msg.interval > 0 ? msg.interval : 1;
    this.values = new Map();
    this.seq = null;
    this.ts = null;
    this.ready = false;
    this.resyncSentAt = 0;
    const sample = objectOr(msg.sample, null);
    if (sample && typeof sample.seq === "number") {
      this.seq = sample.seq;
      this.ts = typeof sample.ts === "number" ? sample.ts : null;
      for (const [k, v] of Object.entries(objectOr(sample.values))) this.values.set(k, v);
      this.ready = true;
      this.syncClock(sample.ts);
    }
    if (this.panels.length) this.socket.emit("watch", { panels: this.panels });
    this.emitLocal("hello", { host: this.host, facts: this.facts, values: this.values, history: objectOr(msg.history, null), interval: this.interval });
  }

  onSample(msg) {
    if (!msg || typeof msg !== "object" || typeof msg.seq !== "number") return;
    if (this.host !== null && msg.host && msg.host !== this.host) return; // another host's stream
    const changed = new Set();
    let gone = [];
    if (msg.full) {
      const old = this.values;
      this.values = new Map(Object.entries(msg.values || {}));
      for (const [k, v] of this.values) if (old.get(k) !== v || !old.has(k)) changed.add(k);
      gone = [...old.keys()].filter((k) => !this.values.has(k));
      this.ready = true;
      this.resyncSentAt = 0;
    } else if (this.ready && msg.seq === this.seq + 1) {
      for (const [k, v] of Object.entries(msg.values || {})) {
        this.values.set(k, v);
        changed.add(k);
      }
      for (const k of msg.gone || []) {
        if (this.values.delete(k)) gone.push(k);
      }
    } else {
      // Missed something (or no base state yet): ask for a full sample, ignore this one.
      const now = Date.now();
      if (now - this.resyncSentAt > RESYNC_RETRY_MS) {
        this.resyncSentAt = now;
        this.socket.emit("resync", {});
      }
      return;
    }
    this.seq = msg.seq;
    this.ts = msg.ts;
    this.syncClock(msg.ts);
    this.emitLocal("sample", { seq: msg.seq, ts: msg.ts, full: !!msg.full, values: this.values, changed, gone });
  }

  syncClock(ts) {
    if (typeof ts === "number") this.clockOffset = ts - Date.now() / 1000;
  }

  startPing() {
    this.stopPing();
    const ping = () => {
      if (!this.socket.connected) return;
      const t0 = performance.now();
      this.socket.timeout(PING_TIMEOUT_MS).emit("ping", {}, (err) => {
        if (err || !this.socket.connected) return;
        this.rtt = performance.now() - t0;
        this.emitLocal("conn", { state: this.conn, rtt: this.rtt, transport: this.transport() });
      });
    };
    ping();
    this.pingTimer = setInterval(ping, PING_EVERY_MS);
  }

  stopPing() {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }
}
