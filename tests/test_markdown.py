"""Meeting-note Markdown: normal notes render, and no payload gets script, styles, frames or images out."""

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Environment
from markupsafe import Markup

from campaign.markdown import is_allowed_link, plain_text, render, sanitize_html

# The contract, written out here rather than imported, so that widening the module's lists fails a test.
ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "em", "strong", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a",
}
LINK_REL = "noopener noreferrer nofollow"
FORBIDDEN_TAG_OPENERS = (
    "<script", "<img", "<iframe", "<object", "<embed", "<style", "<svg", "<form", "<meta",
    "<base", "<link", "<math", "<input", "<button", "<video", "<source", "<template", "<body",
)
FORBIDDEN_IN_MARKUP = (
    "<script", "onerror=", "onload=", "onclick=", "javascript:", "vbscript:", "data:", "<img",
    "<iframe", "<object", "<embed", "<style", "<svg", "<form", "<meta", "<base", "style=",
)
_CONTROL_AND_SPACE = re.compile(r"[\x00-\x20\x7f]+")


class _Markup(HTMLParser):
    """Every element and attribute of a fragment; attribute values decoded as a browser would."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []  # (tag, [(name, value)])
        self.others = []  # comments, declarations, processing instructions

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag not in ALLOWED_TAGS:
            self.elements.append((f"/{tag}", []))

    def handle_comment(self, data):
        self.others.append(f"<!--{data}-->")

    def handle_decl(self, decl):
        self.others.append(f"<!{decl}>")

    def handle_pi(self, data):
        self.others.append(f"<?{data}>")

    def unknown_decl(self, data):
        self.others.append(f"<![{data}]>")


def _parse(fragment):
    parser = _Markup()
    parser.feed(fragment)
    parser.close()
    return parser


def _skeleton(parser):
    """The markup without its text: what a browser would act on rather than display."""
    parts = []
    for tag, attrs in parser.elements:
        attributes = " ".join(f'{name}="{value}"' for name, value in attrs)
        parts.append(f"<{tag} {attributes}>")
    return "".join(parts + parser.others)


def _href_is_allowed(href):
    # Browsers ignore control characters and spaces inside a scheme; strip them before judging.
    target = _CONTROL_AND_SPACE.sub("", href).lower()
    return target.startswith(("https://", "mailto:"))


def assert_structurally_safe(fragment):
    """Only allowed tags; only href and our rel on <a>; only https/mailto targets; no comments."""
    lowered = fragment.lower()
    for opener in FORBIDDEN_TAG_OPENERS:
        # Text is escaped (&lt;), so a literal "<script" can only be a real tag.
        assert opener not in lowered, (opener, fragment)
    parser = _parse(fragment)
    assert parser.others == [], fragment
    for tag, attrs in parser.elements:
        assert tag in ALLOWED_TAGS, (tag, fragment)
        names = [name for name, _ in attrs]
        if tag == "a":
            assert set(names) <= {"href", "rel"}, (attrs, fragment)
            assert dict(attrs).get("rel") == LINK_REL, (attrs, fragment)
            if "href" in names:
                assert _href_is_allowed(dict(attrs)["href"] or ""), (attrs, fragment)
        else:
            assert names == [], (tag, attrs, fragment)
    return parser


def assert_no_active_content(fragment):
    """Structural check, then the forbidden strings in the markup, case-folded and entity-decoded."""
    parser = assert_structurally_safe(fragment)
    skeleton = html.unescape(_skeleton(parser)).lower()
    for needle in FORBIDDEN_IN_MARKUP:
        assert needle not in skeleton, (needle, fragment)


def assert_no_trace(fragment):
    """The strictest check: the forbidden strings appear nowhere, not even as displayed text."""
    assert_no_active_content(fragment)
    everything = html.unescape(fragment).lower()
    for needle in FORBIDDEN_IN_MARKUP:
        assert needle not in everything, (needle, fragment)


# Payloads whose danger sits in a link or image destination: after rendering, nothing of it is left.
MARKDOWN_PAYLOADS = [
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;&#x61;vascript:alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](  javascript:alert(1)  )",
    "[click](\njavascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    '[click](javascript:alert(1) "a title")',
    "[click](javascript://%0aalert(1))",
    "[click](java%0ascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](DATA:text/html,hello)",
    "[click](vbscript:msgbox(1))",
    "[click][ref]\n\n[ref]: javascript:alert(1)",
    "[ref]\n\n[ref]: JavaScript:alert(1)",
    "[click][ref]\n\n[ref]: <vbscript:msgbox(1)> 'title'",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html;base64,PHNjcmlwdD4=>",
    "![x](http://evil.example/x.png)",
    '![x](https://evil.example/x.png "title")',
    "![x][img]\n\n[img]: https://evil.example/x.png",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](javascript:alert(1))",
    "[![x](https://evil.example/x.png)](javascript:alert(1))",
    '[x](https://ok.example "onclick=alert(1)")',
    "| left | centre |\n|:-----|:------:|\n| a | b |",
    "# heading ![x](https://evil.example/track.gif)",
    "> - [nested](javascript:alert(1))\n>   ![y](https://evil.example/y.png)",
]

# Raw HTML typed in a note: it must come out as visible text (escaped), never as markup.
HTML_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="https://evil.example/pixel.png">',
    "<svg onload=alert(1)>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="javascript&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    '<a href="https://ok.example" style="position:fixed;top:0">x</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    "<style>body{background:url(https://evil.example/x)}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div style="width: expression(alert(1))">x</div>',
    '<form action="https://evil.example"><input name=q></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/">',
    '<link rel=stylesheet href="https://evil.example/x.css">',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<input autofocus onfocus=alert(1)>",
    "<button formaction=javascript:alert(1)>x</button>",
    "<template><script>alert(1)</script></template>",
    "<xmp><script>alert(1)</script></xmp>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)<</script>/script>",
    "<img src=x onerror=alert(1)",
    '<a href="javascript:alert(1)"',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<!--<img src=x onerror=alert(1)>-->",
    "**bold <img src=x onerror=alert(1)>** and _em <script>x</script>_",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "    <iframe src=https://evil.example></iframe>",
    "[ok](https://ok.example) <a href=javascript:alert(1)>y</a>",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
]


@pytest.mark.parametrize("payload", MARKDOWN_PAYLOADS + HTML_PAYLOADS)
def test_no_payload_renders_active_content(payload):
    assert_no_active_content(render(payload))


@pytest.mark.parametrize("payload", MARKDOWN_PAYLOADS)
def test_dangerous_destinations_leave_no_trace(payload):
    assert_no_trace(render(payload))


@pytest.mark.parametrize("payload", HTML_PAYLOADS)
def test_raw_html_is_shown_as_text(payload):
    output = render(payload)
    assert "&lt;" in output
    assert_no_active_content(output)


@pytest.mark.parametrize("payload", HTML_PAYLOADS)
def test_sanitizer_alone_removes_active_content(payload):
    # The second layer receives the payload as HTML, as it would if raw HTML were ever switched on.
    assert_no_active_content(sanitize_html(payload))


def test_corpus_is_large_enough():
    assert len(MARKDOWN_PAYLOADS) + len(HTML_PAYLOADS) >= 40


def test_checker_catches_what_it_looks_for():
    # The helpers above would be worthless if they passed everything.
    unsafe = [
        '<img src="https://evil.example/x.png">',
        '<a href="javascript:alert(1)" rel="noopener noreferrer nofollow">x</a>',
        '<a href="&#106;avascript:alert(1)" rel="noopener noreferrer nofollow">x</a>',
        '<a href="http://example.com" rel="noopener noreferrer nofollow">x</a>',
        '<a href="https://ok.example">no rel</a>',
        '<a href="https://ok.example" rel="noopener noreferrer nofollow" onclick="x()">x</a>',
        '<p style="color:red">x</p>',
        "<div>x</div>",
        "<h1>x</h1>",
        "<!-- x -->",
    ]
    for fragment in unsafe:
        with pytest.raises(AssertionError):
            assert_no_active_content(fragment)
    with pytest.raises(AssertionError):
        assert_no_trace("<p>&lt;script&gt;</p>")


# --- Normal notes render ----------------------------------------------------------------------


def test_headings_move_down_one_level():
    assert render("# One\n## Two\n### Three\n###### Six") == (
        "<h2>One</h2>\n<h3>Two</h3>\n<h4>Three</h4>\n<h6>Six</h6>\n"
    )


def test_emphasis_lists_and_blocks_render():
    source = (
        "Some **strong** and *emphasis* and ~~struck~~ and `code`.\n\n"
        "- one\n- two\n\n"
        "1. first\n2. second\n\n"
        "> quoted\n\n"
        "---\n\n"
        "```\nblock\n```"
    )
    assert render(source) == (
        "<p>Some <strong>strong</strong> and <em>emphasis</em> and <s>struck</s> and "
        "<code>code</code>.</p>\n"
        "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        "<ol>\n<li>first</li>\n<li>second</li>\n</ol>\n"
        "<blockquote>\n<p>quoted</p>\n</blockquote>\n"
        "<hr>\n"
        "<pre><code>block\n</code></pre>\n"
    )


def test_line_breaks_are_kept():
    assert render("first line\nsecond line") == "<p>first line<br>\nsecond line</p>\n"


def test_tables_render_without_alignment_styles():
    output = render("| Who | Votes |\n|:----|------:|\n| CGT | 12 |")
    assert "<table>" in output
    assert "<th>Who</th>" in output
    assert "<td>12</td>" in output
    assert "style" not in output


def test_code_blocks_lose_their_language_class():
    assert render("```python\nx = 1\n```") == "<pre><code>x = 1\n</code></pre>\n"


def test_https_link_gets_rel():
    assert render("[minutes](https://example.org/minutes?id=3&x=4)") == (
        '<p><a href="https://example.org/minutes?id=3&amp;x=4" '
        'rel="noopener noreferrer nofollow">minutes</a></p>\n'
    )


def test_mailto_link_renders():
    assert render("[write](mailto:section@example.org)") == (
        '<p><a href="mailto:section@example.org" rel="noopener noreferrer nofollow">write</a></p>\n'
    )


def test_https_autolink_renders():
    assert render("<https://example.org/a>") == (
        '<p><a href="https://example.org/a" rel="noopener noreferrer nofollow">'
        "https://example.org/a</a></p>\n"
    )


def test_uppercase_https_scheme_is_a_link():
    assert '<a href="HTTPS://example.org"' in render("[x](HTTPS://example.org)")


def test_reference_links_render():
    output = render("See [the agreement][a].\n\n[a]: https://example.org/agreement")
    assert '<a href="https://example.org/agreement" rel="noopener noreferrer nofollow">' in output


def test_link_titles_are_dropped():
    assert render('[x](https://example.org "a title")') == (
        '<p><a href="https://example.org" rel="noopener noreferrer nofollow">x</a></p>\n'
    )


# --- What is refused ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", [
    "[the agreement](http://example.com/agreement)",
    "[the agreement](/campaigns/abc/notes)",
    "[the agreement](notes/3)",
    "[the agreement](//evil.example/)",
    "[the agreement](#section)",
    "[the agreement](ftp://example.com/file)",
    "[the agreement](javascript:alert(1))",
])
def test_refused_links_keep_their_label_only(source):
    assert render(source) == "<p>the agreement</p>\n"


@pytest.mark.parametrize("source", ["<http://example.com>", "<javascript:alert(1)>", "<ftp://x.example>"])
def test_refused_autolinks_disappear(source):
    assert render(f"before {source} after") == "<p>before  after</p>\n"


def test_images_become_their_alt_text():
    assert render("![a *diagram* of the vote](https://evil.example/x.png)") == (
        "<p>a diagram of the vote</p>\n"
    )


def test_image_alt_text_is_escaped():
    output = render("![<script>alert(1)</script>](https://evil.example/x.png)")
    assert output == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"


def test_image_inside_a_link_keeps_the_link_not_the_image():
    assert render("[![logo](https://evil.example/l.png)](https://example.org)") == (
        '<p><a href="https://example.org" rel="noopener noreferrer nofollow">logo</a></p>\n'
    )


def test_raw_html_is_escaped_not_dropped():
    assert render("<b>bold?</b>") == "<p>&lt;b&gt;bold?&lt;/b&gt;</p>\n"


@pytest.mark.parametrize("url,allowed", [
    ("https://example.org", True),
    ("HTTPS://example.org", True),
    ("mailto:a@example.org", True),
    ("  https://example.org", True),
    ("http://example.org", False),
    ("javascript:alert(1)", False),
    ("/relative", False),
    ("//example.org", False),
    ("data:text/html,x", False),
    ("https:example.org", False),
    ("", False),
])
def test_is_allowed_link(url, allowed):
    assert is_allowed_link(url) is allowed


# --- Types and templates -----------------------------------------------------------------------


def test_render_returns_markup_that_jinja_does_not_escape_again():
    env = Environment(autoescape=True)
    output = env.from_string("{{ note }}").render(note=render("**hi** <b>"))
    assert output == "<p><strong>hi</strong> &lt;b&gt;</p>\n"
    assert isinstance(render("x"), Markup)


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_input_renders_empty(empty):
    assert render(empty) == Markup("")
    assert plain_text(empty) == ""


def test_sanitize_html_returns_plain_str():
    # Only render() may hand out Markup.
    result = sanitize_html("<b>x</b>")
    assert type(result) is str


# --- Plain text for previews -------------------------------------------------------------------


def test_plain_text_strips_markdown():
    source = (
        "# Works council\n\nWe **refused** the [agreement](https://example.org).\n\n"
        "- point one\n- point two\n\n![chart](https://evil.example/c.png)"
    )
    assert plain_text(source) == (
        "Works council We refused the agreement. point one point two chart"
    )


def test_plain_text_keeps_typed_html_as_text_for_jinja_to_escape():
    text = plain_text("x <script>alert(1)</script> & y")
    assert text == "x <script>alert(1)</script> & y"
    assert type(text) is str
    env = Environment(autoescape=True)
    assert env.from_string("{{ t }}").render(t=text) == (
        "x &lt;script&gt;alert(1)&lt;/script&gt; &amp; y"
    )


def test_plain_text_drops_refused_addresses():
    assert plain_text("[click](javascript:alert(1)) <javascript:alert(1)>") == "click"


def test_plain_text_truncates_at_a_word_boundary():
    assert plain_text("The general assembly voted", max_chars=16) == "The general…"
    assert len(plain_text("The general assembly voted", max_chars=16)) <= 16
    assert plain_text("short", max_chars=16) == "short"
    assert plain_text("Unbreakablewordhere", max_chars=8) == "Unbreak…"
    assert plain_text("anything", max_chars=0) == ""


# --- Fuzzing -----------------------------------------------------------------------------------

DANGEROUS_FRAGMENTS = [
    "<script>", "</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<iframe ",
    "<object", "<embed", "<style>", "style=", "onclick=", "javascript:", "JaVaScRiPt:",
    "javascript&#58;", "&#106;", "vbscript:", "data:text/html,", "<a href=", "\"", "'", "`", "<", ">",
    "&", "&lt;", "&#x3C;", "[", "]", "(", ")", "![", "](", "http://", "https://", "mailto:", "//",
    "\n", "\n\n", "    ", "\t", "*", "**", "_", "~~", "#", "> ", "- ", "1. ", "|", "|---|", "---",
    "```", "\\", "<https://x.example>", "<javascript:alert(1)>", "[r]: ", "[r]", "\x00", "\u202e",
    "<form>", "<meta http-equiv=refresh>", "<base href=x>", "xlink:href=", "expression(", "%0a",
]
_noise = st.text(max_size=6)
_mixture = st.lists(st.one_of(st.sampled_from(DANGEROUS_FRAGMENTS), _noise), max_size=40).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.one_of(st.text(max_size=300), _mixture))
def test_random_text_never_renders_active_content(source):
    output = render(source)
    assert isinstance(output, Markup)
    assert_structurally_safe(str(output))
    # The output is a fixed point of the sanitizer: nothing in it is something nh3 would remove.
    assert sanitize_html(str(output)) == str(output)
    text = plain_text(source, max_chars=50)
    assert type(text) is str
    assert len(text) <= 50


@settings(max_examples=300, deadline=None)
@given(fragment=_mixture)
def test_sanitizer_alone_never_lets_active_content_through(fragment):
    assert_structurally_safe(sanitize_html(fragment))


def test_deep_nesting_renders_safely_and_later_blocks_survive():
    # markdown-it stops nesting at 20 levels (CommonMark preset) and drops what lies deeper; what
    # follows the deep block must still render, and nothing may raise.
    deep = "> " * 5000 + "x\n\nafter the quote\n\n" + "[" * 5000 + "z" + "](" * 5000
    output = render(deep)
    assert_structurally_safe(str(output))
    assert "<p>after the quote</p>" in output
    assert output.count("<blockquote>") == 20


def test_shallow_nesting_keeps_its_text():
    output = render("> " * 15 + "deep quote\n\n" + "".join("  " * i + "- item\n" for i in range(8)))
    assert "deep quote" in output
    assert output.count("<li>") == 8
