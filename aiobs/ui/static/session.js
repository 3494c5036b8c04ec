// The session page: the trace tree beside its waterfall, and the detail of the chosen node.
// Recorded data is only ever written with textContent and createElement, never as HTML.
// The server's page holds the tree only; a node's detail is fetched from
// /ui/sessions/{id}/nodes/{node} when it is first shown. The one-file report holds the details.

const data = JSON.parse(document.getElementById("trace-data").textContent);
const nodes = new Map(data.nodes.map((node) => [node.id, node]));
const total = Math.max(data.total_ms, 0.001);
const tree = document.getElementById("tree");
const detail = document.getElementById("detail");
const items = new Map();
const details = new Map();
let shown = null;

function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined && text !== null) element.textContent = String(text);
  return element;
}

function duration(ms) {
  if (typeof ms !== "number") return "";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function buildItem(node, depth) {
  const li = el("li", "node");
  li.setAttribute("role", "treeitem");
  li.setAttribute("aria-level", String(depth + 1));
  li.setAttribute("aria-selected", "false");
  li.tabIndex = -1;
  li.dataset.id = node.id;
  const row = el("div", `row ${node.kind}${node.error ? " failed" : ""}`);
  const label = el("span", "label-cell");
  label.style.paddingLeft = `${depth * 16}px`;
  const toggle = el("span", "toggle", node.children.length ? "▸" : "");
  toggle.setAttribute("aria-hidden", "true");
  label.append(toggle, el("span", `kind kind-${node.kind}`, node.kind === "llm" ? "LLM" : "fn"));
  label.append(el("span", "name", node.name));
  if (node.error) label.append(el("span", "badge-error", "error"));
  if (node.scores && node.scores.length) {
    const failing = node.scores.some((score) => isLow(score) || verdictOf(score)?.status === "failed");
    label.append(el("span", failing ? "badge-score badge-score-low" : "badge-score", `${node.scores.length} score${node.scores.length === 1 ? "" : "s"}`));
  }
  const bar = el("span", "bar-cell");
  const fill = el("span", "bar");
  fill.style.left = `${(node.start / total) * 100}%`;
  fill.style.width = `${Math.max(((node.duration_ms || 0) / total) * 100, 0.4)}%`;
  fill.title = duration(node.duration_ms);
  bar.append(fill, el("span", "bar-text", duration(node.duration_ms)));
  row.append(label, bar);
  li.append(row);
  // children are built when the node is first expanded (see setExpanded): a session of
  // thousands of events draws only the rows that can be seen
  if (node.children.length) li.setAttribute("aria-expanded", "false");
  row.addEventListener("click", (event) => {
    event.stopPropagation();
    if (event.target === toggle) setExpanded(li, li.getAttribute("aria-expanded") !== "true");
    focusItem(li);
  });
  row.addEventListener("dblclick", () => setExpanded(li, li.getAttribute("aria-expanded") !== "true"));
  items.set(node.id, li);
  return li;
}

function buildChildren(li) {
  const node = nodes.get(li.dataset.id);
  const depth = Number(li.getAttribute("aria-level"));
  const group = el("ul", "group");
  group.setAttribute("role", "group");
  const fragment = document.createDocumentFragment();
  for (const childId of node.children) {
    const child = nodes.get(childId);
    if (child) fragment.append(buildItem(child, depth));
  }
  group.append(fragment);
  li.append(group);
}

function setExpanded(li, open) {
  if (!li.hasAttribute("aria-expanded")) return;
  if (open && !li.querySelector(":scope > .group")) buildChildren(li);
  li.setAttribute("aria-expanded", String(open));
  li.querySelector(":scope > .row .toggle").textContent = open ? "▾" : "▸";
}

function visibleItems() {
  return [...tree.querySelectorAll("li[role=treeitem]")].filter((li) => li.offsetParent !== null);
}

function focusItem(li) {
  for (const other of tree.querySelectorAll("li[aria-selected=true]")) {
    other.setAttribute("aria-selected", "false");
    other.tabIndex = -1;
  }
  li.setAttribute("aria-selected", "true");
  li.tabIndex = 0;
  li.focus();
  showDetail(nodes.get(li.dataset.id));
}

tree.addEventListener("keydown", (event) => {
  const current = event.target.closest("li[role=treeitem]");
  if (!current) return;
  const visible = visibleItems();
  const index = visible.indexOf(current);
  let next = null;
  switch (event.key) {
    case "ArrowDown": next = visible[index + 1]; break;
    case "ArrowUp": next = visible[index - 1]; break;
    case "Home": next = visible[0]; break;
    case "End": next = visible[visible.length - 1]; break;
    case "ArrowRight":
      if (current.getAttribute("aria-expanded") === "false") setExpanded(current, true);
      else if (current.getAttribute("aria-expanded") === "true") next = current.querySelector("li[role=treeitem]");
      break;
    case "ArrowLeft":
      if (current.getAttribute("aria-expanded") === "true") setExpanded(current, false);
      else next = current.parentElement.closest("li[role=treeitem]");
      break;
    case "Enter": case " ":
      setExpanded(current, current.getAttribute("aria-expanded") !== "true");
      break;
    default: return;
  }
  event.preventDefault();
  if (next) focusItem(next);
});

// -- the detail pane -------------------------------------------------------------------------

function section(title) {
  const part = el("section", "part");
  part.append(el("h3", null, title));
  return part;
}

function facts(pairs) {
  const list = el("dl", "facts");
  for (const [name, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    const item = el("div");
    item.append(el("dt", null, name), el("dd", null, value));
    list.append(item);
  }
  return list;
}

// What the SDK writes where it cut a value short or replaced a secret (see aiobs/ui/markers.py).
const MARKER = /\[REDACTED\]|\[aiobs: [^\]\n]{1,200}\]/g;
const CUT = ["truncated", "size limit", "more items", "more keys", "max depth"];

function markerKind(marker) {
  if (marker === "[REDACTED]") return "redacted";
  return CUT.some((word) => marker.includes(word)) ? "truncated" : "replaced";
}

// An element holding text, with each marker in it shown as a badge rather than as plain text.
function marked(tag, className, text) {
  const element = el(tag, className);
  const value = String(text);
  let at = 0;
  for (const match of value.matchAll(MARKER)) {
    if (match.index > at) element.append(document.createTextNode(value.slice(at, match.index)));
    const kind = markerKind(match[0]);
    const badge = el("mark", `marker marker-${kind}`, match[0]);
    badge.title = kind === "redacted" ? "replaced by aiobs: it looked like a secret" : "cut by aiobs's capture limits";
    element.append(badge);
    at = match.index + match[0].length;
  }
  if (at < value.length) element.append(document.createTextNode(value.slice(at)));
  return element;
}

function json(title, value, open) {
  const box = el("details", "json");
  box.open = Boolean(open);
  box.append(el("summary", null, title), marked("pre", null, JSON.stringify(value, null, 2)));
  return box;
}

function markerSection(found, depthTruncated) {
  const items = [...((found && found.items) || [])];
  if (depthTruncated) {
    items.unshift({ kind: "truncated", path: "trace tree", marker: "placed beside its parent: the trace reached its depth limit" });
  }
  if (!items.length) return null;
  const part = section("Captured data");
  part.classList.add("markers");
  const counts = { truncated: 0, redacted: 0, replaced: 0 };
  for (const kind of Object.keys(counts)) counts[kind] = (found && found[kind]) || 0;
  if (depthTruncated) counts.truncated += 1;
  const summary = el("p", "marker-summary");
  const words = { truncated: "cut short", redacted: "redacted", replaced: "replaced" };
  for (const [kind, count] of Object.entries(counts)) {
    if (count) summary.append(el("span", `badge marker-${kind}`, `${count} ${words[kind]}`));
  }
  part.append(summary);
  const list = el("ul", "marker-list");
  for (const item of items) {
    const li = el("li");
    li.append(el("span", `badge marker-${item.kind}`, item.kind), " ", el("code", null, item.path), el("span", "muted", ` ${item.marker}`));
    list.append(li);
  }
  const listed = items.length - (depthTruncated ? 1 : 0);
  const total = counts.truncated + counts.redacted + counts.replaced - (depthTruncated ? 1 : 0);
  if (total > listed) list.append(el("li", "muted", `and ${total - listed} more`));
  part.append(list);
  return part;
}

function labelSection(labels, attributes) {
  const hasLabels = labels && Object.keys(labels).length;
  const hasAttributes = attributes && typeof attributes === "object" && Object.keys(attributes).length;
  if (!hasLabels && !hasAttributes) return null;
  const part = section("Labels");
  part.classList.add("labels");
  const chips = (title, values, className) => {
    const row = el("div", "label-row");
    row.append(el("span", "muted", title));
    for (const [key, value] of Object.entries(values)) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      row.append(marked("span", `chip ${className}`, `${key}: ${text}`));
    }
    part.append(row);
  };
  if (hasLabels) chips("Session", labels, "chip-label");
  if (hasAttributes) chips("Span", attributes, "chip-attribute");
  return part;
}

