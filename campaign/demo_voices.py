"""Demo content for a campaign's voices: statements, meeting notes (one edited) and actions.

Fictional, like the rest of the demo. Called by campaign.demo once the campaign, its units, its
staff and the consent texts exist. Flushes, never commits.
"""

from datetime import timedelta

from .models.base import utcnow
from .services import actions, consent, meetings, statements

STATEMENTS = [
    # (language, text, publication, name, share_with_reps, decision, redacted, translation)
    (
        "fr",
        "J'ai choisi ce métier pour construire des outils utiles, pas pour aider à traquer des "
        "familles. Je ne veux pas que mon travail serve à ça.",
        "public_anonymous", None, False, "publish", None,
        "I chose this job to build useful tools, not to help hunt families down. I do not want "
        "my work to serve that purpose.",
    ),
    (
        "en",
        "Our code of ethics says we refuse projects that harm people. This contract is exactly "
        "that. I am proud to sign with my name.",
        "public_named", "Alex Martin", True, "publish_named", None, None,
    ),
    (
        "fr",
        "Dans l'équipe Atlas à Lyon, on nous a demandé en mars d'optimiser le croisement des "
        "fichiers. Personne ne nous a dit pour qui.",
        "public_anonymous", None, False, "publish",
        "Dans mon équipe, on nous a demandé d'optimiser le croisement des fichiers. Personne ne "
        "nous a dit pour qui.",
        None,
    ),
    (
        "fr",
        "Je travaille sur le projet depuis deux ans et j'ai peur de perdre mon poste si je parle. "
        "Je préfère que seuls les représentants lisent ceci.",
        "reps_only", "Camille D.", True, None, None, None,
    ),
    (
        "en",
        "I would like the union to ask management for a meeting about the contract and about "
        "who decided it.",
        "public_anonymous", None, False, None, None, None,
    ),
]

NOTES = [
    # (days ago, kind, visibility, title, attendees, body, decisions, follow-ups)
    (
        40, "union_section", "reps_only", "Réunion de section : lancement de la campagne",
        "Sacha (délégué)\nDeux élu·es CSE",
        "## Contexte\n\nLe contrat de la filiale américaine est public depuis le **3 du mois**.\n\n"
        "- inquiétude forte dans les équipes données\n- peur de représailles",
        "1. Lancer une pétition\n2. Recueillir des témoignages anonymes",
        "- Rédiger le texte de la pétition\n- Prévenir l'union départementale",
    ),
    (
        21, "works_council", "reps_and_organizers", "CSE extraordinaire",
        "Élu·es CSE\nDirection des ressources humaines",
        "La direction refuse de communiquer le contrat. Elle parle d'un « projet comme un autre ».",
        "Demander une expertise sur le projet.",
        "- Courrier à la direction sous huit jours",
    ),
    (
        7, "negotiation", "reps_only", "Rencontre avec la direction générale",
        "Sacha (délégué)\nDirecteur général\nDRH",
        "Première rencontre. La direction écoute mais ne s'engage à rien.",
        "",
        "- Remettre la pétition\n- Nouvelle rencontre dans un mois",
    ),
]

ACTIONS = [
    # (days from today, kind, visibility, title fr, title en, description fr, description en,
    #  participants)
    (-35, "communique", "public", "Communiqué : pas en notre nom",
     "Press release: not in our name",
     "La section syndicale demande la fin du contrat.",
     "The union section demands that the contract end.", None),
    (-14, "rally", "public", "Rassemblement devant le siège", "Rally outside headquarters",
     "Rassemblement à la pause de midi.", "Rally during the lunch break.", 140),
    (-7, "management_meeting", "internal", "Rencontre avec la direction générale",
     "Meeting with the executive board", None, None, 3),
    (12, "petition_delivery", "public", "Remise de la pétition", "Petition delivery",
     "Remise des signatures à la direction générale, à 12 h 30 devant le siège.",
     "Handing the signatures to the executive board, 12:30 outside headquarters.", None),
    (26, "strike", "public", "Journée de grève", "Strike day", None, None, None),
]


def seed_voices(campaign, rep, organizer):
    """Add demo statements, notes and actions to `campaign`. Returns how many of each."""
    consent.seed_defaults()
    texts = consent.current_texts(("publish", "publish_named", "share_with_reps"))
    count = {"statements": 0, "notes": 0, "actions": 0}

    for (language, text, publication, name, share, decision, redacted,
         translation) in STATEMENTS:
        statement, _token = statements.submit(
            campaign,
            statements.StatementInput(text=text, language=language, name=name,
                                      publication=publication, share_with_reps=share,
                                      locale=language),
            link_for=lambda token: "", texts=texts)
        if decision:
            statements.publish(statement, actor=rep, redacted_text=redacted or text,
                               named=decision == "publish_named")
        if translation:
            statements.set_translation(statement, actor=rep, translation=translation)
        count["statements"] += 1

    today = utcnow().date()
    for days, kind, visibility, title, attendees, body, decisions, follow_ups in NOTES:
        note = meetings.create_note(
            campaign, actor=rep, title=title, held_on=today - timedelta(days=days), kind=kind,
            visibility=visibility, attendees=attendees, body=body, decisions=decisions,
            follow_ups=follow_ups)
        count["notes"] += 1
    # The last note is edited twice, so its history has something to show.
    meetings.update_note(note, actor=rep, body=note.body + "\n\nElle demande un délai "
                         "de réflexion.")
    meetings.update_note(note, actor=rep, decisions="Accepter une seconde rencontre.",
                         follow_ups=note.follow_ups + "\n- Informer les salarié·es")

    for days, kind, visibility, title_fr, title_en, text_fr, text_en, participants in ACTIONS:
        actions.create_action(
            campaign, actor=organizer if visibility == "public" else rep, kind=kind,
            happens_on=today + timedelta(days=days), visibility=visibility, title_fr=title_fr,
            title_en=title_en, description_fr=text_fr, description_en=text_en,
            participant_count=participants)
        count["actions"] += 1
    return count
