"""Thin views for reading and signing a petition and for the signer's private page.

The private link (/s/<token>) is exchanged on first use for a short session and the browser is
sent to /me, an address without the token. Nothing on these pages depends on whether an address
signed before: a repeated signature gets a shadow record and the same page (see services).
"""


from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import bindparam, exists, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import contains_eager

from .. import access, mail, private_links
from ..database import (
    begin_write,
    mark_write_request,
    reads_first,
    reads_from_here,
    transient,
)
from ..extensions import db, limiter
from ..i18n import current_locale
from ..models import Campaign, Petition, PetitionSnapshot, Signature, Unit
from ..models.consent import SIGNATURE_PURPOSES
from ..services import consent
from ..services import signatures as service
from . import bp, jobs, page_cache
from .forms import ConfirmForm, ConsentForm, LostLinkForm, SignForm

KIND = "signature"


def _find_by_hash(digest):
    from ..models import Signature

    return db.session.execute(
        select(Signature).where(Signature.token_hash == digest)).scalar_one_or_none()


private_links.register(KIND, find_by_hash=_find_by_hash,
                       find_by_public_id=lambda public_id: service.get_by_public_id(public_id),
                       endpoint="petitions.me")

ERRORS = {
    "bad_unit": lambda: _("Choose a site and a department from the lists."),
    "closed": lambda: _("This petition is not open for signatures."),
    "missing": lambda: _("Your name and e-mail address are needed."),
    "bad_version": lambda: _("The consent texts changed while you were filling in the form. Please check your choices again."),
}


def _sign_limit():
    return current_app.config.get("SIGN_RATE_LIMIT", "30 per minute;500 per hour")


def _link_limit():
    return current_app.config.get("LINK_RATE_LIMIT", "20 per minute")


#: one query for the petition and its campaign, built once (every view of a petition runs it)
_PETITION_BY_SLUGS = (
    select(Petition).join(Petition.campaign)
    .where(Campaign.slug == bindparam("slug"), Petition.slug == bindparam("petition_slug"))
    .options(contains_eager(Petition.campaign))
)


#: the same with its public snapshot (if any), the campaign's units (one row per unit) and
#: which consent texts are current, which then need no query of their own
_PETITION_PAGE_BY_SLUGS = (
    _PETITION_BY_SLUGS.add_columns(PetitionSnapshot, consent.LATEST_TEXT_ID)
    .outerjoin(PetitionSnapshot, PetitionSnapshot.petition_id == Petition.id)
    .options(contains_eager(Petition.campaign).joinedload(Campaign.units))
)

_P, _C, _U, _SIG = (model.__table__ for model in (Petition, Campaign, Unit, Signature))

#: what a signature reads, as one plain row: the petition, its campaign, which consent texts
#: are current (made into read-only copies, see `_petition_to_sign`), and whether a signer key
#: is taken on this petition
_PETITION_TO_SIGN_ROW = (
    select(_P, _C, consent.LATEST_TEXT_ID,
           exists().where(_SIG.c.petition_id == _P.c.id,
                          _SIG.c.signer_key == bindparam("key")).label("taken"))
    .select_from(_P.join(_C, _P.c.campaign_id == _C.c.id))
    .where(_C.c.slug == bindparam("slug"), _P.c.slug == bindparam("petition_slug"))
)

#: the same for a signature about to be written: on PostgreSQL the petition's and campaign's
#: rows are share-locked until the transaction ends (an organizer's change waits for it); SQLite
#: renders no FOR SHARE: there the transaction holds the database's write lock already
_PETITION_TO_SIGN_ROW_LOCKED = _PETITION_TO_SIGN_ROW.with_for_update(read=True, of=(_P, _C))

#: a campaign's units as plain rows, read (share-locked on PostgreSQL, like the petition) when
#: a signer chose one
_UNITS_OF_CAMPAIGN = (select(_U).where(_U.c.campaign_id == bindparam("campaign_id"))
                      .with_for_update(read=True))

#: the session's own petition and campaign by id (a page shown again after a signature's
#: read-only copies)
_PETITION_BY_ID = (
    select(Petition).join(Petition.campaign).where(Petition.id == bindparam("id"))
    .options(contains_eager(Petition.campaign))
    .execution_options(populate_existing=True)
)


