"""HttpFetcher against a real HTTP server on 127.0.0.1: extraction, redirects, caps, SSRF guard."""

from __future__ import annotations

import pytest

from carr_agent.errors import BlockedURLError, ConfigError, FetchError
from carr_agent.tools.fetch import HttpFetcher
from carr_agent.tools.ssrf import address_problem, check_host

ARTICLE = """<!DOCTYPE html>
<html lang="en"><head><title>UFC 219 - Example Wiki</title>
<meta property="article:published_time" content="2017-12-31T10:00:00Z">
<script>var tracking = "do not show this";</script><style>p { color: red }</style></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<article><h1>UFC 219</h1>
<p>UFC 219: Cyborg vs. Holm was a mixed martial arts event produced by the Ultimate Fighting
Championship that was held on December 30, 2017, at T-Mobile Arena in Paradise, Nevada.</p>
<p>The event was headlined by a UFC Women's Featherweight Championship bout between the champion
Cris Cyborg and former UFC Women's Bantamweight Champion Holly Holm. Cyborg won by unanimous
decision after five rounds, defending her title for the second time.</p>
<p>In the co-main event, Khabib Nurmagomedov defeated Edson Barboza by unanimous decision, landing
a record number of significant strikes in a lightweight bout.</p>
</article><footer>Copyright Example Wiki. All rights reserved.</footer></body></html>"""


@pytest.fixture
def local() -> HttpFetcher:
    return HttpFetcher(allow_hosts=("127.0.0.1",), max_bytes=50_000, total_timeout=10)


def test_fetch_extracts_main_text_title_and_date_from_real_html(http_server, local) -> None:
    url = http_server.route("/wiki/UFC_219", ARTICLE)
    page = local.fetch(url)
    assert page.url == url
    assert "Cyborg won by unanimous decision" in page.text
    assert "Khabib Nurmagomedov defeated Edson Barboza" in page.text
    assert "tracking" not in page.text and "color: red" not in page.text
    assert "UFC 219" in page.title
    assert page.date == "2017-12-31"


def test_the_guard_refuses_the_local_server_by_default(http_server) -> None:
    url = http_server.route("/wiki/UFC_219", ARTICLE)
    with pytest.raises(BlockedURLError, match="loopback"):
        HttpFetcher().fetch(url)
    assert http_server.requests == []  # refused before anything was sent


def test_redirect_chain_is_followed_hop_by_hop_and_page_url_is_final(http_server, local) -> None:
    final = http_server.route("/final", ARTICLE)
    http_server.route("/hop2", status=302, headers={"Location": "/final"}, content_type=None)
    start = http_server.route("/hop1", status=301, headers={"Location": http_server.url("/hop2")},
                              content_type=None)
    page = local.fetch(start)
    assert page.url == final
    assert [p for _, p, _ in http_server.requests] == ["/hop1", "/hop2", "/final"]


def test_redirect_to_a_host_that_is_not_allowed_is_blocked(http_server, local) -> None:
    http_server.route("/secret", "<html><body><p>internal admin page</p></body></html>")
    # same server, but named "localhost": not in allow_hosts, resolves to loopback
    url = http_server.route("/go", status=302, content_type=None,
                            headers={"Location": http_server.url("/secret", host="localhost")})
    with pytest.raises(BlockedURLError, match="localhost"):
        local.fetch(url)
    assert [p for _, p, _ in http_server.requests] == ["/go"]


def test_redirect_to_cloud_metadata_is_blocked(http_server, local) -> None:
    url = http_server.route("/meta", status=307, content_type=None,
                            headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(BlockedURLError, match="metadata"):
        local.fetch(url)


def test_redirect_to_a_non_http_scheme_is_blocked(http_server, local) -> None:
    url = http_server.route("/file", status=302, content_type=None, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(BlockedURLError, match="http and https"):
        local.fetch(url)


def test_too_many_redirects_is_a_fetch_error(http_server) -> None:
    url = http_server.route("/loop", status=302, headers={"Location": "/loop"}, content_type=None)
    with pytest.raises(FetchError, match="too many redirects"):
        HttpFetcher(allow_hosts=("127.0.0.1",), max_redirects=3).fetch(url)
    assert len(http_server.requests) == 4


def test_non_html_content_type_is_refused_naming_the_type(http_server, local) -> None:
    url = http_server.route("/paper.pdf", b"%PDF-1.7 binary", content_type="application/pdf")
    with pytest.raises(FetchError, match="application/pdf"):
        local.fetch(url)


def test_plain_text_passes_through_unchanged(http_server, local) -> None:
    text = "Release notes\n\nVersion 2.0 adds   spaced   text.\nSecond line."
    url = http_server.route("/notes.txt", text, content_type="text/plain; charset=utf-8")
    page = local.fetch(url)
    assert page.text == text
    assert page.title == "Release notes"


def test_oversized_page_with_content_length_is_refused(http_server, local) -> None:
    url = http_server.route("/big", "<html><body><p>" + "x" * 200_000 + "</p></body></html>")
    with pytest.raises(FetchError, match="50000-byte limit"):
        local.fetch(url)


def test_oversized_streamed_page_stops_reading_at_the_cap(http_server, local) -> None:
    url = http_server.route("/stream", "<html><body><p>" + "y" * 500_000 + "</p></body></html>",
                            send_length=False)
    with pytest.raises(FetchError, match="over the 50000-byte limit"):
        local.fetch(url)


def test_http_error_status_is_a_fetch_error(http_server, local) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        local.fetch(http_server.url("/missing"))


def test_tiny_page_falls_back_to_stripped_text(http_server, local) -> None:
    url = http_server.route("/tiny", "<html><head><title>Tiny</title><script>x=1</script></head>"
                                     "<body><div>Just one short line.</div></body></html>")
    page = local.fetch(url)
    assert page.title == "Tiny"
    assert "Just one short line." in page.text
    assert "x=1" not in page.text


def test_page_without_text_is_a_fetch_error(http_server, local) -> None:
    url = http_server.route("/empty", "<html><head><title></title></head><body>  </body></html>")
    with pytest.raises(FetchError, match="no extractable text"):
        local.fetch(url)


def test_unreachable_port_is_a_fetch_error(local) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="could not fetch"):
        local.fetch(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "ftp://example.org/x",
                                 "gopher://127.0.0.1:70/"])
