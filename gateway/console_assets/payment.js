// Look up a payment by any id: the checkout, each order's status and history, the PSP's
// events, the refunds, the ledger entries the orders caused and the sellers' wallets.
import { get, seg } from "./api.js";
import { badge, busy, el, facts, problem, short, show, table, when } from "./dom.js";
import { subtract } from "./money.js";

const ORDER = "PAYMENT_ORDER_STATUS_";

// The creation has no status before it (UNSPECIFIED on the wire).
function fromStatus(change) {
  const status = short(change.from_status, ORDER);
  return !status || status === "UNSPECIFIED" ? "—" : status;
}

function orderCard(order) {
  const status = short(order.status, ORDER);
  const net = subtract(order.amount, order.fee_amount || "0");
  return el(
    "article",
    { class: "card order", "data-order": order.payment_order_id },
    el("h4", {}, `Order ${order.payment_order_id} `, el("span", { class: "order-status" }, badge(status))),
    facts([
      ["Seller", order.seller_account],
      ["Amount", `${order.amount} ${order.currency}`],
      ["Platform fee", `${order.fee_amount || "0"} ${order.currency}`],
      // What a SUCCESS order does to the seller's wallet (pending until released).
      ["Wallet effect", status === "SUCCESS" ? `+${net} ${order.currency} to pending` : "none"],
      ["Wallet updated", order.wallet_updated ? "yes" : "no"],
      ["Ledger updated", order.ledger_updated ? "yes" : "no"],
      ["PSP reference", order.psp_reference],
      ["Failure", order.failure_reason],
      ["Attempts", order.attempts],
      ["Last error", order.last_error],
      ["Created", when(order.created_at)],
      ["Updated", when(order.updated_at)],
    ]),
    el("h5", {}, "History"),
    table(
      [
        ["From", (h) => fromStatus(h)],
        ["To", (h) => short(h.to_status, ORDER)],
        ["Reason", (h) => h.reason || ""],
        ["When", (h) => when(h.occurred_at)],
      ],
      order.history || [],
      { class: "history" },
    ),
  );
}

async function ledgerEntries(orders) {
  const ids = new Set(orders.map((o) => o.payment_order_id));
  const sellers = [...new Set(orders.map((o) => o.seller_account))];
  const entries = [];
  for (const seller of sellers) {
    const page = await get(`/v1/ledger/accounts/${seg(`seller_payable:${seller}`)}/entries`, {
      page_size: 500,
    });
    entries.push(...(page.entries || []).filter((e) => ids.has(e.payment_order_id)));
  }
  return table(
    [
      ["Entry", (e) => e.entry_id],
      ["Transaction", (e) => e.transaction_id],
      ["Account", (e) => e.account],
      ["Side", (e) => short(e.side, "SIDE_")],
      ["Amount", (e) => `${e.amount} ${e.currency}`],
      ["Order", (e) => e.payment_order_id],
      ["What", (e) => e.description],
      ["Posted", (e) => when(e.posted_at)],
    ],
    entries,
    { class: "ledger-entries" },
  );
}

async function wallets(orders) {
  const sellers = [...new Set(orders.map((o) => o.seller_account))];
  const rows = [];
  for (const seller of sellers) {
    const wallet = await get(`/v1/wallets/${seg(seller)}`);
    for (const b of wallet.balances || []) rows.push({ seller, ...b });
  }
  return table(
    [
      ["Seller", (b) => b.seller],
      ["Currency", (b) => b.currency],
      ["Pending", (b) => b.pending],
      ["Available", (b) => b.available],
      ["Reserved", (b) => b.reserved],
      ["Debt", (b) => b.debt || "0"],
    ],
    rows,
    { class: "wallets" },
  );
}

// A part of the page that fails on its own (a key may read payments but not the ledger).
async function part(title, load) {
  const body = el("div", {}, el("p", { class: "busy" }, "Loading…"));
  const section = el("section", { class: "part" }, el("h3", {}, title), body);
  load()
    .then((node) => show(body, node))
    .catch((err) => show(body, problem(err.explain ? err.explain() : String(err))));
  return section;
}

export async function lookUp(out, queryText) {
  busy(out);
  let found;
  try {
    found = await get("/v1/ops/payments:lookup", { query: queryText });
  } catch (err) {
    show(out, problem(err.status === 404 ? `Nothing matches "${queryText}".` : err.explain()));
    return;
  }
  const checkout = found.checkout || {};
  const orders = checkout.payment_orders || [];
  show(
    out,
    el(
      "section",
      { class: "part" },
      el("h3", {}, `Checkout ${checkout.checkout_id}`),
      facts([
        ["Matched by", found.matched_by],
        ["Buyer", checkout.buyer_id],
        ["Flow", short(checkout.flow, "PAYMENT_FLOW_")],
        ["Done", checkout.is_payment_done ? "yes" : "no"],
        ["Created", when(checkout.created_at)],
      ]),
      orders.map(orderCard),
    ),
    el(
      "section",
      { class: "part" },
      el("h3", {}, "PSP events"),
      table(
        [
          ["Event", (e) => e.event_id],
          ["Type", (e) => e.type],
          ["Order", (e) => e.payment_order_id],
          ["Result", (e) => e.result],
          ["Received", (e) => when(e.received_at)],
        ],
        found.psp_events || [],
        { class: "psp-events" },
      ),
    ),
    el(
      "section",
      { class: "part" },
      el("h3", {}, "Refunds"),
      table(
        [
          ["Refund", (r) => r.refund_id],
          ["Order", (r) => r.payment_order_id],
          ["Amount", (r) => `${r.amount} ${r.currency}`],
          ["Fee back", (r) => r.fee_refunded],
          ["Status", (r) => badge(short(r.status, "REFUND_STATUS_"))],
          ["PSP", (r) => r.psp_reference || ""],
          ["Created", (r) => when(r.created_at)],
        ],
        found.refunds || [],
        { class: "refunds" },
      ),
    ),
    await part("Ledger entries (seller payable)", () => ledgerEntries(orders)),
    await part("Seller wallets now", () => wallets(orders)),
  );
}
