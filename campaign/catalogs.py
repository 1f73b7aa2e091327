"""The gettext catalog workflow: extract, update, compile, and check that French is complete."""

import os
import re
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
BABEL_CFG = ROOT / "babel.cfg"
TARGET_LOCALES = ("fr",)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]|%[sdif]")


def _pybabel(*args):
    """Run a pybabel command in-process, quietly, from the project root."""
    argv = ["pybabel", "-q", *args]
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        CommandLineInterface().run(argv)
    finally:
        os.chdir(cwd)


def extract(output=POT):
    _pybabel("extract", "-F", str(BABEL_CFG), "-k", "_l", "-k", "lazy_gettext",
             "--no-location", "--sort-output", "--omit-header", "--no-wrap",
             "--ignore-dirs", ".* __pycache__ node_modules instance", "-o", str(output), ".")


def update():
    extract()
    for locale in TARGET_LOCALES:
        po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        if po.exists():
            _pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", locale,
                     "--no-wrap", "--ignore-obsolete", "--no-fuzzy-matching")
        else:
            _pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", locale, "--no-wrap")


def compile_catalogs():
    _pybabel("compile", "-d", str(TRANSLATIONS), "--statistics")


def _ids(catalog):
    return {(m.id if isinstance(m.id, str) else tuple(m.id), m.context) for m in catalog if m.id}


def _read(path):
    with open(path, "rb") as handle:
        return read_po(handle)


def check():
    """A list of problems: stale template, missing, fuzzy or placeholder-mismatched entries."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "messages.pot"
        extract(fresh)
        current = _ids(_read(POT)) if POT.exists() else set()
        extracted = _ids(_read(fresh))
    if current != extracted:
        added = sorted(map(str, extracted - current))[:10]
        removed = sorted(map(str, current - extracted))[:10]
        problems.append(f"messages.pot is stale (run `flask translate update`): new {added}, gone {removed}")
    for locale in TARGET_LOCALES:
        po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            problems.append(f"{locale}: no catalog")
            continue
        if b'"Plural-Forms:' not in po.read_bytes():
            problems.append(f"{locale}: the catalog lost its header (Plural-Forms)")
        catalog = _read(po)
        have = _ids(catalog)
        for missing in sorted(map(str, extracted - have))[:20]:
            problems.append(f"{locale}: missing entry {missing}")
        for message in catalog:
            if not message.id:
                continue
            label = message.id if isinstance(message.id, str) else message.id[0]
            if message.fuzzy:
                problems.append(f"{locale}: fuzzy entry {label!r}")
            strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
            if not all(strings):
                problems.append(f"{locale}: untranslated entry {label!r}")
                continue
            ids = message.id if isinstance(message.id, (list, tuple)) else [message.id]
            wanted = sorted(set(PLACEHOLDER.findall(" ".join(ids))))
            for string in strings:
                if sorted(set(PLACEHOLDER.findall(string))) != wanted:
                    problems.append(f"{locale}: placeholders differ in {label!r}")
                    break
    return problems
