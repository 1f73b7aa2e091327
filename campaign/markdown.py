"""Meeting-note Markdown to safe HTML: markdown-it-py with raw HTML off, then an nh3 allow-list.

Two layers, each enough on its own for the cases it covers:

1. markdown-it-py (CommonMark, plus tables and ~~strikethrough~~) with ``html=False``: any HTML typed
   in a note is escaped and shown as text, never interpreted. Before rendering, a rule on the token
   stream enforces our choices:

   - **Headings move down one level** (``#`` becomes ``<h2>``, ``##`` becomes ``<h3>``, ``######``
     stays ``<h6>``): the page around a note owns its ``<h1>`` (the note's title), and shifting every
     level keeps the note's own outline instead of merging ``#`` and ``##``.
   - **Links only to ``https:`` and ``mailto:``.** ``http:`` is refused (the reader's visit would
     travel in clear and could be rewritten on the way), and so are relative links: they would
     resolve against whichever page shows the note, and a link that looks internal could lead a rep
     to an action of this site (say, a confirmation form) chosen by the note's author. Notes are
     internal documents that cite outside sources, so nothing legitimate is lost. ``javascript:``,
     ``vbscript:``, ``data:`` and every other scheme fall outside the allow-list. A refused link
     keeps its label as plain text and loses its address, so the reader never sees a clickable or
     copyable bad target; a refused autolink (``<http://...>``), whose label is its address,
     disappears. Link titles are dropped (one attribute less to reason about).
   - **No images at all**: a remote image tells its host who read the note and when. ``![alt](url)``
     renders as its alt text, escaped.
   - Line breaks inside a paragraph are kept as ``<br>`` (``breaks=True``), as people typing notes in
     a text area expect. Linkify and typographic replacements are off.
   - The CommonMark preset's nesting cap (20 levels) stays: markdown-it drops what lies deeper (for a
     list, the rest of the note), which no real note reaches, and the cap bounds its recursion.

2. nh3 (ammonia) cleans the result with an explicit allow-list of tags, only ``href`` on ``<a>``
   (schemes ``https`` and ``mailto``, relative URLs denied), ``rel="noopener noreferrer nofollow"``
   added to every link, no ``class`` / ``style`` / ``id`` / ``on*``. This is the net under the first
   layer: if a later change (a plugin, an option) let markup through, it still could not carry script,
   styles, frames, forms or images. Table cell alignment (a ``style`` attribute) is dropped by it.

``render`` is the one place in the application where ``Markup()`` wraps user-derived text, and only
after both layers. ``plain_text`` gives the visible text of the same rendering, for previews, as a plain
``str`` that Jinja escapes like any other value.
"""

import html
import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = frozenset({
    "p", "br", "hr",
    "h2", "h3", "h4", "h5", "h6",
    "em", "strong", "s", "code", "pre", "blockquote",
    "ul", "ol", "li",
    "table", "thead", "tbody", "tr", "th", "td",
    "a",
})
ALLOWED_ATTRIBUTES = {"a": frozenset({"href"})}
LINK_SCHEMES = frozenset({"https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
_ALLOWED_LINK_PREFIXES = ("https://", "mailto:")
_WHITESPACE = re.compile(r"\s+")


def is_allowed_link(url):
    """True for the link targets a note may carry: https:// and mailto: addresses, nothing else."""
    return url.strip().lower().startswith(_ALLOWED_LINK_PREFIXES)


def _apply_note_rules(state):
    """Token-stream rule: shift headings down a level, unwrap refused links, drop link titles."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            level = int(token.tag[1:])
            token.tag = f"h{min(level + 1, 6)}"
        if token.type != "inline" or not token.children:
            continue
        kept = []
        refused = []  # one entry per open link: was it refused? (CommonMark links do not nest)
        in_refused_autolink = False
        for child in token.children:
            if child.type == "link_open":
                href = child.attrGet("href") or ""
                is_refused = not is_allowed_link(str(href))
                refused.append(is_refused)
                if is_refused:
                    # An autolink's label is its address: drop both.
                    in_refused_autolink = child.markup == "autolink"
                    continue
                child.attrs = {"href": href}
            elif child.type == "link_close":
                in_refused_autolink = False
                if refused.pop() if refused else False:
                    continue
            elif in_refused_autolink:
                continue
            kept.append(child)
        token.children = kept


def _render_image_as_alt_text(renderer, tokens, idx, options, env):
    token = tokens[idx]
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    return html.escape(alt, quote=False)


def _build_parser():
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                       "breaks": True})
    parser.enable(["table", "strikethrough"])
    # Let every destination parse as a link so that _apply_note_rules can keep the label of a refused
    # one; markdown-it's own check would leave "[x](javascript:…)" visible as literal source.
    parser.validateLink = lambda url: True
    parser.core.ruler.push("campaign_note_rules", _apply_note_rules)
    parser.add_render_rule("image", _render_image_as_alt_text)
    return parser


_parser = _build_parser()
_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style"},
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(LINK_SCHEMES),
    url_relative="deny",
    link_rel=LINK_REL,
    strip_comments=True,
)
_text_only = nh3.Cleaner(tags=set(), attributes={}, link_rel=None)


def sanitize_html(fragment):
    """The second layer alone: an HTML fragment through the nh3 allow-list, as a plain ``str``."""
    return _cleaner.clean(fragment or "")


def _sanitized_html(source):
    if not source:
        return ""
    return sanitize_html(_parser.render(source))


def render(source):
    """Render a note's Markdown to sanitized HTML, ready for a template as ``{{ render(note) }}``."""
    # The one Markup() on user-derived data in the application: safe only because the string has
    # just gone through markdown-it with raw HTML off and then the nh3 allow-list above.
    return Markup(_sanitized_html(source))  # noqa: S704  # nosec B704  # nosemgrep: markup-on-variable


def plain_text(source, max_chars=None):
    """The visible text of a note, whitespace collapsed, no markup: for previews and lists.

    Returns a plain ``str`` (Jinja escapes it). With ``max_chars``, a longer text is cut at a word
    boundary when there is one and ends with an ellipsis, the whole within ``max_chars`` characters.
    """
    text = html.unescape(_text_only.clean(_sanitized_html(source)))
    text = _WHITESPACE.sub(" ", text).strip()
    if max_chars is None or len(text) <= max_chars:
        return text
    if max_chars < 1:
        return ""
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    return cut.rstrip() + "…"
