// The reconciliation finance queue (recon_svc): mismatches by status, class and type, each
// open one with a resolve form (refund, accept, write off, or a note).
import { get, post, seg } from "./api.js";
import { badge, busy, el, facts, problem, short, show, table, when } from "./dom.js";

const ACTIONS = [
  ["accept", "Accept the PSP's figure"],
  ["refund", "Refund"],
  ["write_off", "Write off"],
  ["note", "Note only"],
];

function resolveForm(mismatch, reload) {
  const action = el("select", { name: "action", "aria-label": "Action" }, ACTIONS.map(([v, t]) => el("option", { value: v }, t)));
  const note = el("input", { name: "note", maxlength: "2000", placeholder: "why", "aria-label": "Note" });
  const said = el("span", { class: "said", role: "status" });
  const form = el(
    "form",
    { class: "resolve", "data-mismatch": mismatch.mismatch_id },
    action,
    note,
    el("button", { type: "submit" }, "Resolve"),
    said,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await post(`/v1/recon/mismatches/${seg(mismatch.mismatch_id)}/resolve`, {
        action: `RESOLUTION_ACTION_${action.value.toUpperCase()}`,
        note: note.value,
      });
      await reload(`Mismatch ${mismatch.mismatch_id}: ${action.value} recorded.`);
    } catch (err) {
      button.disabled = false;
      said.textContent = err.explain ? err.explain() : String(err);
    }
  });
  return form;
}

function evidence(mismatch) {
  return facts(Object.entries(mismatch.evidence || {}).sort());
}

export async function showMismatches(out, filters, said) {
  busy(out);
  let page;
  try {
    page = await get("/v1/recon/mismatches", {
      status: filters.status,
      mismatch_class: filters.mismatchClass,
      type: filters.type,
      page_size: 200,
    });
  } catch (err) {
    if (err.status === 404) {
      // The gateway's "no such route": this release has no reconciliation API.
      show(out, problem("The reconciliation API (/v1/recon/mismatches) is not deployed on this gateway."));
    } else {
      show(out, problem(err.explain()));
    }
    return;
  }
  const reload = async (text) => {
    await showMismatches(out, filters);
    out.prepend(el("p", { class: "notice", role: "status" }, text));
  };
  const mismatches = page.mismatches || [];
  show(
    out,
    said ? el("p", { class: "notice", role: "status" }, said) : null,
    el("p", {}, `${mismatches.length} mismatch(es).`),
    table(
      [
        ["Id", (m) => m.mismatch_id],
        ["Type", (m) => (m.detail ? `${m.type} (${m.detail})` : m.type)],
        ["Class", (m) => short(m.mismatch_class, "MISMATCH_CLASS_")],
        ["Status", (m) => badge(short(m.status, "MISMATCH_STATUS_"))],
        ["Period", (m) => m.period],
        ["Suggested", (m) => m.suggested_action || ""],
        ["Evidence", evidence],
        ["Found", (m) => when(m.created_at)],
        ["", (m) => (short(m.status, "MISMATCH_STATUS_") === "OPEN" ? resolveForm(m, reload) : "")],
      ],
      mismatches,
      { class: "mismatches" },
    ),
  );
}
