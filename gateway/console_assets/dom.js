// Building the page from data without ever parsing it as HTML: every text goes in through
// text nodes (createTextNode), never as markup.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A table: `columns` are [heading, row => cell] pairs; `rows` the data.
export function table(columns, rows, attrs) {
  if (!rows || rows.length === 0) return el("p", { class: "empty" }, "None.");
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      attrs || {},
      el("thead", {}, el("tr", {}, columns.map(([heading]) => el("th", { scope: "col" }, heading)))),
      el(
        "tbody",
        {},
        rows.map((row) =>
          el("tr", {}, columns.map(([heading, cell]) => el("td", { "data-label": heading }, cell(row)))),
        ),
      ),
    ),
  );
}

// Label/value pairs as a definition list.
export function facts(pairs) {
  return el(
    "dl",
    { class: "facts" },
    pairs.filter(([, value]) => value !== undefined && value !== "").flatMap(([name, value]) => [
      el("dt", {}, name),
      el("dd", {}, value),
    ]),
  );
}

export function show(container, ...nodes) {
  container.replaceChildren(...nodes.flat().filter(Boolean));
}

export function problem(text) {
  return el("p", { class: "problem", role: "alert" }, text);
}

export function busy(container) {
  show(container, el("p", { class: "busy" }, "Loading…"));
}

// "PAYMENT_ORDER_STATUS_SUCCESS" -> "SUCCESS".
export function short(enumName, prefix) {
  const text = String(enumName || "");
  return text.startsWith(prefix) ? text.slice(prefix.length) : text;
}

export function badge(text) {
  return el("span", { class: `badge badge-${String(text).toLowerCase()}` }, text);
}

// An RFC 3339 timestamp, as the operator's clock shows it ("" when unset).
export function when(stamp) {
  if (!stamp) return "";
  const at = new Date(stamp);
  return Number.isNaN(at.getTime()) ? String(stamp) : at.toLocaleString();
}
