"""TLS against nginx with certificates from a throwaway authority: each failure is refused by
both clients, and opwatch names the cause a user can fix."""

import pytest

from tests.conformance.conftest import Nginx
from tests.conformance.harness import both, error, reply

OK = reply(200, b'{"ok": 1}')


def test_a_certificate_from_the_profiles_ca_bundle(nginx: Nginx) -> None:
    mine, theirs = both(nginx.https(nginx.tls), ca_bundle=nginx.ca_bundle)
    assert mine == theirs == OK  # same


def test_tls_1_3_only(nginx: Nginx) -> None:
    mine, theirs = both(nginx.https(nginx.tls13), ca_bundle=nginx.ca_bundle)
    assert mine == theirs == OK  # same


@pytest.mark.parametrize(
    ("server", "bundle", "words"),
    [
        ("tls", False, "not signed by an authority opwatch trusts; set ca_bundle"),
        ("wrong_host", True, "certificate is for another host name"),
        ("expired", True, "certificate has expired"),
        ("tls10", True, "no TLS version opwatch accepts (TLS 1.2 or later)"),
    ],
    ids=["untrusted", "wrong-host", "expired", "tls-1.0-only"],
)
def test_a_refused_server_is_named_for_what_is_wrong(
    nginx: Nginx, server: str, bundle: bool, words: str
) -> None:
    url = nginx.https(getattr(nginx, server))
    mine, theirs = both(url, ca_bundle=nginx.ca_bundle if bundle else None)
    assert mine == theirs == error("ConnectError")  # same
    assert words in mine.reason
    assert words in theirs.reason  # the same words for httpx's own error chain
    assert "refused or host unreachable" not in mine.reason
