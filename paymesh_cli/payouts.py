"""`paymesh payouts run [--date D] [--json] [--page-size N]`: a scheduled payout run through the
gateway (POST /v1/payout-runs, one page of sellers per request, progress on stderr after each):
every seller whose schedule is due on the day and whose available balance reaches its minimum
is paid, once per seller, currency and period, however often (or from however many processes)
the run is made. `--json` prints only the run's result."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import click

from paymesh_cli.target import target_options


@click.group("payouts")
def payouts_group() -> None:
    """Pay-outs to sellers."""


@payouts_group.command("run")
@click.option(
    "--date", "day", default=None, help="The run's day, YYYY-MM-DD (default: today, UTC)."
)
@click.option("--json", "as_json", is_flag=True, help="Print only the run's result, as JSON.")
@click.option(
    "--page-size",
    default=50,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Sellers per request: progress is shown after each.",
)
@target_options
def run_command(
    day: str | None,
    as_json: bool,
    page_size: int,
    data_dir,  # type: ignore[no-untyped-def]
    url: str | None,
    api_key: str | None,
    database_url: str | None,
) -> None:
    """Pay every seller due on the day, page by page, with progress on stderr; exit 1 when the
    gateway refuses the run."""
    import httpx

    from paymesh_cli.target import resolve_target

    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter(
                f"{day!r} is not a YYYY-MM-DD date", param_hint="--date"
            ) from None
    # Fixed before the first page, so that a run across midnight stays one day's.
    day = day or datetime.now(UTC).date().isoformat()
    target = resolve_target(data_dir, url, api_key, database_url)

    def say(line: str) -> None:
        if not as_json:
            click.echo(line, err=True)

    say(f"paymesh payouts run: {day} on {target.gateway_url} ...")
    payouts: list[dict] = []  # type: ignore[type-arg]
    skipped: list[str] = []
    token = ""
    with httpx.Client(
        base_url=target.gateway_url,
        headers={"Authorization": f"Bearer {target.api_key}"},
        timeout=600,
    ) as client:
        while True:
            body: dict[str, object] = {"date": day, "page_size": page_size}
            if token:
                body["page_token"] = token
            reply = client.post(
                "/v1/payout-runs", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
            )
            if reply.status_code != 200:
                click.echo(reply.text, err=True)
                raise SystemExit(1)
            page = reply.json()
            for payout in page.get("payouts", []):
                payouts.append(payout)
                status = payout["status"].removeprefix("PAYOUT_STATUS_")
                say(
                    f"  {payout['seller_account']} {payout.get('amount', '?')} "
                    f"{payout['currency']}: {status} ({payout['payout_id']})"
                )
            skipped += page.get("skipped", [])
            done, total = page.get("sellers_done", 0), page.get("sellers_on_schedule", 0)
            say(f"[{done}/{total} sellers] {len(payouts)} payouts, {len(skipped)} skipped")
            token = page.get("next_page_token", "")
            if not token:
                break
    if as_json:
        result = {"date": day, "payouts": payouts, "skipped": skipped}
        click.echo(json.dumps(result, indent=2))
        return
    for line in skipped:
        say(f"  skipped {line}")
    click.echo(f"paymesh payouts run {day}: {len(payouts)} payouts, {len(skipped)} skipped")
