"""Citations: the lessons' author-year mentions become pandoc citations resolved by citeproc.

The notebooks cite the way people write in prose, so that they read well in JupyterLab:
"He et al. (2015, Fig. 1)", "(Szegedy et al. 2014, §4)", "Lin, Chen & Yan (*Network In
Network*, 2013, arXiv:1312.4400, §3.2)". For the site each mention is matched to an entry of
``docs/references.bib`` (by arXiv id, else by title, else by first author and year) and rewritten
as a pandoc citation, so citeproc formats it, links it to the article's reference list and lists
the work there:

* narrative ``Author (year, pinpoint)``           -> ``@key [{}, pinpoint]``
* a parenthesis of citations ``(see Author year, pinpoint; ...)`` -> ``[see @key{}, pinpoint; ...]``
* any other ``Author year`` (inside a longer aside) -> the text as written, linked to the entry.

The ``{}`` after the key keeps the pinpoint exactly as the author wrote it ("§4.1, Fig. 5"),
instead of letting citeproc reinterpret it as a page or section locator.

An ``et al.`` mention with a year that matches no entry is an error (a broken citation), as is an
ambiguous one. A lesson's own reference list (a "References" heading or a bold
"**References.**" paragraph) is replaced by the generated one; every work it names (by arXiv id,
italic title, or an entry's ``keywords``) must be in the bibliography, and is listed even when
the text does not cite it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

YEAR = r"(?:19|20)\d\d"
_NAME = r"[A-Z][\w'’-]+"
# "He et al.", "T. He et al.", "Lin, Chen & Yan", "Ioffe & Szegedy", "Ioffe and Szegedy"
AUTHORS = re.compile(
    rf"(?<![\w.])(?:(?P<initial>[A-Z])\.\s+)?(?P<first>{_NAME})"
    rf"(?P<rest>\s+et\s+al\.|(?:,\s+{_NAME})*,?\s+(?:&|and)\s+{_NAME})"
)
ARXIV = re.compile(r"arXiv:\s*(\d{4}\.\d{4,5})", re.I)
ITALIC = re.compile(r"(?<![*\w])\*(?!\*)([^*]+?)\*(?![*\w])", re.S)
REFERENCES_HEAD = re.compile(
    r"^(?:#{1,6}[ \t]*References[ \t]*:?[ \t]*|\*\*References\.?\*\*\.?|References:)",
    re.M | re.I,
)
_PLACE = "\ue000{}\ue001"
_PLACE_RE = re.compile("\ue000(\\d+)\ue001")


class CitationError(ValueError):
    """A mention that matches no entry, or more than one (the message says which)."""


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@dataclass
class Entry:
    key: str
    families: list[str]
    initial: str
    year: int | None
    title: str
    arxiv: str | None
    keywords: set[str] = field(default_factory=set)

    @property
    def first(self) -> str:
        return self.families[0] if self.families else ""

    def describe(self) -> str:
        return f"{self.key} ({self.year}, {self.title[:60]})"


def _suffix_matches(entry: Entry, want: str | None) -> bool:
    """``want`` ("suffix-b") among the entry's keywords; ``None``: the entry has no suffix."""
    if want:
        return want in entry.keywords
    return not any(k.startswith("suffix ") for k in entry.keywords)


