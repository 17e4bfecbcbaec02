// A seller's payout settings, wallet balances and payouts.
import { get, seg } from "./api.js";
import { badge, busy, el, facts, problem, short, show, table, when } from "./dom.js";

async function part(title, load) {
  try {
    return el("section", { class: "part" }, el("h3", {}, title), await load());
  } catch (err) {
    const text = err.status === 404 ? "Not known." : err.explain ? err.explain() : String(err);
    return el("section", { class: "part" }, el("h3", {}, title), problem(text));
  }
}

export async function showSeller(out, seller) {
  busy(out);
  const settings = await part("Payout settings", async () => {
    const found = (await get(`/v1/sellers/${seg(seller)}`)).seller || {};
    return facts([
      ["Seller", found.seller_account],
      ["Destination", found.destination],
      ["Schedule", short(found.schedule, "PAYOUT_SCHEDULE_")],
      ["Minimums", (found.minimums || []).map((m) => `${m.amount} ${m.currency}`).join(", ")],
    ]);
  });
  const balances = await part("Wallet balances", async () => {
    const wallet = await get(`/v1/wallets/${seg(seller)}`);
    return table(
      [
        ["Currency", (b) => b.currency],
        ["Pending", (b) => b.pending],
        ["Available", (b) => b.available],
        ["Reserved", (b) => b.reserved],
        ["Debt", (b) => b.debt || "0"],
        ["Total", (b) => b.total],
      ],
      wallet.balances || [],
      { class: "wallets" },
    );
  });
  const payouts = await part("Payouts", async () => {
    const page = await get(`/v1/sellers/${seg(seller)}/payouts`, { page_size: 100 });
    return table(
      [
        ["Payout", (p) => p.payout_id],
        ["Amount", (p) => `${p.amount} ${p.currency}`],
        ["Status", (p) => badge(short(p.status, "PAYOUT_STATUS_"))],
        ["Provider ref", (p) => p.provider_reference || ""],
        ["Failure", (p) => p.failure_reason || ""],
        ["Created", (p) => when(p.created_at)],
      ],
      page.payouts || [],
      { class: "payouts" },
    );
  });
  show(out, settings, balances, payouts);
}
