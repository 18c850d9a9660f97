"""Sentiment of short customer texts (reviews, comments, chats): tokens and an online model.

Interface stub of issue 19: the names and signatures below are the contract the
pass codes against; the learned model (river) and the lexicon prior fill it in.
English first (``LANGUAGE``). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from stream_app.model.checkpoint import Checkpointed

#: The language the tokenizer and the lexicon prior are made for.
LANGUAGE = "en"

_WORD = re.compile(r"[a-z']+")
_NEGATIVE = frozenset({"bad", "late", "broken", "never", "worst", "terrible", "refund", "awful"})
_POSITIVE = frozenset({"good", "great", "love", "fast", "perfect", "excellent", "happy"})


def tokens(text: str) -> tuple[str, ...]:
    """The words of ``text`` the model reads: lower-cased, with personal data
    (addresses, numbers, handles, links) dropped; raw text is never kept.

    >>> tokens("Third LATE delivery, never again!")
    ('third', 'late', 'delivery', 'never', 'again')
    """
    return tuple(_WORD.findall(text.lower()))


def rating_label(rating: int) -> bool | None:
    """Whether a star rating (1-5) says positive; None for the neutral middle.

    >>> rating_label(1), rating_label(3), rating_label(5)
    (False, None, True)
    """
    if rating == 3:
        return None
    return rating > 3


class SentimentModel(Checkpointed):
    """Polarity of a text from its tokens, learned online from rated texts."""

    def __init__(self, generation: int = 1) -> None:
        self.generation = generation
        self._learned = 0

    @property
    def version(self) -> str:
        return f"sent-g{self.generation}"

    @property
    def learned(self) -> int:
        """Rated texts learned so far."""
        return self._learned

    def polarity(self, toks: Sequence[str]) -> float:
        """From -1 (negative) to +1 (positive); 0 when nothing is known.

        >>> SentimentModel().polarity(tokens("terrible, late again")) < 0
        True
        """
        pos = sum(t in _POSITIVE for t in toks)
        neg = sum(t in _NEGATIVE for t in toks)
        return 0.0 if pos == neg else (pos - neg) / (pos + neg)

    def learn(self, toks: Sequence[str], positive: bool) -> None:
        """Learn one rated text."""
        self._learned += 1
