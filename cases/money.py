"""Money as exact Decimal yuan outside, integer fen (分) inside the database."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from cases.errors import InvalidWorkflowInput

FEN = Decimal("0.01")
MAX_YUAN = Decimal("100000000")  # 1e8 yuan: anything above is a typo
_SANE_PERCENT = Decimal(1000)  # larger shares are refused as out of range without being rounded


def to_fen(value: Decimal | int | str, what: str) -> int:
    """Yuan (Decimal, int or string like '1234.50') to fen; at most 2 decimals, not negative."""
    if isinstance(value, float):
        raise InvalidWorkflowInput(f"{what}: give money as Decimal or string, not float ({value!r})")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InvalidWorkflowInput(f"{what}: {value!r} is not an amount of money") from None
    if not amount.is_finite():
        raise InvalidWorkflowInput(f"{what}: {value!r} is not an amount of money")
    if amount < 0:
        raise InvalidWorkflowInput(f"{what}: {amount} is negative")
    if amount > MAX_YUAN:
        raise InvalidWorkflowInput(f"{what}: {amount} is more than {MAX_YUAN} yuan")
    if amount != amount.quantize(FEN):
        raise InvalidWorkflowInput(f"{what}: {amount} has more than 2 decimals")
    return int(amount.quantize(FEN) * 100)


def yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else (Decimal(fen) / 100).quantize(FEN)


def yuan0(fen: int | None) -> Decimal:
    return (Decimal(fen or 0) / 100).quantize(FEN)


def percent_to_bp(value: Decimal | int | str, what: str) -> int:
    """A share in percent (up to 2 decimals, e.g. '33.33') to basis points."""
    try:
        pct = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidWorkflowInput(f"{what}: {value!r} is not a percentage") from None
    # quantizing a huge number raises InvalidOperation: only numbers of a sane size are rounded here
    if not pct.is_finite() or (abs(pct) <= _SANE_PERCENT and pct != pct.quantize(FEN)):
        raise InvalidWorkflowInput(f"{what}: {value!r} is not a percentage with at most 2 decimals")
    if not Decimal(0) < pct <= Decimal(100):
        raise InvalidWorkflowInput(f"{what}: {pct} % is not between 0 (exclusive) and 100")
    return int(pct * 100)


def bp_to_percent(bp: int) -> Decimal:
    return (Decimal(bp) / 100).quantize(FEN)


def split_by_shares(total_fen: int, shares_bp: list[int]) -> list[int]:
    """Split `total_fen` by basis-point shares (summing to 10000) so the parts add up exactly:
    each part is rounded down, then the leftover fen go to the largest remainders (ties: first)."""
    raw = [total_fen * bp for bp in shares_bp]
    parts = [r // 10000 for r in raw]
    leftover = total_fen - sum(parts)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] % 10000), i))
    for i in order[:leftover]:
        parts[i] += 1
    return parts


def round_yuan(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)
