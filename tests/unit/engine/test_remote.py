"""Remote cache and engine flags (ci/engine/remote.py): validation, per-image refs, the session environment.

The engine side (a second engine importing what the first exported) is tests/e2e/test_cache_share.py.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from ci.cli import main
from ci.engine import remote
from ci.engine.remote import ENV_EXPORT, ENV_IMPORT, ENV_RUNNER, from_flags, parse_cache, parse_engine
from ci.model import refs
from ci.model.errors import UserError
from ci.model.spec import ImageSpec
from ci.table.resolve import BuildRequest, resolve, resolve_targets
from ci.table.rows import Table


def _cpu(table: Table, tf: str = "2.15.0", python: str = "3.11") -> ImageSpec:
    return resolve(table, BuildRequest(tf=tf, python=python, variant="cpu", os="debian12"))


def test_a_bare_repository_means_one_ref_per_image(table: Table) -> None:
    spec = _cpu(table)
    session = from_flags(cache_to=["ghcr.io/o/tf-cache"], cache_from=["ghcr.io/o/tf-cache"], specs=[spec])
    assert [c.render() for c in session.exports] == [
        f"type=registry,ref=ghcr.io/o/tf-cache:{spec.tag},mode=max,{ZSTD}"
    ]
    assert session.imports[0] == f"type=registry,ref=ghcr.io/o/tf-cache:{spec.tag}"
    env = session.environment()
    assert env[ENV_EXPORT] == session.exports[0].render()
    assert ENV_RUNNER not in env


ZSTD = "compression=zstd,force-compression=true,oci-mediatypes=true"


def test_registry_exports_default_to_zstd_unless_a_compression_is_named(table: Table) -> None:
    """zstd layers restore several times faster on a fresh engine (decompression is its main cost)."""
    spec = _cpu(table)
    rendered = from_flags(cache_to=["r.example/c"], specs=[spec]).exports[0].render()
    assert rendered.endswith(f",mode=max,{ZSTD}")
    gzip = parse_cache("--cache-to", "type=registry,ref=r.example/c:x,compression=gzip")
    assert gzip.render() == "type=registry,ref=r.example/c:x,compression=gzip,mode=max"
    mine = parse_cache("--cache-to", "type=registry,ref=r.example/c:x,compression=zstd,compression-level=9")
    assert dict(mine.attrs)["compression-level"] == "9"
    assert "force-compression" not in dict(mine.attrs)  # named: taken as given
    assert "compression" not in dict(parse_cache("--cache-from", "r.example/c:x").attrs)  # imports: no attrs
    local = parse_cache("--cache-to", "type=local,dest=/tmp/c")
    assert "compression" not in dict(local.attrs)


def test_imports_include_the_images_that_share_lower_layers(table: Table) -> None:
    """A matrix job imports its own ref and those of targets with the same base, OS and Python."""
    targets = resolve_targets(table)
    spec = targets[0]
    session = from_flags(cache_from=["ghcr.io/o/c"], specs=[spec], targets=targets)
    sharing = [t.tag for t in targets if remote.share_key(t) == remote.share_key(spec)]
    assert session.imports == [
        f"type=registry,ref=ghcr.io/o/c:{tag}" for tag in dict.fromkeys([spec.tag, *sharing])
    ]
    others = {t.tag for t in targets} - set(sharing)
    assert not any(tag in imp for imp in session.imports for tag in others if tag != spec.tag)


def test_share_key_follows_what_the_lower_layers_depend_on(table: Table) -> None:
    a, b = _cpu(table, "2.14.1"), _cpu(table, "2.16.2")
    assert remote.share_key(a) == remote.share_key(b)  # same Python and base: Jupyter and below shared
    assert remote.share_key(a) != remote.share_key(_cpu(table, "2.15.0", "3.10"))
    assert remote.share_key(a) != remote.share_key(dataclasses.replace(a, base_digest="sha256:" + "1" * 64))


def test_full_configs_pass_through_with_tag_placeholders_and_mode_max(table: Table) -> None:
    spec = _cpu(table)
    session = from_flags(
        cache_to=["type=registry,ref=r.example:5000/c:{tag}"],
        cache_from=["type=registry,ref=r.example:5000/c:main", "type=s3,bucket=b,region=eu-west-1"],
        engine="tcp://10.0.0.5:1234",
        specs=[spec],
    )
    assert session.exports[0].render() == f"type=registry,ref=r.example:5000/c:{spec.tag},mode=max,{ZSTD}"
    env = session.environment()
    assert env[ENV_IMPORT] == "type=registry,ref=r.example:5000/c:main;type=s3,bucket=b,region=eu-west-1"
    assert env[ENV_RUNNER] == "tcp://10.0.0.5:1234"


def test_gha_takes_url_and_token_from_the_runner_environment() -> None:
    environ = {"ACTIONS_CACHE_URL": "https://cache.example/", "ACTIONS_RUNTIME_TOKEN": "tok"}
    config = parse_cache("--cache-to", "type=gha,scope=tf-2.15", environ)
    assert dict(config.attrs) == {"scope": "tf-2.15", "url": "https://cache.example/", "token": "tok"}
    assert "tok" not in config.describe()
    with pytest.raises(UserError, match=r"needs url, token .*v1 cache protocol"):
        parse_cache("--cache-to", "type=gha,scope=x", {})


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--cache-to", "type=nope,ref=x", "type must be one of registry, gha, s3, local"),
        ("--cache-to", "type=registry", "needs ref"),
        ("--cache-to", "type=registry,ref=noslash", "REGISTRY/REPOSITORY"),
        ("--cache-from", "tensorflow-cache", "REGISTRY/REPOSITORY"),
        ("--cache-from", "ghcr.io/O/Cache", "must be lowercase"),
        ("--cache-to", "ghcr.io/o/c:bad tag", "no spaces"),
        ("--cache-to", "type=registry,ref=ghcr.io/o/c;type=gha", "no spaces, ';'"),
        ("--cache-to", "type=registry,ref", "key=value"),
        ("--cache-to", "type=registry,ref=ghcr.io/o/c,mode=all", "mode must be min or max"),
        ("--cache-to", "type=s3,bucket=b", "needs region"),
        ("--cache-from", "type=local,dest=/x", "needs src"),
        ("--cache-to", "type=registry,ref=a.io/c,ref=b.io/c", "a key appears twice"),
    ],
)
def test_bad_cache_values_name_the_flag(flag: str, value: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        parse_cache(flag, value, {})
    assert info.value.message.startswith(f"{flag} ")


@pytest.mark.parametrize("value", ["127.0.0.1:1234", "http://h:1", "tcp://", "tcp://a b"])
def test_bad_engine_values(value: str) -> None:
    with pytest.raises(UserError, match=r"--engine .*SCHEME://ADDRESS"):
        parse_engine(value)


def test_one_export_ref_per_session_when_several_images_are_built(table: Table) -> None:
    specs = [_cpu(table, "2.14.1"), _cpu(table, "2.15.0")]
    with pytest.raises(UserError, match=r"2 images share one session .*ghcr.io/o/c:TAG"):
        from_flags(cache_to=["ghcr.io/o/c"], specs=specs)
    assert from_flags(cache_to=["ghcr.io/o/c:all"], specs=specs).exports[0].attr("ref") == "ghcr.io/o/c:all"


def test_session_env_is_set_for_the_session_only(table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_RUNNER, "tcp://127.0.0.1:1234")
    monkeypatch.delenv(ENV_IMPORT, raising=False)
    session = from_flags(cache_from=["r.example/c:x"], engine="tcp://127.0.0.1:9999", specs=[_cpu(table)])
    with session.session_env():
        assert os.environ[ENV_RUNNER] == "tcp://127.0.0.1:9999"
        assert os.environ[ENV_IMPORT] == "type=registry,ref=r.example/c:x"
    assert os.environ[ENV_RUNNER] == "tcp://127.0.0.1:1234"
    assert ENV_IMPORT not in os.environ


def test_plain_http_only_for_registries_named_with_plain_http() -> None:
    """One rule for skopeo and the cache read-back: a loopback registry may serve TLS (the test
    stack's token registries do), so only --plain-http makes a registry plain HTTP."""
    declared = frozenset({"127.0.0.1:5000"})
    assert refs.plain_http("127.0.0.1:5000", declared)
    assert not refs.plain_http("127.0.0.1:5002", declared)
    assert not refs.plain_http("localhost:5000", declared)
    assert not refs.plain_http("ghcr.io", declared)
    session = from_flags(cache_to=["127.0.0.1:5000/c:x"], plain_http=declared)
    assert session.plain_http == declared


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--cache-to", "type=gha"), "error: --cache-to 'type=gha': type=gha needs url, token"),
        (("--cache-from", "nohost"), "error: --cache-from 'nohost': must be REGISTRY/REPOSITORY"),
        (("--engine", "1.2.3.4:1234"), "error: --engine '1.2.3.4:1234': expected SCHEME://ADDRESS"),
    ],
)
def test_cli_rejects_bad_remote_flags_with_exit_2_and_one_line(
    argv: tuple[str, ...], fragment: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIONS_CACHE_URL", raising=False)
    monkeypatch.delenv("ACTIONS_RUNTIME_TOKEN", raising=False)
    assert main.main(["build", "--tf", "2.15.0", "--variant", "cpu", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(fragment)


def test_flags_are_refused_under_dagger_run(table: Table) -> None:
    """`dagger run` starts the session (and reads its cache settings) before this process runs."""
    environ = {"DAGGER_SESSION_PORT": "40000"}
    with pytest.raises(UserError, match="--cache-to: not under `dagger run`"):
        from_flags(cache_to=["ghcr.io/o/c"], specs=[_cpu(table)], environ=environ)
    with pytest.raises(UserError, match="--engine: not under `dagger run`"):
        from_flags(engine="tcp://127.0.0.1:1234", environ=environ)
    assert from_flags(environ=environ).environment() == {}


def test_each_platform_job_of_an_image_has_its_own_cache_ref(table: Table) -> None:
    """The workflow builds linux/amd64 and linux/arm64 of one tag in two jobs: neither overwrites the
    other's cache, and each imports its own platform's refs (its own and those of sibling targets)."""
    targets = resolve_targets(table)
    request = BuildRequest(tf="2.21.0", variant="cpu")
    amd64 = resolve(table, dataclasses.replace(request, platforms=("linux/amd64",)))
    arm64 = resolve(table, dataclasses.replace(request, platforms=("linux/arm64",)))
    both = resolve(table, request)
    refs_of = {
        name: from_flags(cache_to=["ghcr.io/o/c"], cache_from=["ghcr.io/o/c"], specs=[spec], targets=targets)
        for name, spec in (("amd64", amd64), ("arm64", arm64), ("both", both))
    }
    exports = {name: session.exports[0].attr("ref") for name, session in refs_of.items()}
    assert exports == {
        "amd64": f"ghcr.io/o/c:{amd64.tag}",
        "arm64": f"ghcr.io/o/c:{amd64.tag}-linux-arm64",
        "both": f"ghcr.io/o/c:{amd64.tag}",
    }
    arm64_imports = refs_of["arm64"].imports
    assert arm64_imports[0] == f"type=registry,ref=ghcr.io/o/c:{amd64.tag}-linux-arm64"
    assert all(ref.endswith("-linux-arm64") for ref in arm64_imports)
    assert len(arm64_imports) > 1  # 2.19.1 and 2.20.0 share its base, OS and Python
    assert not any(ref.endswith("-linux-arm64") for ref in refs_of["amd64"].imports)
    assert set(refs_of["both"].imports) == set(refs_of["amd64"].imports) | set(arm64_imports)


@pytest.mark.parametrize(
    ("value", "secret", "env"),
    [
        (
            "type=gha,scope=x,url=https://c.example/,token=ghs_S3CRETVALUE",
            "ghs_S3CRETVALUE",
            "ACTIONS_RUNTIME_TOKEN",
        ),
        (
            "type=s3,bucket=b,region=r,secret_access_key=AWS_S3CRETVALUE",
            "AWS_S3CRETVALUE",
            "AWS_SECRET_ACCESS_KEY",
        ),
        ("type=s3,bucket=b,region=r,session_token=SESS_S3CRETVALUE", "SESS_S3CRETVALUE", "AWS_SESSION_TOKEN"),
        ("type=s3,Session_Token=SESS_S3CRETVALUE,bucket=b b", "SESS_S3CRETVALUE", None),
    ],
)
def test_secrets_in_cache_flag_values_are_refused_and_never_echoed(
    value: str, secret: str, env: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16, finding 3: `--cache-to type=gha,...,token=...` / s3 `secret_access_key=` were
    accepted as flag values and echoed in error lines."""
    for flag in ("--cache-to", "--cache-from"):
        assert main.main(["build", "--tf", "2.15.0", "--variant", "cpu", flag, value]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert secret not in err
        if env is not None:
            assert "is a secret and a flag value shows in `ps`" in err
            assert f"it is taken from ${env}" in err


def test_s3_credentials_come_from_the_environment_and_stay_out_of_messages() -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s3cret", "AWS_SESSION_TOKEN": "t0k"}
    config = parse_cache("--cache-to", "type=s3,bucket=b,region=r", environ)
    assert dict(config.attrs) == {
        "bucket": "b",
        "region": "r",
        "access_key_id": "AKIA1",
        "secret_access_key": "s3cret",
        "session_token": "t0k",
    }
    assert "s3cret" not in config.describe()
    with pytest.raises(UserError) as err:
        from_flags(
            cache_to=["type=gha,scope={tag}"],
            specs=[],
            environ={"ACTIONS_CACHE_URL": "u", "ACTIONS_RUNTIME_TOKEN": "ghs_x1"},
        )
    assert "ghs_x1" not in err.value.message


@pytest.mark.parametrize(
    ("flag", "value", "secret"),
    [
        ("--engine", "ssh://ci:s3cretpw@engine.example", "s3cretpw"),
        ("--engine", "tcp://ci:s3cretpw@10.0.0.1:1234", "s3cretpw"),
        ("--cache-to", "ci:s3cretpw@ghcr.io/o/c x", "s3cretpw"),
        ("--cache-from", "type=registry,ref=ci:s3cretpw@ghcr.io/o/c", "s3cretpw"),
        ("--base-mirror", "ci:s3cretpw@mirror.example", "s3cretpw"),
    ],
)
def test_a_password_in_an_engine_or_cache_flag_is_never_echoed(
    flag: str, value: str, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: secrets are never accepted in flag values and never shown in a message."""
    assert main.main(["build", "--tf", "2.15.0", "--variant", "cpu", flag, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert secret not in err
    assert "***@" in err
