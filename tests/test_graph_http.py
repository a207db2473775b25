"""The agent browsing real HTML over HTTP (a 127.0.0.1 server) through the real HttpFetcher."""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from carr_agent.graph import build_agent
from carr_agent.tools.fetch import HttpFetcher
from carr_agent.types import Hit
from tests.graph_support import ListSearch, ToolFake, call, script, turn

ARTICLE = """<!doctype html>
<html><head><title>The Voyager Golden Record</title></head>
<body>
<nav>Home | About | Contact</nav>
<article>
<h1>The Voyager Golden Record</h1>
<p>The Voyager Golden Records are two phonograph records that were included aboard both Voyager
spacecraft launched in 1977. The records contain sounds and images selected to portray the
diversity of life and culture on Earth.</p>
<p>The contents of the record were selected for NASA by a committee chaired by Carl Sagan of
Cornell University. Sagan and his associates assembled 116 images and a variety of natural
sounds, such as those made by surf, wind, thunder and animals.</p>
<p>The cover of each record carries instructions for playing it, engraved on an aluminium
jacket together with an ultra-pure sample of uranium-238.</p>
</article>
<footer>Copyright notice</footer>
</body></html>"""


def test_agent_opens_and_finds_in_a_real_web_page(http_server) -> None:
    url = http_server.route("/voyager", ARTICLE)
    http_server.route("/gone", status=404, body="<html><body>missing</body></html>")
    fetcher = HttpFetcher(allow_hosts=("127.0.0.1",))
    search = ListSearch([Hit(url=url, title="Voyager Golden Record", snippet="phonograph records"),
                         Hit(url=http_server.url("/gone"), title="Gone", snippet="404")])
    turns = [
        turn(call("search", query="voyager golden record committee")),
        turn(call("open", id_or_url=1)),
        turn(call("open", id_or_url=0)),
        turn(call("find", pattern="committee chaired by")),
        f"## Explanation with Citations\nCarl Sagan chaired it [1]({url}).\n\n"
        f"## Exact Answer\nCarl Sagan\n\n## References\n[1] {url}",
    ]
    agent = build_agent(ToolFake(messages=script(*turns)), search=search, fetcher=fetcher,
                        page_budget=120)

    state = agent.invoke({"question": "Who chaired the committee?"})

    errors = [m.content for m in state["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
    assert len(errors) == 1 and "404" in errors[0]  # the dead link was an observation, not a crash
    page_text = fetcher.fetch(url).text
    opened = [r for r in state["ledger"] if r["kind"] == "open"]
    found = [r for r in state["ledger"] if r["kind"] == "find"]
    assert len(opened) == 1 and opened[0]["text"] == page_text[:120]
    assert found and "Carl Sagan" in found[0]["text"]
    for record in opened + found:
        assert page_text[record["start"]:record["end"]] == record["text"]
    assert "Copyright notice" not in page_text  # boilerplate stripped by the extractor
    assert state["answer"]["citations"][0]["seen"] and state["answer"]["unseen"] == []