def _petition_to_sign(slug, petition_slug, email, *, writing=False):
    """(petition, latest consent text id, service.LookedUp) for a signature, or (None, None,
    None). The petition and its campaign are read-only copies of their rows
    (database.transient), not ORM objects: building those cost a tenth of a signature; a page
    shown again takes `_attached`. `writing`: the signature is to be written in this
    transaction, which then keeps what it reads true until it commits (SQLite: `begin_write`
    took the write lock; PostgreSQL: the rows are read FOR SHARE).

    The same query tells whether `email` signed before, by the signer key made with the
    petition's public id as this worker last read it for these slugs (it never changes; the
    service looks the key up itself if it was not this one)."""
    public_ids = current_app.extensions.setdefault("campaign_petition_public_ids", {})
    public_id = public_ids.get((slug, petition_slug))
    key = service.signer_key_for(public_id, email) if public_id and email else None
    row = db.session.connection().execute(
        _PETITION_TO_SIGN_ROW_LOCKED if writing else _PETITION_TO_SIGN_ROW,
        {"slug": slug, "petition_slug": petition_slug, "key": key}).first()
    if row is None:
        return None, None, None
    values, middle = tuple(row), len(_P.columns)
    found = transient(Petition, values[:middle])
    found.__dict__["campaign"] = transient(Campaign, values[middle:-2])
    if public_id != found.public_id:
        if len(public_ids) >= 256:  # bounded: slugs come from the address
            public_ids.clear()
        public_ids[(slug, petition_slug)] = found.public_id
    return found, values[-2], service.LookedUp(key=key, taken=bool(values[-1]),
                                               petition_public_id=public_id, email=email)


def _attached(found):
    """The session's own petition (and campaign) for a read-only copy, to render a page."""
    return db.session.execute(_PETITION_BY_ID, {"id": found.id}).scalar_one_or_none()


def _read_units(campaign):
    """Give a read-only campaign copy its units as they are now (the signature's transaction
    keeps them so: write lock on SQLite, FOR SHARE on PostgreSQL)."""
    rows = db.session.connection().execute(_UNITS_OF_CAMPAIGN, {"campaign_id": campaign.id})
    campaign.__dict__["units"] = [transient(Unit, tuple(row)) for row in rows]


def _petition_page_or_404(slug, petition_slug):
    """(petition, its snapshot or None, the latest consent text's id) in one query."""
    row = db.session.execute(
        _PETITION_PAGE_BY_SLUGS, {"slug": slug, "petition_slug": petition_slug}
    ).unique().one_or_none()
    petition, snapshot, latest_text_id = row if row is not None else (None, None, None)
    access.authorize(access.can_view_public_petition(petition), hide=True)
    return petition, snapshot, latest_text_id


def _links():
    return service.Links(
        private=lambda token: url_for("petitions.open_link", token=token, _external=True),
        confirm=lambda token: url_for("petitions.confirm", token=token, _external=True),
        lost=lambda: url_for("petitions.lost_link_page", _external=True),
    )


def _snapshot(petition, loaded=None):
    """The batched public figures; refreshed at most once per interval, never per signature.
    `loaded`: the snapshot already read with the petition, if any."""
    snapshot = loaded or db.session.get(PetitionSnapshot, petition.id)
    if not service.snapshot_is_stale(petition, snapshot):
        return snapshot
    # A cache refresh, not a state change. End the read transaction so the refresh takes the
    # write lock up front; if the database is busy the page shows the previous figures.
    db.session.rollback()
    mark_write_request()
    try:
        snapshot = service.refresh_snapshot(petition)
        db.session.commit()
    except OperationalError:  # busy: show what is there
        db.session.rollback()
        snapshot = db.session.get(PetitionSnapshot, petition.id)
    return snapshot


@bp.get("/c/<slug>/p/<petition_slug>")
@access.public
def petition(slug, petition_slug):
    if page_cache.applies():
        # A visitor's plain view: the same inputs give the same page (see page_cache).
        seen = page_cache.read(slug, petition_slug)
        html = page_cache.get(seen.petition_id, seen.key) if seen is not None else None
        if html is not None:
            return html
    found, snapshot, latest_text_id = _petition_page_or_404(slug, petition_slug)
    texts = consent.current_texts(SIGNATURE_PURPOSES, latest_id=latest_text_id)
    return _render_petition(found, texts, None, snapshot=snapshot, latest_text_id=latest_text_id)


