"""Issue 20, bounded inputs: one tick of the CBP vintage sensor against a dead Census host costs one
first-byte deadline, not one per (geography, year). After a HEAD to a host gets no answer (or no
connection), the tick's other HEADs to that host are not sent; one line names the host, the setting
and the skipped probes, whose cursor entries stay as they were so the next tick tries them again.
A 404, a 503 or any other answer is not a dead host: every probe is still sent."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
from werkzeug import Request, Response

from pipelines.config import Settings
from pipelines.raw.session import make_session
from pipelines.raw.vintages import detect_cbp_vintages
from tests.helpers.loopback import LoopbackServer, refused, silent

TODAY = datetime(2012, 6, 1, tzinfo=UTC)  # candidate years: the configured 2008-2011
PROBES = [(geo, year) for geo in ("state", "county") for year in (2008, 2009, 2010, 2011)]
ETAG = '"v1"'


@pytest.fixture
def dead(loopback) -> LoopbackServer:
    """Accepts every connection (counting them) and never sends a byte."""
    return loopback(silent)


def _cbp_path(year: int, geo: str) -> str:
    return f"/{year}/cbp{year % 100:02d}{geo[:2]}.zip"


def _dead_url(dead: LoopbackServer):
    return lambda year, geo: dead.base + _cbp_path(year, geo)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Upstream mode (no mirror), two geographies × four years, a 1 s first-byte deadline."""
    monkeypatch.setenv("OBSERVATORY_MIRROR", "")
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("OBSERVATORY_CBP_YEARS", "2008-2011")
    monkeypatch.setenv("OBSERVATORY_CBP_GEOS", "state,county")
    monkeypatch.setenv("OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT", "1")
    s = Settings.from_env()
    assert s.mirror is None and s.http_first_byte_timeout == 1.0
    return s


def _live(httpserver) -> None:
    """2008 and 2009 are out (ETag), 2010 answers 503, 2011 is not out yet (404)."""

    def handler(request: Request) -> Response:
        year = int(request.path.split("/")[1])
        if year == 2010:
            return Response("busy", status=503)
        if year == 2011:
            return Response("not found", status=404)
        if request.headers.get("If-None-Match") == ETAG:
            return Response(status=304, headers={"ETag": ETAG})
        return Response(b"", headers={"ETag": ETAG})

    httpserver.expect_request("", method="HEAD").respond_with_handler(handler)


def _live_url(httpserver):
    return lambda year, geo: httpserver.url_for(_cbp_path(year, geo))


def test_a_dead_host_costs_one_deadline_per_tick_and_its_probes_wait_for_the_next(
    dead: LoopbackServer, settings: Settings, httpserver
) -> None:
    before = {"state/2009": "etag:old", "state/2009:validators": '{"etag": "old", "last_modified": null}'}
    logged: list[str] = []
    start = time.monotonic()
    found, cursor = detect_cbp_vintages(settings, cursor=before, url_for=_dead_url(dead), today=TODAY, log=logged.append)
    elapsed = time.monotonic() - start
    # the sensor's own session (3 retries), one deadline: 8 s if every probe waited it out
    assert elapsed < 4, elapsed
    assert dead.connections == 1, f"{dead.connections} connections to the dead host"
    assert found == [] and cursor == before  # nothing learnt, nothing forgotten
    assert len(logged) == 2, logged
    assert logged[0].startswith("skipping census/cbp/state/2008: ") and "no response within 1 s" in logged[0]
    host = f"127.0.0.1:{dead.port}"
    assert logged[1] == (
        f"CBP host {host} unreachable (no answer within OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT=1 s, or no "
        "connection): 7 more HEAD(s) to it not sent this tick, tried again next tick: "
        "state 2009-2011; county 2008-2011"
    ), logged[1]

    # next tick, the host is back: every probe is sent, the cursor advances
    _live(httpserver)
    found, cursor = detect_cbp_vintages(
        settings, cursor=cursor, session=make_session(retries=0), url_for=_live_url(httpserver), today=TODAY
    )
    assert len(httpserver.log) == len(PROBES)
    assert [(v.geo, v.year, v.reason) for v in found] == [
        ("state", 2008, "new"), ("state", 2009, "new"), ("county", 2008, "new"), ("county", 2009, "new")
    ]
    assert cursor["state/2009"] == f"etag:{ETAG}" and cursor["county/2008"] == f"etag:{ETAG}"


def test_a_refused_connection_is_a_dead_host_too(settings: Settings) -> None:
    settings = replace(settings, cbp_years=(2005, 2008, 2009, 2010, 2011))  # 10 probes, 2006-2007 not wanted
    base = refused()  # nothing listens there: connection refused
    sess = make_session(retries=0)
    sent: list[str] = []
    real_head = sess.head
    sess.head = lambda url, **kw: sent.append(url) or real_head(url, **kw)  # type: ignore[method-assign]
    logged: list[str] = []
    found, cursor = detect_cbp_vintages(
        settings, session=sess, url_for=lambda y, g: f"{base}{g}/{y}.zip", today=TODAY,
        log=logged.append,
    )  # fmt: skip
    assert len(sent) == 1 and (found, cursor) == ([], {})
    assert len(logged) == 2 and "HEAD failed: ConnectionError" in logged[0], logged
    assert logged[1].startswith(f"CBP host {urlparse(base).netloc} unreachable"), logged[1]
    assert logged[1].endswith("9 more HEAD(s) to it not sent this tick, tried again next tick: state 2008-2011; county 2005, 2008-2011")


def test_a_live_host_gets_every_probe_whatever_it_answers(settings: Settings, httpserver) -> None:
    """404 (not out yet) and 503 (busy) are answers: the host is alive, the other years are probed."""
    _live(httpserver)
    logged: list[str] = []
    found, _ = detect_cbp_vintages(
        settings, session=make_session(retries=0), url_for=_live_url(httpserver), today=TODAY, log=logged.append
    )
    assert len(httpserver.log) == len(PROBES)
    assert len(found) == 4
    assert len(logged) == 2 and all("HTTP 503" in m for m in logged), logged  # state and county 2010


def test_only_the_dead_host_is_skipped(dead: LoopbackServer, settings: Settings, httpserver) -> None:
    """State files on a dead host, county files on a live one: the live host still gets all its probes."""
    _live(httpserver)
    live, down = _live_url(httpserver), _dead_url(dead)
    logged: list[str] = []
    start = time.monotonic()
    found, cursor = detect_cbp_vintages(
        settings, session=make_session(retries=0),
        url_for=lambda y, g: down(y, g) if g == "state" else live(y, g), today=TODAY, log=logged.append,
    )  # fmt: skip
    assert time.monotonic() - start < 4
    assert dead.connections == 1 and len(httpserver.log) == 4
    assert [(v.geo, v.year) for v in found] == [("county", 2008), ("county", 2009)]
    assert set(cursor) == {"county/2008", "county/2008:validators", "county/2009", "county/2009:validators"}
    assert logged[-1].endswith("3 more HEAD(s) to it not sent this tick, tried again next tick: state 2009-2011")
