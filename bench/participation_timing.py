"""Does the response time reveal whether an address already took part?

Signs N new addresses and N already-signed addresses (interleaved, on a real SQLite file or on
PostgreSQL via --database-url), then asks for a lost link N times for known and unknown
addresses, and prints the median response times and their ratios (1.00 = indistinguishable).

    .venv/bin/python bench/participation_timing.py [--n 200] [--database-url URL]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaign import create_app  # noqa: E402
from campaign.extensions import db  # noqa: E402
from campaign.services import campaigns, consent, petitions  # noqa: E402
from config import TestingConfig  # noqa: E402
from tests.conftest import csrf_token  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    config = TestingConfig(database_url=args.database_url or f"sqlite:///{folder}/bench.sqlite3")
    config.SIGN_RATE_LIMIT = config.LINK_RATE_LIMIT = "1000000 per minute"
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
        consent.seed_defaults()
        campaign = campaigns.create_campaign("bench", actor=None, title_en="Bench",
                                             employer="Bench", status="active")
        petition = petitions.create_petition(campaign, "p", actor=None, title_en="P",
                                             status="open", refresh_minutes=60)
        db.session.commit()
        petition_id = petition.public_id
    client = app.test_client()
    token = csrf_token(client.get("/c/bench/p/p").text)
    fields = {"csrf_token": token, "version_public_name": "1", "version_share_with_reps": "1",
              "version_contact": "1", "name": "Bench Signer"}

    def timed(url, data):
        start = time.perf_counter()
        response = client.post(url, data=data)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        return elapsed

    # warm-up and the addresses that will sign again
    for i in range(args.n):
        timed("/c/bench/p/p/sign", {**fields, "email": f"known{i}@bench.example"})
    new, repeated = [], []
    for i in range(args.n):
        new.append(timed("/c/bench/p/p/sign", {**fields, "email": f"fresh{i}@bench.example"}))
        repeated.append(timed("/c/bench/p/p/sign", {**fields, "email": f"known{i}@bench.example"}))
    known, unknown = [], []
    for i in range(args.n):
        known.append(timed("/lost-link", {"csrf_token": token, "petition": petition_id,
                                          "email": f"known{i}@bench.example"}))
        unknown.append(timed("/lost-link", {"csrf_token": token, "petition": petition_id,
                                            "email": f"never{i}@bench.example"}))
    rows = [("sign: new address", new), ("sign: already signed", repeated),
            ("lost link: known address", known), ("lost link: unknown address", unknown)]
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}, n={args.n}")
    for label, values in rows:
        print(f"  {label:28s} median {statistics.median(values) * 1000:7.2f} ms")
    print(f"  ratio sign already/new        {statistics.median(repeated) / statistics.median(new):.2f}")
    print(f"  ratio lost-link unknown/known {statistics.median(unknown) / statistics.median(known):.2f}")
    with app.app_context():
        db.drop_all()


if __name__ == "__main__":
    main()
