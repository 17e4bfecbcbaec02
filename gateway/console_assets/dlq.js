// The dead letters of every consumer, each with a replay (sent back to its consumer).
import { get, post } from "./api.js";
import { busy, el, problem, show, table, when } from "./dom.js";

export async function showDeadLetters(out) {
  busy(out);
  let letters;
  try {
    letters = (await get("/v1/ops/dlq", { limit: 200 })).dead_letters || [];
  } catch (err) {
    show(out, problem(err.explain()));
    return;
  }
  const notice = el("p", { class: "notice", role: "status" });
  const replay = async (letter, button) => {
    button.disabled = true;
    try {
      await post(`/v1/ops/dlq/${letter.seq}:replay`);
      notice.textContent = `Dead letter ${letter.seq} replayed to ${letter.consumer}.`;
      await showDeadLetters(out);
      out.prepend(notice);
    } catch (err) {
      button.disabled = false;
      notice.textContent = `Replay of ${letter.seq} refused: ${err.explain()}`;
    }
  };
  show(
    out,
    notice,
    el("p", {}, `${letters.length} dead letter(s).`),
    table(
      [
        ["Seq", (d) => d.seq],
        ["Consumer", (d) => d.consumer],
        ["Event", (d) => d.event_type || d.subject],
        ["Aggregate", (d) => d.aggregate_id || ""],
        ["Reason", (d) => d.reason],
        ["Last error", (d) => d.last_error || ""],
        ["Dead since", (d) => when(d.dead_at)],
        [
          "",
          (d) =>
            el(
              "button",
              { type: "button", class: "replay", "data-seq": d.seq, onclick: (e) => replay(d, e.currentTarget) },
              "Replay",
            ),
        ],
      ],
      letters,
      { class: "dead-letters" },
    ),
  );
}
