"""Listeners and their rules: how a service routes what it receives.

Listeners
    A listener belongs to a service (record parent = service id, so its name
    is unique within the service), has a protocol (``HTTP``, ``HTTPS``,
    ``TLS_PASSTHROUGH``) and a port, both immutable; the port defaults to 80
    for HTTP and 443 for HTTPS. ``TLS_PASSTHROUGH`` has no documented default
    port, so one must be given (``ValidationException`` otherwise), and it
    needs a service with a ``customDomainName`` (the SNI it matches).
    Only ``defaultAction`` changes (``UpdateListener``). Two listeners of a
    service may not share a port. Quota: 2 listeners per service.

Default rule
    Creating a listener also creates its default rule: a rule record under
    the listener with ``isDefault`` true, the name ``default`` (kept out of
    the name index, so a user rule may still be called ``default``), no
    ``match`` and no ``priority``, holding the listener's default action.
    ``GetRule``/``ListRules`` show it; ``UpdateRule``, ``DeleteRule`` and
    ``BatchUpdateRule`` refuse it with a ``ValidationException`` (AWS's
    exact error for this is not documented; the API reference says to use
    ``UpdateListener``).

Rules
    Record parent = listener id. ``priority`` 1-2000, unique per listener
    (``ConflictException``); ``name`` unique per listener; at most 10 rules
    besides the default one (402). ``match`` is an ``httpMatch`` with at
    least one condition: a non-empty ``method``, a ``pathMatch`` or
    ``headerMatches``. ``method`` is kept as sent: Terraform sends ``""``
    for a rule without a method and reads it back. ``pathMatch.caseSensitive``
    defaults to true (the API reference's default), and is answered;
    ``headerMatches[].caseSensitive`` is answered only when sent (matching
    is case-insensitive when absent). A ``TLS_PASSTHROUGH`` listener has only
    its default rule. ``BatchUpdateRule`` checks priorities against the
    final state of the listener, so rules can swap priorities in one call.

Actions (default actions and rule actions)
    ``fixedResponse`` answers 404 or 500 (the only codes the API reference
    supports, although the model allows 100-599) and is not available behind
    ``TLS_PASSTHROUGH``. ``forward`` sends to 1-10 target groups of the
    caller's account, stored by id. Weights: the model's documentation
    conflicts (``ForwardAction`` says the default is 1, ``WeightedTargetGroup``
    says 100 for a single target group); a single target group without a
    weight gets 100, as the CLI examples show AWS answering, and with several
    target groups every weight is required, as the model documents.
    Invariants: a target group serves one service only (``ConflictException``);
    ``TCP`` target groups only behind ``TLS_PASSTHROUGH`` listeners, which
    forward only to ``TCP`` target groups (so never to ``LAMBDA``);
    ``HTTP2``/``GRPC`` target groups only behind ``HTTPS`` listeners; at most
    10 distinct target groups per service (402).

Quotas
    Listeners per service, rules per listener and target groups per service
    come from the table in ``latticework.quotas`` (values, Service Quotas codes,
    per-account overrides).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from latticework.api.context import RequestContext
from latticework.api.errors import ServiceError
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice import common
from latticework.services.lattice.common import LISTENER, RULE, SERVICE, TARGET_GROUP
from latticework.services.lattice.quotas import check_quota
from latticework.services.lattice.services import delete_listener_tree
from latticework.store import Record

DEFAULT_PORTS = {"HTTP": 80, "HTTPS": 443}
DEFAULT_RULE_NAME = "default"
SINGLE_TARGET_GROUP_WEIGHT = 100
FIXED_RESPONSE_CODES = (404, 500)
TLS_PASSTHROUGH = "TLS_PASSTHROUGH"

_LISTENER_MEMBERS = ("arn", "id", "name", "protocol", "port", "serviceArn", "serviceId", "defaultAction")
_LISTENER_GET_MEMBERS = _LISTENER_MEMBERS + ("createdAt", "lastUpdatedAt")
_LISTENER_SUMMARY_MEMBERS = ("arn", "id", "name", "protocol", "port", "createdAt", "lastUpdatedAt")
_RULE_CREATE_MEMBERS = ("arn", "id", "name", "match", "priority", "action")
_RULE_UPDATE_MEMBERS = ("arn", "id", "name", "isDefault", "match", "priority", "action")
_RULE_GET_MEMBERS = _RULE_UPDATE_MEMBERS + ("createdAt", "lastUpdatedAt")
_RULE_SUMMARY_MEMBERS = ("arn", "id", "name", "isDefault", "priority", "createdAt", "lastUpdatedAt")


# -- lookups -------------------------------------------------------------------

def _resolve_listener(ctx: RequestContext, params: Mapping[str, Any]) -> tuple[Record, Record]:
    service = common.resolve(ctx, SERVICE, params["serviceIdentifier"])
    return service, common.resolve(ctx, LISTENER, params["listenerIdentifier"], parent=service.id)


def _resolve_rule(ctx: RequestContext, params: Mapping[str, Any]) -> tuple[Record, Record, Record]:
    service, listener = _resolve_listener(ctx, params)
    return service, listener, common.resolve(ctx, RULE, params["ruleIdentifier"], parent=listener.id)


def _service_rules(ctx: RequestContext, service: Record) -> list[Record]:
    return [rule for listener in ctx.tx.list(LISTENER.kind, parent=service.id)
            for rule in ctx.tx.list(RULE.kind, parent=listener.id)]


def _links(service: Record, listener: Record) -> dict:
    """What a rule body records about where it lives (shared queries rely on these)."""
    return {"serviceId": service.id, "serviceArn": service.arn, "listenerId": listener.id}


def _refuse_default(rule: Record, verb: str) -> None:
    if rule.body.get("isDefault"):
        raise common.validation(
            f"The default rule {rule.id} cannot be {verb}. Use UpdateListener to change the default action.",
            ("ruleIdentifier", "The default listener rule cannot be modified with the rule APIs"), reason="other")


# -- actions -------------------------------------------------------------------

def _fixed_response(protocol: str, fixed: dict, field: str) -> dict:
    if protocol == TLS_PASSTHROUGH:
        raise common.validation("A TLS_PASSTHROUGH listener can only forward to TCP target groups.",
                                (field, "fixedResponse is not supported for TLS_PASSTHROUGH listeners"))
    if fixed["statusCode"] not in FIXED_RESPONSE_CODES:
        raise common.validation("Only 404 and 500 status codes are supported for fixed responses.",
                                (f"{field}.fixedResponse.statusCode", "Must be 404 or 500"))
    return {"fixedResponse": {"statusCode": fixed["statusCode"]}}


def _weights(entries: list[dict], field: str) -> list[int]:
    if len(entries) == 1:
        return [entries[0].get("weight", SINGLE_TARGET_GROUP_WEIGHT)]
    if any("weight" not in e for e in entries):
        raise common.validation("A weight is required for each target group when forwarding to several.",
                                (f"{field}.forward.targetGroups", "weight is required for every target group"))
    return [e["weight"] for e in entries]


def _check_protocol(tg: Record, protocol: str, field: str) -> None:
    """Listener and target group protocols that can work together."""
    config = tg.body.get("config") or {}
    tg_protocol, version = config.get("protocol"), config.get("protocolVersion")
    if protocol == TLS_PASSTHROUGH and tg_protocol != "TCP":
        what = "Lambda target groups" if tg.body.get("type") == "LAMBDA" else f"{tg_protocol} target groups"
        raise common.validation(f"{what} are not supported for TLS_PASSTHROUGH listeners; "
                                "a TLS_PASSTHROUGH listener can only forward to TCP target groups.",
                                (field, f"Target group {tg.id} must use the TCP protocol"))
    if protocol != TLS_PASSTHROUGH and tg_protocol == "TCP":
        raise common.validation("TCP target groups can only be used with TLS_PASSTHROUGH listeners.",
                                (field, f"Target group {tg.id} uses the TCP protocol"))
    if version in ("HTTP2", "GRPC") and protocol != "HTTPS":
        raise common.validation(f"{version} target groups can only be used with HTTPS listeners.",
                                (field, f"Target group {tg.id} uses protocol version {version}"))


def _check_owner(ctx: RequestContext, service: Record, tg: Record) -> None:
    """A target group serves one service only."""
    others = [arn for arn in common.services_using_target_group(ctx, tg.id) if arn != service.arn]
    if others:
        raise common.conflict(TARGET_GROUP, tg.id,
                              f"Target group {tg.id} is already used by service {others[0]}. "
                              "A target group can be used by only one service.")


def _check_quota(ctx: RequestContext, service: Record, tg_ids: list[str], rule_id: str | None,
                 pending: dict[str, dict]) -> None:
    """At most 10 distinct target groups across the service's rules once this action is in place."""
    actions = {r.id: r.body.get("action") for r in _service_rules(ctx, service)}
    actions.update(pending)
    if rule_id is not None:
        actions.pop(rule_id, None)
    used = set().union(*(common.forwarded_target_groups(a) for a in actions.values()))
    check_quota(ctx, "target-groups-per-service", len(used), TARGET_GROUP, service.id,
                adding=len(set(tg_ids) - used))


