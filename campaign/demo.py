"""A fictional demo campaign (made-up employer and contract) for trying the application locally."""

import secrets

from flask_babel import gettext as _

from .services import accounts, campaigns, consent, petitions
from .services.campaigns import get_by_slug

DEMO_SLUG = "end-the-contract"

SITES = [
    ("paris", "Paris – La Défense", "Paris – La Défense", 900),
    ("lyon", "Lyon", "Lyon", 420),
    ("toulouse", "Toulouse", "Toulouse", 380),
    ("nantes", "Nantes", "Nantes", 210),
    ("lille", "Lille", "Lille", 60),
]
DEPARTMENTS = [
    ("consulting", "Conseil", "Consulting", 600),
    ("infra", "Infrastructures et cloud", "Infrastructure and cloud", 450),
    ("software", "Développement logiciel", "Software development", 520),
    ("data", "Données et IA", "Data and AI", 240),
    ("support", "Fonctions support", "Support functions", 160),
]


def _password():
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


def seed():
    """Create the demo once. Returns printable lines, or None when it already exists."""
    if get_by_slug(DEMO_SLUG) is not None:
        return None
    people = {}
    for key, email, name, admin in (
        ("admin", "admin@example.org", "Camille (admin)", True),
        ("organizer", "organizer@example.org", "Dominique (organisatrice)", False),
        ("rep", "rep@example.org", "Sacha (délégué)", False),
    ):
        password = _password()
        user = accounts.get_user_by_email(email)
        if user is None:
            user = accounts.create_user(email, name, password=password, is_admin=admin)
        else:
            accounts.set_password(user, password)
        people[key] = (user, password)

    organizer = people["organizer"][0]
    campaign = campaigns.create_campaign(
        DEMO_SLUG,
        actor=organizer,
        title_fr="Pas en notre nom : mettons fin au contrat de surveillance",
        title_en="Not in our name: end the surveillance contract",
        summary_fr=(
            "Notre filiale américaine, Altavia Federal Solutions, a signé un contrat pour localiser "
            "des personnes pour le compte d'une agence de contrôle de l'immigration, en croisant "
            "des données personnelles. La section syndicale demande la fin de ce contrat. "
            "(Campagne fictive de démonstration.)"
        ),
        summary_en=(
            "Our US subsidiary, Altavia Federal Solutions, signed a contract to locate people for an "
            "immigration-enforcement agency by cross-referencing personal data. The union section "
            "demands that the contract end. (Fictional demo campaign.)"
        ),
        employer="Altavia Numérique (fictional)",
        employer_domains="altavia-numerique.example, altavia.example",
        status="active",
        retention_days=180,
        tally_threshold=10,
    )
    for code, fr, en, headcount in SITES:
        campaigns.add_unit(campaign, "site", code, actor=organizer, name_fr=fr, name_en=en,
                           headcount=headcount)
    for code, fr, en, headcount in DEPARTMENTS:
        campaigns.add_unit(campaign, "department", code, actor=organizer, name_fr=fr, name_en=en,
                           headcount=headcount)
    accounts.grant(people["rep"][0], campaign, "rep", actor=people["admin"][0])
    consent.seed_defaults()
    petition = petitions.create_petition(
        campaign, "stop", actor=organizer,
        title_fr="Mettez fin au contrat de localisation",
        title_en="End the location contract",
        text_fr=(
            "Nous, salarié·es d'Altavia Numérique, demandons à la direction de mettre fin au "
            "contrat signé par sa filiale américaine pour localiser des personnes au profit d'une "
            "agence de contrôle de l'immigration.\n\nNos compétences ne doivent pas servir à "
            "traquer des personnes."
        ),
        text_en=(
            "We, employees of Altavia Numérique, ask management to end the contract its US "
            "subsidiary signed to locate people for an immigration-enforcement agency.\n\nOur "
            "skills must not be used to hunt people down."
        ),
        addressee="Direction générale / Executive board",
        goal=1000, status="open", verification="none", refresh_minutes=15,
    )

    from .demo_voices import seed_voices

    seed_voices(campaign, people["rep"][0], organizer)
    from .demo_tallies import seed_tally_demo

    seed_tally_demo(campaign, petition)

    lines = [_("Demo campaign created: /c/%(slug)s", slug=DEMO_SLUG)]
    for key in ("admin", "organizer", "rep"):
        user, password = people[key]
        lines.append(_("%(role)s: %(email)s / %(password)s", role=key, email=user.email,
                       password=password))
    return lines
