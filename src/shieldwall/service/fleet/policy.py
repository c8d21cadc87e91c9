"""Agent policies: named, versioned documents ``{"modules": {"<module>": {...}}}``, audited on every change.

A policy is never edited in place: an update adds a version. The revision an
agent applies is the version row's ID (it only grows, across all policies),
so reassigning an agent to another policy is a new revision too.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shieldwall.service.fleet.errors import FleetConflictError, FleetError, FleetNotFoundError
from shieldwall.store import Store, audit
from shieldwall.store.core import utcnow
from shieldwall.store.schema import Agent, AgentPolicy, AgentPolicyVersion

MAX_POLICY_BYTES = 256 * 1024
EMPTY_DOCUMENT: dict[str, Any] = {"modules": {}}

log = logging.getLogger("shieldwall.fleet.policy")


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A policy with its current document."""

    id: int
    name: str
    description: str
    version: int
    revision: int
    document: Mapping[str, Any]
    updated_at: str
    author: str


@dataclass(frozen=True, slots=True)
class AgentPolicyDoc:
    """What an agent is told to run: the revision to report back and the document."""

    revision: int
    name: str
    version: int
    document: Mapping[str, Any]


def validate_document(document: Any) -> dict[str, Any]:
    """A policy document: an object with a ``modules`` object of objects (or null); bounded size."""
    if not isinstance(document, dict) or set(document) - {"modules"}:
        raise FleetError('a policy document is {"modules": {"<module>": {...}}}')
    modules = document.get("modules", {})
    if not isinstance(modules, dict):
        raise FleetError("policy: modules must be an object")
    for name, section in modules.items():
        if not isinstance(name, str) or not name or len(name) > 64 or not name.replace("_", "").isalnum():
            raise FleetError(f"policy: bad module name {name!r}")
        if section is not None and not isinstance(section, dict):
            raise FleetError(f"policy: the section of {name} must be an object or null")
    text = json.dumps(document, sort_keys=True)
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise FleetError(f"policy: larger than {MAX_POLICY_BYTES} bytes")
    return {"modules": dict(modules)}


def _policy(session: Session, name: str) -> AgentPolicy:
    row = session.scalars(select(AgentPolicy).where(AgentPolicy.name == name, AgentPolicy.deleted.is_(False))).first()
    if row is None:
        raise FleetNotFoundError(f"no policy named {name!r}")
    return row


def _current(session: Session, policy: AgentPolicy) -> AgentPolicyVersion:
    row = session.scalars(
        select(AgentPolicyVersion).where(
            AgentPolicyVersion.policy_id == policy.id, AgentPolicyVersion.version == policy.current_version
        )
    ).one()
    return row


def _view(policy: AgentPolicy, version: AgentPolicyVersion) -> PolicyView:
    return PolicyView(
        id=policy.id,
        name=policy.name,
        description=policy.description,
        version=version.version,
        revision=version.id,
        document=json.loads(version.document),
        updated_at=version.created_at.isoformat(),
        author=version.author,
    )


def create_policy(store: Store, name: str, document: Any, *, description: str = "", actor: str = "") -> PolicyView:
    """A new policy at version 1."""
    doc = validate_document(document)
    now = utcnow()
    with store.session() as session:
        existing = session.scalars(select(AgentPolicy).where(AgentPolicy.name == name)).first()
        if existing is not None and not existing.deleted:
            raise FleetConflictError(f"a policy named {name!r} exists")
        if existing is not None:  # a deleted name is reused: continue its version numbers
            policy = existing
            policy.deleted = False
            policy.description = description
            policy.current_version = _max_version(session, policy.id) + 1
            policy.updated_at = now
        else:
            policy = AgentPolicy(
                name=name[:128],
                description=description,
                current_version=1,
                deleted=False,
                created_at=now,
                updated_at=now,
            )
            session.add(policy)
            session.flush()
        version = AgentPolicyVersion(
            policy_id=policy.id,
            version=policy.current_version,
            document=json.dumps(doc, sort_keys=True),
            author=actor[:256],
            created_at=now,
        )
        session.add(version)
        session.flush()
        audit.append_event(
            store,
            session,
            "agent_policy.created",
            f"agent-policy:{name}",
            {"version": version.version, "revision": version.id, "document": doc},
            actor=actor,
        )
        return _view(policy, version)


def _max_version(session: Session, policy_id: int) -> int:
    value = session.scalar(
        select(func.max(AgentPolicyVersion.version)).where(AgentPolicyVersion.policy_id == policy_id)
    )
    return int(value or 0)


def update_policy(
    store: Store, name: str, document: Any, *, description: str | None = None, actor: str = ""
) -> PolicyView:
    """A new version of ``name`` with ``document`` (agents assigned to it pick it up at their next poll)."""
    doc = validate_document(document)
    now = utcnow()
    with store.session() as session:
        policy = session.scalars(
            select(AgentPolicy).where(AgentPolicy.name == name, AgentPolicy.deleted.is_(False)).with_for_update()
        ).first()
        if policy is None:
            raise FleetNotFoundError(f"no policy named {name!r}")
        previous = json.loads(_current(session, policy).document)
        policy.current_version = _max_version(session, policy.id) + 1
        policy.updated_at = now
        if description is not None:
            policy.description = description
        version = AgentPolicyVersion(
            policy_id=policy.id,
            version=policy.current_version,
            document=json.dumps(doc, sort_keys=True),
            author=actor[:256],
            created_at=now,
        )
        session.add(version)
        session.flush()
        audit.append_event(
            store,
            session,
            "agent_policy.updated",
            f"agent-policy:{name}",
            {"version": version.version, "revision": version.id, "previous": previous, "document": doc},
            actor=actor,
        )
        return _view(policy, version)


