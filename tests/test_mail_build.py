"""A mail is built cheaply on the signing path, and built exactly as the email library builds it:
the links filled into a template rendered once, and headers that are one short ASCII line
written without the Header machinery."""

from email import message_from_bytes, policy
from email.header import Header
from email.mime.text import MIMEText

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign import mail

# Links as they could come: a host with a port, a path, a query, characters HTML would escape.
LINKS = ("http://localhost/s/" + "a" * 43, "https://example.org:8443/confirm/b-c_d?x=1&y=<2>",
         "http://[::1]/s/\"quoted\" 'single'")


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("template", sorted(mail.FILLED_IN))
def test_a_filled_in_template_reads_as_the_one_rendered_in_full(app, template, locale):
    arguments = {"private_link": ["private_link"],
                 "confirm_signature": ["confirm_link", "private_link"],
                 "already_signed": ["lost_link"]}[template]
    with app.test_request_context("/"):
        for number, link in enumerate(LINKS):
            context = {name: f"{link}/{name}/{number}" for name in arguments}
            filled = mail.render(template, locale, **context)
            assert filled == mail._render(template, locale, context)
            for value in context.values():
                assert value in filled[1]
        assert len(app.extensions["campaign_mail_forms"]) == 1  # rendered once, then filled


def test_a_template_given_anything_but_text_is_rendered_in_full(app):
    with app.test_request_context("/"):
        mail.render("private_link", "en", private_link=LINKS[0], petition=object())
        assert "campaign_mail_forms" not in app.extensions


header_names = st.sampled_from(["Subject", "From", "To", "Date", "Message-ID", "X-Long-Name"])
header_values = st.one_of(
    st.text(max_size=120),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120),
    st.from_regex(r"[a-z0-9.+-]{1,64}@[a-z0-9-]{1,40}\.example", fullmatch=True),
    st.sampled_from(["Notifications <no-reply@localhost>", "  padded  ", "a\tb", "x\ny",
                     "=?utf-8?q?Votre_lien_priv=C3=A9?=", "a" * 71, "a" * 80]),
)


@settings(max_examples=400, deadline=None)
@given(name=header_names, value=header_values)
def test_a_header_is_folded_as_compat32_folds_it(name, value):
    fast = mail.SHORT_LINE_COMPAT32
    assert fast.fold(name, value) == policy.compat32.fold(name, value)
    assert fast.fold_binary(name, value) == policy.compat32.fold_binary(name, value)


@pytest.mark.parametrize("subject", ["Your private link", "Votre lien privé",
                                     "Une demande dont l’objet est très long, " * 3])
@pytest.mark.parametrize("to", ["alice@personal.example",
                                "a" * 60 + "@" + "b" * 60 + ".example"])
def test_a_message_is_the_bytes_compat32_writes(app, subject, to):
    body = "Bonjour,\n\nVoici votre lien privé :\n\n" + LINKS[1] + "\n" + "é" * 200 + "\n"
    with app.app_context():
        message = mail.build_message(to, subject, body)
    # the same message built the library's plain way: a compat32 MIMEText, a Header subject
    reference = MIMEText(body, "plain", mail.UTF8)
    reference["Subject"] = Header(subject, mail.UTF8)
    for name in ("From", "To", "Date", "Message-ID"):
        reference[name] = message[name]
    assert bytes(message) == bytes(reference)
    read = message_from_bytes(bytes(message), policy=policy.default)
    assert read["Subject"] == subject and read["To"] == to
    assert read.get_content() == body