class Bibliography:
    """The entries of the course's bibliography, indexed the ways lessons refer to them."""

    def __init__(self, csl_entries: list[dict], source: str = "docs/references.bib"):
        self.source = source
        self.entries: list[Entry] = []
        for e in csl_entries:
            authors = e.get("author") or e.get("editor") or []
            families = [_norm(a.get("family") or a.get("literal") or "") for a in authors]
            given = (authors[0].get("given") or "") if authors else ""
            parts = (e.get("issued") or {}).get("date-parts") or [[None]]
            url = e.get("URL") or ""
            m = re.search(r"arxiv\.org/abs/(\d{4}\.\d{4,5})", url)
            keywords = {_norm(k) for k in re.split(r"[,;]", e.get("keyword") or "") if k.strip()}
            self.entries.append(
                Entry(
                    key=e["id"],
                    families=families,
                    initial=given[:1].upper(),
                    year=parts[0][0] if parts and parts[0] else None,
                    title=_norm(e.get("title") or ""),
                    arxiv=m.group(1) if m else None,
                    keywords=keywords,
                )
            )
        self.keys = {e.key for e in self.entries}

    # ----------------------------------------------------------------------- look-ups
    def by_arxiv(self, arxiv_id: str) -> Entry | None:
        return next((e for e in self.entries if e.arxiv == arxiv_id), None)

    def by_title(self, text: str) -> Entry | None:
        t = _norm(text)
        if len(t) < 12:
            return None
        hits = [e for e in self.entries if e.title.startswith(t) or t.startswith(e.title)]
        return hits[0] if len(hits) == 1 else None

    def knows_author(self, family: str) -> bool:
        return any(e.first == _norm(family) for e in self.entries)

    def resolve(self, mention: str, family: str, year: int, initial: str = "", context: str = ""):
        """The entry a mention means; ``context`` (the text around it) may hold an arXiv id/title."""
        for arxiv_id in ARXIV.findall(context):
            entry = self.by_arxiv(arxiv_id)
            if entry and entry.first == _norm(family):
                return entry
        for title in ITALIC.findall(context):
            entry = self.by_title(title)
            if entry and entry.first == _norm(family):
                return entry
        hits = [e for e in self.entries if e.first == _norm(family) and e.year == year]
        if initial and len(hits) > 1:
            hits = [e for e in hits if e.initial == initial] or hits
        if len(hits) > 1:  # "He et al. 2015b": the entry whose keywords say "suffix-b"; no
            m = re.search(rf"{year}([a-z])\b", mention)  # letter: the entry without a suffix
            want = f"suffix {m.group(1)}" if m else None  # keywords are normalised
            hits = [e for e in hits if _suffix_matches(e, want)] or hits
        if len(hits) == 1:
            return hits[0]
        same_author = [e for e in self.entries if e.first == _norm(family)]
        if not hits:
            known = "; ".join(e.describe() for e in same_author) or "none"
            raise CitationError(
                f"the citation {mention!r} matches no entry of {self.source} (entries whose "
                f"first author is {family}: {known}). Add a BibTeX entry for it, or fix the "
                "author or year in the lesson."
            )
        raise CitationError(
            f"the citation {mention!r} is ambiguous: {', '.join(e.key for e in hits)} in "
            f"{self.source} match it. Write the arXiv id or the italic title next to it "
            "(e.g. 'He et al. (2016, *Identity Mappings ...*)'), or give the second work "
            "keywords = {suffix-b} in the bibliography and cite it as 2015b."
        )

    def named_in(self, block: str) -> tuple[list[Entry], list[str]]:
        """Entries a reference list names (arXiv ids, italic titles, keywords); unknown titles."""
        found: dict[str, Entry] = {}
        unknown: list[str] = []
        for arxiv_id in ARXIV.findall(block):
            entry = self.by_arxiv(arxiv_id)
            if entry:
                found.setdefault(entry.key, entry)
            else:
                unknown.append(f"arXiv:{arxiv_id}")
        for title in ITALIC.findall(block):
            entry = self.by_title(title)
            if entry:
                found.setdefault(entry.key, entry)
            elif len(title.split()) >= 3 and not any(
                _norm(title) in e.title or e.title in _norm(title) for e in found.values()
            ):
                unknown.append(" ".join(title.split()))
        words = set(_norm(block).split())
        for entry in self.entries:
            if entry.keywords & words:
                found.setdefault(entry.key, entry)
        # an arXiv id whose title also appears is fine; report only what found nothing
        unknown = [u for u in unknown if not (u.startswith("arXiv:") and self.by_arxiv(u[6:]))]
        return list(found.values()), unknown


# --------------------------------------------------------------------------- masking
_MASKS = [
    re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S),  # fenced code
    re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S),  # inline code
    re.compile(r"\$\$.+?\$\$", re.S),  # display math
    re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$"),  # inline math
    re.compile(r"<!--.*?-->", re.S),  # comments (figure markers)
    re.compile(r"\]\([^)\s]*\)"),  # link targets
    re.compile(r"<https?://[^>]+>"),  # autolinks
]


def mask(text: str) -> tuple[str, list[str]]:
    """Hide code, math, comments and link targets behind placeholders (no parens, no names)."""
    saved: list[str] = []

    def keep(m: re.Match) -> str:
        saved.append(m.group(0))
        return _PLACE.format(len(saved) - 1)

    for pattern in _MASKS:
        text = pattern.sub(keep, text)
    return text, saved


