"""Promotion on an in-memory registry: every source is found before anything is written, tags are
copied primary first, and the journal says tag by tag what moved when a copy fails half way."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import pytest

from ci.model.errors import UserError
from ci.model.refs import Reference, parse, parse_repository
from ci.model.spec import ImageSpec
from ci.registry import release
from ci.registry.release import (
    Entry,
    Journal,
    PromoteRequest,
    Promotion,
    login_all,
    plan_from_results,
    plan_from_tags,
    promote,
    run_promote,
    verify_sources,
)
from ci.registry.skopeo import Credentials, Registries, RegistryError
from ci.report.model import PushedImage
from ci.report.results import RunResult
from ci.supply.policy import Gatekeeper, Refused
from tests.unit.registry.conftest import FakeRegistries, as_registries, as_transport

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
STAGING = parse_repository("staging.example/tf", "--from")
RELEASE = parse_repository("release.example/tf", "--to")


def _spec(cpu_spec: ImageSpec, tag: str, *aliases: str) -> ImageSpec:
    return dataclasses.replace(cpu_spec, tag=tag, aliases=aliases)


def _journal(path: Path | None = None) -> tuple[Journal, list[str]]:
    lines: list[str] = []
    return Journal("staging.example/tf", "release.example/tf", path, echo=lines.append), lines


def test_plan_from_tags_pins_each_staging_tag_and_names_every_target(cpu_spec: ImageSpec) -> None:
    fake = FakeRegistries({"staging.example/tf:t1": A, "staging.example/tf:t2": B})
    specs = [_spec(cpu_spec, "t1", "latest"), _spec(cpu_spec, "t2")]
    plans = plan_from_tags(as_registries(fake), specs, STAGING, RELEASE, aliases=True)
    assert [(p.image, str(p.source), [str(t) for t in p.targets]) for p in plans] == [
        ("t1", f"staging.example/tf@{A}", ["release.example/tf:t1", "release.example/tf:latest"]),
        ("t2", f"staging.example/tf@{B}", ["release.example/tf:t2"]),
    ]
    primary_only = plan_from_tags(as_registries(fake), specs[:1], STAGING, RELEASE, aliases=False)
    assert [str(t) for t in primary_only[0].targets] == ["release.example/tf:t1"]


def test_one_missing_source_stops_the_plan(cpu_spec: ImageSpec) -> None:
    fake = FakeRegistries({"staging.example/tf:t1": A})
    specs = [_spec(cpu_spec, "t1"), _spec(cpu_spec, "t2")]
    with pytest.raises(RegistryError) as err:
        plan_from_tags(as_registries(fake), specs, STAGING, RELEASE, aliases=True)
    assert str(err.value) == "nothing promoted: 1 source image(s) not found: staging.example/tf:t2"
    assert fake.copies == []


def _result(tag: str, digest: str | None, ok: bool = True, *aliases: str) -> RunResult:
    pushed = None if digest is None else PushedImage("staging.example/tf", tag, digest)
    return RunResult(tag, (tag, *aliases), ok, pushed, "index.json")


def test_results_promote_the_tested_digest_even_if_the_tag_moved() -> None:
    fake = FakeRegistries({"staging.example/tf:t1": A, "staging.example/tf:t2": B})
    fake.push("staging.example/tf:t1", B)  # someone pushed over the staging tag since the build
    warnings: list[str] = []
    results = [_result("t1", A, True, "latest"), _result("t2", B, False), _result("t3", None)]
    plans = plan_from_results(
        as_registries(fake), results, RELEASE, aliases=True, source=None, warn=warnings.append
    )
    assert plans == [
        Promotion(
            "t1", parse(f"staging.example/tf@{A}"), (RELEASE.with_tag("t1"), RELEASE.with_tag("latest"))
        )
    ]
    assert warnings == [
        f"staging.example/tf:t1 has moved since the build ({B}); promoting the tested {A}",
        "t2: skipped, it failed its checks in index.json",
        "t3: skipped, it was not pushed in index.json",
    ]


def test_an_image_index_is_verified_with_each_platforms_manifest(tmp_path: Path) -> None:
    """A multi-platform image: promote copies the index digest, and the gatekeeper is given each
    platform's manifest digest (where each platform's SBOM attestation is) for the check."""
    c, d = "sha256:" + "c" * 64, "sha256:" + "d" * 64
    fake = FakeRegistries({"staging.example/tf:t1": A})
    pushed = PushedImage("staging.example/tf", "t1", A, (("linux/amd64", c), ("linux/arm64", d)))
    result = RunResult("t1", ("t1",), True, pushed, "index.json", ("linux/amd64", "linux/arm64"))
    (plan,) = plan_from_results(as_registries(fake), [result], RELEASE, aliases=True, source=None, warn=print)
    assert (plan.digest, plan.manifests) == (A, (c, d))
    single = PushedImage("staging.example/tf", "t1", A, (("linux/amd64", A),))
    (one,) = plan_from_results(
        as_registries(fake),
        [RunResult("t1", ("t1",), True, single, "index.json")],
        RELEASE,
        aliases=True,
        source=None,
        warn=print,
    )
    assert one.manifests == ()  # one image: its own digest carries the SBOM
    gatekeeper = FakeGatekeeper()
    journal, _ = _journal(tmp_path / "j.json")
    verify_sources(_gatekeeper(gatekeeper), [plan], journal, lambda _: None)
    assert gatekeeper.manifests == {A: (c, d)}


def test_results_refuse_a_gone_digest_a_wrong_source_or_nothing_to_promote() -> None:
    fake = FakeRegistries({"staging.example/tf:t1": A})
    registries = as_registries(fake)
    with pytest.raises(
        RegistryError, match=rf"tested digest\(s\) missing from staging: staging.example/tf@{B}"
    ):
        plan_from_results(registries, [_result("t1", B)], RELEASE, aliases=True, source=None, warn=print)
    with pytest.raises(RegistryError, match="the results name no image that passed and was pushed"):
        plan_from_results(
            registries, [_result("t1", A, False)], RELEASE, aliases=True, source=None, warn=lambda _: None
        )


def _plans() -> list[Promotion]:
    return [
        Promotion("t1", STAGING.with_digest(A), (RELEASE.with_tag("t1"), RELEASE.with_tag("latest"))),
        Promotion("t2", STAGING.with_digest(B), (RELEASE.with_tag("t2"),)),
    ]


def test_promote_copies_primary_tags_first_and_leaves_what_is_there(tmp_path: Path) -> None:
    fake = FakeRegistries(
        {"staging.example/tf:t1": A, "staging.example/tf:t2": B, "release.example/tf:t2": B}
    )
    journal, lines = _journal(tmp_path / "journal.json")
    promote(as_registries(fake), _plans(), journal, dry_run=False)
    assert fake.copies == [
        (f"staging.example/tf@{A}", "release.example/tf:t1"),
        (f"staging.example/tf@{A}", "release.example/tf:latest"),
    ]
    assert [e.outcome for e in journal.entries] == ["moved", "moved", "already there"]
    assert journal.complete
    assert journal.summary() == "2 moved, 1 already there, 0 failed, 0 not attempted"
    assert lines[0] == f"moved         release.example/tf:t1 @ {A}"
    saved = json.loads((tmp_path / "journal.json").read_text())
    assert saved["complete"] is True
    assert [e["target"] for e in saved["entries"]] == [
        "release.example/tf:t1",
        "release.example/tf:latest",
        "release.example/tf:t2",
    ]


def test_a_dry_run_copies_nothing_and_says_what_would_move() -> None:
    fake = FakeRegistries({"release.example/tf:latest": B})
    journal, _ = _journal()
    promote(as_registries(fake), _plans(), journal, dry_run=True)
    assert fake.copies == []
    assert [e.outcome for e in journal.entries] == ["would move"] * 3
    assert journal.entries[1].previous == B


def test_a_failed_copy_journals_the_rest_as_not_attempted(tmp_path: Path) -> None:
    fake = FakeRegistries({"release.example/tf:latest": B}, refuse={"release.example/tf:latest"})
    journal, lines = _journal(tmp_path / "journal.json")
    with pytest.raises(RegistryError, match="503"):
        promote(as_registries(fake), _plans(), journal, dry_run=False)
    assert [(e.target, e.outcome) for e in journal.entries] == [
        ("release.example/tf:t1", "moved"),
        ("release.example/tf:latest", "failed"),
        ("release.example/tf:t2", "not attempted"),
    ]
    assert journal.entries[1] == Entry(
        "t1",
        "release.example/tf:latest",
        A,
        "failed",
        error="copy to release.example/tf:latest: 503 Service Unavailable",
    )
    assert not journal.complete
    assert json.loads((tmp_path / "journal.json").read_text())["complete"] is False
    assert lines[-1] == f"not attempted release.example/tf:t2 @ {B}"


def test_each_registry_gets_only_its_own_credentials() -> None:
    fake = FakeRegistries()
    source, target = Credentials("reader", "r"), Credentials("pusher", "p")
    login_all(as_registries(fake), "staging.example", "release.example", source, target)
    assert fake.logins == [("release.example", target), ("staging.example", source)]
    fake.logins.clear()
    login_all(as_registries(fake), "release.example", "release.example", source, target)
    assert fake.logins == [("release.example", target)]  # the one that can push
    fake.logins.clear()
    login_all(as_registries(fake), None, "release.example", None, target)
    assert fake.logins == [("release.example", target)]
    with pytest.raises(UserError, match="source credentials need --from"):
        login_all(as_registries(fake), None, "release.example", source, target)


def test_source_credentials_never_reach_a_registry_a_results_file_names(tmp_path: Path) -> None:
    """Issue 16, finding 1: without --from, --from-user's password went to every registry an
    index.json named (another host received the staging password)."""
    fake = FakeRegistries({"elsewhere.example/tf:t1": A})
    elsewhere = RunResult("t1", ("t1",), True, PushedImage("elsewhere.example/tf", "t1", A), "index.json")
    request = dataclasses.replace(_request(fake, tmp_path / "j.json", elsewhere), source=None)
    with pytest.raises(UserError, match="source credentials need --from"):
        run_promote(request, warn=print, echo=print)
    assert fake.logins == []
    assert fake.copies == []


def test_a_results_file_naming_another_registry_than_from_is_refused_before_any_login(tmp_path: Path) -> None:
    fake = FakeRegistries({"staging.example/tf:t1": A})
    request = dataclasses.replace(
        _request(fake, tmp_path / "j.json", _result("t1", A)),
        source=parse_repository("other.example/tf", "--from"),
    )
    with pytest.raises(
        UserError, match=r"--from other\.example/tf does not match staging\.example/tf in index\.json"
    ):
        run_promote(request, warn=print, echo=print)
    assert fake.logins == []


def test_every_target_name_is_checked_before_the_first_copy(tmp_path: Path) -> None:
    """Issue 16, finding 8: tags [primary, 2.15-cpu, "bad tag!", latest] moved two tags, then failed."""
    fake = FakeRegistries({"staging.example/tf:t1": A})
    hostile = RunResult(
        "t1", ("t1", "2.15-cpu", "bad tag!", "latest"), True, _result("t1", A).pushed, "i.json"
    )
    with pytest.raises(UserError, match=r"i\.json: target tag 'bad tag!'"):
        run_promote(_request(fake, tmp_path / "j.json", hostile), warn=print, echo=print)
    assert (fake.logins, fake.copies) == ([], [])
    assert not (tmp_path / "j.json").exists()


def _request(fake: FakeRegistries, journal: Path, *results: RunResult) -> PromoteRequest:
    return PromoteRequest(
        target=RELEASE,
        source=STAGING,
        results=results,
        specs=(),
        aliases=True,
        dry_run=False,
        journal=journal,
        source_credentials=Credentials("reader", "r"),
        target_credentials=None,
        transport=as_transport(fake),
    )


def test_run_promote_logs_in_plans_copies_and_says_where_the_journal_is(tmp_path: Path) -> None:
    fake = FakeRegistries({"staging.example/tf:t1": A})
    out: list[str] = []
    code = run_promote(
        _request(fake, tmp_path / "j.json", _result("t1", A)), warn=out.append, echo=out.append
    )
    assert code == 0
    assert fake.logins == [("staging.example", Credentials("reader", "r"))]
    assert fake.copies == [(f"staging.example/tf@{A}", "release.example/tf:t1")]
    assert (
        out[-1]
        == f"promote: 1 moved, 0 already there, 0 failed, 0 not attempted; journal: {tmp_path / 'j.json'}"
    )


def test_run_promote_failing_is_exit_1_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeRegistries({"staging.example/tf:t1": A})
    code = run_promote(_request(fake, tmp_path / "j.json", _result("t1", B)), warn=print, echo=print)
    assert code == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: promote: nothing promoted: tested digest(s) missing from staging: staging.example/tf@{B} "
        "(nothing written)\n"
    )
    assert not (tmp_path / "j.json").exists()


class FakeGatekeeper:
    """Stands in for ci.supply.policy.Gatekeeper (cosign and the scanner are tests/e2e): refuses the
    digests in `refuse`, and says the evidence is already at the targets in `present`."""

    def __init__(
        self, refuse: dict[str, str] | None = None, present: Iterable[str] = (), broken: bool = False
    ) -> None:
        self.refuse = refuse or {}
        self.present = set(present)
        self.broken = broken
        self.carried: list[tuple[str, str]] = []
        self.manifests: dict[str, tuple[str, ...]] = {}  # source digest -> the platform manifests asked

    def check(self, source: Reference, manifests: Sequence[str] = ()) -> str:
        assert source.digest is not None
        self.manifests[source.digest] = tuple(manifests)
        if source.digest in self.refuse:
            raise Refused(self.refuse[source.digest])
        return "signature, SBOM and check-results attestations verified"

    def carry(self, source: Reference, target: Reference, manifests: Sequence[str] = ()) -> bool:
        if self.broken:
            raise RegistryError(f"copy the evidence to {target}: cosign exit 1")
        if str(target) in self.present:
            return False
        self.carried.append((str(source), str(target)))
        return True


def _gatekeeper(fake: FakeGatekeeper) -> Gatekeeper:
    return cast(Gatekeeper, fake)


def test_sources_are_verified_before_anything_is_written_and_refusals_journaled(tmp_path: Path) -> None:
    gatekeeper = FakeGatekeeper(refuse={B: "check results say failed: tensorflow smoke test"})
    journal, lines = _journal(tmp_path / "j.json")
    verified = verify_sources(_gatekeeper(gatekeeper), _plans(), journal, lines.append)
    assert [p.image for p in verified] == ["t1"]
    assert lines == [
        f"verified      staging.example/tf@{A}: signature, SBOM and check-results attestations verified",
        f"refused       release.example/tf:t2 @ {B}: check results say failed: tensorflow smoke test",
    ]
    assert [(e.image, e.outcome) for e in journal.entries] == [("t2", "refused")]
    assert not journal.complete
    assert journal.summary() == "0 moved, 0 already there, 0 failed, 0 not attempted, 1 refused"


def test_the_evidence_follows_the_primary_tag_before_the_aliases() -> None:
    fake = FakeRegistries({"staging.example/tf:t1": A, "staging.example/tf:t2": B})
    gatekeeper = FakeGatekeeper(present={f"release.example/tf@{B}"})
    journal, _ = _journal()
    promote(as_registries(fake), _plans(), journal, dry_run=False, gatekeeper=_gatekeeper(gatekeeper))
    evidence = "(signature, SBOM and check-results attestations)"
    assert [(e.target, e.outcome) for e in journal.entries] == [
        ("release.example/tf:t1", "moved"),
        (f"release.example/tf {evidence}", "moved"),
        ("release.example/tf:latest", "moved"),
        ("release.example/tf:t2", "moved"),
        (f"release.example/tf {evidence}", "already there"),
    ]
    assert gatekeeper.carried == [(f"staging.example/tf@{A}", f"release.example/tf@{A}")]
    dry, _ = _journal()
    promote(
        as_registries(FakeRegistries()), _plans()[:1], dry, dry_run=True, gatekeeper=_gatekeeper(gatekeeper)
    )
    assert [e.outcome for e in dry.entries] == ["would move"] * 3


def test_evidence_that_cannot_be_copied_stops_the_aliases() -> None:
    fake = FakeRegistries()
    journal, _ = _journal()
    with pytest.raises(RegistryError, match="copy the evidence"):
        promote(
            as_registries(fake),
            _plans(),
            journal,
            dry_run=False,
            gatekeeper=_gatekeeper(FakeGatekeeper(broken=True)),
        )
    assert [(e.target, e.outcome) for e in journal.entries] == [
        ("release.example/tf:t1", "moved"),
        ("release.example/tf:t1", "failed"),
        ("release.example/tf:latest", "not attempted"),
        ("release.example/tf:t2", "not attempted"),
    ]


def test_run_promote_with_a_refused_image_copies_the_rest_and_exits_1_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRegistries({"staging.example/tf:t1": A, "staging.example/tf:t2": B})
    gatekeeper = FakeGatekeeper(refuse={B: "no signatures found (cosign exit 10)"})

    @contextmanager
    def keeper(request: PromoteRequest, registries: Registries) -> Iterator[Gatekeeper]:
        yield _gatekeeper(gatekeeper)

    monkeypatch.setattr(release, "_gatekeeper", keeper)
    out: list[str] = []
    request = _request(fake, tmp_path / "j.json", _result("t1", A), _result("t2", B))
    assert run_promote(request, warn=out.append, echo=out.append) == 1
    assert fake.copies == [(f"staging.example/tf@{A}", "release.example/tf:t1")]  # nothing of t2
    err = capsys.readouterr().err
    assert err == (
        "error: promote: 1 image(s) refused, nothing of them copied (2 moved, 0 already there, 0 failed, "
        f"0 not attempted, 1 refused; journal: {tmp_path / 'j.json'})\n"
    )
    assert [e["outcome"] for e in json.loads((tmp_path / "j.json").read_text())["entries"]] == [
        "refused",
        "moved",
        "moved",
    ]