def _render_petition(found, texts, form, *, work_warning=False, status=200, snapshot=None,
                     latest_text_id=None):
    """The page; a visitor's plain view (no form given) is stored for the next visitors."""
    snapshot = _snapshot(found, snapshot)
    name_rows = service.public_name_rows(snapshot)
    is_open = service.petition_is_open(found)
    key = None
    if form is None and latest_text_id is not None and page_cache.applies():
        key = page_cache.key_of(found, latest_text_id, snapshot, name_rows, is_open)
    if form is None and is_open:
        form = SignForm().setup(found, texts, current_locale())
    elif form is not None:
        form.choose_units(found, current_locale())  # a submitted form, shown again
    html = render_template(
        "petitions/petition.html", petition=found, campaign=found.campaign, form=form,
        is_open=is_open, snapshot=snapshot, names=service.names_of(name_rows),
        work_warning=work_warning, texts=texts,
    )
    if key is not None:
        page_cache.put(found.id, key, html)
    return html, status


def _work_domain(campaign, email):
    domain = (email or "").rpartition("@")[2].lower()
    return any(domain == d or domain.endswith("." + d) for d in campaign.employer_domain_list())


@bp.post("/c/<slug>/p/<petition_slug>/sign")
@limiter.limit(_sign_limit)
@access.public
@reads_first
def sign(slug, petition_slug):
    # The form is checked before anything is read: a signature then takes the write lock at
    # its first query (SQLite), so what it reads stays true until it commits; a page shown
    # again (errors, a warning) gives the lock back first (`reads_from_here`).
    form = SignForm(formdata=request.form)
    valid = form.validate_on_submit()
    writing = valid and not form.website.data
    if writing:
        begin_write()
    found, latest_text_id, looked_up = _petition_to_sign(
        slug, petition_slug, request.form.get("email"), writing=writing)
    access.authorize(access.can_view_public_petition(found), hide=True)
    texts = consent.current_texts(SIGNATURE_PURPOSES, latest_id=latest_text_id)
    form.setup(found, texts, current_locale(), units=False)
    if not service.petition_is_open(found):
        abort(404)
    if not valid:
        return _shown_again(found, texts, form, status=400)
    if form.website.data:
        # A bot filled the honeypot: answer like a success, store nothing.
        return page_cache.thank_you(
            found, url_for("petitions.open_link", token="0" * 43, _external=True),
            needs_confirmation=False)
    if _work_domain(found.campaign, form.email.data) and not form.use_work_address.data:
        return _shown_again(found, texts, form, work_warning=True)
    shown = form.shown_versions()
    chosen_texts = {}
    for purpose in SIGNATURE_PURPOSES:
        text = texts[purpose] if shown[purpose] == texts[purpose].version else (
            consent.get_text(purpose, shown[purpose]) if shown[purpose] else None)
        if text is None:
            form.form_errors.append(ERRORS["bad_version"]())
            return _shown_again(found, texts, form, status=400)
        chosen_texts[purpose] = text
    data = service.SignerInput(
        name=form.name.data, email=form.email.data, site_id=form.site.data,
        department_id=form.department.data, consents=form.chosen_consents(),
        locale=current_locale())
    links = _links()
    try:
        prepared = service.prepare(found, data, links=links, looked_up=looked_up)
        if data.site_id is not None or data.department_id is not None:
            _read_units(found.campaign)  # the service checks the choice against them
        result = service.sign(found, data, links=links, texts=chosen_texts, prepared=prepared)
    except service.SignatureError as error:
        form.form_errors.append(ERRORS.get(str(error), ERRORS["missing"])())
        return _shown_again(found, texts, form, status=400)
    # The answer shows the petition as this transaction just read it: no reload after commit.
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    return page_cache.thank_you(
        found, url_for("petitions.open_link", token=result.token, _external=True),
        needs_confirmation=result.needs_confirmation)


