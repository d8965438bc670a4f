// OctoStore dashboard. No framework and no build step. Everything the API
// returns is rendered with textContent, never parsed as HTML, and the token
// is sent only in the Authorization header, never in a URL.
"use strict";

(function () {
  const TOKEN_KEY = "octostore.token";
  const SESSIONS_KEY = "octostore.sessions";
  const POLL_MS = 5000; // lock and election list refresh while the event stream is down
  const SLOW_POLL_MS = 15000; // sessions, webhooks, cluster
  const STREAM_RETRY_MS = 10000;
  const RELOAD_DEBOUNCE_MS = 150; // a burst of events is one reload

  const $ = (id) => document.getElementById(id);

  let token = null;
  let login = ""; // the signed-in user's login, to mark their locks
  let prefix = "";
  let live = false; // the event stream is open
  let stream = null; // AbortController of the event stream
  let intervals = []; // the periodic refreshes while signed in
  let reloadTimer = null;
  let retryTimer = null; // reconnects the event stream

  // ---- Token ----------------------------------------------------------

  // The GitHub sign-in page links here with #token=…: a fragment never
  // reaches a server. Keep the token in this tab and drop it from the URL.
  function takeFragmentToken() {
    const m = /^#token=([^&]+)$/.exec(location.hash);
    if (!m) return;
    try {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    } catch (e) {
      // a malformed fragment is ignored
    }
    history.replaceState(null, "", location.pathname + location.search);
  }

  // ---- API ------------------------------------------------------------

  class APIError extends Error {
    constructor(status, body) {
      const msg = body && body.error ? body.error : "HTTP " + status;
      super(body && body.details ? msg + ": " + body.details : msg);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + token }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const sent = token;
    const resp = await fetch(path, init);
    if (token !== sent) throw new APIError(0, { error: "signed out meanwhile" });
    const data = resp.status === 204 ? null : await resp.json().catch(() => null);
    if (resp.status === 401 && token) {
      signOut("The server did not accept the token; sign in again.");
    }
    if (!resp.ok) throw new APIError(resp.status, data);
    return data;
  }

  // ---- Rendering helpers ----------------------------------------------

  function el(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }

  // row makes a table row; a cell is text or a ready node.
  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.append(c);
      else td.textContent = c === undefined || c === null ? "" : String(c);
      tr.append(td);
    }
    return tr;
  }

  // fill replaces a table body's rows, or says it is empty.
  function fill(tbody, rows, emptyText) {
    if (rows.length > 0) {
      tbody.replaceChildren(...rows);
      return;
    }
    const td = el("td", emptyText, "empty");
    td.colSpan = tbody.closest("table").tHead.rows[0].cells.length;
    const tr = document.createElement("tr");
    tr.append(td);
    tbody.replaceChildren(tr);
  }

  // expiry is a <time> that counts down; tick() keeps it current.
  function expiry(iso) {
    const t = el("time", "", "rel");
    t.dateTime = iso;
    t.title = new Date(iso).toLocaleString();
    t.textContent = relative(iso);
    return t;
  }

  function relative(iso) {
    const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
    if (isNaN(s)) return "";
    if (s <= 0) return "expiring";
    if (s < 120) return "in " + s + " s";
    if (s < 7200) return "in " + Math.round(s / 60) + " min";
    return new Date(iso).toLocaleString();
  }

  function tick() {
    for (const t of document.querySelectorAll("time.rel")) t.textContent = relative(t.dateTime);
  }

  function code(text) {
    return el("code", text);
  }

  function showError(target, err) {
    target.textContent = "Could not load: " + err.message;
    target.classList.add("error");
  }

  function showSummary(target, text) {
    target.textContent = text;
    target.classList.remove("error");
  }

  // ---- Locks ----------------------------------------------------------

  async function loadLocks() {
    const query = prefix ? "?prefix=" + encodeURIComponent(prefix) : "";
    try {
      const data = await api("GET", "/locks" + query);
      fill($("locks"), data.locks.map(lockRow), prefix ? "No held locks under this prefix." : "No held locks.");
      let text = data.total === 1 ? "1 lock held" : data.total + " locks held";
      if (prefix) text += " under “" + prefix + "”";
      if (data.next_after) text += " (showing the first " + data.locks.length + ")";
      showSummary($("locks-summary"), text + ", as of " + new Date().toLocaleTimeString() + ".");
    } catch (err) {
      showError($("locks-summary"), err);
    }
  }

  function lockRow(l) {
    const holder = el("span", holderText(l));
    const holders = l.holders ? l.holders.map((h) => h.holder) : [l.holder];
    if (login && holders.includes(login)) holder.append(el("span", " (you)", "muted"));
    const tr = row([code(l.name), holder, l.fencing_token, expiry(l.expires_at), l.metadata || ""]);
    tr.dataset.lock = l.name;
    tr.cells[2].className = "num";
    return tr;
  }

  // holderText names a lock's holder, or a semaphore's or shared read/write
  // lock's holders with its shape.
  function holderText(l) {
    if (!l.holders) return l.holder || l.holder_id || "";
    const names = l.holders.map((h) => h.holder).join(", ");
    if (l.mode === "shared") return "shared by " + names;
    return l.holders.length + " of " + l.limit + " slots: " + names;
  }

  // ---- Elections ------------------------------------------------------

  // loadElections lists the elections that have a leader, under the same
  // prefix as the locks, kept current the same way.
  async function loadElections() {
    const query = prefix ? "?prefix=" + encodeURIComponent(prefix) : "";
    try {
      const data = await api("GET", "/elections" + query);
      fill($("elections"), data.elections.map(electionRow), prefix ? "No led elections under this prefix." : "No led elections.");
      let text = data.total === 1 ? "1 election led" : data.total + " elections led";
      if (prefix) text += " under “" + prefix + "”";
      if (data.next_after) text += " (showing the first " + data.elections.length + ")";
      showSummary($("elections-summary"), text + ", as of " + new Date().toLocaleTimeString() + ".");
    } catch (err) {
      showError($("elections-summary"), err);
    }
  }

  function electionRow(e) {
    const leader = el("span", e.leader);
    if (login && e.leader === login) leader.append(el("span", " (you)", "muted"));
    const since = el("time", new Date(e.since).toLocaleString());
    since.dateTime = e.since;
    const tr = row([code(e.name), leader, e.term, e.value, since]);
    tr.dataset.election = e.name;
    tr.cells[2].className = "num";
    return tr;
  }

  // loadLists refreshes what the event stream keeps current.
  function loadLists() {
    loadLocks();
    loadElections();
  }

  // filterLocks shows the locks and elections under p, with a stream for
  // that prefix.
  function filterLocks(p) {
    prefix = p;
    loadLists();
    startStream();
  }

  function scheduleLocksReload() {
    if (reloadTimer !== null) return;
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      loadLists();
      loadSessions();
    }, RELOAD_DEBOUNCE_MS);
  }

  // setMode shows how the lock list stays current: "connecting" and
  // "polling" refresh it every POLL_MS, "live" follows the event stream.
  function setMode(mode, why) {
    live = mode === "live";
    const badge = $("locks-mode");
    badge.classList.toggle("live", live);
    const text = { connecting: "Connecting…", live: "Live", polling: "Refreshing every " + POLL_MS / 1000 + " s" };
    badge.textContent = text[mode];
    badge.title = live ? "Updated by the server's event stream" : why || "";
  }

  // ---- Event stream ---------------------------------------------------
  // EventSource cannot send an Authorization header, so the stream is read
  // with fetch and parsed here (text/event-stream framing).

  function startStream() {
    stopStream();
    const ctrl = new AbortController();
    stream = ctrl;
    readStream(ctrl).catch((err) => {
      if (ctrl.signal.aborted || !token) return; // stopped on purpose
      ctrl.abort(); // let go of a response that may still be open
      stream = null;
      setMode("polling", "Event stream unavailable (" + err.message + "); retrying.");
      retryTimer = setTimeout(startStream, STREAM_RETRY_MS);
    });
  }

  function stopStream() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (stream) stream.abort();
    stream = null;
  }

  async function readStream(ctrl) {
    const query = prefix ? "?prefix=" + encodeURIComponent(prefix) : "";
    const resp = await fetch("/events" + query, {
      headers: { Authorization: "Bearer " + token, Accept: "text/event-stream" },
      cache: "no-store",
      signal: ctrl.signal,
    });
    if (resp.status === 401) signOut("The server did not accept the token; sign in again.");
    if (!resp.ok || !resp.body) throw new Error("HTTP " + resp.status);
    setMode("live");
    loadLists(); // anything between the last list and the stream's start
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended");
      buf = (buf + value).replace(/\r\n/g, "\n");
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        dispatch(parseEvent(buf.slice(0, end)));
        buf = buf.slice(end + 2);
      }
    }
  }

  // parseEvent reads one SSE block: "event:", "data:" and "id:" lines;
  // lines starting with ":" are comments (heartbeats).
  function parseEvent(block) {
    const ev = { type: "message", data: [], id: "" };
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? "" : line.slice(i + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") ev.type = value;
      else if (field === "data") ev.data.push(value);
      else if (field === "id") ev.id = value;
    }
    ev.data = ev.data.join("\n");
    return ev;
  }

  function dispatch(ev) {
    switch (ev.type) {
      case "acquired":
      case "renewed":
      case "released":
      case "expired":
      case "election":
      case "reset":
        scheduleLocksReload();
        break;
      case "error":
        throw new Error("the server ended the stream: " + ev.data);
      default:
        // a block of comments only, or an event this page does not know
    }
  }

  // ---- Sessions -------------------------------------------------------

  function trackedSessions() {
    try {
      const ids = JSON.parse(sessionStorage.getItem(SESSIONS_KEY) || "[]");
      return Array.isArray(ids) ? ids.filter((id) => typeof id === "string") : [];
    } catch (e) {
      return [];
    }
  }

  function setTrackedSessions(ids) {
    sessionStorage.setItem(SESSIONS_KEY, JSON.stringify(ids));
  }

  function track(id) {
    const ids = trackedSessions();
    if (!ids.includes(id)) setTrackedSessions([id, ...ids]);
  }

  function forget(id) {
    setTrackedSessions(trackedSessions().filter((x) => x !== id));
    loadSessions();
  }

  async function loadSessions() {
    const ids = trackedSessions();
    const rows = await Promise.all(ids.map(sessionRow));
    fill($("sessions"), rows, "No sessions in this tab yet.");
    showSummary($("sessions-summary"), ids.length ? "" : "Create one, or track one by its ID.");
  }

  async function sessionRow(id) {
    let s;
    try {
      s = await api("GET", "/sessions/" + encodeURIComponent(id));
    } catch (err) {
      const state = err.status === 404 ? "not found" : err.message;
      return row([code(id), state, "", "", actions(id, false)]);
    }
    const state = el("span", s.active ? "active" : "expired", s.active ? "pill ok" : "pill off");
    const tr = row([code(s.session_id), state, s.lock_count, s.active ? expiry(s.expires_at) : "", actions(id, s.active)]);
    tr.cells[2].className = "num";
    return tr;
  }

  function actions(id, active) {
    const box = el("span", null, "actions");
    const short = id.slice(0, 8);
    if (active) {
      box.append(button("Keepalive", "Keep session " + short + " alive", () => sessionCall("POST", id, "/keepalive")));
      box.append(button("End", "End session " + short + " and release its locks", () => sessionCall("DELETE", id, "")));
    }
    box.append(button("Forget", "Stop showing session " + short, () => forget(id)));
    return box;
  }

  function button(text, label, onClick) {
    const b = el("button", text, "small secondary");
    b.type = "button";
    b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  async function sessionCall(method, id, suffix) {
    try {
      await api(method, "/sessions/" + encodeURIComponent(id) + suffix);
    } catch (err) {
      showError($("sessions-summary"), err);
      return;
    }
    loadSessions();
  }

  async function createSession(ev) {
    ev.preventDefault();
    const ttl = parseInt($("session-ttl").value, 10);
    try {
      const s = await api("POST", "/sessions", isNaN(ttl) ? {} : { ttl_seconds: ttl });
      track(s.session_id);
    } catch (err) {
      showError($("sessions-summary"), err);
      return;
    }
    loadSessions();
  }

  function trackSession(ev) {
    ev.preventDefault();
    const id = $("session-id").value.trim().toLowerCase();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
      showError($("sessions-summary"), new Error("a session ID is a UUID"));
      return;
    }
    $("session-id").value = "";
    track(id);
    loadSessions();
  }

  // ---- Webhooks -------------------------------------------------------

  async function loadWebhooks() {
    try {
      const hooks = await api("GET", "/webhooks");
      fill($("webhooks"), hooks.map(webhookRow), "No webhooks registered.");
      showSummary($("webhooks-summary"), "");
    } catch (err) {
      showError($("webhooks-summary"), err);
    }
  }

  function webhookRow(h) {
    let state = el("span", "active", "pill ok");
    if (!h.active) {
      state = el("span", "inactive", "pill off");
      state.title = h.inactive_reason || "";
    } else if (h.failing_since) {
      state = el("span", "failing", "pill warn");
      state.title = "Failing since " + new Date(h.failing_since).toLocaleString();
    }
    return row([code(h.url), (h.events || []).join(", "), h.lock_pattern || "all", state]);
  }

  // ---- Cluster --------------------------------------------------------

  async function loadCluster() {
    try {
      const c = await api("GET", "/cluster");
      $("cluster-leader").textContent = c.leader || "none known";
      $("cluster-self").textContent = c.self;
      $("cluster-term").textContent = c.term;
      $("cluster-index").textContent = c.commit_index + " / " + c.applied_index;
      fill($("nodes"), c.nodes.map((n) => nodeRow(n, c)), "No members known.");
    } catch (err) {
      $("cluster-leader").textContent = "unknown (" + err.message + ")";
    }
  }

  function nodeRow(n, c) {
    const role = el("span", n.role, n.role === "leader" ? "pill ok" : "pill");
    const id = el("span");
    id.append(code(n.id));
    if (n.id === c.self) id.append(el("span", " (this node)", "muted"));
    return row([id, role, n.voter ? "yes" : "no", n.http_addr || "—", n.raft_addr || "—"]);
  }

  // ---- Who am I -------------------------------------------------------

  // The token list marks the caller's own token, which carries the login.
  async function loadLogin() {
    const data = await api("GET", "/auth/tokens");
    const mine = data.tokens.find((t) => t.current);
    login = mine ? mine.login : "";
    $("login").textContent = login || "(unknown)";
  }

  // ---- Sign in and out ------------------------------------------------

  async function signIn(candidate) {
    token = candidate;
    try {
      await loadLogin();
    } catch (err) {
      if (token) signOut(err.status === 401 ? "That token was not accepted." : "Sign-in failed: " + err.message);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    showDashboard();
  }

  function showDashboard() {
    notice("");
    $("sign-in").hidden = true;
    $("account").hidden = false;
    $("dashboard").hidden = false;
    setMode("connecting", "Connecting to the event stream…");
    loadLists();
    loadSessions();
    loadWebhooks();
    loadCluster();
    startStream();
    intervals.push(setInterval(() => live || loadLists(), POLL_MS));
    intervals.push(setInterval(() => {
      loadSessions();
      loadWebhooks();
      loadCluster();
    }, SLOW_POLL_MS));
    intervals.push(setInterval(tick, 1000));
  }

  function signOut(message) {
    token = null;
    live = false;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(SESSIONS_KEY);
    stopStream();
    for (const t of intervals) clearInterval(t);
    intervals = [];
    clearTimeout(reloadTimer);
    reloadTimer = null;
    for (const id of ["locks", "elections", "sessions", "webhooks", "nodes"]) $(id).replaceChildren();
    $("dashboard").hidden = true;
    $("account").hidden = true;
    $("sign-in").hidden = false;
    notice(message || "");
    $("token").focus();
  }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  // ---- Wiring ---------------------------------------------------------

  function init() {
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = $("token").value.trim();
      $("token").value = "";
      if (value) signIn(value);
    });
    $("sign-out").addEventListener("click", () => signOut("Signed out."));
    $("prefix-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      filterLocks($("prefix").value.trim());
    });
    $("prefix-clear").addEventListener("click", () => {
      $("prefix").value = "";
      filterLocks("");
    });
    $("session-create").addEventListener("submit", createSession);
    $("session-track").addEventListener("submit", trackSession);

    const github = document.body.dataset.githubSignIn === "on";
    $("github").hidden = !github;
    $("no-github").hidden = github;
    takeFragmentToken();
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) signIn(saved);
    else signOut("");
  }

  init();
})();
