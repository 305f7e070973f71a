"""`test IMAGE` without an engine: what an image claims to be is read from its labels, and bad input
fails before a session starts (the checks against a pulled image are tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.build.options import BuildOptions
from ci.engine import session
from ci.model.errors import UserError
from ci.model.spec import ImageSpec
from ci.pipeline.retest import TestInputs, retest, spec_from_labels
from ci.select import Selection, selected_specs


def test_every_target_is_checked_as_what_its_labels_say() -> None:
    for spec in selected_specs(Selection()):
        assert spec_from_labels(Selection(), spec.tag, dict(spec.labels)) == spec


def test_the_platforms_label_says_which_platforms_are_checked(multi_spec: ImageSpec) -> None:
    """Every platform the tag claims is pulled and checked; an image from before platforms were
    labelled holds the table's default platform only."""
    labels = dict(multi_spec.on("linux/arm64").labels)  # any platform's labels name them all
    assert spec_from_labels(Selection(), "r.example/tf:x", labels).platforms == ("linux/amd64", "linux/arm64")
    del labels["io.tfimages.platforms"]
    assert spec_from_labels(Selection(), "r.example/tf:x", labels).platforms == ("linux/amd64",)


def test_labels_of_an_unknown_release_name_the_flag(cpu_spec: ImageSpec) -> None:
    labels = {**dict(cpu_spec.labels), "io.tfimages.tensorflow.version": "9.9.9"}
    with pytest.raises(UserError, match=r"^--tf: "):
        spec_from_labels(Selection(), "r.example/tf:x", labels)
    with pytest.raises(UserError, match=r"^r\.example/tf:x: no io\.tfimages\.tensorflow\.version label"):
        spec_from_labels(Selection(), "r.example/tf:x", {})


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise AssertionError("an engine session was started")

    monkeypatch.setattr(session, "run_session", refuse)


@pytest.mark.usefixtures("no_engine")
def test_a_report_dir_that_is_a_file_fails_before_the_session(tmp_path: Path) -> None:
    a_file = tmp_path / "report"
    a_file.write_text("")
    inputs = TestInputs("r.example/tf:x", Selection(), BuildOptions(), report_dir=a_file)
    with pytest.raises(UserError, match=r"--report-dir .*: exists and is not a directory"):
        retest(inputs)


@pytest.mark.usefixtures("no_engine")
def test_bad_selectors_fail_before_the_session() -> None:
    selection = Selection(fields={"tf": "2.15.0", "python": "3.12"})
    with pytest.raises(UserError, match=r"^--python: "):
        retest(TestInputs("r.example/tf:x", selection, BuildOptions()))
    with pytest.raises(UserError, match=r"--engine"):
        retest(TestInputs("r.example/tf:x", Selection(), BuildOptions(), engine="127.0.0.1:1234"))


@pytest.mark.usefixtures("no_engine")
@pytest.mark.parametrize("image", ["ci:s3cretpw@ghcr.io/o/tf:x", "https://ghcr.io/o/tf", "r.example/tf x"])
def test_a_bad_image_reference_fails_before_the_session_and_hides_credentials(image: str) -> None:
    """Issue 16: `test` handed any text to the engine and echoed it (with credentials) on failure."""
    with pytest.raises(UserError, match=r"^IMAGE_REF ") as err:
        retest(TestInputs(image, Selection(), BuildOptions()))
    assert "s3cretpw" not in err.value.message