function message(msg) {
  const box = el("article", `message role-${msg.role.replace(/[^a-z_]/g, "")}`);
  const head = el("header", null, msg.role);
  if (msg.tool_call_id) head.append(el("span", "muted", ` (result of ${msg.tool_call_id})`));
  box.append(head);
  if (msg.text) box.append(marked("div", "text", msg.text));
  for (const call of msg.tool_calls || []) {
    const tool = el("div", "tool-call");
    tool.append(el("span", "tool-name", `calls ${call.name}`), marked("pre", null, call.arguments));
    box.append(tool);
  }
  return box;
}

function errorBox(error, exception) {
  const box = el("div", "error-box");
  box.setAttribute("role", "alert");
  box.append(el("strong", null, "Error: "), marked("span", null, typeof error === "string" ? error : ""));
  if (exception) box.append(json("Exception", exception, true));
  return box;
}

function usageFacts(usage, cost) {
  const u = usage || {};
  const tokens = (value) => (typeof value === "number" ? value.toLocaleString("en-US") : null);
  return facts([
    ["Input tokens", tokens(u.input_tokens)],
    ["Output tokens", tokens(u.output_tokens)],
    ["Total tokens", tokens(u.total_tokens)],
    ["Cached input tokens", tokens(u.cached_input_tokens)],
    ["Reasoning tokens", tokens(u.reasoning_tokens)],
    ["Estimated", u.estimated ? "yes" : null],
    ["Cost", cost && typeof cost.total === "number" ? `$${cost.total.toFixed(6)}` : null],
  ]);
}