def test_non_http_schemes_are_blocked(url) -> None:
    with pytest.raises(BlockedURLError, match="http and https"):
        HttpFetcher().fetch(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://[::1]/", "http://10.0.0.5/",
                                 "http://192.168.1.1/admin", "http://169.254.169.254/latest/",
                                 "http://[fd00:ec2::254]/", "http://metadata.google.internal/",
                                 "http://[::ffff:127.0.0.1]/", "http://0.0.0.0:8080/", "http://224.0.0.1/"])
def test_internal_addresses_are_blocked_without_any_request(url) -> None:
    with pytest.raises(BlockedURLError):
        HttpFetcher().fetch(url)


def test_a_name_with_any_private_address_is_blocked() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]  # DNS answer mixing public and private

    with pytest.raises(BlockedURLError, match=r"10\.0\.0\.7"):
        HttpFetcher(resolver=resolver).fetch("https://rebind.example/")


def test_public_addresses_pass_and_are_pinned() -> None:
    assert address_problem("93.184.216.34") is None
    pinned = check_host("example.org", 443, allow_hosts=frozenset(), resolver=lambda h, p: ["93.184.216.34"])
    assert pinned == "93.184.216.34"


def test_bad_fetcher_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_bytes"):
        HttpFetcher(max_bytes=0)
    with pytest.raises(ConfigError, match="allow_hosts"):
        HttpFetcher(allow_hosts="127.0.0.1")  # type: ignore[arg-type]


@pytest.mark.network
def test_fetches_a_real_web_page() -> None:
    page = HttpFetcher().fetch("https://en.wikipedia.org/wiki/UFC_219")
    assert "Holm" in page.text


def test_connection_goes_to_the_checked_address_with_the_original_host_header(
    http_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pretend loopback is public for this test only, so the pinned-connection path runs locally
    monkeypatch.setattr("carr_agent.tools.ssrf.address_problem", lambda ip: None)
    http_server.route("/pinned", ARTICLE)
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    page = HttpFetcher(resolver=resolver).fetch(f"http://news.pinned.test:{http_server.port}/pinned")
    assert asked == ["news.pinned.test"]
    assert page.url == f"http://news.pinned.test:{http_server.port}/pinned"
    [(_, path, headers)] = http_server.requests
    assert path == "/pinned" and headers["Host"] == f"news.pinned.test:{http_server.port}"


def test_xhtml_with_an_xml_declaration_is_read(http_server, local) -> None:
    xhtml = ('<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
             "<head><title>X page</title></head><body><p>Short xhtml line.</p></body></html>")
    url = http_server.route("/x.xhtml", xhtml, content_type="application/xhtml+xml; charset=utf-8")
    page = local.fetch(url)
    assert page.title == "X page" and page.text == "Short xhtml line."


def test_declared_charset_is_honoured(http_server, local) -> None:
    html = "<html><head><title>Café</title></head><body><p>Zürich café menu: crème brûlée.</p></body></html>"
    url = http_server.route("/latin1", html.encode("iso-8859-1"), content_type="text/html; charset=iso-8859-1")
    page = local.fetch(url)
    assert page.title == "Café" and "Zürich café menu: crème brûlée." in page.text


def test_charset_from_the_html_meta_tag_is_used_when_the_header_has_none(http_server, local) -> None:
    html = ('<html><head><meta charset="iso-8859-1"><title>Menu</title></head>'
            "<body><p>Zürich café menu: crème brûlée.</p></body></html>")
    url = http_server.route("/meta-charset", html.encode("iso-8859-1"), content_type="text/html")
    assert "Zürich café menu: crème brûlée." in local.fetch(url).text
