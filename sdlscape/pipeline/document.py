"""The reproduction report: one document of blocks rendered as Markdown and as self-contained HTML.

A report is a list of blocks (heading, paragraph, table, figure); report.md and report.html are two
renderings of the same blocks, so they cannot disagree.
"""
from __future__ import annotations

import base64
import html
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


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Paragraph):
            out += [b.text, ""]
        elif isinstance(b, Table):
            if b.caption:
                out += [f"*{b.caption}*", ""]
            out.append("| " + " | ".join(map(str, b.header)) + " |")
            out.append("|" + "|".join("---" for _ in b.header) + "|")
            for r in b.rows:
                out.append("| " + " | ".join(fmt(c).replace("|", "\\|") for c in r) + " |")
            out.append("")
        elif isinstance(b, Figure):
            out += [f"![{b.caption}]({b.path})", "", f"*{b.caption}*", ""]
    return "\n".join(out) + "\n"


def to_html(doc: Document, base: Path) -> str:
    """Self-contained HTML: figures embedded as base64 PNG."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             f"<title>{html.escape(doc.title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;line-height:1.4}"
             "table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #ccc;padding:3px 7px}"
             "th{background:#f3f3f3}figure{margin:1.5em 0}img{max-width:100%}figcaption{font-style:italic}"
             "code{background:#f5f5f5}</style></head><body>",
             f"<h1>{html.escape(doc.title)}</h1>"]
    for b in doc.blocks:
        if isinstance(b, Heading):
            parts.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            parts.append(f"<p>{html.escape(b.text)}</p>")
        elif isinstance(b, Table):
            cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in b.header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in r) + "</tr>" for r in b.rows)
            parts.append(f"<table>{cap}<tr>{head}</tr>{body}</table>")
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
