// kgllm graph explorer: plain JavaScript over the /api/ endpoints, drawing with the vendored cytoscape.js.
"use strict";
(function () {
  const $ = (sel) => document.querySelector(sel);
  const PALETTE = ["#3461d1", "#d1495b", "#2a9d8f", "#e9a03b", "#8e6cc7", "#5c8001", "#c05299", "#1f8fb8",
                   "#a86c3c", "#6b7280"];
  const typeColours = new Map();
  let cy = null;                // the cytoscape instance, made once the graph's size is known
  const entities = new Map();   // id -> entity JSON, for names
  const expanded = new Map();   // id -> next_offset (null when all neighbours are shown)

  // ---------------------------------------------------------------- API (token kept for the session)
  const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
  if (hashToken) { sessionStorage.setItem("kgllm-token", hashToken); history.replaceState(null, "", location.pathname); }

  async function api(path, body, raw) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = { "Accept": raw ? "text/event-stream" : "application/json" };
      const token = sessionStorage.getItem("kgllm-token");
      if (token) headers["Authorization"] = "Bearer " + token;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const res = await fetch(path, { method: body === undefined ? "GET" : "POST", headers,
                                      body: body === undefined ? undefined : JSON.stringify(body) });
      if (res.status === 401 && attempt === 0) {
        const t = window.prompt("This explorer needs its access token:");
        if (!t) throw new Error("no token given");
        sessionStorage.setItem("kgllm-token", t.trim());
        continue;
      }
      if (raw && res.ok) return res;
      const data = await res.json().catch(() => ({ error: { message: res.statusText } }));
      if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
      return data;
    }
  }

  // ---------------------------------------------------------------- canvas
  // WebGL drawing (thousands of nodes stay smooth) for large graphs or ?webgl=1; the 2D canvas otherwise.
  function makeCanvas(entityCount) {
    const asked = new URLSearchParams(location.search).get("webgl");
    const webgl = asked === "1" || (asked !== "0" && entityCount >= 2000 && (() => {
      try { return !!document.createElement("canvas").getContext("webgl2"); } catch (e) { return false; }
    })());
    cy = cytoscape({
      container: $("#graph"),
      renderer: { name: "canvas", webgl },
      wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 2.5,
      style: [
        { selector: "node", style: { "background-color": "data(color)", "label": "data(label)", "font-size": 10,
            "width": 16, "height": 16, "text-valign": "bottom", "text-margin-y": 3, "color": "#1d2330",
            "text-outline-color": "#f7f8fb", "text-outline-width": 2 } },
        { selector: "node.expanded", style: { "border-width": 2, "border-color": "#1d2330" } },
        { selector: "node:selected", style: { "border-width": 3, "border-color": "#f0a020" } },
        { selector: "edge", style: { "width": 1.5, "line-color": "#a7afbf", "target-arrow-color": "#a7afbf",
            "target-arrow-shape": "triangle", "curve-style": "bezier", "label": "data(label)", "font-size": 8,
            "color": "#5a6275", "text-rotation": "autorotate", "text-outline-color": "#f7f8fb", "text-outline-width": 2 } },
        { selector: "edge:selected", style: { "line-color": "#f0a020", "target-arrow-color": "#f0a020", "width": 3 } },
        { selector: "edge.answer", style: { "line-color": "#e4572e", "target-arrow-color": "#e4572e", "width": 4,
            "z-index": 10, "color": "#b3261e" } },
        { selector: "node.answer", style: { "border-width": 3, "border-color": "#e4572e", "z-index": 10,
            "width": 22, "height": 22, "font-weight": "bold" } },
        { selector: ".faded", style: { "opacity": 0.25 } },
      ],
    });
    window.explorer = { cy, entities, webgl };
    cy.on("tap", "node", (ev) => expand(ev.target.id()).catch(fail));
    cy.on("tap", "edge", (ev) => showFact(ev.target.id()).catch(fail));
  }
  function colour(type) {
    const key = type || "(none)";
    if (!typeColours.has(key)) {
      typeColours.set(key, PALETTE[typeColours.size % PALETTE.length]);
      $("#legend").innerHTML = [...typeColours].map(([t, c]) =>
        `<span class="sw" style="background:${c}"></span>${esc(t)}`).join("");
    }
    return typeColours.get(key);
  }


  function addEntity(e, near) {
    entities.set(e.id, e);
    if (cy.getElementById(e.id).nonempty()) return cy.getElementById(e.id);
    let pos = { x: 0, y: 0 };
    if (near) {
      const p = near.position(), angle = Math.random() * 2 * Math.PI, r = 90 + Math.random() * 60;
      pos = { x: p.x + r * Math.cos(angle), y: p.y + r * Math.sin(angle) };
    } else if (cy.nodes().nonempty()) {
      const bb = cy.nodes().boundingBox();
      pos = { x: bb.x2 + 120, y: (bb.y1 + bb.y2) / 2 };
    }
    return cy.add({ group: "nodes", data: { id: e.id, label: e.name || e.id, color: colour(e.type) }, position: pos });
  }
  function addFact(f) {
    if (cy.getElementById(f.id).nonempty()) return;
    for (const end of [f.subject, f.object]) if (cy.getElementById(end).empty()) addEntity(entities.get(end) || { id: end, name: end });
    cy.add({ group: "edges", data: { id: f.id, source: f.subject, target: f.object, label: f.relation, fact: f } });
  }
  function ring(center, ids) {
    const c = center.position(), n = ids.length;
    ids.forEach((id, i) => {
      const node = cy.getElementById(id);
      if (node.data("placed")) return;
      const angle = (2 * Math.PI * i) / Math.max(n, 1), r = 110 + 6 * Math.min(n, 40);
      node.position({ x: c.x + r * Math.cos(angle), y: c.y + r * Math.sin(angle) });
      node.data("placed", true);
    });
  }

  // The facts between the entities on screen that are not drawn yet (the server finds them by index).
  async function linkOnScreen() {
    const ids = cy.nodes().map((n) => n.id()).slice(0, 200);
    if (ids.length < 2) return;
    const data = await api("/api/between?" + ids.map((i) => "id=" + encodeURIComponent(i)).join("&"));
    for (const e of Object.values(data.entities)) entities.set(e.id, e);
    for (const f of data.facts) addFact(f);
  }

  async function expand(id, more) {
    const offset = more ? expanded.get(id) : 0;
    if (!more && expanded.has(id)) return showEntity(id);
    const data = await api(`/api/neighbours?id=${encodeURIComponent(id)}&limit=50&offset=${offset || 0}`);
    for (const e of Object.values(data.entities)) entities.set(e.id, e);
    const center = addEntity(data.entity);
    center.data("placed", true).addClass("expanded");
    const fresh = [];
    for (const f of data.facts) {
      const other = f.subject === id ? f.object : f.subject;
      if (cy.getElementById(other).empty()) fresh.push(other);
      addFact(f);
    }
    ring(center, fresh);
    await linkOnScreen();
    cy.fit(center.closedNeighborhood(), 80);
    if (cy.zoom() > 1.5) cy.zoom({ level: 1.5, renderedPosition: cy.getElementById(id).renderedPosition() });
    expanded.set(id, data.next_offset);
    showEntity(id, data);
  }

  // ---------------------------------------------------------------- side panel
  function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
  function name(id) { const e = entities.get(id); return e ? e.name : id; }
  function factLine(f) { return `${esc(name(f.subject))} <span class="rel">${esc(f.relation)}</span> ${esc(name(f.object))}`; }
  function tab(which) {
    document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === which));
    document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== "tab-" + which; });
  }
  document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => tab(b.dataset.tab)));

  async function showEntity(id, neighbours) {
    tab("details");
    const e = await api(`/api/entity?id=${encodeURIComponent(id)}`);
    entities.set(e.id, e);
    const facts = cy.edges().filter((ed) => ed.data("source") === id || ed.data("target") === id).map((ed) => ed.data("fact"));
    const more = expanded.get(id);
    $("#detail").innerHTML = `<h2>${esc(e.name)} <span class="badge" style="background:${colour(e.type)}">${esc(e.type || "no type")}</span></h2>
      <p class="muted">id <code>${esc(e.id)}</code> · ${e.degree} facts${e.aliases.length ? " · also " + e.aliases.map(esc).join(", ") : ""}</p>
      <ul class="facts" id="facts-list">${facts.map((f) => `<li data-fact="${esc(f.id)}">${factLine(f)}</li>`).join("")}</ul>
      ${more != null ? `<button id="more" type="button">Show more neighbours (${neighbours ? neighbours.total - more : "…"} left)</button>` : ""}`;
    $("#provenance").innerHTML = "";
    document.querySelectorAll("#facts-list li").forEach((li) => li.addEventListener("click", () => showFact(li.dataset.fact)));
    const btn = $("#more");
    if (btn) btn.addEventListener("click", () => expand(id, true).catch(fail));
  }

  function highlighted(sentence, spans) {
    let out = "", at = 0;
    for (const [s, e] of spans) { out += esc(sentence.slice(at, s)) + "<mark>" + esc(sentence.slice(s, e)) + "</mark>"; at = e; }
    return out + esc(sentence.slice(at));
  }
  async function showFact(id) {
    tab("details");
    const f = await api(`/api/facts/${encodeURIComponent(id)}`);
    for (const e of Object.values(f.entities)) entities.set(e.id, e);
    cy.$(":selected").unselect();
    cy.getElementById(id).select();
    $("#provenance").innerHTML = `<h3>${factLine(f)}</h3><p class="muted">confidence ${f.confidence} · ${f.provenance.length} source(s)</p>` +
      (f.provenance.length ? f.provenance.map((p) => `<div class="source"><div class="muted">document <b>${esc(p.doc_id)}</b>` +
        (p.chunk >= 0 ? ` · sentence ${p.chunk}` : "") + (p.start >= 0 ? ` · characters ${p.start}–${p.end}` : "") +
        (p.extractor ? ` · ${esc(p.extractor)}` : "") + `</div>` +
        (p.sentence ? `<blockquote>${highlighted(p.sentence, p.highlights)}</blockquote>` : "") + `</div>`).join("")
        : `<p class="muted">No source recorded (imported from a knowledge base).</p>`);
  }

  function fail(err) {
    const box = $("#provenance");
    box.innerHTML = `<p class="error">${esc(err.message || err)}</p>`;
  }

  // ---------------------------------------------------------------- search
  let timer = null, lastQuery = "";
  $("#search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 180); });
  $("#search").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { const first = $("#results li"); if (first) first.click(); }
    if (ev.key === "Escape") $("#results").hidden = true;
  });
  async function search() {
    const q = $("#search").value.trim();
    lastQuery = q;
    if (!q) { $("#results").hidden = true; return; }
    const data = await api(`/api/search?q=${encodeURIComponent(q)}&limit=15`).catch((e) => ({ results: [], error: e }));
    if (q !== lastQuery) return;
    const list = $("#results");
    list.innerHTML = data.results.length ? data.results.map((e) => `<li data-id="${esc(e.id)}"><span>${esc(e.name)}</span>` +
      `<span class="muted">${esc(e.type || "")}${e.degree != null ? " · " + e.degree : ""}</span></li>`).join("")
      : `<li class="muted">${data.error ? esc(data.error.message) : "no match"}</li>`;
    list.hidden = false;
    list.querySelectorAll("li[data-id]").forEach((li) => li.addEventListener("click", () => {
      list.hidden = true;
      const e = data.results.find((r) => r.id === li.dataset.id);
      const node = addEntity(e);
      cy.zoom(Math.max(cy.zoom(), 1)); cy.center(node);
      cy.$(":selected").unselect(); node.select();
      expand(e.id).catch(fail);   // its facts are listed (and drawn) at once
    }));
  }
  document.addEventListener("click", (ev) => { if (!ev.target.closest(".searchbox")) $("#results").hidden = true; });

  $("#fit").addEventListener("click", () => cy.fit(undefined, 30));
  $("#clear").addEventListener("click", () => { cy.elements().remove(); expanded.clear(); });
  $("#relayout").addEventListener("click", () => cy.layout({ name: cy.nodes().length > 400 ? "grid" : "cose", animate: false, fit: true }).run());

  // ---------------------------------------------------------------- Cypher console
  $("#cypher-run").addEventListener("click", async () => {
    const status = $("#cypher-status"), table = $("#cypher-table");
    let params;
    try { params = JSON.parse($("#cypher-params").value || "{}"); } catch (e) { status.innerHTML = `<span class="error">parameters: ${esc(e.message)}</span>`; return; }
    status.textContent = "running…"; table.innerHTML = "";
    try {
      const r = await api("/api/query", { cypher: $("#cypher-input").value, params, limit: 200 });
      status.textContent = `${r.rows.length} row(s)${r.truncated ? " (more cut off)" : ""} in ${r.elapsed_ms} ms`;
      const cell = (v) => esc(typeof v === "object" && v !== null ? JSON.stringify(v) : v);
      table.innerHTML = `<thead><tr>${r.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>` +
        r.rows.map((row) => `<tr>${r.columns.map((c) => `<td>${cell(row[c])}</td>`).join("")}</tr>`).join("") + "</tbody>";
    } catch (e) { status.innerHTML = `<span class="error">${esc(e.message)}</span>`; }
  });

  // ---------------------------------------------------------------- ask: a conversation (server-sent events)
  // Each question is a turn of one conversation (/api/chat/stream): follow-ups ("Where was she born?") are
  // resolved on the server; the turns are listed, and a click on one highlights its facts again.
  let conversationId = null;
  const turns = [];
  function listTurn(a) {
    turns.push(a);
    const li = document.createElement("li");
    const resolved = a.resolved_question && a.resolved_question !== a.question
      ? `<div class="muted resolved">→ ${esc(a.resolved_question)}</div>` : "";
    const unresolved = a.unresolved && a.unresolved.length ? `<div class="muted">not resolved: ${esc(a.unresolved.join(", "))}</div>` : "";
    li.innerHTML = `<div class="turn-q">${esc(a.question)}</div>${resolved}${unresolved}<div class="turn-a">${esc(a.answer)}</div>`;
    li.dataset.turn = String(turns.length - 1);
    li.addEventListener("click", () => showAnswer(turns[Number(li.dataset.turn)]));
    $("#ask-turns").appendChild(li);
  }
  $("#ask-new").addEventListener("click", () => {
    conversationId = null; turns.length = 0; $("#ask-turns").innerHTML = "";
    $("#answer-text").textContent = ""; $("#answer-status").textContent = "new conversation"; $("#answer-facts").innerHTML = "";
  });
  async function ask() {
    const question = $("#ask-input").value.trim();
    if (!question) return;
    const text = $("#answer-text"), status = $("#answer-status"), list = $("#answer-facts");
    text.textContent = ""; list.innerHTML = ""; status.textContent = "thinking…";
    cy.elements().removeClass("answer faded");
    try {
      const body = conversationId ? { question, conversation_id: conversationId } : { question };
      const res = await api("/api/chat/stream", body, true);
      const reader = res.body.getReader(), decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          const event = (block.match(/^event: (.*)$/m) || [])[1], data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "null");
          if (event === "token") text.textContent += data.text;
          else if (event === "conversation") conversationId = data.conversation_id;
          else if (event === "answer") { showAnswer(data); listTurn(data); }
          else if (event === "error") throw new Error(data.error.message);
        }
      }
    } catch (e) {
      if (/no conversation/.test(e.message)) conversationId = null;   // expired on the server: the next turn starts anew
      status.innerHTML = `<span class="error">${esc(e.message)}</span>`;
    }
  }
  // The cited facts' entities in reading order (from the question's entity to the answer), left to right.
  function pathOrder(a) {
    const adj = new Map();
    for (const f of a.facts) for (const [x, y] of [[f.subject, f.object], [f.object, f.subject]]) {
      if (!adj.has(x)) adj.set(x, []);
      adj.get(x).push(y);
    }
    const start = a.subgraph.seeds.find((s) => adj.has(s)) || [...adj.keys()].find((k) => adj.get(k).length === 1)
      || [...adj.keys()][0];
    const order = [], seen = new Set(), queue = start ? [start] : [];
    while (queue.length) {
      const id = queue.shift();
      if (seen.has(id)) continue;
      seen.add(id); order.push(id);
      for (const next of adj.get(id) || []) if (!seen.has(next)) queue.push(next);
    }
    for (const id of a.answer_entities) if (!seen.has(id) && cy.getElementById(id).nonempty()) order.push(id);
    return order;
  }
  function layoutAnswer(a, fresh) {
    const order = pathOrder(a), onPath = new Set(order), gap = 200;
    const others = cy.nodes().filter((n) => !onPath.has(n.id()));
    const bb = others.nonempty() ? others.boundingBox() : { x1: 0, x2: 0, y1: 0, y2: 0 };
    const y = others.nonempty() ? bb.y2 + 160 : 0, x0 = others.nonempty() ? (bb.x1 + bb.x2) / 2 - gap * (order.length - 1) / 2 : 0;
    order.forEach((id, i) => cy.getElementById(id).position({ x: x0 + gap * i, y }).data("placed", true));
    // the rest of the subgraph new on screen: in rows under the path, each near the path entity it touches
    const rows = new Map();
    fresh.filter((n) => !onPath.has(n.id())).forEach((n) => {
      const anchor = n.neighborhood("node").filter((m) => onPath.has(m.id())).first();
      const col = anchor.nonempty() ? order.indexOf(anchor.id()) : order.length;
      const k = rows.get(col) || 0;
      rows.set(col, k + 1);
      n.position({ x: x0 + gap * col + (k % 2 ? 60 : -60), y: y + 110 + 70 * Math.floor(k / 2) }).data("placed", true);
    });
  }
  function showAnswer(a) {
    const text = $("#answer-text"), status = $("#answer-status"), list = $("#answer-facts");
    text.textContent = a.answer;
    status.textContent = a.supported ? `supported by ${a.facts.length} fact(s) · subgraph of ${a.subgraph.facts.length} facts` : "not supported by the graph";
    for (const e of a.subgraph.entities) entities.set(e.id, e);
    const before = new Set(cy.nodes().map((n) => n.id()));
    for (const f of a.subgraph.facts) addFact(f);
    for (const f of a.facts) addFact(f);
    layoutAnswer(a, cy.nodes().filter((n) => !before.has(n.id())));
    cy.elements().removeClass("answer").addClass("faded");   // an earlier turn shown again: only its facts
    const cited = new Set(a.facts.map((f) => f.id));
    for (const f of a.facts) {
      const edge = cy.getElementById(f.id);
      edge.removeClass("faded").addClass("answer");
      edge.connectedNodes().removeClass("faded").addClass("answer");
    }
    for (const id of a.answer_entities) cy.getElementById(id).removeClass("faded").addClass("answer");
    const focus = cy.elements(".answer");
    cy.fit(focus.nonempty() ? focus.closedNeighborhood() : undefined, 90);
    if (cy.zoom() > 1.5) cy.zoom({ level: 1.5, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    list.innerHTML = a.facts.map((f) => `<li data-fact="${esc(f.id)}">${factLine(f)}${f.provenance.map((p) => p.sentence ?
      `<div class="source"><blockquote>${highlighted(p.sentence, p.highlights)}</blockquote><span class="muted">${esc(p.doc_id)}</span></div>` : "").join("")}</li>`).join("");
    list.querySelectorAll("li").forEach((li) => li.addEventListener("click", () => showFact(li.dataset.fact).catch(fail)));
    window.explorer.lastAnswer = { answer: a.answer, cited: [...cited], resolved: a.resolved_question || null };
  }
  $("#ask-run").addEventListener("click", ask);
  $("#ask-input").addEventListener("keydown", (ev) => { if (ev.key === "Enter") ask(); });

  // ---------------------------------------------------------------- start: counts and the best-connected entities
  api("/api/stats?top=12").then(async (s) => {
    const c = s.counts;
    makeCanvas(c.entities);
    $("#counts").textContent = `${c.entities} entities · ${c.facts} facts · ${c.relations} relations`;
    for (const e of s.top_entities) addEntity(e);
    await linkOnScreen();   // the facts between them, not only dots
    cy.layout(cy.edges().nonempty()
      ? { name: "cose", fit: true, animate: false, padding: 80, randomize: true, nodeRepulsion: () => 400000,
          idealEdgeLength: () => 120, nodeOverlap: 40, componentSpacing: 150, numIter: 1500 }
      : { name: "circle", fit: true, animate: false, padding: 80 }).run();
    cy.nodes().forEach((n) => n.data("placed", true));
    cy.fit(undefined, 80);
    document.body.dataset.ready = "1";
  }).catch((e) => { if (!cy) makeCanvas(0); fail(e); document.body.dataset.ready = "1"; });
})();
