"""The test registries' token service keeps one JSON record per line under concurrent requests.

Why: the release tests read that log to prove which account reached which registry's token
service. skopeo asks for tokens concurrently (one per blob and manifest); print() wrote a record
and its newline separately, and two records once landed on one line, failing a release test with
a JSONDecodeError instead of an answer.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import Infra

pytestmark = [pytest.mark.engine]

REQUESTS = 1024  # old print() logging interleaved a pair in about one of three runs of 256


def _realm(infra: Infra, context: ssl.SSLContext) -> tuple[str, str]:
    """The realm and service the staging registry names in its 401 challenge."""
    try:
        urllib.request.urlopen(f"https://{infra.staging.address}/v2/", context=context, timeout=10)
    except urllib.error.HTTPError as err:
        challenge = err.headers.get("WWW-Authenticate", "")
    else:
        pytest.fail("the staging registry answered /v2/ without asking for a token")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    return fields["realm"], fields["service"]


def test_concurrent_token_requests_log_one_record_per_line(infra: Infra) -> None:
    context = ssl.create_default_context(cafile=str(infra.registry_ca))
    realm, service = _realm(infra, context)
    assert realm.startswith("https://"), realm  # the password goes to this realm only over TLS
    basic = base64.b64encode(f"{infra.staging.user}:{infra.staging.password}".encode()).decode()
    since = infra.staging.token_log.stat().st_size

    def ask(i: int) -> int:
        url = f"{realm}?service={service}&scope=repository:tfci-e2e/concurrency-{i}:pull"
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {basic}"})  # noqa: S310 (https, above)
        with urllib.request.urlopen(request, context=context, timeout=30) as reply:  # noqa: S310
            return int(reply.status)

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(ask, range(REQUESTS))) == {200}

    with infra.staging.token_log.open() as stream:
        stream.seek(since)
        records = [json.loads(line) for line in stream if line.strip()]
    ours = [r for r in records if any("concurrency-" in s for s in r.get("scopes", []))]
    assert len(ours) == REQUESTS
    assert {r["account"] for r in ours} == {infra.staging.user}
