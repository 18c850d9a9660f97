"""Customer text as the sentiment model reads it: personal data out first, then tokens.

English (``LANGUAGE``). ``scrub`` replaces what identifies a person or an order
with placeholders (``<email>``, ``<url>``, ``<phone>``, ``<number>``, ``<user>``)
before anything else sees the text; ``tokens`` scrubs, lower-cases and splits
what is left into words, emoticons and emoji, and marks the words a negation
governs (``not good`` -> ``not``, ``neg_good``). Names of people are out of
scope: nothing here tells "Jane" from "June" without a name list, so raw text
is never stored or logged, only tokens (bounded) and a polarity.

Pure: no I/O. The negation words are VADER's (``vaderSentiment.NEGATE``, the
lexicon prior's own list, typos such as ``dont`` included) and ``no``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vaderSentiment.vaderSentiment import NEGATE

#: The language the tokenizer and the lexicon prior are made for.
LANGUAGE = "en"
#: Tokens kept of one text (the labels topic's limit too): a longer text is cut.
MAX_TOKENS = 400
#: Prefix of a word in a negation's scope.
NEG = "neg_"
#: Words a negation governs at most (until punctuation or a contrast comes first).
NEG_SCOPE = 3

_SCRUB = (
    ("<email>", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("<url>", re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|net|org|io|co)(?:/\S*)?\b")),
    ("<user>", re.compile(r"(?<!\w)@\w+")),
    # a phone number has a separator somewhere; a run of digits alone is a number
    ("<phone>", re.compile(r"(?<![\w#])\+?\(?\d[\d().-]*[ ().-][\d ().-]{5,}\d(?!\w)")),
    ("<number>", re.compile(r"#?\b[\w-]*\d{4,}[\w-]*\b|#\w*\d\w*")),
)
_EMOTICON = r"[:;=8][-o*']?[()\[\]dDpP/\\|3*]|<3|[()\[\]dDpP/\\|][-o*']?[:;=8]"
_EMOJI = "[\U0001f300-\U0001faff\u2600-\u27bf]"
_TOKEN = re.compile(rf"<[a-z]+>|{_EMOTICON}|{_EMOJI}|[a-zA-Z]+(?:'[a-zA-Z]+)?|[.,!?;]")
_NEGATIONS = frozenset(NEGATE) | {w.replace("'", "") for w in NEGATE} | {"no"}
_STOPS = frozenset(".,!?;") | {"but", "however", "though", "although", "yet"}


def scrub(text: str) -> str:
    """``text`` with personal data replaced by placeholders (safe to log, though
    the engine logs no text at all).

    >>> scrub("Order 123456789 late, call +44 7700 900123 or jo.b@mail.co.uk @jo")
    'Order <number> late, call <phone> or <email> <user>'
    >>> scrub("see https://shop.example/x?id=3 and www.foo.org")
    'see <url> and <url>'
    """
    for placeholder, pattern in _SCRUB:
        text = pattern.sub(placeholder, text)
    return text


def tokens(text: str) -> tuple[str, ...]:
    """The words of ``text`` the model reads: scrubbed, lower-cased, negation marked,
    punctuation dropped, at most ``MAX_TOKENS``.

    >>> tokens("Third LATE delivery, never again!")
    ('third', 'late', 'delivery', 'never', 'neg_again')
    >>> tokens("Not bad at all :) but the refund for #A99812 wasn't great 😡")
    ('not', 'neg_bad', 'neg_at', 'neg_all', ':)', 'but', 'the', 'refund', 'for', '<number>', \
"wasn't", 'neg_great', '😡')
    """
    out: list[str] = []
    scope = 0
    for found in _TOKEN.findall(scrub(text)):
        token = found.lower() if found[0].isalpha() else found  # :D and :d differ
        if token in _STOPS:
            scope = 0
            if token[0].isalpha():
                out.append(token)
        elif token in _NEGATIONS:
            scope = NEG_SCOPE
            out.append(token)
        elif scope and token[0].isalpha():
            scope -= 1
            out.append(NEG + token)
        else:
            out.append(token)
        if len(out) == MAX_TOKENS:
            break
    return tuple(out)


def plain(toks: Sequence[str]) -> str:
    """Tokens back to a text a lexicon reads (negation marks dropped: the negation
    word is still there for it).

    >>> plain(("not", "neg_bad", ":)"))
    'not bad :)'
    """
    return " ".join(t.removeprefix(NEG) for t in toks)