def _forward(ctx: RequestContext, service: Record, protocol: str, entries: list[dict], field: str,
             rule_id: str | None, pending: dict[str, dict]) -> dict:
    weights = _weights(entries, field)
    groups = [common.resolve(ctx, TARGET_GROUP, e["targetGroupIdentifier"]) for e in entries]
    if len({tg.id for tg in groups}) != len(groups):
        raise common.validation("A target group can appear only once in a forward action.",
                                (f"{field}.forward.targetGroups", "Duplicate target group"))
    for tg in groups:
        _check_protocol(tg, protocol, field)
        _check_owner(ctx, service, tg)
    _check_quota(ctx, service, [tg.id for tg in groups], rule_id, pending)
    return {"forward": {"targetGroups": [{"targetGroupIdentifier": tg.id, "weight": w}
                                         for tg, w in zip(groups, weights)]}}


def check_action(ctx: RequestContext, service: Record, protocol: str, action: Mapping[str, Any], field: str, *,
                 rule_id: str | None = None, pending: dict[str, dict] | None = None) -> dict:
    """The action as stored (target groups by id, weights filled in), or the error AWS answers.

    ``rule_id`` is the rule whose action this replaces; ``pending`` holds
    actions other rules are about to get in the same call.
    """
    if "fixedResponse" in action:
        return _fixed_response(protocol, action["fixedResponse"], field)
    return _forward(ctx, service, protocol, action["forward"]["targetGroups"], field, rule_id, pending or {})


