"""`flask tallies`: export a release (the same file as the dashboard's download) and take the
scheduled releases (cron). Messages in the chosen language."""

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _

from ..extensions import db
from ..i18n import LOCALES
from ..models import Petition
from ..models.tallies import RELEASE_SCHEDULED
from ..services import exports
from ..services import tallies as service
from ..services.campaigns import get_by_slug
from ..services.petitions import get as get_petition

tallies_cli = AppGroup("tallies", help="Anonymized tallies.")

ERRORS = {
    "bad_dimensions": lambda: _("This release has no such breakdown (use site, department or "
                                "site,department)."),
    "bad_period": lambda: _("The period is week or month."),
    "bad_format": lambda: _("The format is csv or json."),
    "deferred": lambda: _("This release was deferred: it cannot be exported."),
}


def _locale(lang):
    return lang or current_app.config.get("CLI_LOCALE") or current_app.config[
        "BABEL_DEFAULT_LOCALE"]


@tallies_cli.command("export")
@click.argument("campaign_slug")
@click.option("--petition", "petition_slug", required=True, help="The petition's short name.")
@click.option("--by", default=None,
              help="site, department or site,department (default: every dimension).")
@click.option("--period", type=click.Choice(service.PERIODS), default=service.WEEK,
              show_default=True)
@click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default=exports.CSV,
              show_default=True)
@click.option("--lang", type=click.Choice(LOCALES), default=None,
              help="Language of the file and the messages / langue du fichier et des messages.")
@click.option("--french-csv", is_flag=True,
              help="CSV for a French spreadsheet: ';' separators, UTF-8 with BOM.")
@click.option("--release", "release_id", default=None,
              help="Public id of the release (default: the latest one).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
def export_command(campaign_slug, petition_slug, by, period, fmt, lang, french_csv, release_id,
                   output):
    """Export a release of a petition's tally (audited; the same file as the dashboard's)."""
    lang = _locale(lang)
    with force_locale(lang):
        campaign = get_by_slug(campaign_slug)
        petition = get_petition(campaign, petition_slug) if campaign is not None else None
        if petition is None:
            raise click.ClickException(_("No such campaign or petition."))
        release = (service.get_release(petition, release_id) if release_id
                   else service.latest_release(petition))
        if release is None:
            raise click.ClickException(_("There is no release to export yet. Take one with "
                                         "“flask tallies release”."))
        try:
            exported = exports.export_release(
                release, by=release.dimension_list if by is None else by, period=period,
                fmt=fmt, lang=lang, french_csv=french_csv, actor=None)
        except service.TallyError as error:
            db.session.rollback()
            raise click.ClickException(
                ERRORS.get(str(error), ERRORS["bad_dimensions"])()) from error
        db.session.commit()
        if output:
            with open(output, "wb") as handle:
                handle.write(exported.content)
            click.echo(_("Written to %(path)s (audit event %(id)s).", path=output,
                         id=exported.event_id), err=True)
        else:
            click.echo(exported.content, nl=False)  # bytes: written as they are


@tallies_cli.command("release")
@click.option("--campaign", "campaign_slug", default=None, help="Only this campaign.")
@click.option("--lang", type=click.Choice(LOCALES), default=None,
              help="Language of the messages / langue des messages.")
def release_command(campaign_slug, lang):
    """Take the scheduled releases of every open or closed public petition (cron, e.g. daily)."""
    with force_locale(_locale(lang)):
        petitions = service.release_due_petitions()
        if campaign_slug:
            petitions = [p for p in petitions if p.campaign.slug == campaign_slug]
        results = {"released": 0, "deferred": 0, "unchanged": 0}
        for petition_id, where in [(p.id, f"{p.campaign.slug}/{p.slug}") for p in petitions]:
            # one transaction per petition: the write lock is never held for all of them
            petition = db.session.get(Petition, petition_id)
            outcome = service.take_release(petition, kind=RELEASE_SCHEDULED)
            db.session.commit()
            results[outcome.result] += 1
            if outcome.result == "released":
                click.echo(_("%(where)s: released.", where=where))
            elif outcome.result == "unchanged":
                click.echo(_("%(where)s: unchanged since the latest release.", where=where))
            else:
                click.echo(_("%(where)s: deferred (%(reason)s).", where=where,
                             reason=outcome.reason))
        click.echo(_("Releases: %(released)d taken, %(deferred)d deferred, %(unchanged)d "
                     "unchanged.", **results))