// A value shown in red, as in the sessions list: false, or a number below 0.5.
function isLow(score) {
  return score.value === false || (typeof score.value === "number" && score.value < 0.5);
}

// An evaluator's comment is "<status>: <message>" (aiobs.evals); null for any other comment.
const VERDICT = /^(passed|failed|error|skipped)(?:: ?([\s\S]*))?$/;
function verdictOf(score) {
  const found = score.source === "eval" && typeof score.comment === "string" ? VERDICT.exec(score.comment) : null;
  return found ? { status: found[1], message: found[2] } : null;
}

// A score's comment; an evaluator's status is a coloured chip before its message, the ":" kept
// for screen readers and copying.
function scoreComment(score) {
  const comment = el("div", "score-comment");
  const verdict = verdictOf(score);
  if (!verdict) {
    comment.textContent = score.comment;
    return comment;
  }
  comment.append(el("span", `score-status status-${verdict.status}`, verdict.status));
  if (verdict.message !== undefined) comment.append(el("span", "verdict-colon", ":"));
  if (verdict.message) comment.append(` ${verdict.message}`);
  return comment;
}

// A node's evaluation scores: value, and who gave it (source, evaluator) and why (comment).
function scoresSection(scores) {
  if (!scores || !scores.length) return null;
  const part = section("Scores");
  part.classList.add("scores");
  const list = el("ul", "score-list");
  for (const score of scores) {
    const item = el("li", "score-item");
    const value = typeof score.value === "number" ? String(Number(score.value.toPrecision(4))) : String(score.value);
    item.append(el("span", isLow(score) ? "score score-low" : "score", `${score.name}: ${value}`));
    const by = score.source === "eval" ? `evaluator ${score.evaluator || "(unnamed)"}` : "program (observer.score)";
    item.append(el("span", "muted score-source", ` given by ${by}`));
    if (score.comment) item.append(scoreComment(score));
    list.append(item);
  }
  part.append(list);
  return part;
}

