// authkit demo: the token and JWT panels. Bearer tokens live in this
// page's memory (the variables below), never in storage or a readable
// cookie. Everything else on the page works without JavaScript.
"use strict";

(() => {
  const MAX_GROUPS = 6;

  // el builds an element; strings become text nodes (never HTML).
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const k of kids.flat()) {
      if (k == null || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }

  const short = (s) => (typeof s === "string" && s.length > 12 ? s.slice(0, 8) + "…" : s);

  // pretty formats a JSON value for display, shortening secrets.
  function pretty(v) {
    return JSON.stringify(
      v,
      (k, x) => (["access_token", "refresh_token", "token"].includes(k) ? short(x) : k === "password" ? "••••••••" : x),
      2,
    );
  }

  function when(sec) {
    return new Date(sec * 1000).toISOString().slice(11, 19) + " UTC";
  }

  function b64json(seg) {
    const s = seg.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(s + "===".slice((s.length + 3) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  }

  // Panel state, in memory only.
  const state = {
    token: { access: null, refresh: null, spent: null, family: null, step: 0 },
    jwt: { access: null, family: null, step: 0 },
  };

  const panel = (mech) => document.getElementById(mech);

  // group starts a new block in a panel's log, newest first and open; the
  // older blocks fold to their title line.
  function group(mech, title) {
    const st = state[mech];
    st.step++;
    const log = document.getElementById(mech + "-log");
    for (const d of log.querySelectorAll("details[open]")) d.open = false;
    const status = el("span", { class: "status" });
    const body = el("div", { class: "entry-body" });
    const g = el("details", { class: "entry", open: "" },
      el("summary", { class: "entry-head" }, el("span", {}, title), status, el("span", { class: "step" }, "step " + st.step)),
      body);
    log.prepend(g);
    while (log.children.length > MAX_GROUPS) log.lastElementChild.remove();
    const empty = panel(mech).querySelector(".js-empty");
    if (empty) empty.hidden = true;
    return {
      body,
      status(code) {
        // Several calls in one block: "400 → 401".
        status.textContent = status.textContent ? status.textContent + " → " + code : String(code);
        status.className = "status s" + String(code)[0];
      },
      h3(text, kind) {
        body.append(el("h3", { class: kind || "" }, text));
      },
      pre(...kids) {
        const p = el("pre", { class: "code" }, ...kids);
        body.append(p);
        return p;
      },
      p(...kids) {
        body.append(el("p", {}, ...kids));
      },
    };
  }

  // call makes one request and shows it in g.
  async function call(g, method, path, { bearer, json, form } = {}) {
    const headers = { "X-Demo-Trace": "1" };
    let body;
    const reqLines = [method + " " + path + " HTTP/1.1"];
    if (bearer) {
      headers.Authorization = "Bearer " + bearer;
      reqLines.push("Authorization: Bearer " + short(bearer));
    }
    if (json) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
      reqLines.push("Content-Type: application/json", "", pretty(json));
    }
    if (form) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(form).toString();
      reqLines.push("Content-Type: application/x-www-form-urlencoded", "", "token=" + short(form.token));
    }
    if (path.startsWith("/api/jwt/refresh")) reqLines.push("Cookie: __Secure-jwt-refresh=…  (sent by the browser; this script cannot see it)");

    let res, text;
    try {
      // A call with a bearer token sends no cookies, as an API client
      // would: with the session cookie too, the session (first in the
      // server's Require chain) would decide who is calling.
      res = await fetch(path, { method, headers, body, credentials: bearer ? "omit" : "same-origin", cache: "no-store" });
      text = await res.text();
    } catch (err) {
      g.pre(el("span", { class: "bad" }, "request failed: " + err));
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    g.status(res.status);
    const resp = [el("span", { class: "k" }, "HTTP/1.1 " + res.status + " " + (res.statusText || ""))];
    for (const h of ["WWW-Authenticate", "Retry-After", "Cache-Control"]) {
      const v = res.headers.get(h);
      if (v) resp.push("\n" + h + ": " + v);
    }
    const setCookies = res.headers.get("X-Demo-Set-Cookie");
    if (setCookies) {
      for (const line of JSON.parse(setCookies)) resp.push("\n", el("span", { class: "hl" }, "Set-Cookie: " + line));
    }
    if (data != null) resp.push("\n\n" + (typeof data === "string" ? data : pretty(data)));
    g.h3("request", "travel");
    g.pre(reqLines.join("\n"));
    g.h3("response", "travel");
    g.pre(...resp);
    return { ok: res.ok, status: res.status, data };
  }

  // inspect asks the server what it stores for a credential, and shows it.
  async function inspect(g, mech, bearer) {
    let data;
    const fam = state[mech].family;
    try {
      const res = await fetch("/demo/inspect" + (fam ? "?family=" + encodeURIComponent(fam) : ""), { headers: { Authorization: "Bearer " + bearer }, credentials: "omit", cache: "no-store" });
      data = await res.json();
      if (!res.ok) return;
    } catch {
      return;
    }
    if (data.kind === "jwt") {
      g.h3("decoded — anyone can read this, no key needed", "travel");
      g.body.append(
          el("div", { class: "split" },
          el("div", {}, el("h3", {}, "header"), el("pre", { class: "code" }, data.header)),
          el("div", {}, el("h3", {}, "claims"), el("pre", { class: "code" }, annotateClaims(data.claims)))),
      );
    }
    g.h3("what the server stores", "stored");
    if (data.kind === "jwt") {
      g.p("Nothing per JWT: it is checked with the public key alone. The server keeps only its refresh family, named by the ", el("code", {}, "fid"), " claim, and revocation records.");
    }
    for (const s of data.stored || []) {
      const head = [el("span", { class: "hl" }, s.key), el("span", { class: "cm" }, "   " + s.what)];
      if (s.present) g.pre(...head, "\n\n" + s.dump);
      else g.pre(...head, "\n\n", el("span", { class: "bad" }, "(absent: deleted)"));
    }
    if (data.family) {
      const f = data.family;
      state[mech].family = f.id;
      g.p("Refresh family ", el("code", {}, short(f.id)), ": ", el("strong", {}, f.generation + " rotation" + (f.generation === 1 ? "" : "s")), ", state ",
        el("span", { class: "verdict " + (f.state === "alive" ? "good" : "bad") }, f.state), ".");
    }
    const good = /^(valid|signature and claims valid)$/.test(data.verdict);
    g.p("Verdict: ", el("span", { class: "verdict " + (good ? "good" : "bad") }, data.verdict));
  }

  // annotateClaims adds the dates of the time claims as comments.
  function annotateClaims(text) {
    const out = [];
    for (const line of text.split("\n")) {
      out.push(line);
      const m = line.match(/^\s*"(exp|iat|auth_time|nbf)": (\d+(\.\d+)?)/);
      if (m) out.push(el("span", { class: "cm" }, "  // " + when(Number(m[2]))));
      out.push("\n");
    }
    out.pop();
    return out;
  }

  function signedIn(mech, on) {
    const p = panel(mech);
    p.querySelector(".js-login").hidden = on;
    p.querySelector(".actions").hidden = !on;
  }

  // Sign-in forms of the two panels. Their buttons are disabled in the
  // HTML, so that without this script nothing posts credentials anywhere.
  for (const form of document.querySelectorAll(".js-login")) {
    form.querySelector("button[type=submit]").disabled = false;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const mech = form.dataset.mech;
      const creds = { username: form.elements.username.value, password: form.elements.password.value };
      const g = group(mech, "Sign in");
      const r = await call(g, "POST", form.dataset.endpoint, { json: creds });
      if (!r.ok) return;
      form.elements.password.value = "";
      const st = state[mech];
      st.access = r.data.access_token;
      st.family = null;
      if (mech === "token") {
        st.refresh = r.data.refresh_token;
        st.spent = null;
        document.getElementById("token-reuse").disabled = true;
      }
      signedIn(mech, true);
      await inspect(g, mech, st.access);
    });
  }

  const actions = {
    token: {
      async me() {
        const g = group("token", "Call the API with the access token");
        await call(g, "GET", "/api/me", { bearer: state.token.access });
      },
      async refresh() {
        const st = state.token;
        const g = group("token", "Refresh: the refresh token rotates");
        const r = await call(g, "POST", "/api/token/refresh", { json: { refresh_token: st.refresh } });
        if (!r.ok) return;
        st.spent = st.refresh;
        st.refresh = r.data.refresh_token;
        st.access = r.data.access_token;
        document.getElementById("token-reuse").disabled = false;
        g.p("The old refresh token ", el("code", {}, short(st.spent)), " is now spent. This page keeps it, to replay it the way a thief who copied it would.");
        await inspect(g, "token", st.access);
      },
      async reuse() {
        const st = state.token;
        const g = group("token", "Replay the spent refresh token");
        await call(g, "POST", "/api/token/refresh", { json: { refresh_token: st.spent } });
        g.p("The server cannot tell the thief from the owner, so it revokes the whole family — the current refresh token and the access tokens issued from it included:");
        await call(g, "GET", "/api/me", { bearer: st.access });
        await inspect(g, "token", st.access);
        document.getElementById("token-reuse").disabled = true;
      },
      async revoke() {
        const st = state.token;
        const g = group("token", "Revoke the refresh token (RFC 7009)");
        await call(g, "POST", "/api/token/revoke", { form: { token: st.refresh, token_type_hint: "refresh_token" } });
        await call(g, "GET", "/api/me", { bearer: st.access });
        await inspect(g, "token", st.access);
      },
      forget() {
        Object.assign(state.token, { access: null, refresh: null, spent: null });
        signedIn("token", false);
      },
    },
    jwt: {
      async me() {
        const g = group("jwt", "Call the API with the JWT");
        await call(g, "GET", "/api/me", { bearer: state.jwt.access });
      },
      async refresh() {
        const g = group("jwt", "Refresh from the HttpOnly cookie");
        const r = await call(g, "POST", "/api/jwt/refresh");
        if (!r.ok) return;
        state.jwt.access = r.data.access_token;
        g.p("A new JWT, and a new refresh token in the cookie: the old one is spent, and presenting it again would revoke the family.");
        await inspect(g, "jwt", state.jwt.access);
      },
      cookie() {
        const g = group("jwt", "Can this script read the refresh cookie?");
        const seen = document.cookie;
        g.status(seen.includes("jwt-refresh") ? "yes" : "no");
        g.pre("document.cookie\n", el("span", { class: "hl" }, JSON.stringify(seen)));
        g.p(seen.includes("jwt-refresh")
          ? "The refresh cookie is readable — it should not be."
          : "No: the refresh cookie is HttpOnly, and the session cookie too. A script injected into this page could use the JWT in memory for its 5 minutes, but could not take the refresh token away.");
      },
      async logout() {
        const g = group("jwt", "Sign out");
        await call(g, "POST", "/api/jwt/logout", { bearer: state.jwt.access });
        g.p("The JWT's refresh family is revoked, and so is every JWT issued from it — although its signature is still valid:");
        await call(g, "GET", "/api/me", { bearer: state.jwt.access });
        await inspect(g, "jwt", state.jwt.access);
        state.jwt.access = null;
        signedIn("jwt", false);
      },
      forget() {
        state.jwt.access = null;
        signedIn("jwt", false);
      },
    },
  };

  for (const mech of ["token", "jwt"]) {
    if (!panel(mech)) continue; // a page without the panels
    panel(mech).querySelector(".actions").addEventListener("click", async (ev) => {
      const b = ev.target.closest("button[data-do]");
      if (!b || b.disabled) return;
      b.disabled = true;
      try {
        await actions[mech][b.dataset.do]();
      } finally {
        if (b.id !== "token-reuse") b.disabled = false;
      }
    });
  }
})();
