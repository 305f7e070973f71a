"""The flags several commands share: selectors, registry credentials and transport, package sources.
Every bad value is a UserError naming the flag, and no secret is taken from a flag value."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ci.cli import flags, main
from ci.model.errors import UserError
from ci.model.paths import DEFAULT_TABLE
from ci.pipeline.preflight import Publish, publish_target
from ci.registry.skopeo import Credentials, Transport
from ci.select import FLAGS, Selection
from ci.table.resolve import BuildRequest


def publish_from(args: argparse.Namespace) -> Publish:
    """What `build` makes of --publish and its credential flags."""
    return publish_target(args.publish, flags.credentials(args, flags.PUBLISH))


def test_publish_password_comes_from_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    parser = main.build_parser()
    argv = ["build", "--tf", "2.15.0", "--publish", "r.example/org/tf", "--registry-user", "ci"]
    args = parser.parse_args(argv)
    with pytest.raises(UserError, match="set REGISTRY_PASSWORD or pass --password-file"):
        publish_from(args)
    monkeypatch.setenv("REGISTRY_PASSWORD", "from-env")
    publish = publish_from(args)
    assert publish is not None
    assert (publish.registry, publish.repository) == ("r.example", "r.example/org/tf")
    assert publish.credentials is not None
    assert publish.credentials.password == "from-env"  # noqa: S105 - a fake
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    args.password_file = secret
    publish = publish_from(args)
    assert publish is not None
    assert publish.credentials is not None
    assert publish.credentials.password == "from-file"  # noqa: S105 - a fake
    assert "from-file" not in repr(publish)
    args.password_file = tmp_path / "missing"
    with pytest.raises(UserError, match="--password-file"):
        publish_from(args)
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe")
    args.password_file = binary
    with pytest.raises(UserError, match="not UTF-8"):
        publish_from(args)


def test_url_with_credentials_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from ci.cli.flags import options_from

    monkeypatch.setenv("TFCI_PIP_INDEX_URL", "https://ci:t0ken@pypi.example/simple")
    args = main.build_parser().parse_args(["build", "--tf", "2.15.0"])
    assert options_from(args).pip_index_url == "https://ci:t0ken@pypi.example/simple"


def test_selection_reads_the_selector_flags_and_the_table(tmp_path: Path) -> None:
    args = main.build_parser().parse_args(
        ["--table", str(tmp_path / "v.yaml"), "plan", "--tf", "2.15.0", "--variant", "cpu"]
    )
    chosen = flags.selection(args)
    assert chosen.table == tmp_path / "v.yaml"
    assert chosen.request == BuildRequest(tf="2.15.0", variant="cpu")
    assert not chosen.all
    assert dict(chosen.fields) == dict.fromkeys(FLAGS) | {"tf": "2.15.0", "variant": "cpu"}


def test_selection_defaults_for_commands_without_those_flags() -> None:
    chosen = flags.selection(argparse.Namespace())
    assert chosen == Selection(
        table=DEFAULT_TABLE, fields=dict.fromkeys(FLAGS), all=False, provenance=chosen.provenance
    )
    assert chosen.provenance.revision  # the checkout's commit (tests run from one)
    assert flags.selection(argparse.Namespace(all=True)).all


def _transport_args(
    *plain_http: str, ca: Path | None = None, authfile: Path | None = None
) -> argparse.Namespace:
    return argparse.Namespace(plain_http=list(plain_http), registry_ca_cert=ca, authfile=authfile)


def test_transport_carries_ca_plain_http_and_authfile(tmp_path: Path) -> None:
    args = _transport_args(
        "127.0.0.1:5000", "localhost:5001", ca=tmp_path / "ca.pem", authfile=tmp_path / "a.json"
    )
    assert flags.transport(args) == Transport(
        ca_bundle=tmp_path / "ca.pem",
        plain_http=frozenset({"127.0.0.1:5000", "localhost:5001"}),
        authfile=tmp_path / "a.json",
    )
    assert flags.transport(_transport_args()) == Transport()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("host:port", "port 'port' is not a number"),
        ("https://reg.example", "without a URL scheme"),
        ("registry", "must start with a registry host"),
        ("localhost:99999", "out of range"),
    ],
)
def test_plain_http_takes_host_port_by_the_reference_rules(value: str, problem: str) -> None:
    with pytest.raises(UserError) as err:
        flags.transport(_transport_args("127.0.0.1:5000", value))
    assert err.value.message.startswith(f"--plain-http '{value}")
    assert problem in err.value.message


def _credential_args(user: str | None, password_file: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(from_user=user, from_password_file=password_file)


def test_no_user_means_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_REGISTRY_PASSWORD", "unused")
    assert flags.credentials(_credential_args(None), flags.SOURCE) is None
    assert flags.credentials(_credential_args(""), flags.SOURCE) is None


def test_credentials_come_from_the_file_before_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_REGISTRY_PASSWORD", " from-env \n")
    assert flags.credentials(_credential_args("ci"), flags.SOURCE) == Credentials("ci", "from-env")
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    assert flags.credentials(_credential_args("ci", secret), flags.SOURCE) == Credentials("ci", "from-file")


@pytest.mark.parametrize(
    ("user", "use_file", "message"),
    [
        (None, True, "--from-password-file needs --from-user USER (whose password it holds)"),
        ("a b", False, "--from-user 'a b': a user name has no whitespace or ':'"),
        ("a:b", False, "--from-user 'a:b': a user name has no whitespace or ':'"),
        (
            "ci",
            False,
            "--from-user needs a password: set FROM_REGISTRY_PASSWORD or pass --from-password-file FILE",
        ),
    ],
)
def test_credential_problems_name_the_flags_of_that_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user: str | None, use_file: bool, message: str
) -> None:
    monkeypatch.setenv("FROM_REGISTRY_PASSWORD", "  ")
    monkeypatch.setenv("REGISTRY_PASSWORD", "another registry's")
    secret = tmp_path / "pw"
    secret.write_text("x\n")
    with pytest.raises(UserError) as err:
        flags.credentials(_credential_args(user, secret if use_file else None), flags.SOURCE)
    assert err.value.message == message


def test_a_mirror_url_comes_from_its_flag_or_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TFCI_APT_MIRROR", raising=False)
    parser = main.build_parser()
    assert flags.url_option(parser.parse_args(["build", "--tf", "2.15.0"]), "--apt-mirror") is None
    monkeypatch.setenv("TFCI_APT_MIRROR", "https://ci:t0ken@apt.example/m")
    assert flags.url_option(parser.parse_args(["build", "--tf", "2.15.0"]), "--apt-mirror") == (
        "https://ci:t0ken@apt.example/m"
    )
    flagged = parser.parse_args(["build", "--tf", "2.15.0", "--apt-mirror", "http://apt.example/m"])
    assert flags.url_option(flagged, "--apt-mirror") == "http://apt.example/m"  # the flag wins
    secret = parser.parse_args(["build", "--tf", "2.15.0", "--apt-mirror", "https://ci:t0ken@apt.example/m"])
    with pytest.raises(UserError) as err:
        flags.url_option(secret, "--apt-mirror")
    assert "t0ken" not in err.value.message
    assert err.value.message.endswith("so put it in $TFCI_APT_MIRROR instead")
