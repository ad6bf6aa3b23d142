"""``cxrpilot tokens``: API tokens of machine clients, from the server's shell."""

from __future__ import annotations

import argparse

from cxrpilot.vocabulary import TOKEN_SCOPES as SCOPES


def register(subparsers: argparse._SubParsersAction) -> None:
    from ._groups import add_group
    from ._serve import _common

    sub = add_group(
        subparsers, "tokens", "API tokens of machine clients: create, list, revoke.",
        "API tokens for machine clients (a PACS bridge, a RIS): each acts as a user account, only "
        "on the routes of its scopes. The token is printed once and stored only as its SHA-256.",
    )
    c = sub.add_parser("create", help="create a token (printed once)")
    c.add_argument("name", help="what the token is for, e.g. 'PACS bridge'")
    c.add_argument("--user", required=True, help="the account the token acts as")
    c.add_argument(
        "--scope", action="append", choices=SCOPES, required=True,
        help="ingest (import images), read:results (reports, FHIR); repeat for both",
    )
    c.add_argument("--expires-days", type=int, default=None, help="expire after N days")
    _common(c)
    c.set_defaults(handler=run_create)
    ls = sub.add_parser("list", help="list tokens (never the tokens themselves)")
    _common(ls)
    ls.set_defaults(handler=run_list)
    r = sub.add_parser("revoke", help="revoke a token by id")
    r.add_argument("id", type=int)
    _common(r)
    r.set_defaults(handler=run_revoke)


def _admin_settings(args):
    from cxrpilot.workstation import admin

    from ._serve import _settings

    # A refusal (a WorkstationError) is a CxrpilotError: main() prints it as one line.
    return admin, _settings(args)


def run_create(args: argparse.Namespace) -> int:
    import json

    admin, settings = _admin_settings(args)
    info, token = admin.create_token(
        settings, args.name, args.scope, user=args.user, expires_days=args.expires_days
    )
    out = {**info, "token": token}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"token {out['id']} ({out['name']}, scopes {', '.join(out['scopes'])}) for "
              f"{args.user}:\n{out['token']}\nShown once: store it now (only its SHA-256 is kept).")
    return 0


def run_list(args: argparse.Namespace) -> int:
    import json

    admin, settings = _admin_settings(args)
    rows = admin.list_tokens(settings)
    if args.json:
        print(json.dumps(rows))
        return 0
    for t in rows:
        state = "revoked" if t["revoked_at"] else "active"
        print(f"{t['id']:>4}  {t['prefix']}...  {t['name']}  [{', '.join(t['scopes'])}]  "
              f"user {t['user_id']}  {state}  last used {t['last_used_at'] or 'never'}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    admin, settings = _admin_settings(args)
    row = admin.revoke_token(settings, args.id)
    print(f"token {row['id']} ({row['name']}) revoked")
    return 0