def unmask(text: str, saved: list[str]) -> str:
    while _PLACE_RE.search(text):
        text = _PLACE_RE.sub(lambda m: saved[int(m.group(1))], text)
    return text


# --------------------------------------------------------------------------- references lists
def split_references(text: str) -> tuple[str, str]:
    """(text without its reference list, the reference list or "")."""
    masked, saved = mask(text)
    m = REFERENCES_HEAD.search(masked)
    if not m:
        return text, ""
    start = m.start()
    nxt = re.compile(r"^#{1,6}\s", re.M).search(masked, m.end())
    end = nxt.start() if nxt else len(masked)
    before = unmask(masked[:start] + masked[end:], saved).rstrip() + "\n"
    return before, unmask(masked[start:end], saved)


# --------------------------------------------------------------------------- rewriting mentions
@dataclass
class Rewrite:
    text: str
    cited: set[str] = field(default_factory=set)  # keys cited by pandoc citations
    linked: set[str] = field(default_factory=set)  # keys only linked (need nocite)


def _pinpoint(rest: str, entry: Entry) -> str:
    """What remains of a mention's parenthesis once the year, title and arXiv id are dropped."""
    rest = rest.strip().lstrip(",").strip()
    if not rest:
        return ""
    segments, depth, cur = [], 0, ""
    for ch in rest:
        if ch == "*":
            depth ^= 1
        if ch == "," and depth == 0:
            segments.append(cur)
            cur = ""
        else:
            cur += ch
    segments.append(cur)
    keep = []
    for seg in segments:
        s = re.sub(rf"^{YEAR}[a-z]?\s+(?=\S)", "", " ".join(seg.split()))
        if not s:
            continue
        italic = re.fullmatch(r"\*([^*]+)\*", s)
        if italic:
            t = _norm(italic.group(1))
            if t and (entry.title.startswith(t) or t.startswith(entry.title)):
                continue
        if ARXIV.fullmatch(s) or re.fullmatch(YEAR + r"[a-z]?", s):
            continue
        if re.fullmatch(rf"[A-Z][A-Za-z]*\s+{YEAR}", s):  # venue and year: "CVPR 2016"
            continue
        keep.append(s)
    return ", ".join(keep)


def _safe(pinpoint: str) -> bool:
    return not re.search(r"[\[\];@{}]", pinpoint)


