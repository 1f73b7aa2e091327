"""Command-line groups: users, demo, translate, keys, audit, purge. Messages in the chosen language."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from . import audit as audit_log
from . import catalogs
from .database import checkpoint
from .extensions import db

users_cli = AppGroup("users", help="Staff accounts.")
translate_cli = AppGroup("translate", help="Translation catalogs.")
keys_cli = AppGroup("keys", help="Encryption keys.")
audit_cli = AppGroup("audit", help="The audit log.")


def _cli_locale():
    return current_app.config.get("CLI_LOCALE") or current_app.config["BABEL_DEFAULT_LOCALE"]


def _say(message, err=False):
    click.echo(message, err=err)


def localized_command(func):
    """Run a CLI command under the configured locale (CAMPAIGN_DEFAULT_LOCALE / --lang)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        lang = kwargs.pop("lang", None) or _cli_locale()
        with force_locale(lang):
            return func(*args, **kwargs)

    return click.option("--lang", type=click.Choice(["fr", "en"]), default=None,
                        help="Language of the messages / langue des messages.")(wrapper)


# --- users ---------------------------------------------------------------------------------------

@users_cli.command("create")
@click.argument("email")
@click.option("--name", default=None, help="Display name.")
@click.option("--admin", is_flag=True, help="Global administrator.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@localized_command
def users_create(email, name, admin, password_stdin):
    """Create a staff account; the password comes from a prompt or standard input."""
    from .services import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    problem = accounts.password_problem(password)
    if problem:
        from .forms import PASSWORD_MESSAGES

        raise click.ClickException(str(PASSWORD_MESSAGES[problem]))
    try:
        user = accounts.create_user(email, name or email.split("@")[0], password=password,
                                    is_admin=admin)
    except accounts.AccountError as error:
        raise click.ClickException(_("Cannot create the account (%(reason)s).", reason=str(error)))
    db.session.commit()
    _say(_("Account created: %(id)s", id=user.public_id))


@users_cli.command("grant")
@click.argument("email")
@click.argument("campaign_slug")
@click.argument("role", type=click.Choice(["organizer", "rep"]))
@localized_command
def users_grant(email, campaign_slug, role):
    """Give EMAIL the ROLE in the campaign CAMPAIGN_SLUG."""
    from .services import accounts
    from .services.campaigns import get_by_slug

    user = accounts.get_user_by_email(email)
    if user is None:
        raise click.ClickException(_("No account with this e-mail."))
    campaign = get_by_slug(campaign_slug)
    if campaign is None:
        raise click.ClickException(_("No campaign with this short name."))
    accounts.grant(user, campaign, role, actor=None)
    db.session.commit()
    _say(_("Role %(role)s granted in %(campaign)s.", role=role, campaign=campaign.slug))


@users_cli.command("revoke")
@click.argument("email")
@click.argument("campaign_slug")
@click.argument("role", type=click.Choice(["organizer", "rep"]))
@localized_command
def users_revoke(email, campaign_slug, role):
    """Remove ROLE from EMAIL in CAMPAIGN_SLUG and end their sessions."""
    from .services import accounts
    from .services.campaigns import get_by_slug

    user = accounts.get_user_by_email(email)
    campaign = get_by_slug(campaign_slug)
    if user is None or campaign is None:
        raise click.ClickException(_("No such account or campaign."))
    accounts.revoke(user, campaign, role, actor=None)
    db.session.commit()
    _say(_("Role removed."))


@users_cli.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@localized_command
def users_delete(email, yes):
    """Delete the staff account EMAIL for good (the audit log keeps its public id only)."""
    from .services import accounts

    user = accounts.get_user_by_email(email)
    if user is None:
        raise click.ClickException(_("No account with this e-mail."))
    if not yes and not click.confirm(_(
            "Delete this account for good? Its roles, sessions and second factor go with it; "
            "the audit log keeps only its public id (%(id)s).", id=user.public_id)):
        raise click.ClickException(_("Nothing was deleted."))
    public_id = user.public_id
    try:
        accounts.delete_user(user, actor=None)
    except accounts.AccountError:
        raise click.ClickException(
            _("The last active administrator cannot be deleted.")) from None
    db.session.commit()
    _say(_("Account deleted: %(id)s", id=public_id))


# --- translations --------------------------------------------------------------------------------

@translate_cli.command("extract")
def translate_extract():
    """Extract messages into translations/messages.pot."""
    catalogs.extract()
    click.echo(str(catalogs.POT))


@translate_cli.command("update")
def translate_update():
    """Extract, then merge new messages into each language's catalog."""
    catalogs.update()
    click.echo("ok")


@translate_cli.command("compile")
def translate_compile():
    """Compile the catalogs to .mo files."""
    catalogs.compile_catalogs()
    click.echo("ok")


@translate_cli.command("check")
def translate_check():
    """Fail when messages.pot is stale or a French entry is missing, fuzzy or wrong."""
    problems = catalogs.check()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo("ok")


# --- keys ----------------------------------------------------------------------------------------

@keys_cli.command("generate")
@click.argument("key_id")
def keys_generate(key_id):
    """Print a new data key spec to prepend to CAMPAIGN_DATA_KEYS."""
    from config import new_data_key_spec

    click.echo(new_data_key_spec(key_id))


@keys_cli.command("rotate")
@localized_command
def keys_rotate():
    """Re-encrypt every value the key ring encrypts under the first key of CAMPAIGN_DATA_KEYS."""
    from flask_babel import ngettext

    from .services.keys import RotationError, rotate

    try:
        counts = rotate()
    except RotationError as exc:
        db.session.rollback()
        _say(_("Nothing was re-encrypted: the value in %(kind)s of row %(id)s does not decrypt "
               "with the keys of CAMPAIGN_DATA_KEYS.", kind=exc.kind, id=exc.row_id), err=True)
        raise SystemExit(1) from None
    db.session.commit()
    _say(ngettext("%(num)d value re-encrypted under %(kid)s.",
                  "%(num)d values re-encrypted under %(kid)s.", sum(counts.values()),
                  kid=current_app.extensions["campaign_keyring"].primary_id))
    for kind, n in counts.items():
        _say(f"  {kind}: {n}")


# --- audit ---------------------------------------------------------------------------------------

@audit_cli.command("verify")
@localized_command
def audit_verify():
    """Check the hash chain; name the first broken event."""
    count, broken = audit_log.verify()
    if broken is not None:
        _say(_("Audit log broken at event #%(n)d (%(id)s, %(action)s).", n=broken.id,
               id=broken.public_id, action=broken.action), err=True)
        raise SystemExit(1)
    _say(_("Audit log intact: %(n)d events, head %(head)s.", n=count, head=audit_log.head_hash()))


# --- purge ---------------------------------------------------------------------------------------

@click.command("purge")
@with_appcontext
@localized_command
def purge_command():
    """Apply the retention rules (daily cron job)."""
    from .services import accounts, signatures, statements

    sessions = accounts.purge_expired_sessions()
    invitations = accounts.purge_spent_invitations()
    erased = signatures.purge_due()
    statements_purged = statements.purge_due()
    db.session.commit()
    db.session.remove()
    checkpoint(current_app)
    _say(_("Expired staff sessions removed: %(n)d.", n=sessions))
    _say(_("Used or expired staff invitations removed: %(n)d.", n=invitations))
    _say(_("Signer identities erased after retention: %(n)d.", n=erased["retention"]))
    _say(_("Unconfirmed signatures expired: %(n)d.", n=erased["unconfirmed"]))
    _say(_("Statement authors and original texts erased after retention: %(n)d.",
           n=statements_purged))


mail_cli = AppGroup("mail", help="Outgoing mail.")


@mail_cli.command("deliver")
@localized_command
def mail_deliver():
    """Send queued mail, retrying failed deliveries (cron, every few minutes)."""
    from . import mail
    from .petitions.jobs import process_link_requests

    process_link_requests()
    db.session.commit()
    expired = mail.drop_expired()
    sent, failed = mail.deliver_pending(limit=1000)
    _say(_("Mail sent: %(sent)d; still waiting: %(waiting)d.", sent=sent,
           waiting=mail.pending_count()))
    if expired:
        _say(_("Mail given up, still not sent after %(hours)d hours: %(count)d.",
               hours=current_app.config["MAIL_MAX_AGE_HOURS"], count=expired), err=True)
    if failed or expired:
        raise SystemExit(1)


petitions_cli = AppGroup("petitions", help="Petitions.")


@petitions_cli.command("refresh")
@localized_command
def petitions_refresh():
    """Refresh every open petition's public count and names (the batch; cron)."""
    from sqlalchemy import select

    from .models import Petition
    from .services import signatures

    count = 0
    for petition in db.session.execute(select(Petition)).scalars():
        signatures.refresh_snapshot(petition)
        count += 1
    db.session.commit()
    _say(_("Public figures refreshed for %(n)d petitions.", n=count))


# --- demo ----------------------------------------------------------------------------------------

@click.command("demo")
@with_appcontext
@localized_command
def demo_command():
    """Seed a fictional demo campaign once (never in production)."""
    from .demo import seed

    if not current_app.config.get("DEMO_ALLOWED"):
        raise click.ClickException(_("The demo never runs in production."))
    result = seed()
    db.session.commit()
    if result is None:
        _say(_("The demo campaign already exists; nothing changed."))
        return
    for line in result:
        _say(line)


def init_app(app):
    for group in (users_cli, translate_cli, keys_cli, audit_cli, mail_cli, petitions_cli):
        app.cli.add_command(group)
    app.cli.add_command(purge_command)
    app.cli.add_command(demo_command)
    from .backup import backup_command

    app.cli.add_command(backup_command)
    from .tallies.cli import tallies_cli

    app.cli.add_command(tallies_cli)