def delete_policy(store: Store, name: str, *, actor: str = "") -> None:
    """Mark a policy deleted; agents assigned to it fall back to the empty policy."""
    with store.session() as session:
        policy = _policy(session, name)
        policy.deleted = True
        for agent in session.scalars(select(Agent).where(Agent.policy_id == policy.id)):
            agent.policy_id = None
        audit.append_event(store, session, "agent_policy.deleted", f"agent-policy:{name}", {}, actor=actor)


def get_policy(store: Store, name: str) -> PolicyView:
    """The current version of a policy."""
    with store.session() as session:
        policy = _policy(session, name)
        return _view(policy, _current(session, policy))


def list_policies(store: Store) -> list[PolicyView]:
    """Every live policy at its current version."""
    with store.session() as session:
        rows = session.scalars(select(AgentPolicy).where(AgentPolicy.deleted.is_(False)).order_by(AgentPolicy.name))
        return [_view(p, _current(session, p)) for p in rows]


def policy_versions(store: Store, name: str) -> list[PolicyView]:
    """Every version of a policy, newest first."""
    with store.session() as session:
        policy = _policy(session, name)
        rows = session.scalars(
            select(AgentPolicyVersion)
            .where(AgentPolicyVersion.policy_id == policy.id)
            .order_by(AgentPolicyVersion.version.desc())
        )
        return [_view(policy, v) for v in rows]


def assign_policy(store: Store, uid: str, name: str | None, *, actor: str = "") -> None:
    """Give an agent a policy (``None``: the empty policy)."""
    with store.session() as session:
        agent = session.scalars(select(Agent).where(Agent.uid == uid)).first()
        if agent is None:
            raise FleetNotFoundError(f"no agent {uid}")
        agent.policy_id = _policy(session, name).id if name else None
        audit.append_event(store, session, "agent.policy_assigned", f"agent:{uid}", {"policy": name}, actor=actor)


def revision_in(session: Session, agent: Agent) -> int:
    """The policy revision ``agent`` should run (0: none), inside an open session."""
    if agent.policy_id is None:
        return 0
    policy = session.get(AgentPolicy, agent.policy_id)
    if policy is None or policy.deleted:
        return 0
    return _current(session, policy).id


def policy_for_agent(store: Store, agent_id: int) -> AgentPolicyDoc:
    """The document the agent must run now (the empty document, revision 0, without a policy).

    When the policy enables the ``ips`` module, the host's assigned virtual patches
    (``vpatch``) are merged into that section, and the revision changes with them,
    so an agent fetches its policy again when a shield is assigned or unassigned.
    """
    with store.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None or agent.policy_id is None:
            return AgentPolicyDoc(0, "", 0, EMPTY_DOCUMENT)
        policy = session.get(AgentPolicy, agent.policy_id)
        if policy is None or policy.deleted:
            return AgentPolicyDoc(0, "", 0, EMPTY_DOCUMENT)
        version = _current(session, policy)
        doc = AgentPolicyDoc(version.id, policy.name, version.version, json.loads(version.document))
        asset_id = agent.asset_id
    return _with_virtual_patches(store, asset_id, doc)


def _with_virtual_patches(store: Store, asset_id: int | None, doc: AgentPolicyDoc) -> AgentPolicyDoc:
    modules = doc.document.get("modules") or {}
    ips = modules.get("ips")
    if asset_id is None or not isinstance(ips, Mapping):
        return doc
    try:
        from shieldwall.vpatch.views import policy_section

        patches = policy_section(store, asset_id)
    except Exception as exc:  # the policy still goes out; the missing shields are logged, not hidden
        log.warning("virtual patches for asset %s not merged into the ips policy: %s", asset_id, exc)
        return doc
    if not patches.get("virtual_patches"):
        return doc
    merged = dict(ips)
    merged["virtual_patches"] = sorted({*merged.get("virtual_patches", ()), *patches["virtual_patches"]})
    merged["rule_modes"] = {**patches["rule_modes"], **dict(merged.get("rule_modes") or {})}
    digest = zlib.crc32(json.dumps(patches, sort_keys=True).encode()) & 0x7FFFFFFF
    document = {**doc.document, "modules": {**modules, "ips": merged}}
    return AgentPolicyDoc((doc.revision << 31) | digest, doc.name, doc.version, document)


def agent_has_ips(store: Store, agent_id: int) -> bool:
    """Whether the agent's policy enables the ``ips`` module (its revision then includes virtual patches)."""
    with store.session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None or agent.policy_id is None or agent.asset_id is None:
            return False
        policy = session.get(AgentPolicy, agent.policy_id)
        if policy is None or policy.deleted:
            return False
        modules = json.loads(_current(session, policy).document).get("modules") or {}
        return isinstance(modules.get("ips"), dict)
