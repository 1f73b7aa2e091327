from tests.test_tallies import *
def test_dbg(staff_world):
    client = sign_in(staff_world, staff_world.test_client(), "rep@example.org", roles=((SLUG, "rep"),))
    page = client.get(DASHBOARD, headers={"Accept-Language": "en"}).text
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    print(svgs[0][:1500])
    with staff_world.app_context():
        r = db.session.execute(select(TallyRelease)).scalars().first()
        print(r.public_data.get("daily"), r.as_of)
    assert 0