# -- matches and priorities -------------------------------------------------------

def check_match(match: Mapping[str, Any], field: str = "match") -> dict:
    """The match as stored: at least one condition, ``pathMatch.caseSensitive`` filled in."""
    http = dict(match["httpMatch"])
    if not (http.get("method") or http.get("pathMatch") or http.get("headerMatches")):
        raise common.validation("A rule must have at least one match condition (method, path or header).",
                                (f"{field}.httpMatch", "One of method, pathMatch or headerMatches is required"))
    if "pathMatch" in http:
        http["pathMatch"] = {"caseSensitive": True, **http["pathMatch"]}
    return {"httpMatch": http}


def _check_priority(ctx: RequestContext, listener: Record, priority: int, rule_id: str | None = None) -> None:
    for other in ctx.tx.list(RULE.kind, parent=listener.id):
        if other.id != rule_id and other.body.get("priority") == priority:
            raise _priority_taken(listener, priority, other.id)


def _priority_taken(listener: Record, priority: int, holder: str) -> ServiceError:
    return common.conflict(RULE, holder, f"Priority {priority} is already in use by rule {holder} "
                                         f"of listener {listener.id}.")


def _clashing(rules: dict[str, Record], staged: dict[str, dict]) -> set[str]:
    """Staged rules whose new priority collides with another rule's priority in the final state."""
    final: dict[int, list[str]] = {}
    for rule in rules.values():
        priority = staged.get(rule.id, {}).get("priority", rule.body.get("priority"))
        if priority is not None:
            final.setdefault(priority, []).append(rule.id)
    return {rid for ids in final.values() if len(ids) > 1 for rid in ids
            if rid in staged and "priority" in staged[rid]}


# -- records -------------------------------------------------------------------

def _new_default_rule(ctx: RequestContext, service: Record, listener: Record, action: dict) -> Record:
    id = RULE.new_id()
    body = {"name": DEFAULT_RULE_NAME, "isDefault": True, "action": action, **_links(service, listener)}
    return common.new_record(ctx, RULE, body, id=id, parent=listener.id, arn_value=f"{listener.arn}/rule/{id}")


def _failure(identifier: str, err: ServiceError) -> shapes.RuleUpdateFailure:
    return {"ruleIdentifier": identifier, "failureCode": err.code, "failureMessage": err.message}


