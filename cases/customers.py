"""Customers and their phones: creating one, and finding the customer a phone number belongs to
(`cases.phones.phones_match`: the closest match wins; a tie links nobody)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.errors import InvalidCaseInput
from cases.inputs import clean_text, parse_enum
from cases.models.base import utcnow
from cases.models.customers import Customer, CustomerPhone
from cases.phones import normalize_phone, phone_tail, phones_match
from cases.views import CustomerView
from cases.vocab import CustomerKind

log = logging.getLogger(__name__)


def customer_view(c: Customer) -> CustomerView:
    return CustomerView(
        id=c.id,
        name=c.name,
        kind=CustomerKind(c.kind),
        phones=tuple(p.phone for p in c.phones),
        note=c.note,
    )



def create_customer(s: Session, name: str, kind: str, phones: Sequence[str] = (), *, note: str = "") -> CustomerView:
    """A new customer with its phones (normalised; each phone may belong to one customer only)."""
    clean_name = clean_text(name, "customer name", max_len=100, required=True)
    kind_value = parse_enum(CustomerKind, kind, "customer kind")
    normalised: list[str] = []
    for raw in phones:
        norm = normalize_phone(raw)
        if not norm or len(norm) > 32:
            raise InvalidCaseInput(f"phone {raw!r} is not a phone number")
        if norm not in normalised:
            normalised.append(norm)
    if normalised:
        taken = s.scalars(select(CustomerPhone.phone).where(CustomerPhone.phone.in_(normalised))).all()
        if taken:
            raise InvalidCaseInput(f"phone {taken[0]} already belongs to another customer")
    customer = Customer(
        name=clean_name,
        kind=kind_value.value,
        note=note,
        phones=[CustomerPhone(phone=p) for p in normalised],
        created_at=utcnow(),
    )
    s.add(customer)
    s.flush()
    return customer_view(customer)


def match_customer(s: Session, norm: str) -> Customer | None:
    if not norm:
        return None
    exact = s.scalars(select(CustomerPhone).where(CustomerPhone.phone == norm)).one_or_none()
    if exact is not None:
        return exact.customer
    key = phone_tail(norm)
    if key is None:
        return None
    candidates = s.scalars(select(CustomerPhone).where(CustomerPhone.tail == key)).all()
    scored = [(len(p.phone.lstrip("0")), p) for p in candidates if phones_match(p.phone, norm)]
    if not scored:
        return None
    # the closest match wins: the longest shared tail, i.e. the most digits compared
    best = max(min(score, len(norm.lstrip("0"))) for score, _ in scored)
    top = [p for score, p in scored if min(score, len(norm.lstrip("0"))) == best]
    if len({p.customer_id for p in top}) > 1:
        log.warning("phone %s matches several customers, linking none", norm)
        return None
    return top[0].customer


def find_customer_by_phone(s: Session, phone: str) -> CustomerView | None:
    customer = match_customer(s, normalize_phone(phone))
    return customer_view(customer) if customer is not None else None

