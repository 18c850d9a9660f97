"""The identity events of a simulated customer's first visit: traits (which register
their devices), then push and email consent."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Literal

from stream_app.events.identity import Consent, Traits
from stream_app.events.registry import Event
from stream_app.simulation.ids import event_id
from stream_app.simulation.population import Customer

IdentityStep = Literal["traits", "consent_push", "consent_email"]
#: What a customer sends before their first session, in order.
FIRST_SIGHT: tuple[IdentityStep, ...] = ("traits", "consent_push", "consent_email")


def identity_event(
    rng: random.Random, step: IdentityStep, customer: Customer, now: datetime
) -> Event:
    if step == "traits":
        return Traits(
            type="traits",
            event_id=event_id(rng),
            event_time=now,
            customer_id=customer.customer_id,
            timezone=customer.timezone,
            locale=customer.locale,
            birth_year=customer.birth_year,
            gender=customer.gender,
            email=customer.email,
            phone=customer.phone,
            device_ids=list(customer.device_ids),
        )
    push = step == "consent_push"
    return Consent(
        type="consent",
        event_id=event_id(rng),
        event_time=now,
        customer_id=customer.customer_id,
        channel="push" if push else "email",
        opted_in=customer.push_opt_in if push else customer.email_opt_in,
        source="app_onboarding" if push else "signup_form",
    )
