"""The security gate: bandit on the package, the project's semgrep rules on the package and the
templates, and the rules' own self-tests. `make test` runs it; so does CI.

Semgrep's online rule packs do not load here: only the rule files in semgrep/ are used
(`--metrics=off`, no registry). Semgrep pins its own versions of common libraries, so it lives in a
virtual environment of its own (`.venv/semgrep`, made by `.ci/run`); SEMGREP=/path/to/semgrep picks
another one. Without semgrep the semgrep tests are skipped on a workstation, and fail under CI.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "semgrep"
RULE_FILE = RULES / "campaign.yml"
IN_CI = os.environ.get("CI") == "true"
TIMEOUT = 600


def _tool(name, *candidates):
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def _require(name, path):
    if path:
        return path
    reason = (f"{name} is not installed (`make install` puts bandit in .venv, `.ci/run` puts "
              f"semgrep in .venv/semgrep)")
    if IN_CI:
        pytest.fail(reason + ": the security gate cannot be skipped under CI")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def bandit():
    return _require("bandit", _tool("bandit", Path(sys.executable).with_name("bandit")))


@pytest.fixture(scope="module")
def semgrep():
    return _require("semgrep", _tool("semgrep", os.environ.get("SEMGREP"),
                                     ROOT / ".venv" / "semgrep" / "bin" / "semgrep",
                                     Path(sys.executable).with_name("semgrep")))


def _run(command, cwd=ROOT):
    env = dict(os.environ, SEMGREP_SEND_METRICS="off", SEMGREP_ENABLE_VERSION_CHECK="0")
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def _semgrep_scan(semgrep, *targets, cwd=ROOT):
    done = _run([semgrep, "scan", "--config", str(RULES), "--error", "--metrics=off",
                 "--disable-version-check", "--json", "--quiet", *map(str, targets)], cwd=cwd)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"semgrep gave no report (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.returncode, report


def _describe(results, root=ROOT):
    lines = []
    for r in results:
        source = (root / r["path"]).read_text().splitlines()[r["start"]["line"] - 1].strip()
        lines.append(f"{r['path']}:{r['start']['line']}: {r['check_id']}: {source}")
    return "\n".join(lines)


# --- bandit --------------------------------------------------------------------------------------

def test_bandit_finds_no_medium_or_high_issue_in_the_package(bandit):
    done = _run([bandit, "-r", "campaign", "-q", "-ll"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_bandit_would_stop_a_dangerous_change(bandit, tmp_path):
    """The same command fails on code it must refuse (so the test above can fail)."""
    package = tmp_path / "campaign"
    package.mkdir()
    (package / "bad.py").write_text(
        "import subprocess\n\n\ndef run(name):\n"
        "    return subprocess.call('ls ' + name, shell=True)\n")
    done = _run([bandit, "-r", "campaign", "-q", "-ll"], cwd=tmp_path)
    assert done.returncode == 1
    assert "B602" in done.stdout


# --- semgrep -------------------------------------------------------------------------------------

def test_semgrep_rules_pass_their_self_tests(semgrep):
    """Each rule fires on every `ruleid:` line of its fixtures and on no `ok:` line."""
    done = _run([semgrep, "--test", "--metrics=off", "--disable-version-check", str(RULES)])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert "All tests passed" in output


def test_every_rule_has_fixtures_that_must_fire_and_must_not(semgrep):
    rules = [rule["id"] for rule in yaml.safe_load(RULE_FILE.read_text())["rules"]]
    assert len(rules) == len(set(rules)) >= 5
    fixtures = "\n".join(path.read_text() for path in RULES.iterdir()
                         if path.stem == RULE_FILE.stem and path.suffix not in (".yml", ".yaml"))
    for rule in rules:
        assert len(re.findall(rf"ruleid: {re.escape(rule)}\b", fixtures)) >= 2, rule
        assert re.search(rf"\bok: {re.escape(rule)}\b", fixtures), rule


def test_semgrep_finds_nothing_in_the_package_and_the_templates(semgrep):
    status, report = _semgrep_scan(semgrep, "campaign", "templates")
    assert report["errors"] == [], report["errors"]
    assert report["results"] == [], _describe(report["results"])
    assert status == 0
    scanned = report.get("paths", {}).get("scanned", [])
    assert any(path.startswith("templates/") and path.endswith(".html") for path in scanned)
    assert any(path.startswith("campaign/") and path.endswith(".py") for path in scanned)


def test_semgrep_would_stop_each_kind_of_dangerous_change(semgrep, tmp_path):
    """The same scan on a copy of a few lines that each rule must refuse: one finding per rule,
    and a failing exit status (so the scan above can fail)."""
    package = tmp_path / "campaign"
    (tmp_path / "templates").mkdir()
    package.mkdir()
    (package / "bad.py").write_text(
        "import logging\n"
        "from flask import render_template_string, request\n"
        "from markupsafe import Markup\n"
        "from sqlalchemy import text\n\n\n"
        "def view(db, value):\n"
        "    logging.getLogger(__name__).info('from %s', request.remote_addr)\n"
        "    db.session.execute(text(f'SELECT * FROM users WHERE email = {value}'))\n"
        "    return render_template_string(value) + Markup(value)\n")
    (tmp_path / "templates" / "bad.html").write_text("<p>{{ statement.text|safe }}</p>\n")
    status, report = _semgrep_scan(semgrep, "campaign", "templates", cwd=tmp_path)
    found = sorted(r["check_id"].rpartition(".")[2] for r in report["results"])
    rules = sorted(rule["id"] for rule in yaml.safe_load(RULE_FILE.read_text())["rules"])
    assert found == rules
    assert status == 1
