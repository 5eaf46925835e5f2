"""The inbox page: plain HTML, newest alert first, refreshed by the browser itself.

Everything a message holds came from whoever posted it: every piece of it is HTML-escaped, and
only http(s) links become clickable. The page also sends a Content-Security-Policy that allows no
script at all, so a mistake here could still not run one.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from html import escape

from plugins.inbox.store import Message, StoredFile

CONTENT_SECURITY_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"

_LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"
"""Punctuation after a link in prose belongs to the sentence, not to the link."""

_STYLE = """
body { font: 16px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 46rem;
       padding: 1rem; color: #1d2329; background: #f4f5f7; }
header p { color: #4b5560; margin: .25rem 0; }
code { background: #e4e7eb; padding: 0 .25rem; border-radius: 3px; overflow-wrap: anywhere; }
article { background: #fff; border-left: 6px solid #8a939c; border-radius: 4px;
          margin: 1rem 0; padding: .75rem 1rem; }
article.failure { border-color: #c62828; }
article.warning { border-color: #e69b00; }
article.success { border-color: #2e7d32; }
article h2 { font-size: 1.1rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
.meta { color: #5b6570; font-size: .875rem; margin: 0 0 .5rem; }
.body { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
figure { margin: .75rem 0 0; }
figure img { max-width: 100%; height: auto; display: block; border-radius: 3px; }
figcaption, .files { font-size: .875rem; color: #5b6570; }
.empty { background: #fff; padding: 1rem; border-radius: 4px; }
"""


def linkify(text: str) -> str:
    """`text` as HTML: escaped, with each http(s) link made clickable."""
    out = []
    position = 0
    for found in _LINK.finditer(text):
        link = found.group(0).rstrip(_TRAILING)
        out.append(escape(text[position : found.start()]))
        shown = escape(link)
        out.append(f'<a href="{shown}" rel="noopener noreferrer nofollow">{shown}</a>')
        position = found.start() + len(link)
    out.append(escape(text[position:]))
    return "".join(out)


def render_page(
    messages: list[Message], *, hub_name: str, tz: tzinfo, refresh: int, post_url: str
) -> str:
    """The whole page for `messages` (newest first), times in the hub's zone `tz`."""
    count = len(messages)
    listing = "\n".join(_article(message, tz) for message in messages) or (
        '<p class="empty">No alerts yet. When a rule raises an incident for a responder whose '
        "channel is the URL above, the alert shows up here.</p>"
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{refresh}">
<title>Responder inbox ({count}) - {escape(hub_name)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>Responder inbox</h1>
<p>{escape(hub_name)}: alerts sent to <code>{escape(post_url)}</code> land here, newest first.
{count} kept; this page refreshes every {refresh} s.</p>
</header>
<main>
{listing}
</main>
</body>
</html>
"""


def _article(message: Message, tz: tzinfo) -> str:
    received = message.received.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
    title = escape(message.title) if message.title else "<em>(no title)</em>"
    pictures = [_figure(f) for f in message.attachments if f.is_image]
    others = [_download(f) for f in message.attachments if not f.is_image]
    files = f'<p class="files">Files: {", ".join(others)}</p>' if others else ""
    return f"""<article class="{escape(message.type)}" id="m{message.id}">
<h2>{title}</h2>
<p class="meta">#{message.id} &middot; {escape(message.type)} &middot; received \
<time datetime="{message.received.isoformat()}">{received}</time></p>
<p class="body">{linkify(message.body)}</p>
{"".join(pictures)}{files}
</article>"""


def _figure(attachment: StoredFile) -> str:
    url = escape(f"files/{attachment.stored}")
    name = escape(attachment.filename)
    return (
        f'<figure><a href="{url}"><img src="{url}" alt="{name}" loading="lazy"></a>'
        f"<figcaption>{name} ({_size(attachment.size)})</figcaption></figure>"
    )


def _download(attachment: StoredFile) -> str:
    url = escape(f"files/{attachment.stored}")
    return f'<a href="{url}">{escape(attachment.filename)}</a> ({_size(attachment.size)})'


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"
