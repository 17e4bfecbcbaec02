// The operator console's entry point: the key form, the tabs, and each screen's form.
import { ApiError, apiKey, forgetApiKey, get, setApiKey } from "./api.js";
import { showAlerts } from "./alerts.js";
import { showChart } from "./chart.js";
import { showDeadLetters } from "./dlq.js";
import { lookUp } from "./payment.js";
import { showMismatches } from "./recon.js";
import { showSeller } from "./seller.js";

const $ = (id) => document.getElementById(id);

// Loaded when their tab opens (the others wait for their form).
const ON_OPEN = {
  dlq: () => showDeadLetters($("dlq-out")),
  alerts: () => showAlerts($("alerts-out"), $("alerts-resolved").checked),
  recon: () => showMismatches($("recon-out"), reconFilters()),
  chart: () => showChart($("chart-out"), $("chart-minutes").value),
};

function reconFilters() {
  return {
    status: $("recon-status").value,
    mismatchClass: $("recon-class").value,
    type: $("recon-type").value.trim(),
  };
}

function open(screen) {
  for (const tab of document.querySelectorAll("#tabs button")) {
    tab.setAttribute("aria-selected", String(tab.dataset.screen === screen));
  }
  for (const section of document.querySelectorAll("main .screen")) {
    section.hidden = section.id !== `screen-${screen}`;
  }
  if (apiKey() && ON_OPEN[screen]) ON_OPEN[screen]();
}

// Whether the key holds `ops`, asked of the API itself (the console knows no scopes).
async function checkKey() {
  const status = $("key-status");
  status.className = "notice";
  if (!apiKey()) {
    status.textContent = "Enter an API key holding the ops scope. It stays in this tab only (sessionStorage) and goes to the API as a bearer token.";
    document.body.dataset.key = "none";
    return;
  }
  try {
    await get("/v1/ops/alerts", { limit: 1 });
    status.textContent = "Key accepted: it holds the ops scope.";
    document.body.dataset.key = "ops";
  } catch (err) {
    status.className = "notice problem";
    document.body.dataset.key = "refused";
    status.textContent =
      err instanceof ApiError && err.reason === "SCOPE_MISSING"
        ? "This API key lacks the ops scope: the console's screens need a key with ops."
        : err instanceof ApiError
          ? err.explain()
          : `The API did not answer: ${err}`;
  }
}

function onSubmit(id, handler) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    handler();
  });
}

function start() {
  onSubmit("key-form", async () => {
    setApiKey($("api-key").value.trim());
    $("api-key").value = "";
    await checkKey();
    const current = document.querySelector('#tabs button[aria-selected="true"]');
    if (current) open(current.dataset.screen);
  });
  $("forget-key").addEventListener("click", () => {
    forgetApiKey();
    for (const out of document.querySelectorAll(".out")) out.replaceChildren();
    checkKey();
  });
  for (const tab of document.querySelectorAll("#tabs button")) {
    tab.addEventListener("click", () => open(tab.dataset.screen));
  }
  onSubmit("payment-form", () => lookUp($("payment-out"), $("payment-query").value.trim()));
  onSubmit("seller-form", () => showSeller($("seller-out"), $("seller-account").value.trim()));
  onSubmit("recon-form", ON_OPEN.recon);
  onSubmit("chart-form", ON_OPEN.chart);
  $("dlq-refresh").addEventListener("click", ON_OPEN.dlq);
  $("alerts-refresh").addEventListener("click", ON_OPEN.alerts);
  $("alerts-resolved").addEventListener("change", ON_OPEN.alerts);
  checkKey();
}

start();
