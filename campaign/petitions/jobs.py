"""Work done after the response or by cron: answering "I lost my link" requests."""

from flask import current_app, url_for

from ..services import signatures as service


def links_for_base(base_url):
    """Links built for the site address the request came in on."""
    app = current_app._get_current_object()

    def build(endpoint, **values):
        with app.test_request_context("/", base_url=base_url):
            return url_for(endpoint, _external=True, **values)

    return service.Links(
        private=lambda token: build("petitions.open_link", token=token),
        confirm=lambda token: build("petitions.confirm", token=token),
        lost=lambda: build("petitions.lost_link_page"),
    )


def process_link_requests():
    """Answer every queued request (flushes; the caller commits)."""
    return service.handle_link_requests(links_for_base)
