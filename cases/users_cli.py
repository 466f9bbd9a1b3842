"""`hotline users add|list|passwd|role|disable|enable`: the console's accounts, kept by an administrator.

Department staff (role branch) belong to a department (--department: branch 分公司, market_area 市场区域,
trunk_vehicle 干线车辆, warehouse 仓管, settlement 结算, payment 兑付, invoicing 开票, key_account 大客户项目主管;
default branch) and, for a branch or market area, to one of them (--branch): their desk shows the
complaints referred to that department (and unit).

A new password, a new role and disabling an account end the user's console sessions at once (the
pages open with them are logged out at their next request, their live connections within seconds).

Passwords are never taken from the command line (they would show in `ps` and the shell history):
they are asked for at the terminal, or read as the first line of standard input with
`--password-stdin`. Errors: one line on standard error, exit code 2, nothing changed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from cases.errors import CasesError, InvalidUserInput
from cases.views import UserView
from cases.vocab import Department, Role

EXIT_ERROR = 2


def _fail(message: str) -> int:
    print(f"hotline users: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def register_users_cli(subparsers: Any) -> None:
    p = subparsers.add_parser("users", help="console accounts: add, list, change password or role, disable, enable",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="a new account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--name", default="", help="display name (default: the username)")
    add.add_argument("--branch", default="", help="role branch: the branch or market area the user works for")
    add.add_argument("--department", default=None, choices=[d.value for d in Department],
                     help="role branch: the department whose referrals the user answers (default: branch)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_add)
    ls = sub.add_parser("list", help="every account with its role and whether it may log in")
    ls.set_defaults(func=cmd_list)
    pw = sub.add_parser("passwd", help="set a new password")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=cmd_passwd)
    rl = sub.add_parser("role", help="give the account another role (its console sessions end)")
    rl.add_argument("username")
    rl.add_argument("--role", required=True, choices=[r.value for r in Role])
    rl.add_argument("--branch", default=None, help="role branch: the branch or market area (default: as stored)")
    rl.add_argument("--department", default=None, choices=[d.value for d in Department],
                    help="role branch: the department (default: as stored, else branch)")
    rl.set_defaults(func=cmd_role)
    for verb, active in (("disable", False), ("enable", True)):
        sp = sub.add_parser(verb, help=("no more logins; the history stays" if not active else "allow logins again"))
        sp.add_argument("username")
        sp.set_defaults(func=cmd_set_active, active=active)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidUserInput("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InvalidUserInput("the two passwords differ")
    return first


def _show(user: UserView) -> str:
    state = "active" if user.active else "disabled"
    branch = f" ({user.branch})" if user.branch else ""
    dept = user.department
    role = user.role.value + (f":{dept.value}" if dept is not None and dept is not Department.BRANCH else "")
    return f"{user.username}\t{role}{branch}\t{state}\t{user.display_name}"


def cmd_add(args: argparse.Namespace) -> int:
    from cases.accounts import create_user
    from cases.db import open_migrated

    try:
        password = _password(args)
        with open_migrated(args.settings.database_url) as db, db.session() as s:
            user = create_user(s, args.username, password, args.role, args.name, branch=args.branch,
                               department=args.department)
    except CasesError as exc:
        return _fail(str(exc))
    print(f"added {_show(user)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from cases.accounts import list_users
    from cases.db import open_migrated

    try:
        with open_migrated(args.settings.database_url) as db, db.reading() as s:
            users = list_users(s)
    except CasesError as exc:
        return _fail(str(exc))
    for user in users:
        print(_show(user))
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    from cases.accounts import set_password
    from cases.db import open_migrated

    try:
        password = _password(args)
        with open_migrated(args.settings.database_url) as db, db.session() as s:
            user = set_password(s, args.username, password)
    except CasesError as exc:
        return _fail(str(exc))
    print(f"password changed: {user.username}")
    return 0


def cmd_role(args: argparse.Namespace) -> int:
    from cases.accounts import set_role
    from cases.db import open_migrated

    try:
        with open_migrated(args.settings.database_url) as db, db.session() as s:
            user = set_role(s, args.username, args.role, branch=args.branch, department=args.department)
    except CasesError as exc:
        return _fail(str(exc))
    print(_show(user))
    return 0


def cmd_set_active(args: argparse.Namespace) -> int:
    from cases.accounts import set_active
    from cases.db import open_migrated

    try:
        with open_migrated(args.settings.database_url) as db, db.session() as s:
            user = set_active(s, args.username, args.active)
    except CasesError as exc:
        return _fail(str(exc))
    print(_show(user))
    return 0
