"""``mixctl config get-contexts|current-context|use-context|set-context``."""

from __future__ import annotations

import argparse

from mixfleet.mixctl import config as cfg
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.printers import table
from mixfleet.mixctl.session import Invocation


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("config", help="show or change contexts in the mixctl config file")
    verbs = p.add_subparsers(dest="config_command", metavar="VERB", required=True)
    verbs.add_parser("get-contexts", parents=[common], help="list contexts").set_defaults(
        handler=_get_contexts
    )
    verbs.add_parser(
        "current-context", parents=[common], help="print the current context"
    ).set_defaults(handler=_current_context)
    use = verbs.add_parser("use-context", parents=[common], help="switch the current context")
    use.add_argument("name")
    use.set_defaults(handler=_use_context)
    # No common flags here: --server/--namespace describe the context being set.
    setc = verbs.add_parser("set-context", help="create or change a context")
    setc.add_argument("name")
    setc.add_argument("--server", dest="ctx_server", metavar="ADDR")
    setc.add_argument("-n", "--namespace", dest="ctx_namespace", metavar="NS")
    setc.add_argument("--certificate-authority", dest="ctx_certificate_authority", metavar="FILE",
                      help="the cluster CA (ca.crt): talk TLS to the server")
    setc.add_argument("--client-certificate", dest="ctx_client_certificate", metavar="FILE",
                      help="a client certificate (mixfleet certs admin)")
    setc.add_argument("--client-key", dest="ctx_client_key", metavar="FILE")
    setc.add_argument("--token", dest="ctx_token", metavar="TOKEN", help="a bearer token instead of a certificate")
    setc.set_defaults(handler=_set_context)


def _get_contexts(args: argparse.Namespace, inv: Invocation) -> int:
    conf = inv.load_config()
    if not conf.contexts:
        raise CLIError(f"error: no contexts in {inv.config_path}")
    rows = [
        ["*" if c.name == conf.current_context else "", c.name, c.server, c.namespace]
        for c in conf.contexts
    ]
    print(table.render(["CURRENT", "NAME", "SERVER", "NAMESPACE"], rows), end="")
    return 0


def _current_context(args: argparse.Namespace, inv: Invocation) -> int:
    conf = inv.load_config()
    if not conf.current_context:
        raise CLIError("error: current-context is not set")
    print(conf.current_context)
    return 0


def _use_context(args: argparse.Namespace, inv: Invocation) -> int:
    conf = inv.load_config()
    conf.context(args.name)  # raises when unknown
    cfg.save(inv.config_path, cfg.Config(current_context=args.name, contexts=conf.contexts))
    print(f'Switched to context "{args.name}".')
    return 0


def _set_context(args: argparse.Namespace, inv: Invocation) -> int:
    conf = inv.load_config()
    existing = next((c for c in conf.contexts if c.name == args.name), None)
    base = existing or cfg.Context(name=args.name)
    creds = cfg.Credentials(**{
        attr: getattr(args, f"ctx_{attr}") or getattr(base.credentials, attr)
        for attr in cfg.CREDENTIAL_KEYS.values()
    })
    ctx = cfg.Context(
        name=args.name,
        server=args.ctx_server or base.server,
        namespace=args.ctx_namespace or base.namespace,
        credentials=creds,
    )
    new = conf.with_context(ctx)
    if not new.current_context:
        # The first context a user creates is the one they mean to use.
        new = cfg.Config(current_context=ctx.name, contexts=new.contexts)
    cfg.save(inv.config_path, new)
    print(f'Context "{args.name}" {"modified" if existing else "created"}.')
    return 0
