"""A tiny document model rendered twice: Markdown (PNGs referenced by relative path) and a
self-contained HTML page (the same PNGs embedded as base64)."""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    strong: bool = False


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    path: Path
    caption: str


@dataclass
class Pre:
    text: str


@dataclass
class Details:
    summary: str
    blocks: list = field(default_factory=list)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list, out_dir: Path) -> str:
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            lines += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            lines += [f"**{b.text}**" if b.strong else b.text, ""]
        elif isinstance(b, Table):
            lines.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            lines.append("|" + "|".join("---" for _ in b.headers) + "|")
            for row in b.rows:
                lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
            lines.append("")
        elif isinstance(b, Image):
            rel = Path(b.path).relative_to(out_dir).as_posix() if Path(b.path).is_relative_to(out_dir) else str(b.path)
            lines += [f"![{b.caption}]({rel})", "", f"*{b.caption}* (`{rel}`)", ""]
        elif isinstance(b, Pre):
            lines += ["```", b.text.rstrip("\n"), "```", ""]
        elif isinstance(b, Details):
            lines += [f"<details><summary>{html.escape(b.summary)}</summary>", ""]
            lines += to_markdown(b.blocks, out_dir).splitlines()
            lines += ["</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr.failed td, tr.missing td { color: #a00; }
p.verdict { font-size: 1.1em; background: #fff8e0; border-left: 4px solid #e0a800; padding: 0.6em 1em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 12px; color: #555; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 12px; }
"""


def _html_blocks(blocks: list) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = ' class="verdict"' if b.strong else ""
            out.append(f"<p{cls}>{html.escape(b.text)}</p>")
        elif isinstance(b, Table):
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in b.headers)
                       + "</tr></thead><tbody>")
            status_col = b.headers.index("status") if "status" in b.headers else None
            for row in b.rows:
                cls = f' class="{html.escape(row[status_col])}"' if status_col is not None else ""
                out.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
            out.append("</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode(Path(b.path).read_bytes()).decode("ascii")
            out.append(f'<figure><img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">'
                       f"<figcaption>{html.escape(b.caption)} ({html.escape(Path(b.path).name)})</figcaption></figure>")
        elif isinstance(b, Pre):
            out.append(f"<pre>{html.escape(b.text)}</pre>")
        elif isinstance(b, Details):
            out.append(f"<details><summary>{html.escape(b.summary)}</summary>")
            out += _html_blocks(b.blocks)
            out.append("</details>")
    return out


def to_html(blocks: list, title: str) -> str:
    body = "\n".join(_html_blocks(blocks))
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")