class ListenerOps:
    # -- listeners ---------------------------------------------------------------
    def create_listener(self, ctx: RequestContext,
                        params: shapes.CreateListenerRequest) -> shapes.CreateListenerResponse:
        service = common.resolve(ctx, SERVICE, params["serviceIdentifier"])
        protocol = params["protocol"]
        port = self._listener_port(ctx, service, protocol, params.get("port"))
        action = check_action(ctx, service, protocol, params["defaultAction"], "defaultAction")
        id = LISTENER.new_id()
        body = {"name": params["name"], "protocol": protocol, "port": port, "defaultAction": action,
                "serviceId": service.id, "serviceArn": service.arn, "tags": common.check_tags(params.get("tags"))}
        listener = common.new_record(ctx, LISTENER, body, id=id, parent=service.id, name=params["name"],
                                     arn_value=f"{service.arn}/listener/{id}")
        common.insert(ctx, listener, LISTENER)
        ctx.tx.put(_new_default_rule(ctx, service, listener, action))
        return common.project(listener.body, _LISTENER_MEMBERS)

    def _listener_port(self, ctx: RequestContext, service: Record, protocol: str, port: int | None) -> int:
        """The port of a new listener, after the per-service checks."""
        listeners = ctx.tx.list(LISTENER.kind, parent=service.id)
        check_quota(ctx, "listeners-per-service", len(listeners), LISTENER, service.id)
        if protocol == TLS_PASSTHROUGH:
            self._check_passthrough(service, port)
        port = port or DEFAULT_PORTS[protocol]
        taken = next((l for l in listeners if l.body["port"] == port), None)
        if taken is not None:
            raise common.conflict(LISTENER, taken.id, f"Listener {taken.id} of service {service.id} "
                                                      f"already uses port {port}.")
        return port

    def _check_passthrough(self, service: Record, port: int | None) -> None:
        if port is None:
            raise common.validation("A port is required for TLS_PASSTHROUGH listeners.",
                                    ("port", "port is required when protocol is TLS_PASSTHROUGH"))
        if not service.body.get("customDomainName"):
            raise common.validation(
                f"Service {service.id} has no custom domain name; TLS_PASSTHROUGH listeners require one.",
                ("protocol", "TLS_PASSTHROUGH requires a service with a customDomainName"))

    def get_listener(self, ctx: RequestContext, params: shapes.GetListenerRequest) -> shapes.GetListenerResponse:
        _, listener = _resolve_listener(ctx, params)
        return common.project(listener.body, _LISTENER_GET_MEMBERS)

    def update_listener(self, ctx: RequestContext,
                        params: shapes.UpdateListenerRequest) -> shapes.UpdateListenerResponse:
        service, listener = _resolve_listener(ctx, params)
        default = next(r for r in ctx.tx.list(RULE.kind, parent=listener.id) if r.body.get("isDefault"))
        action = check_action(ctx, service, listener.body["protocol"], params["defaultAction"], "defaultAction",
                              rule_id=default.id)
        common.touch(ctx, default, action=action)
        common.touch(ctx, listener, defaultAction=action)
        return common.project(listener.body, _LISTENER_MEMBERS)

    def delete_listener(self, ctx: RequestContext,
                        params: shapes.DeleteListenerRequest) -> shapes.DeleteListenerResponse:
        _, listener = _resolve_listener(ctx, params)
        delete_listener_tree(ctx, listener)
        return {}

    def list_listeners(self, ctx: RequestContext, params: shapes.ListListenersRequest) -> shapes.ListListenersResponse:
        service = common.resolve(ctx, SERVICE, params["serviceIdentifier"])
        return common.list_kind(ctx, params, LISTENER, lambda l: common.project(l.body, _LISTENER_SUMMARY_MEMBERS),
                                parent=service.id)

    # -- rules -----------------------------------------------------------------
    def create_rule(self, ctx: RequestContext, params: shapes.CreateRuleRequest) -> shapes.CreateRuleResponse:
        service, listener = _resolve_listener(ctx, params)
        self._check_rule_capacity(ctx, listener)
        match = check_match(params["match"])
        _check_priority(ctx, listener, params["priority"])
        action = check_action(ctx, service, listener.body["protocol"], params["action"], "action")
        id = RULE.new_id()
        body = {"name": params["name"], "isDefault": False, "priority": params["priority"], "match": match,
                "action": action, **_links(service, listener), "tags": common.check_tags(params.get("tags"))}
        rule = common.new_record(ctx, RULE, body, id=id, parent=listener.id, name=params["name"],
                                 arn_value=f"{listener.arn}/rule/{id}")
        common.insert(ctx, rule, RULE)
        return common.project(rule.body, _RULE_CREATE_MEMBERS)

    def _check_rule_capacity(self, ctx: RequestContext, listener: Record) -> None:
        if listener.body["protocol"] == TLS_PASSTHROUGH:
            raise common.validation("The only rule allowed for a TLS_PASSTHROUGH listener is its default rule.",
                                    ("listenerIdentifier", "TLS_PASSTHROUGH listeners do not support rules"))
        rules = [r for r in ctx.tx.list(RULE.kind, parent=listener.id) if not r.body.get("isDefault")]
        check_quota(ctx, "rules-per-listener", len(rules), RULE, listener.id)

    def get_rule(self, ctx: RequestContext, params: shapes.GetRuleRequest) -> shapes.GetRuleResponse:
        _, _, rule = _resolve_rule(ctx, params)
        return common.project(rule.body, _RULE_GET_MEMBERS)

    def update_rule(self, ctx: RequestContext, params: shapes.UpdateRuleRequest) -> shapes.UpdateRuleResponse:
        service, listener, rule = _resolve_rule(ctx, params)
        changes = self._rule_changes(ctx, service, listener, rule, params, {})
        if "priority" in changes:
            _check_priority(ctx, listener, changes["priority"], rule.id)
        common.touch(ctx, rule, **changes)
        return common.project(rule.body, _RULE_UPDATE_MEMBERS)

    def _rule_changes(self, ctx: RequestContext, service: Record, listener: Record, rule: Record,
                      update: Mapping[str, Any], pending: dict[str, dict]) -> dict:
        """The checked body changes an update asks of a rule (priorities are checked by the caller)."""
        _refuse_default(rule, "modified")
        changes = {k: update[k] for k in ("priority",) if k in update}
        if "match" in update:
            changes["match"] = check_match(update["match"])
        if "action" in update:
            changes["action"] = check_action(ctx, service, listener.body["protocol"], update["action"], "action",
                                             rule_id=rule.id, pending=pending)
        return changes

    def delete_rule(self, ctx: RequestContext, params: shapes.DeleteRuleRequest) -> shapes.DeleteRuleResponse:
        _, _, rule = _resolve_rule(ctx, params)
        _refuse_default(rule, "deleted")
        ctx.tx.delete(RULE.kind, rule.id)
        return {}

    def list_rules(self, ctx: RequestContext, params: shapes.ListRulesRequest) -> shapes.ListRulesResponse:
        _, listener = _resolve_listener(ctx, params)
        return common.list_kind(ctx, params, RULE, lambda r: common.project(r.body, _RULE_SUMMARY_MEMBERS),
                                parent=listener.id)

    def batch_update_rule(self, ctx: RequestContext,
                          params: shapes.BatchUpdateRuleRequest) -> shapes.BatchUpdateRuleResponse:
        """Update up to 10 rules; each succeeds or fails on its own.

        Priorities are checked against the listener's state after the whole
        batch (so two rules can swap priorities); a rule whose new priority
        still collides fails with ``ConflictException``, which may in turn
        make others collide, so this repeats until no collision remains.
        """
        service, listener = _resolve_listener(ctx, params)
        rules = {r.id: r for r in ctx.tx.list(RULE.kind, parent=listener.id)}
        staged, identifiers, failed = self._stage_batch(ctx, service, listener, params["rules"])
        while clashing := _clashing(rules, staged):
            for rule_id in sorted(clashing, key=list(staged).index):
                err = _priority_taken(listener, staged.pop(rule_id)["priority"], rule_id)
                failed.append(_failure(identifiers[rule_id], err))
        updated = [common.touch(ctx, rules[rule_id], **changes) for rule_id, changes in staged.items()]
        return {"successful": [common.project(r.body, _RULE_UPDATE_MEMBERS) for r in updated],
                "unsuccessful": failed}

    def _stage_batch(self, ctx: RequestContext, service: Record, listener: Record,
                     updates: Sequence[shapes.RuleUpdate],
                     ) -> tuple[dict[str, dict], dict[str, str], list[shapes.RuleUpdateFailure]]:
        """Checked changes per rule id, the identifier each was named by, and the failures so far."""
        staged: dict[str, dict] = {}
        identifiers: dict[str, str] = {}
        failed: list[shapes.RuleUpdateFailure] = []
        for update in updates:
            try:
                rule = common.resolve(ctx, RULE, update["ruleIdentifier"], parent=listener.id)
                if rule.id in staged:
                    raise common.validation(f"Rule {rule.id} appears more than once in the request.",
                                            ("rules", "Each rule can be updated once per request"))
                pending = {rid: c["action"] for rid, c in staged.items() if "action" in c}
                staged[rule.id] = self._rule_changes(ctx, service, listener, rule, update, pending)
                identifiers[rule.id] = update["ruleIdentifier"]
            except ServiceError as err:
                failed.append(_failure(update["ruleIdentifier"], err))
        return staged, identifiers, failed