function showDetail(node) {
  shown = node;
  if (!node) {
    delete detail.dataset.shown;
    detail.replaceChildren();
    return;
  }
  const known = node.detail || details.get(node.id);
  if (known) {
    drawDetail(node, known);
    return;
  }
  detail.replaceChildren(el("h2", null, node.name), el("p", "muted loading", "Loading…"));
  delete detail.dataset.shown;
  detail.setAttribute("aria-busy", "true");
  const url = `/ui/sessions/${encodeURIComponent(data.session_id)}/nodes/${encodeURIComponent(node.id)}`;
  fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((answer) => {
      if (answer.status === 401) {
        window.location.assign("/ui/signin");
        throw new Error("signed out");
      }
      if (!answer.ok) throw new Error(`the server answered ${answer.status}`);
      return answer.json();
    })
    .then((found) => {
      details.set(node.id, found.detail);
      if (shown === node) drawDetail(node, found.detail);
    })
    .catch((error) => {
      if (shown !== node) return;
      detail.removeAttribute("aria-busy");
      detail.replaceChildren(el("h2", null, node.name));
      const box = el("p", "error", `This node's detail could not be loaded (${error.message}): reload the page to try again.`);
      box.setAttribute("role", "alert");
      detail.append(box);
    });
}

function drawDetail(node, d) {
  detail.removeAttribute("aria-busy");
  detail.dataset.shown = node.id;
  detail.replaceChildren();
  detail.append(el("h2", null, node.name));
  if (d.error || d.exception) detail.append(errorBox(d.error, d.exception));
  const scored = scoresSection(node.scores);
  if (scored) detail.append(scored);
  const cut = markerSection(d.markers, node.depth_truncated);
  if (cut) detail.append(cut);
  const labels = labelSection(data.labels, d.attributes);
  if (labels) detail.append(labels);
  if (node.kind === "llm") {
    detail.append(facts([
      ["Provider", d.provider], ["API", d.api], ["Model", d.response_model || d.request_model],
      ["Duration", duration(d.duration_ms)],
      ["Time to first token", d.stream && d.stream.ttft_ms != null ? duration(d.stream.ttft_ms) : null],
    ]));
    const usage = section("Usage");
    usage.append(usageFacts(d.usage, d.cost));
    detail.append(usage);
    const messages = section("Messages");
    messages.classList.add("messages");
    for (const msg of d.messages) messages.append(message(msg));
    if (!d.messages.length) messages.append(el("p", "muted", "No messages recorded."));
    detail.append(messages);
    const response = section("Response");
    response.classList.add("response");
    if (d.response) response.append(message(d.response));
    else response.append(el("p", "muted", "No response recorded."));
    detail.append(response);
    if (d.parameters && Object.keys(d.parameters).length) detail.append(json("Parameters", d.parameters, false));
    if (d.raw_response) detail.append(json("Response as recorded", d.raw_response, false));
  } else {
    const site = d.callsite ? `${d.callsite.file}:${d.callsite.line}` : null;
    detail.append(facts([
      ["Module", d.module], ["Callsite", site], ["Duration", duration(d.duration_ms)],
    ]));
    detail.append(json("Arguments", d.args, true));
    if (d.kwargs) detail.append(json("Keyword arguments", d.kwargs, true));
    detail.append(json("Result", d.result, true));
  }
}

// Up to EXPAND_ALL nodes, every top-level node starts expanded; in a larger session only the
// first one does, so that the page is ready at once and the rest opens on demand.
const EXPAND_ALL = 2000;
const roots = document.createDocumentFragment();
for (const node of data.nodes) {
  if (node.parent === null || !nodes.has(node.parent)) roots.append(buildItem(node, 0));
}
tree.append(roots);
for (const li of tree.children) {
  setExpanded(li, true);
  if (data.nodes.length > EXPAND_ALL) break;
}
if (tree.firstElementChild) {
  const first = tree.firstElementChild;
  first.tabIndex = 0;
  first.setAttribute("aria-selected", "true");
  showDetail(nodes.get(first.dataset.id));
} else {
  tree.append(el("li", "muted", "This session has no events."));
}
