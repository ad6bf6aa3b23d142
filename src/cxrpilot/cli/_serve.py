"""``cxrpilot serve`` (the workstation) and ``cxrpilot admin`` (users, schema)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from cxrpilot.errors import CxrpilotError
from cxrpilot.vocabulary import ROLES, Role


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="Run the reading workstation (web app + draft worker).",
        description="Run the reading workstation. Settings come from CXRPILOT_* environment variables "
        "(see docs/workstation.md); the options below override them. The database schema is "
        "migrated to the newest revision on start.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    _common(p)
    p.add_argument(
        "--init-admin",
        metavar="USER",
        default=None,
        help="create this admin user first if it does not exist (password from "
        "$CXRPILOT_ADMIN_PASSWORD, a prompt, or generated and printed once)",
    )
    from cxrpilot.cli._pacs import add_server_options

    add_server_options(p, quantize=True)
    p.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-* from --forwarded-allow-ips (behind a TLS proxy)",
    )
    p.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    p.set_defaults(handler=run_serve)

    from ._groups import add_group

    sub = add_group(
        subparsers, "admin", "Workstation administration: users, roles and database schema.",
        "Workstation administration from the server's shell.",
    )
    cu = sub.add_parser(
        "create-user",
        help="create a user",
        description="Create a user. The password is "
        "read from $CXRPILOT_NEW_PASSWORD, else prompted for.",
    )
    cu.add_argument("username")
    cu.add_argument("--role", choices=ROLES, required=True)
    cu.add_argument("--display-name", default="")
    _common(cu)
    cu.set_defaults(handler=run_create_user)
    sr = sub.add_parser("set-role", help="change a user's role (the last active admin keeps theirs)")
    sr.add_argument("username")
    sr.add_argument("--role", choices=ROLES, required=True)
    _common(sr)
    sr.set_defaults(handler=run_set_role)
    mg = sub.add_parser("migrate", help="upgrade (or downgrade) the database schema")
    mg.add_argument("--revision", default="head", help="target revision (default: head)")
    mg.add_argument("--downgrade", action="store_true", help="downgrade to --revision (e.g. base)")
    _common(mg)
    mg.set_defaults(handler=run_migrate)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=None,
        help="image store and default SQLite folder ($CXRPILOT_DATA_DIR)",
    )
    p.add_argument("--database-url", default=None, help="SQLAlchemy URL ($CXRPILOT_DATABASE_URL)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _settings(args: argparse.Namespace, **overrides):
    from pydantic import ValidationError

    from cxrpilot.workstation import Settings

    values = {
        k: v
        for k, v in {
            "data_dir": args.data_dir,
            "database_url": args.database_url,
            **overrides,
        }.items()
        if v is not None
    }
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise CxrpilotError("; ".join(e["msg"] for e in exc.errors())) from None


def _emit(args: argparse.Namespace, obj: dict, text: str) -> None:
    print(json.dumps(obj) if args.json else text)


def run_serve(args: argparse.Namespace) -> int:
    import asyncio

    import uvicorn

    from cxrpilot.cli._pacs import server_overrides
    from cxrpilot.workstation import create_app

    settings = _settings(args, **server_overrides(args))
    if args.init_admin:
        password = os.environ.get("CXRPILOT_ADMIN_PASSWORD")
        if password is None and sys.stdin.isatty():
            password = (
                getpass.getpass(f"password for admin {args.init_admin!r} (empty: generate one): ")
                or None
            )
        from cxrpilot.workstation import admin

        created, generated = admin.ensure_user(settings, args.init_admin, Role.ADMIN.value, password)
        if created:
            msg = f"created admin {args.init_admin!r}"
            if generated:
                msg += f" with password {generated} (shown once; change it after logging in, at /account)"
            print(msg, file=sys.stderr)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        log_level="info",
        access_log=False,
        lifespan="off",  # run below, so that a start-up error is one line, not a traceback
    )
    server = _server_class(uvicorn)(config)

    async def serve() -> None:
        # The app's start-up (draft worker, outbox, DICOM SCP) runs first: a DICOM port that
        # cannot be bound raises a CxrpilotError here, which main() prints as one line.
        async with app.router.lifespan_context(app):
            scp = app.state.ws.inbound.scp
            dicom = f"; DICOM SCP {scp.ae_title} on {scp.host}:{scp.port}" if scp else ""
            print(
                f"cxrpilot workstation on http://{args.host}:{args.port} (database: "
                f"{settings.resolved_database_url.split(':', 1)[0]}, data: "
                f"{settings.data_dir}){dicom}",
                file=sys.stderr,
                flush=True,
            )
            await server.serve()

    asyncio.run(serve())
    return 0 if server.started else 1


def _server_class(uvicorn):
    """uvicorn's Server, except that a SIGINT/SIGTERM it caught is not raised again when it
    stops: the app's shutdown (draft worker, outbox, SCP), which runs after ``serve()``
    returns, must finish first."""
    import contextlib
    import signal

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def run_create_user(args: argparse.Namespace) -> int:
    from cxrpilot.workstation import admin

    settings = _settings(args)
    password = os.environ.get("CXRPILOT_NEW_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise CxrpilotError(
                "no password: set CXRPILOT_NEW_PASSWORD or run in a terminal to be prompted"
            )
        password = getpass.getpass(f"password for {args.username!r}: ")
    created, _ = admin.ensure_user(settings, args.username, args.role, password, args.display_name)
    if not created:
        raise CxrpilotError(
            f"user {args.username!r} exists already; change it in the web app (admin)"
        )
    _emit(
        args,
        {"created": args.username, "role": args.role},
        f"created {args.role} {args.username!r}",
    )
    return 0


def run_set_role(args: argparse.Namespace) -> int:
    from cxrpilot.workstation import admin

    user = admin.set_role(_settings(args), args.username, args.role)
    _emit(args, user, f"{user['username']!r} is now a {user['role']}")
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from cxrpilot.workstation import admin

    rev = admin.migrate(_settings(args), args.revision, downgrade=args.downgrade)
    _emit(args, {"revision": rev}, f"database schema at revision {rev}")
    return 0