def _shown_again(found, texts, form, **options):
    """The petition page with the submitted form, once the write lock (if any) is given back
    and nothing of this request is kept."""
    reads_from_here()
    found = _attached(found)
    if found is None:
        abort(404)
    return _render_petition(found, texts, form, **options)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@limiter.limit(_link_limit, methods=["POST"])
@access.public
def confirm(token):
    """GET shows a button; only the POST confirms (mail scanners follow GET links)."""
    signature = service.find_by_confirm_token(token)
    form = ConfirmForm()
    if signature is None:
        return render_template("petitions/link_invalid.html"), 404
    if form.validate_on_submit():
        service.confirm(signature)
        db.session.commit()
        return render_template("petitions/confirmed.html", petition=signature.petition)
    return render_template("petitions/confirm.html", form=form, petition=signature.petition)


@bp.get("/s/<token>")
@limiter.limit(_link_limit)
@access.public
def open_link(token):
    """Exchange a private link (of any kind) for a short session, then drop the token."""
    kind, record = private_links.resolve(token)
    if record is None:
        return render_template("petitions/link_invalid.html"), 404
    private_links.start(kind, record)
    return redirect(url_for(kind.endpoint))


def _current_signature():
    signature = private_links.held(KIND)
    if signature is None:
        return None
    return signature if access.can_manage_own_signature(signature.public_id, signature) else None


def _signature_or_expired():
    signature = _current_signature()
    if signature is None:
        abort(make_response(render_template("petitions/session_expired.html"), 403))
    return signature


@bp.get("/me")
@access.public
def me():
    signature = _signature_or_expired()
    name, email = service.identity(signature)
    effective = consent.effective(signature=signature)
    texts = consent.current_texts(SIGNATURE_PURPOSES)
    history = consent.history(signature=signature)
    return render_template("petitions/me.html", signature=signature, petition=signature.petition,
                           name=name, email=email, effective=effective, texts=texts,
                           history=history, purposes=SIGNATURE_PURPOSES, form=ConfirmForm())


@bp.post("/me/consent")
@access.public
def change_consent():
    signature = _signature_or_expired()
    form = ConsentForm()
    if not form.validate_on_submit() or form.purpose.data not in SIGNATURE_PURPOSES:
        abort(400)
    try:
        service.change_consent(signature, form.purpose.data, form.granted.data == "1")
    except service.SignatureError:
        abort(400)
    db.session.commit()
    flash(_("Your choice is saved. It applies everywhere from now on."), "success")
    return redirect(url_for("petitions.me"))


@bp.post("/me/withdraw")
@access.public
def withdraw():
    signature = _signature_or_expired()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    service.withdraw(signature)
    db.session.commit()
    flash(_("Your signature is withdrawn and your name and e-mail address are erased."), "success")
    return redirect(url_for("petitions.me"))


@bp.get("/me/data.json")
@access.public
def download():
    signature = _signature_or_expired()
    return private_links.own_data_download(service.export_own(signature), "my-signature.json")


@bp.post("/me/erase")
@access.public
def erase():
    signature = _signature_or_expired()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    service.erase(signature)
    db.session.commit()
    private_links.end()
    return render_template("petitions/erased.html")


@bp.post("/me/leave")
@access.public
def leave():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    private_links.end()
    return redirect(url_for("public.home"))


@bp.route("/lost-link", methods=["GET", "POST"])
@limiter.limit(_link_limit, methods=["POST"])
@access.public
def lost_link_page():
    """Same answer whether or not the address signed; its owner gets the mail."""
    petitions = db.session.execute(select(Petition).order_by(Petition.id)).scalars().all()
    visible = [p for p in petitions if access.can_view_public_petition(p)]
    form = LostLinkForm()
    chosen = request.values.get("petition")
    target = next((p for p in visible if p.public_id == chosen), None)
    if form.validate_on_submit() and target is not None:
        service.request_lost_link(target, form.email.data, current_locale(), request.host_url)
        db.session.commit()
        mail.after_response(jobs.process_link_requests)
        return render_template("petitions/lost_link_sent.html")
    status = 400 if request.method == "POST" else 200
    return render_template("petitions/lost_link.html", form=form, petitions=visible,
                           chosen=chosen), status
