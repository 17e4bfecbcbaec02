// The alerts of every service, open ones first, each open one with an acknowledge.
import { get, post } from "./api.js";
import { badge, busy, el, problem, short, show, table, when } from "./dom.js";

export async function showAlerts(out, includeResolved) {
  busy(out);
  let alerts;
  try {
    alerts = (await get("/v1/ops/alerts", { include_resolved: includeResolved, limit: 200 })).alerts || [];
  } catch (err) {
    show(out, problem(err.explain()));
    return;
  }
  const notice = el("p", { class: "notice", role: "status" });
  const acknowledge = async (alert, button) => {
    button.disabled = true;
    try {
      await post(`/v1/ops/alerts/${encodeURIComponent(alert.alert_id)}:acknowledge`);
      await showAlerts(out, includeResolved);
      out.prepend(el("p", { class: "notice", role: "status" }, `Alert ${alert.kind} acknowledged.`));
    } catch (err) {
      button.disabled = false;
      notice.textContent = `Acknowledge refused: ${err.explain()}`;
    }
  };
  show(
    out,
    notice,
    table(
      [
        ["State", (a) => badge(short(a.state, "ALERT_STATE_"))],
        ["Kind", (a) => a.kind],
        ["Subject", (a) => a.subject],
        ["Service", (a) => a.service],
        ["Detail", (a) => a.detail],
        ["Count", (a) => a.count],
        ["Last seen", (a) => when(a.last_seen)],
        [
          "",
          (a) =>
            short(a.state, "ALERT_STATE_") === "OPEN"
              ? el(
                  "button",
                  { type: "button", class: "acknowledge", "data-alert": a.alert_id, onclick: (e) => acknowledge(a, e.currentTarget) },
                  "Acknowledge",
                )
              : "",
        ],
      ],
      alerts,
      { class: "alerts" },
    ),
  );
}