def _balanced_group(text: str, open_at: int) -> int | None:
    """Index of the ')' closing the '(' at ``open_at`` (None if there is none)."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


class _Mention:
    __slots__ = ("start", "end", "family", "initial", "year", "title", "multi", "text")

    def __init__(self, m: re.Match, year_m: re.Match | None, text: str):
        self.start = m.start()
        self.family = m.group("first")
        self.initial = m.group("initial") or ""
        self.multi = not m.group("rest").split()[0] == "et"
        self.year = int(year_m.group("year")) if year_m else None
        self.title = year_m.group("title") if year_m else None
        self.end = year_m.end() if year_m else m.end()
        self.text = " ".join(text[self.start : self.end].split())


_AFTER = re.compile(rf"(?:,\s*(?P<title>\*[^*]+\*))?,?\s+(?P<year>{YEAR})[a-z]?\b")


def rewrite(text: str, bib: Bibliography) -> Rewrite:
    """Turn the author-year mentions of one markdown cell into citations (see the module doc)."""
    masked, saved = mask(text)
    out = Rewrite(masked)

    def resolve(mention: _Mention, context: str) -> Entry | None:
        if mention.year is None or (mention.multi and not bib.knows_author(mention.family)):
            return None  # "GoogLeNet and ResNet (...)": not a citation
        return bib.resolve(mention.text, mention.family, mention.year, mention.initial, context)

    # 1. narrative: Author (year, pinpoint)
    def narrative(m: re.Match) -> str:
        paren = re.compile(r"\s*\(").match(out.text, m.end())
        if not paren:
            return m.group(0)
        close = _balanced_group(out.text, paren.end() - 1)
        if close is None:
            return m.group(0)
        inner = out.text[paren.end() : close]
        year = re.search(rf"\b({YEAR})\b", inner)
        if not year or "(" in inner:
            return m.group(0)
        mention = _Mention(m, None, out.text)
        mention.year = int(year.group(1))
        mention.text = f"{' '.join(m.group(0).split())} ({' '.join(inner.split())})"
        entry = resolve(mention, unmask(inner, saved))
        if entry is None:
            return m.group(0)
        pin = _pinpoint(inner, entry)
        if not _safe(pin):
            return m.group(0)
        out.cited.add(entry.key)
        return f"\x02{entry.key}\x03{pin}\x04"  # finished below (the match must end at the ')')

    # narrative rewriting needs the closing paren: do it with an explicit scan
    pieces, pos = [], 0
    for m in AUTHORS.finditer(out.text):
        if m.start() < pos:
            continue
        res = narrative(m)
        if res == m.group(0):
            continue
        close = _balanced_group(out.text, out.text.index("(", m.end()))
        if close is None:
            continue
        key, pin = res[1:-1].split("\x03")
        pieces.append(out.text[pos : m.start()])
        pieces.append(f"@{key} [{{}}, {pin}]" if pin else f"@{key}")
        pos = close + 1
    pieces.append(out.text[pos:])
    out.text = "".join(pieces)

    # 2. parentheses made of citations: (Author year, pinpoint; prefix Author year)
    def parenthetical(g: re.Match) -> str:
        inner = g.group(1)
        items: list[list[Any]] = []  # [prefix, entry, pinpoint]
        for part in inner.split(";"):
            pairs = [(m, _AFTER.match(part, m.end())) for m in AUTHORS.finditer(part)]
            found = [(m, y) for m, y in pairs if y is not None]
            if not found:
                if not items:
                    return g.group(0)
                items[-1][2] += ", " + " ".join(part.split())
                continue
            # a second mention after a comma starts a new item: "§4.2, following Lee et al. 2015"
            cuts = [0] + [part.rfind(",", 0, m.start()) + 1 for m, _ in found[1:]] + [len(part)]
            for i, (m, y) in enumerate(found):
                seg = part[cuts[i] : cuts[i + 1]].rstrip(",")
                prefix = " ".join(seg[: m.start() - cuts[i]].split())
                if len(prefix) > 40 or re.search(r"[.:!?]", prefix):
                    return g.group(0)
                mention = _Mention(m, y, part)
                entry = resolve(mention, unmask(seg, saved))
                if entry is None:
                    return g.group(0)
                rest = seg[y.end() - cuts[i] :]
                items.append([prefix, entry, _pinpoint(rest, entry)])
        if not items or not all(_safe(p) and _safe(pin) for p, _, pin in items):
            return g.group(0)
        cites = []
        for prefix, entry, pin in items:
            out.cited.add(entry.key)
            cite = (prefix + " " if prefix else "") + f"@{entry.key}"
            cites.append(cite + (f"{{}}, {pin}" if pin else ""))
        return "[" + "; ".join(cites) + "]"

    group = re.compile(r"(?<![\]\w])\(([^()\[\]]{0,400})\)")
    out.text = group.sub(parenthetical, out.text)

    # 3. any other "Author year": keep the words, link them to the entry
    def link(m: re.Match) -> str:
        y = _AFTER.match(out.text, m.end())
        if not y:
            return m.group(0)
        mention = _Mention(m, y, out.text)
        window = out.text[m.start() : m.start() + 300]
        entry = resolve(mention, unmask(window, saved))
        if entry is None:
            return m.group(0)
        out.linked.add(entry.key)
        words = out.text[m.start() : y.end()]
        return f"[{words}](#ref-{entry.key}){{.citation-link}}"

    pieces, pos = [], 0
    for m in AUTHORS.finditer(out.text):
        if m.start() < pos or _inside_brackets(out.text, m.start()):
            continue
        res = link(m)
        if res == m.group(0):
            continue
        y = _AFTER.match(out.text, m.end())
        pieces.append(out.text[pos : m.start()])
        pieces.append(res)
        pos = y.end() if y else m.end()
    pieces.append(out.text[pos:])
    out.text = unmask("".join(pieces), saved)
    out.linked -= out.cited
    return out


def _inside_brackets(text: str, at: int) -> bool:
    """True when ``at`` is inside [...] (a link text or a citation made above)."""
    depth = 0
    for ch in text[:at]:
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
    return depth > 0
