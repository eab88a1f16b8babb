"""Argument parsing: kubectl's habits (flags between names, flags before or after the verb)."""

from __future__ import annotations

import pytest

from mixfleet.api.kinds import lookup
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.main import build_parser, parse
from mixfleet.mixctl.objects import parse_refs


@pytest.mark.parametrize(
    ("argv", "resources", "namespace"),
    [
        pytest.param(["get", "po", "web"], ["po", "web"], None, id="plain"),
        pytest.param(["get", "po", "-n", "ns", "web", "api"], ["po", "web", "api"], "ns", id="flag-between-names"),
        pytest.param(["-n", "ns", "get", "po"], ["po"], "ns", id="flag-before-verb"),
        pytest.param(["describe", "-n", "ns", "po", "web"], ["po", "web"], "ns", id="flag-first"),
    ],
)
def test_flags_anywhere(argv: list[str], resources: list[str], namespace: str | None) -> None:
    """-n and names may come in any order, as with kubectl."""
    args = parse(build_parser(), argv)
    assert (args.resources, args.namespace) == (resources, namespace)


def test_unknown_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown flag exits 1 with one error line (not argparse's exit 2)."""
    with pytest.raises(SystemExit) as exc:
        parse(build_parser(), ["get", "po", "--bogus"])
    assert exc.value.code == 1
    assert capsys.readouterr().err.startswith("error: unrecognized arguments: --bogus\n")


@pytest.mark.parametrize(
    ("args", "kinds", "refs"),
    [
        pytest.param(["po"], ["Pod"], [], id="kind"),
        pytest.param(["po,deploy"], ["Pod", "Deployment"], [], id="kinds"),
        pytest.param(["deployments.apps", "web"], ["Deployment"], [("Deployment", "web")], id="group-qualified"),
        pytest.param(["pod/a", "no/b"], ["Pod", "Node"], [("Pod", "a"), ("Node", "b")], id="kind-slash-name"),
    ],
)
def test_parse_refs(args: list[str], kinds: list[str], refs: list[tuple[str, str]]) -> None:
    """Kinds by short or long name, with names or as kind/name."""
    got_kinds, got_refs = parse_refs(args)
    assert [k.kind for k in got_kinds] == kinds
    assert [(k.kind, n) for k, n in got_refs] == refs


def test_names_need_a_single_kind() -> None:
    """Names with several kinds are ambiguous and refused."""
    with pytest.raises(CLIError):
        parse_refs(["po,deploy", "web"])
    assert lookup("rs").kind == "ReplicaSet"
