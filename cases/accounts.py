"""User accounts of the console: creating users, passwords, roles, enabling and disabling (each of which
ends the user's console sessions at once, `cases.sessions`), and checking a login."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.errors import InvalidUserInput, UserExists, UserNotFound
from cases.inputs import USERNAME_RE, parse_enum
from cases.models.accounts import User
from cases.models.base import utcnow
from cases.passwords import DUMMY_HASH, hash_password, password_needs_rehash, verify_password
from cases.sessions import end_user_sessions
from cases.views import LoginCheck, UserView
from cases.vocab import UNIT_DEPARTMENTS, Department, Role

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8


def _user_view(u: User) -> UserView:
    return UserView(id=u.id, username=u.username, display_name=u.display_name, role=Role(u.role), active=u.active,
                    branch=u.branch, department=Department(u.department) if u.department else None)


def _department(role: Role, department: str | None, unit: str) -> str | None:
    """The department of a user of `role` (department staff only: default branch), checked with its unit."""
    if role is not Role.BRANCH:
        if department:
            raise InvalidUserInput(f"only department staff (role branch) have a department, not role {role.value}")
        return None
    dept = parse_enum(Department, department or Department.BRANCH.value, "department", InvalidUserInput)
    if dept.value in UNIT_DEPARTMENTS and not unit:
        which = "branch" if dept is Department.BRANCH else "market area"
        raise InvalidUserInput(f"a user of role branch in department {dept.value} needs the {which} it belongs to")
    return dept.value


def create_user(
    s: Session, username: str, password: str, role: str, display_name: str, *, branch: str = "",
    department: str | None = None,
) -> UserView:
    """A new user; the password is stored as a salted argon2id hash only. Users of role branch are
    department staff: they belong to a department (default branch: 分公司) and, for a branch or market
    area, to one unit of it (`branch`), whose referrals (and branch work) they see."""
    name = (username or "").strip()
    if not USERNAME_RE.fullmatch(name):
        raise InvalidUserInput(f"username {username!r} is not valid (1-64 letters, digits, _ . -)")
    role_value = parse_enum(Role, role, "role", InvalidUserInput)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidUserInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    shown = (display_name or "").strip() or name
    if len(shown) > 100:
        raise InvalidUserInput("display name is longer than 100 characters")
    branch_name = (branch or "").strip()
    if len(branch_name) > 100:
        raise InvalidUserInput("branch is longer than 100 characters")
    dept = _department(role_value, department, branch_name)
    if s.scalars(select(User.id).where(User.username == name)).first() is not None:
        raise UserExists(f"user {name!r} already exists")
    user = User(
        username=name,
        display_name=shown,
        role=role_value.value,
        branch=branch_name,
        department=dept,
        password_hash=hash_password(password),
        active=True,
        created_at=utcnow(),
    )
    s.add(user)
    s.flush()
    log.info("user %s (%s) created", name, role_value.value)
    return _user_view(user)


def list_users(s: Session) -> list[UserView]:
    """Every user, active or not, by username."""
    return [_user_view(u) for u in s.scalars(select(User).order_by(User.username))]


def user_by_name(s: Session, username: str) -> User:
    user = s.scalars(select(User).where(User.username == (username or "").strip())).one_or_none()
    if user is None:
        raise UserNotFound(f"no user {username!r}")
    return user


def set_password(s: Session, username: str, password: str) -> UserView:
    """A new password (argon2id); the old one stops working at once."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidUserInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user = user_by_name(s, username)
    user.password_hash = hash_password(password)
    end_user_sessions(s, user.id)
    log.info("password of %s changed; the user's console sessions ended", user.username)
    return _user_view(user)


def set_active(s: Session, username: str, active: bool) -> UserView:
    """Disable (no more logins, the user's console sessions end at once; the user's history stays)
    or enable a user again."""
    user = user_by_name(s, username)
    user.active = active
    if not active:
        end_user_sessions(s, user.id)
    log.info("user %s %s", user.username, "enabled" if active else "disabled")
    return _user_view(user)


def set_role(
    s: Session, username: str, role: str, *, branch: str | None = None, department: str | None = None
) -> UserView:
    """A new role (and for role branch the department and the branch, else the ones stored); the
    user's console sessions end at once, so the new role applies from the next login."""
    user = user_by_name(s, username)
    role_value = parse_enum(Role, role, "role", InvalidUserInput)
    branch_name = user.branch if branch is None else branch.strip()
    if len(branch_name) > 100:
        raise InvalidUserInput("branch is longer than 100 characters")
    wanted = department if department is not None else (user.department if role_value is Role.BRANCH else None)
    dept = _department(role_value, wanted, branch_name)
    old = user.role
    user.role = role_value.value
    user.branch = branch_name
    user.department = dept
    end_user_sessions(s, user.id)
    log.info("role of %s changed from %s to %s; the user's console sessions ended", user.username, old,
             role_value.value)
    return _user_view(user)


def check_login(s: Session, username: str, password: str) -> LoginCheck:
    """Reads only, so a caller can verify in a read-only session and write an upgrade afterwards in a
    short one (argon2 takes a while; no write lock is held meanwhile). Same work for unknown users."""
    user = s.scalars(select(User).where(User.username == (username or "").strip())).one_or_none()
    if user is None or not user.active:
        verify_password(password or "", DUMMY_HASH)
        return LoginCheck(None)
    if not verify_password(password or "", user.password_hash):
        return LoginCheck(None)
    if password_needs_rehash(user.password_hash):
        return LoginCheck(_user_view(user), hash_password(password), user.password_hash)
    return LoginCheck(_user_view(user))


def upgrade_password_hash(s: Session, check: LoginCheck) -> bool:
    """Store `check.new_hash` unless the password was changed meanwhile; True if stored."""
    if check.user is None or check.new_hash is None:
        return False
    user = s.get(User, check.user.id)
    if user is None or user.password_hash != check.old_hash:
        return False
    old_scheme = user.password_hash.split("$")[1] if user.password_hash.startswith("$") else "scrypt"
    user.password_hash = check.new_hash
    log.info("password hash of %s upgraded from %s to argon2id", user.username, old_scheme)
    return True


def authenticate(s: Session, username: str, password: str) -> UserView | None:
    """The active user with this username and password, else None (same work either way). A hash of
    an older scheme (scrypt) is replaced by an argon2id one in the same session."""
    check = check_login(s, username, password)
    upgrade_password_hash(s, check)
    return check.user

