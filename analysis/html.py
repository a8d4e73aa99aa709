"""`report.html`: the markdown report as one self-contained page, its plots embedded.

The markdown is the single source: the page is rendered from it (Python-Markdown with tables),
and each image reference becomes a data URI, so the file can be mailed or attached to a paper's
supplement and still shows every plot. No script, no external style sheet or font.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import markdown

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.86rem; }
th, td { border: 1px solid #c8c8c8; padding: 0.2rem 0.5rem; }
th { background: #f0f0f0; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #f3f3f3; padding: 0 0.2rem; }
img { max-width: 100%; border: 1px solid #e0e0e0; margin: 0.4rem 0; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2rem; }
"""
IMAGE = re.compile(r'<img alt="([^"]*)" src="([^"]+)"\s*/?>')


def _embed(match: re.Match, base: Path) -> str:
    alt, src = match.group(1), html.unescape(match.group(2))
    path = base / src
    if not path.is_file():
        # A missing plot must show as missing, not as a broken request for a file.
        return f"<p><em>missing plot: {html.escape(src)}</em></p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{alt}" src="data:image/png;base64,{data}">'


def render_html(markdown_text: str, base: Path, title: str) -> str:
    """The page for `markdown_text`, whose image paths are relative to `base`."""
    body = markdown.markdown(markdown_text, extensions=["tables"], output_format="html")
    body = IMAGE.sub(lambda m: _embed(m, base), body)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def write_html(markdown_path: Path, title: str) -> Path:
    """Write `report.html` beside `markdown_path` (whole, then renamed: never half a page)."""
    page = render_html(markdown_path.read_text(), markdown_path.parent, title)
    final = markdown_path.with_suffix(".html")
    tmp = final.with_name(f".{final.name}.tmp")
    tmp.write_text(page)
    tmp.replace(final)
    return final
