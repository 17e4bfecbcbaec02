"""The wallet's domain: what a seller is owed, per currency, and the rule that credits it.
No I/O here."""

from wallet_svc.domain.balance import Balance
from wallet_svc.domain.credit import Credit, InvalidCredit
from wallet_svc.domain.events import WalletCredited

__all__ = ["Balance", "Credit", "InvalidCredit", "WalletCredited"]
