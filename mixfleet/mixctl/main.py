"""mixctl: a kubectl-like command line for Mixfleet.

``main`` parses flags, runs one command, and turns every failure into one line on stderr
with exit status 1: a user never sees a traceback (set MIXFLEET_LOG_LEVEL=debug to log it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from typing import NoReturn, Sequence

from mixfleet.api.errors import InvalidObjectError
from mixfleet.api.kinds import UnknownKindError
from mixfleet.client import APIError
from mixfleet.mixctl.commands import MODULES
from mixfleet.mixctl.errors import CLIError, api_error_message
from mixfleet.mixctl.session import Invocation
from mixfleet.util import log

_log = log.get("mixctl")


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1 with one ``error:`` line, like every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"error: {message}\nSee '{self.prog} --help' for usage.\n")


def _common_flags(*, suppress: bool) -> argparse.ArgumentParser:
    # SUPPRESS as default so a flag given before the verb is not reset by the subparser's own
    # default when it is not repeated after the verb.
    default = argparse.SUPPRESS if suppress else None
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--server", "-s", default=default, help="control plane address HOST:PORT")
    p.add_argument("--context", default=default, help="the config context to use")
    p.add_argument("-n", "--namespace", default=default, help="namespace of the request")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mixctl",
        description="Control a Mixfleet cluster.",
        epilog=(
            "The server is chosen by --server, else --context's server, else $MIXFLEET_SERVER, "
            "else the config file's current-context, else 127.0.0.1:7443; the namespace by -n, "
            "else the context's, else default. Config file: $MIXCTL_CONFIG or ~/.mixfleet/config."
        ),
        parents=[_common_flags(suppress=False)],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = _common_flags(suppress=True)
    for name in MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse like kubectl, where flags may sit between names (``get po -n ns web``):
    argparse stops a list positional at the first flag, so words it leaves over are added
    to the command's list positional (named by its ``extra_positionals`` default)."""
    args, extra = parser.parse_known_args(argv)
    dest = getattr(args, "extra_positionals", None)
    tail: list[str] = []
    if "--" in extra and dest is not None:  # `exec POD -c C -- CMD -x`: all after -- is CMD
        cut = extra.index("--")
        extra, tail = extra[:cut], extra[cut + 1 :]
    if extra and (dest is None or any(e.startswith("-") and e != "-" for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if (extra or tail) and dest is not None:
        getattr(args, str(dest)).extend(extra + tail)
    return args


def _configure_logging() -> None:
    # A CLI's stdout is for results: only warnings and worse are logged, to stderr.
    log.configure(json=False, level=os.environ.get("MIXFLEET_LOG_LEVEL") or "warning")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    _configure_logging()
    # A terminated ``get -w`` or ``logs -f`` ends like a Ctrl-C one: quietly.
    signal.signal(signal.SIGTERM, _interrupt)
    parser = build_parser()
    args = parse(parser, argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 1
    inv = Invocation(
        server_flag=args.server, context_flag=args.context, namespace_flag=args.namespace
    )
    return _run(args, inv)


def _run(args: argparse.Namespace, inv: Invocation) -> int:
    try:
        return int(args.handler(args, inv))
    except CLIError as e:
        _fail(e.message)
    except APIError as e:
        _fail(api_error_message(e, server=inv.target.server))
    except (UnknownKindError, InvalidObjectError) as e:
        _fail(f"error: {e}")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``mixctl get pods | head -1``): stop quietly. Point stdout at
        # devnull so the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except Exception as e:  # noqa: BLE001 - the promise is: no traceback, ever
        _log.debug("mixctl.crash", command=args.command, exc_info=True)
        _fail(f"error: {type(e).__name__}: {e}")
    return 1


def _fail(message: str) -> None:
    try:
        sys.stdout.flush()  # results printed so far come before the error
    except OSError:
        pass
    print(message, file=sys.stderr, flush=True)
