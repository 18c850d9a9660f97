"""What simulated customers write, drawn from a polarity the simulation knows (the truth).

As messy as what real customers write: clauses about delivery, refunds, size,
quality and support, negated praise and complaint ("not bad at all", "wasn't
great"), mixed feelings whose last clause carries the verdict ("love the shoes
but the delivery was late"), typos, lower case and SHOUTING, slang and emoji,
short and long texts, a little sarcasm (praise words, negative truth), and
personal data (emails, phones, order numbers, handles) for the scrubber.
Ratings follow the truth with noise: some neutral 3s, a few 5-star rants.
Deterministic for a given ``rng``.
"""

from __future__ import annotations

import random

#: Share of negative texts written as sarcasm (praise words, complaint meant).
SARCASM = 0.06
#: Share of rated texts whose stars contradict the text (a 5-star rant, a 1-star rave).
CONTRARY = 0.03

_TOPICS = ("delivery", "refund", "size", "quality", "support", "item")
_THINGS = ("shoes", "jacket", "dress", "jeans", "bag", "sneakers", "shirt", "coat", "order")
_GOOD = {
    "delivery": ("delivery was super fast", "arrived a day early", "shipping was quick"),
    "refund": ("refund came back in two days", "returns were easy", "got my money back fast"),
    "size": ("fits perfectly", "true to size", "the size was spot on"),
    "quality": ("great quality", "the {thing} feel really solid", "excellent stitching"),
    "support": ("support was really helpful", "the agent sorted it out", "lovely service"),
    "item": ("love the {thing}", "the {thing} look amazing", "exactly as pictured"),
}
_BAD = {
    "delivery": ("delivery was late again", "still waiting for my parcel", "arrived damaged"),
    "refund": ("refund never arrived", "they refused my return", "still no refund"),
    "size": ("way too small", "the size is all wrong", "runs two sizes big"),
    "quality": ("cheap material", "the {thing} fell apart", "poor quality stitching"),
    "support": ("support ignored me", "the agent was rude", "nobody answers the chat"),
    "item": ("hate the {thing}", "the {thing} look nothing like the photos", "arrived broken"),
}
#: Praise and complaint said with a negation (what a naive word count gets backwards).
_NEGATED_GOOD = ("not bad at all", "no complaints", "couldn't be happier", "can't fault it")
_NEGATED_BAD = ("wasn't great", "not worth the money", "not happy", "didn't fit", "won't buy again")
_SLANG_GOOD = ("lit", "fire", "10/10", "obsessed", "slaps", "chef's kiss")
_SLANG_BAD = ("meh", "trash", "total rip off", "smh", "big nope", "ugh")
_EMOJI_GOOD = ("😍", "🔥", "👍", "❤️", ":)", ":D", "<3")
_EMOJI_BAD = ("😡", "👎", "🙄", "😤", ":(", ":/")
_SARCASM = (
    "oh great, another late delivery",
    "wonderful, the refund still hasn't arrived",
    "just perfect, it broke on day one",
    "love waiting three weeks for a parcel",
    "thanks for nothing, amazing service",
)
_CLOSING_GOOD = ("will buy again", "highly recommend", "thanks!", "happy customer")
_CLOSING_BAD = ("never again", "want my money back", "very disappointed", "avoid")
_NEUTRAL = ("ordered last week", "bought it for my sister", "second order here", "it's ok i guess")


def truth(rng: random.Random) -> float:
    """A polarity as the world draws it: mostly clear, some lukewarm (-1 to +1).

    >>> -1.0 <= truth(random.Random(3)) <= 1.0
    True
    """
    kind = rng.random()
    if kind < 0.55:
        return rng.uniform(0.15, 1.0)
    if kind < 0.9:
        return rng.uniform(-1.0, -0.15)
    return rng.uniform(-0.4, 0.4)


def stars(rng: random.Random, polarity: float) -> int:
    """A rating that agrees with ``polarity`` up to noise, and now and then contradicts it.

    >>> [stars(random.Random(s), 0.9) for s in range(4)], stars(random.Random(1), -0.8)
    ([5, 5, 5, 4], 2)
    """
    if rng.random() < CONTRARY:
        return 5 if polarity < 0 else 1
    return max(1, min(5, round(3 + 2.2 * polarity + rng.gauss(0, 0.6))))


def remark(rng: random.Random, polarity: float, rated: bool) -> tuple[str, int | None]:
    """A text whose true sentiment is ``polarity`` (-1 to +1), and its star rating when
    ``rated`` (None otherwise).

    >>> remark(random.Random(2), -0.9, rated=True)
    ("Wasn't great, very disappointed 😡!", 1)
    >>> remark(random.Random(1), -0.9, rated=True)[1]  # now and then a 5-star rant
    5
    >>> remark(random.Random(7), 0.8, rated=False) == remark(random.Random(7), 0.8, rated=False)
    True
    """
    text = _mess(rng, _text(rng, polarity))
    return text, (stars(rng, polarity) if rated else None)


def _text(rng: random.Random, polarity: float) -> str:
    """The clauses: sarcasm, a mixed verdict, or one to three clauses of one sign."""
    good = polarity >= 0
    if not good and rng.random() < SARCASM:
        parts = [rng.choice(_SARCASM)]
    elif abs(polarity) < 0.45 and rng.random() < 0.7:
        parts = [_clause(rng, not good), "but", _clause(rng, good)]
    else:
        parts = [_clause(rng, good) for _ in range(1 + (rng.random() < abs(polarity)) * 2)]
        if rng.random() < 0.3:
            parts.insert(0, rng.choice(_NEUTRAL))
    if rng.random() < 0.35:
        parts.append(rng.choice(_CLOSING_GOOD if good else _CLOSING_BAD))
    if rng.random() < 0.25:
        parts.append(_personal(rng))
    text = ", ".join(parts).replace(", but,", " but")
    if rng.random() < 0.4:
        text += " " + rng.choice(_EMOJI_GOOD if good else _EMOJI_BAD)
    return text


def _clause(rng: random.Random, good: bool) -> str:
    kind = rng.random()
    if kind < 0.15:
        return rng.choice(_NEGATED_GOOD if good else _NEGATED_BAD)
    if kind < 0.25:
        return rng.choice(_SLANG_GOOD if good else _SLANG_BAD)
    phrase = rng.choice((_GOOD if good else _BAD)[rng.choice(_TOPICS)])
    return phrase.format(thing=rng.choice(_THINGS))


def _personal(rng: random.Random) -> str:
    """Personal data customers put in their texts (the scrubber's work)."""
    n = rng.randrange(10**7, 10**8)
    return rng.choice(
        (
            f"order #{n}",
            f"order number {n}",
            f"email me at {rng.choice(('jane.doe', 'mk77', 'b.smith'))}@example.com",
            f"call me on +44 7700 {n % 1000000:06d}",
            f"my card ending {n % 10000:04d}",
            f"@{rng.choice(('shopco', 'helpdesk', 'jo_b'))} sort it out",
        )
    )


def _mess(rng: random.Random, text: str) -> str:
    """Typos, lower case, SHOUTING and exclamation marks."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 3 and word.isalpha() and rng.random() < 0.04:
            j = rng.randrange(1, len(word) - 1)
            words[i] = (
                word[:j] + word[j + 1 :] if rng.random() < 0.5 else word[:j] + word[j] + word[j:]
            )
    text = " ".join(words)
    style = rng.random()
    if style < 0.08:
        text = text.upper() + "!!!"
    elif style < 0.5:
        text = text[0].upper() + text[1:] + rng.choice((".", "!", ""))
    return text
