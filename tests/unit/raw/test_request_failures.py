"""How a failed request reads, for both readers of a streamed body (pipelines.raw.http downloads and
the Eurostat update sensor): an error status, a first-byte deadline or Retry-After past its cap,
and a transport error each end in one SourceError whose problem text starts the same way every
time (operators grep for it), and whose cause is kept only where the download's URL holds no key
(the CLI prints the innermost cause)."""

from __future__ import annotations

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipelines.config import Settings
from pipelines.errors import SourceError
from pipelines.raw.eurostat_updates import eurostat_updated
from pipelines.raw.http import fetch
from pipelines.raw.session import make_session
from tests.helpers.loopback import refused, unaccepted

SID = "test/requests"
PATH = "/statistics/1.0/data/sbs_x"


def _download_error(url: str, settings: Settings, session: requests.Session | None = None) -> SourceError:
    with pytest.raises(SourceError) as err:
        fetch(SID, url, settings, session=session or make_session(retries=0))
    return err.value


def _metadata_error(base: str, first_byte: float = 30.0, session: requests.Session | None = None) -> SourceError:
    with pytest.raises(SourceError) as err:
        eurostat_updated("sbs_x", base=base, session=session or make_session(retries=0), first_byte=first_byte)
    return err.value


def test_an_error_status(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    httpserver.expect_request("/gone.zip").respond_with_data("no", status=404)
    err = _download_error(httpserver.url_for("/gone.zip"), upstream_settings)
    assert err.problem == "HTTP 404 NOT FOUND" and err.location == httpserver.url_for("/gone.zip"), err
    httpserver.expect_request(PATH).respond_with_data("no", status=410)
    err = _metadata_error(httpserver.url_for("/"))
    assert err.problem == "metadata: HTTP 410 GONE" and err.location.startswith(httpserver.url_for(PATH)), err
    assert (err.source_id, err.__cause__) == ("eurostat/sbs_x", None)


def test_a_transport_error(upstream_settings: Settings) -> None:
    base = refused()
    err = _download_error(base + "file.zip", upstream_settings)
    assert err.problem.startswith("download failed: ConnectionError: "), err
    assert isinstance(err.__cause__, requests.ConnectionError)  # no key in the URL: the cause is kept
    err = _metadata_error(base)
    assert err.problem.startswith("metadata request failed: ConnectionError: "), err
    assert err.__cause__ is None and err.__suppress_context__


def test_a_retry_after_past_its_cap(httpserver: HTTPServer, upstream_settings: Settings) -> None:
    busy = Response("busy", 503, headers={"Retry-After": "30"})
    httpserver.expect_request("/later.zip").respond_with_response(busy)
    httpserver.expect_request(PATH).respond_with_response(busy)
    capped = make_session(retries=1, retry_after_max=5)
    err = _download_error(httpserver.url_for("/later.zip"), upstream_settings, capped)
    assert err.problem.startswith("server asked to retry after 30 s, more than the cap of 5 s"), err
    assert err.__cause__ is None and err.__suppress_context__
    err = _metadata_error(httpserver.url_for("/"), session=capped)
    assert err.problem.startswith("metadata request failed: server asked to retry after 30 s"), err
    assert err.__cause__ is None and err.__suppress_context__


def test_no_first_byte(tmp_path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", mirror=None, http_first_byte_timeout=0.5)
    with unaccepted("/file.zip") as url:
        err = _download_error(url, settings)
    assert err.problem.startswith("no response within 0.5 s over 1 attempt(s)"), err
    assert err.__cause__ is None and err.__suppress_context__
    with unaccepted() as base:
        err = _metadata_error(base, first_byte=0.5)
    assert err.problem.startswith("metadata request failed: no response within 0.5 s over 1 attempt(s)"), err
    assert err.__cause__ is None and err.__suppress_context__
