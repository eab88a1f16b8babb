"""Kubernetes naming rules (object names, label keys and values), shared by validation and
selector parsing. Each check returns a list of problems (empty when valid), worded as
Kubernetes words them, so the caller can attach a field path."""

from __future__ import annotations

import re

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL = re.compile(f"^{_LABEL}$")
_DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253


def _check(value: str, *, max_len: int, regex: re.Pattern[str], rule: str, allow_empty: bool = False) -> list[str]:
    errs = []
    if len(value) > max_len:
        errs.append(f"must be no more than {max_len} characters")
    if not (allow_empty and not value) and not regex.match(value):
        errs.append(rule)
    return errs


def dns_label(value: str) -> list[str]:
    """Namespaces and container names: ``web``, ``app-1``."""
    return _check(value, max_len=DNS_LABEL_MAX, regex=_DNS_LABEL, rule=(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
        "or '-', and must start and end with an alphanumeric character"))


def dns_subdomain(value: str) -> list[str]:
    """Most object names: ``web-0``, ``win-20348-a.example.com``."""
    return _check(value, max_len=DNS_SUBDOMAIN_MAX, regex=_DNS_SUBDOMAIN, rule=(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
        "characters, '-' or '.', and must start and end with an alphanumeric character"))


def _qualified_name_part(name: str) -> list[str]:
    if not name:
        return ["name part must be non-empty"]
    return [f"name part {e}" for e in _check(name, max_len=DNS_LABEL_MAX, regex=_QUALIFIED, rule=(
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
        "with an alphanumeric character"))]


def qualified_name(key: str) -> list[str]:
    """Label and annotation keys: ``app``, ``kubernetes.io/os``."""
    prefix, sep, name = key.rpartition("/")
    errs = []
    if sep:
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend(f"prefix part {e}" for e in dns_subdomain(prefix))
    errs.extend(_qualified_name_part(name))
    return errs


def label_value(value: str) -> list[str]:
    """Label values: empty, or up to 63 alphanumerics with ``-_.`` inside."""
    return _check(value, max_len=DNS_LABEL_MAX, regex=_QUALIFIED, allow_empty=True, rule=(
        "a valid label must be an empty string or consist of alphanumeric characters, "
        "'-', '_' or '.', and must start and end with an alphanumeric character"))
