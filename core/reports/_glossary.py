"""Plain words: a small built-in glossary of report terms (``glossary.json``, package data),
and which of its terms a text uses. Nothing is sent anywhere."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["GlossaryEntry", "Source", "explain_terms", "glossary"]


@dataclass(frozen=True)
class Source:
    """A public page the explanation relies on (cited by name and address)."""

    name: str
    url: str


@dataclass(frozen=True)
class GlossaryEntry:
    """One term: the word, the forms that match it, the plain-language text, its sources."""

    term: str
    forms: tuple[str, ...]
    text: str
    sources: tuple[Source, ...]


@cache
def glossary() -> tuple[GlossaryEntry, ...]:
    """Every term of the built-in glossary."""
    raw = json.loads(
        resources.files("ownscan.core.reports").joinpath("glossary.json").read_text("utf-8")
    )
    sources = {k: Source(v["name"], v["url"]) for k, v in raw["sources"].items()}
    return tuple(
        GlossaryEntry(
            t["term"], tuple(t["match"]), t["text"], tuple(sources[s] for s in t["sources"])
        )
        for t in raw["terms"]
    )


def _normal(text: str) -> str:
    return re.sub(r"[\s-]+", " ", text.casefold()).strip()


@cache
def _pattern() -> tuple[re.Pattern[str], dict[str, GlossaryEntry]]:
    by_form = {_normal(form): entry for entry in glossary() for form in entry.forms}
    # longest forms first, so "pleural effusion" wins over "effusion"; a space or hyphen in a
    # form matches either ("ground-glass", "ground glass")
    forms = sorted(by_form, key=len, reverse=True)
    alternatives = "|".join(r"[\s-]+".join(map(re.escape, f.split(" "))) for f in forms)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE), by_form


def explain_terms(text: str) -> list[tuple[GlossaryEntry, str]]:
    """The glossary terms used in ``text``, in order of first use, each with the words as
    the text writes them (the first time)."""
    pattern, by_form = _pattern()
    found: dict[str, tuple[GlossaryEntry, str]] = {}
    for match in pattern.finditer(text):
        entry = by_form[_normal(match.group(0))]
        found.setdefault(entry.term, (entry, match.group(0)))
    return list(found.values())
