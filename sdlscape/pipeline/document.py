"""The reproduction report: one document of blocks rendered as Markdown and as self-contained HTML.

A report is a list of blocks (heading, paragraph, table, figure); report.md and report.html are two
renderings of the same blocks, so they cannot disagree.
"""
from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str


@dataclass
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""
    collapsed: bool = False  # rendered inside <details>, the caption as its summary


@dataclass
class Figure:
    path: str  # relative to the report's folder (PNG)
    caption: str


@dataclass
class Document:
    title: str
    blocks: list = field(default_factory=list)

    def add(self, block) -> None:
        self.blocks.append(block)


def fmt(x: Any, digits: int = 4) -> str:
    """A table cell: floats to `digits` significant digits, None as an en dash."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if x != x:
            return "nan"
        return f"{x:.{digits}g}"
    return str(x)


def pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.2f}%"


def slug(text: str) -> str:
    """A heading's anchor as GitHub forms it (lowercase; letters, digits, '-', '_' kept; spaces as '-')."""
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(doc: Document) -> dict[int, str]:
    """Block index -> unique anchor, for every heading (repeated slugs get -1, -2 as on GitHub)."""
    seen: dict[str, int] = {}
    out = {}
    for i, b in enumerate(doc.blocks):
        if isinstance(b, Heading):
            base = slug(b.text)
            n = seen.get(base, 0)
            seen[base] = n + 1
            out[i] = base if n == 0 else f"{base}-{n}"
    return out


def contents(doc: Document, max_level: int = 3) -> list[tuple[int, str, str]]:
    """The table of contents: (level, text, anchor) of every heading up to max_level."""
    ids = anchors(doc)
    return [(b.level, b.text, ids[i]) for i, b in enumerate(doc.blocks)
            if isinstance(b, Heading) and b.level <= max_level]


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    toc = contents(doc, max_level=2)
    if len(toc) > 1:
        out += ["Contents: " + " · ".join(f"[{text}](#{a})" for _, text, a in toc), ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Paragraph):
            out += [b.text, ""]
        elif isinstance(b, Table):
            if b.collapsed:
                out += [f"<details><summary>{html.escape(b.caption or 'table', quote=False)}</summary>", ""]
            elif b.caption:
                out += [f"*{b.caption}*", ""]
            out.append("| " + " | ".join(map(str, b.header)) + " |")
            out.append("|" + "|".join("---" for _ in b.header) + "|")
            for r in b.rows:
                out.append("| " + " | ".join(fmt(c).replace("|", "\\|") for c in r) + " |")
            out += ["", "</details>", ""] if b.collapsed else [""]
        elif isinstance(b, Figure):
            out += [f"![{b.caption}]({b.path})", "", f"*{b.caption}*", ""]
    return "\n".join(out) + "\n"


SHORT_CELL = 24
"""Cells up to this many characters do not wrap (a number with its sd stays on one line); the table scrolls."""


def _cell(text: str) -> str:
    return f"<td class='n'>{html.escape(text)}</td>" if len(text) <= SHORT_CELL else f"<td>{html.escape(text)}</td>"


def to_html(doc: Document, base: Path) -> str:
    """Self-contained HTML: figures embedded as base64 PNG, a table of contents, an anchor per heading, and
    tables in a horizontally scrolling wrapper (a 16-column table does not overflow the page)."""
    ids = anchors(doc)
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{html.escape(doc.title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}"
             ".scroll{overflow-x:auto;max-width:100%;margin:1em 0}"
             "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:3px 7px;"
             "vertical-align:top}td{max-width:40em}td.n{white-space:nowrap}"
             "th{background:#f3f3f3;position:sticky;top:0}figure{margin:1.5em 0}img{max-width:100%}"
             "figcaption{font-style:italic}code{background:#f5f5f5}"
             "nav.toc{background:#fafafa;border:1px solid #ddd;padding:.5em 1em;margin:1em 0}"
             "nav.toc ul{margin:.2em 0;padding-left:1.2em}"
             "h2,h3{scroll-margin-top:.5em}a.self{color:inherit;text-decoration:none}</style></head><body>",
             f"<h1>{html.escape(doc.title)}</h1>"]
    toc = contents(doc)
    if len(toc) > 1:
        items, level = [], None
        for lvl, text, a in toc:
            if level is not None and lvl > level:
                items.append("<ul>")
            elif level is not None and lvl < level:
                items.append("</li></ul></li>")
            elif level is not None:
                items.append("</li>")
            items.append(f"<li><a href='#{a}'>{html.escape(text)}</a>")
            level = lvl
        items.append("</li>" + "</ul></li>" * (level - toc[0][0]))
        parts.append("<nav class='toc'><strong>Contents</strong><ul>" + "".join(items) + "</ul></nav>")
    for i, b in enumerate(doc.blocks):
        if isinstance(b, Heading):
            parts.append(f"<h{b.level} id='{ids[i]}'><a class='self' href='#{ids[i]}'>{html.escape(b.text)}</a>"
                         f"</h{b.level}>")
        elif isinstance(b, Paragraph):
            parts.append(f"<p>{html.escape(b.text)}</p>")
        elif isinstance(b, Table):
            cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in b.header)
            body = "".join("<tr>" + "".join(_cell(fmt(c)) for c in r) + "</tr>" for r in b.rows)
            table = f"<div class='scroll'><table>{cap}<tr>{head}</tr>{body}</table></div>"
            parts.append(f"<details><summary>{html.escape(b.caption or 'table')}</summary>{table}</details>"
                         if b.collapsed else table)
        elif isinstance(b, Figure):
            p = base / b.path
            if p.is_file():
                data = base64.b64encode(p.read_bytes()).decode()
                parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(b.caption)}'>"
                             f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
            else:
                parts.append(f"<p><em>figure missing: {html.escape(b.path)}</em></p>")
    parts.append("</body></html>")
    return "\n".join(parts)
