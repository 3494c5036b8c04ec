// The compare page: fold and unfold a node's subtree, and show only the rows that differ.
// Rows are rendered by the server; this only hides and shows them.

const table = document.getElementById("compare");
const rows = [...table.tBodies[0].rows];
const byId = new Map(rows.map((row) => [row.id, row]));
const onlyDifferences = document.getElementById("only-differences");

function folded(row) {
  const button = row.querySelector("button.fold");
  return button !== null && button.getAttribute("aria-expanded") === "false";
}

function hiddenByAncestor(row) {
  for (let parent = byId.get(row.dataset.parent); parent; parent = byId.get(parent.dataset.parent)) {
    if (folded(parent)) return true;
  }
  return false;
}

function refresh() {
  for (const row of rows) {
    const filtered = onlyDifferences.checked && row.dataset.differs !== "1";
    row.hidden = filtered || hiddenByAncestor(row);
  }
}

function setFold(button, open) {
  button.setAttribute("aria-expanded", String(open));
  button.textContent = open ? "▾" : "▸";
}

table.addEventListener("click", (event) => {
  const button = event.target.closest("button.fold");
  if (!button) return;
  setFold(button, button.getAttribute("aria-expanded") === "false");
  refresh();
});

document.getElementById("expand-all").addEventListener("click", () => {
  for (const button of table.querySelectorAll("button.fold")) setFold(button, true);
  refresh();
});

document.getElementById("collapse-all").addEventListener("click", () => {
  for (const button of table.querySelectorAll("button.fold")) setFold(button, false);
  refresh();
});

onlyDifferences.addEventListener("change", refresh);
refresh();
