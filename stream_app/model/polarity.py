"""A remark's polarity as the pass gives it to the fold, and what a rated one teaches (pure).

Stars say what the customer meant better than any text model, so a rated review's
polarity is its stars' (1 -> -1, 3 -> 0, 5 -> +1), blended with the text's when the
model can read it (``text_weight``). An unrated comment has only its text: the model's
polarity. The model reads English (``model.sentiment.LANGUAGE``): an unrated text in
another language gets no polarity (the pass counts it; the profile is left unchanged).
"""

from __future__ import annotations

from stream_app.events.reviews import Remark, Review
from stream_app.model.sentiment import LANGUAGE, SentimentModel, rating_label, tokens


def stars_polarity(rating: int) -> float:
    """Stars 1..5 as a polarity -1..1.

    >>> [stars_polarity(s) for s in (1, 3, 5)]
    [-1.0, 0.0, 1.0]
    """
    return (rating - 3) / 2


def remark_polarity(remark: Remark, model: SentimentModel, text_weight: float) -> float | None:
    """The polarity of ``remark`` (-1..1); None when nothing can say it (no rating, and a
    language the model does not read).

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> r = Review(type="review", event_id="e", customer_id="c", event_time=at,
    ...            text="terrible, late", rating=1)
    >>> remark_polarity(r, SentimentModel(), 0.0)  # the stars alone
    -1.0
    >>> remark_polarity(r.model_copy(update={"rating": None, "language": "de"}),
    ...                 SentimentModel(), 0.25) is None
    True
    """
    rating = remark.rating if isinstance(remark, Review) else None
    english = remark.language == LANGUAGE
    if rating is None:
        return model.polarity(tokens(remark.text)) if english else None
    stars = stars_polarity(rating)
    if not english or text_weight <= 0:
        return stars
    text = model.polarity(tokens(remark.text))
    return (1 - text_weight) * stars + text_weight * text


def lesson(remark: Remark) -> tuple[tuple[str, ...], bool] | None:
    """What a remark teaches the sentiment model: a rated English review's tokens and
    whether its stars say positive; None otherwise (unrated, 3 stars, another language).

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> lesson(Review(type="review", event_id="e", customer_id="c", event_time=at,
    ...               text="Love it", rating=5))[1]
    True
    """
    if not isinstance(remark, Review) or remark.rating is None or remark.language != LANGUAGE:
        return None
    positive = rating_label(remark.rating)
    return None if positive is None else (tuple(tokens(remark.text)), positive)
