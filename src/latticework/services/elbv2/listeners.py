"""Listeners: one port and protocol of a load balancer, forwarding to a target group.

Protocols
    NLB listeners speak TCP, TLS, UDP, TCP_UDP, QUIC or TCP_QUIC; ALB
    listeners HTTP or HTTPS. A forward action's target group must match the
    listener (``IncompatibleProtocols`` otherwise): TCP -> TCP or TCP_UDP,
    TLS -> TCP or TLS, UDP -> UDP or TCP_UDP, TCP_UDP -> TCP_UDP; it must be in
    the load balancer's VPC and used by no other load balancer
    (``TargetGroupAssociationLimit``). NLB default actions can only forward,
    to one target group.

Forward actions
    AWS answers a forward action in both forms whatever the request used:
    ``TargetGroupArn`` (when there is one group) and ``ForwardConfig`` with
    its weighted groups and ``TargetGroupStickinessConfig``; stored actions are
    normalised that way.

Idempotency
    A second CreateListener on the same port with the same settings returns
    the existing listener (AWS documents the call as idempotent); other
    settings on a used port are ``DuplicateListener``.

Certificates
    A TLS or HTTPS listener's ``Certificates`` hold its default certificate; AddListenerCertificates adds
    others (kept in the record's ``internal["certificates"]``, at most 25 besides the default, the NLB
    quota), which DescribeListenerCertificates lists after the default one with ``IsDefault`` false and the
    data plane chooses among by SNI. ``IsDefault`` in AddListenerCertificates is a ``ValidationError``;
    removing the default certificate is ``OperationNotPermitted``, one the listener lacks
    ``CertificateNotFound``.

Attributes
    NLB listeners have ``tcp.idle_timeout.seconds`` (350, 60-6000); ALB
    listeners ``routing.http.response.server.enabled`` (true).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from latticework.api.context import RequestContext
from latticework.services.elbv2 import api_types as shapes
from latticework.store import Record
from latticework.services.elbv2 import common as c
from latticework.services.elbv2.targetgroups import ALB_PROTOCOLS, NLB_PROTOCOLS, load_balancer_arns

COMPATIBLE = {"TCP": ("TCP", "TCP_UDP"), "TLS": ("TCP", "TLS"), "UDP": ("UDP", "TCP_UDP"),
              "TCP_UDP": ("TCP_UDP",), "QUIC": ("QUIC", "TCP_QUIC"), "TCP_QUIC": ("TCP_QUIC",),
              "HTTP": ("HTTP", "HTTPS"), "HTTPS": ("HTTP", "HTTPS")}
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-2016-08"
MAX_CERTIFICATES = 25  # certificates per listener besides the default (the NLB quota)


def default_attributes(lb_type: str) -> dict[str, str]:
    if lb_type == "network":
        return {"tcp.idle_timeout.seconds": "350"}
    return {"routing.http.response.server.enabled": "true"}


def _check_protocol(lb: Record, protocol: str | None, port: int | None) -> None:
    allowed = NLB_PROTOCOLS if lb.body["Type"] == "network" else ALB_PROTOCOLS
    if not protocol:
        raise c.validation("A listener protocol must be specified")
    if not port:
        raise c.validation("A listener port must be specified")
    if protocol not in allowed:
        raise c.error("UnsupportedProtocol", f"Protocol '{protocol}' is not supported by load balancers of type "
                      f"'{lb.body['Type']}'; use one of {', '.join(allowed)}")
    if protocol in ("UDP", "TCP_UDP") and lb.body.get("IpAddressType") != "ipv4":
        raise c.error("InvalidConfigurationRequest", "UDP and TCP_UDP listeners are not supported on dualstack "
                      "load balancers")


def _check_tls(params: Mapping[str, Any], protocol: str) -> dict:
    """TLS/HTTPS listeners need a certificate and get the default security policy."""
    if protocol not in ("TLS", "HTTPS"):
        if params.get("Certificates") or params.get("SslPolicy"):
            raise c.validation(f"Certificates and SSL policies cannot be specified for {protocol} listeners")
        return {}
    if not params.get("Certificates"):
        raise c.error("CertificateNotFound", f"A certificate must be specified for {protocol} listeners")
    return {"Certificates": params["Certificates"], "SslPolicy": params.get("SslPolicy") or DEFAULT_SSL_POLICY}


def _target_groups(action: Mapping[str, Any]) -> list[dict]:
    config = action.get("ForwardConfig") or {}
    tuples = [{"TargetGroupArn": t["TargetGroupArn"], "Weight": t.get("Weight", 1)}
              for t in config.get("TargetGroups") or [] if t.get("TargetGroupArn")]
    if action.get("TargetGroupArn") and not tuples:
        tuples = [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
    return tuples


def _normalise(action: Mapping[str, Any], tuples: list[dict]) -> dict:
    out: dict[str, Any] = {"Type": "forward"}
    if action.get("Order") is not None:
        out["Order"] = action["Order"]
    if len(tuples) == 1:
        out["TargetGroupArn"] = tuples[0]["TargetGroupArn"]
    stickiness = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig") or {"Enabled": False}
    out["ForwardConfig"] = {"TargetGroups": tuples, "TargetGroupStickinessConfig": stickiness}
    return out


def _check_group(ctx: RequestContext, lb: Record, protocol: str, group_arn: str) -> None:
    group = c.find(ctx, c.TARGET_GROUP, group_arn) if c.arn_kind(group_arn) == "targetgroup" else None
    if group is None:
        raise c.error("TargetGroupNotFound", f"Target group '{group_arn}' not found")
    tg = group.body
    if tg["TargetType"] == "lambda" and lb.body["Type"] == "application":
        return  # a Lambda function has neither protocol nor VPC
    if tg.get("Protocol") not in COMPATIBLE[protocol]:
        raise c.error("IncompatibleProtocols", f"The listener protocol '{protocol}' is not compatible with the "
                      f"protocol '{tg.get('Protocol')}' of target group '{group_arn}'")
    if tg.get("VpcId") != lb.body["VpcId"]:
        raise c.error("InvalidConfigurationRequest", f"Target group '{group_arn}' and load balancer "
                      f"'{lb.arn}' are in different VPCs")
    others = [a for a in load_balancer_arns(ctx, group_arn) if a != lb.arn]
    if others:
        raise c.error("TargetGroupAssociationLimit", "The following target groups cannot be associated with more "
                      f"than one load balancer: {group_arn}")


def _actions(ctx: RequestContext, lb: Record, protocol: str,
             actions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Checked and normalised default actions."""
    if not actions:
        raise c.validation("At least one default action must be specified")
    out: list[Mapping[str, Any]] = []
    for action in actions:
        if action["Type"] != "forward":
            if lb.body["Type"] == "network":
                raise c.error("InvalidLoadBalancerAction", f"The action type '{action['Type']}' is not valid "
                              "for a Network Load Balancer; use 'forward'")
            out.append(action)  # ALB actions other than forward are kept as given
            continue
        tuples = _target_groups(action)
        if not tuples:
            raise c.validation("A forward action must specify a target group")
        if lb.body["Type"] == "network" and len(tuples) > 1:
            raise c.error("InvalidLoadBalancerAction", "A forward action of a Network Load Balancer can have "
                          "only one target group")
        for t in tuples:
            _check_group(ctx, lb, protocol, t["TargetGroupArn"])
        out.append(_normalise(action, tuples))
    if lb.body["Type"] == "network" and len(out) > 1:
        raise c.error("TooManyActions", "A Network Load Balancer listener can have only one default action")
    return out


def _settings(body: dict) -> tuple:
    return body.get("Protocol"), body.get("DefaultActions"), body.get("SslPolicy"), body.get("Certificates")


def _check_attribute(key: str, value: str, allowed: dict[str, str]) -> None:
    if key not in allowed:
        raise c.validation(f"Listener attribute key '{key}' is not recognized")
    if key == "tcp.idle_timeout.seconds":
        c.check_int(key, value, 60, 6000)
    else:
        c.check_bool(key, value)


class ListenerOps:
    def create_listener(self, ctx: RequestContext, params: shapes.CreateListenerInput) -> shapes.CreateListenerOutput:
        lb = c.require(ctx, c.LOAD_BALANCER, params["LoadBalancerArn"])
        protocol, port = params.get("Protocol"), params.get("Port")
        _check_protocol(lb, protocol, port)
        assert protocol is not None  # _check_protocol refused a missing one
        listener_id = c.new_id()
        body = {"ListenerArn": ctx.arn(c.SIGNING_NAME, f"listener/{c.TYPE_PATHS[lb.body['Type']]}/"
                                          f"{lb.body['LoadBalancerName']}/{lb.id}/{listener_id}"),
                "LoadBalancerArn": lb.arn, "Port": port, "Protocol": protocol, **_check_tls(params, protocol),
                "DefaultActions": _actions(ctx, lb, protocol, params["DefaultActions"]),
                "Tags": c.clean_tags(params.get("Tags"))}
        if params.get("AlpnPolicy"):
            body["AlpnPolicy"] = params["AlpnPolicy"]
        same_port = [l for l in ctx.tx.list(c.LISTENER, parent=lb.id) if l.body["Port"] == port]
        if same_port:
            if _settings(same_port[0].body) != _settings(body):
                raise c.error("DuplicateListener", f"A listener already exists on this port for this load "
                              f"balancer '{lb.arn}'")
            return {"Listeners": [c.present(same_port[0], "Listener")]}
        if len(ctx.tx.list(c.LISTENER, parent=lb.id)) >= 50:
            raise c.error("TooManyListeners", "You've reached the limit on the number of listeners per load "
                          "balancer")
        record = Record(c.LISTENER, listener_id, ctx.account, ctx.region, body, parent=lb.id, arn=body["ListenerArn"],
                        internal={"attributes": default_attributes(lb.body["Type"])})
        ctx.tx.put(record)
        return {"Listeners": [c.present(record, "Listener")]}

    def describe_listeners(self, ctx: RequestContext,
                           params: shapes.DescribeListenersInput) -> shapes.DescribeListenersOutput:
        arns, lb_arn = params.get("ListenerArns"), params.get("LoadBalancerArn")
        if bool(arns) == bool(lb_arn):
            raise c.validation("You must specify either listener ARNs or a load balancer ARN")
        if arns:
            records = [c.require(ctx, c.LISTENER, a) for a in dict.fromkeys(arns)]
        elif lb_arn:  # one of the two, as checked above
            lb = c.require(ctx, c.LOAD_BALANCER, lb_arn)
            records = ctx.tx.list(c.LISTENER, parent=lb.id)
        return c.page([c.present(r, "Listener") for r in records], params, "Listeners")

    def modify_listener(self, ctx: RequestContext, params: shapes.ModifyListenerInput) -> shapes.ModifyListenerOutput:
        record = c.require(ctx, c.LISTENER, params["ListenerArn"])
        assert record.parent is not None  # a listener's parent is its load balancer
        lb = ctx.tx.get(c.LOAD_BALANCER, record.parent)
        assert lb is not None  # deleting a load balancer deletes its listeners
        body = record.body
        protocol = params.get("Protocol") or body["Protocol"]
        port = params.get("Port") or body["Port"]
        _check_protocol(lb, protocol, port)
        if any(l.body["Port"] == port and l.id != record.id for l in ctx.tx.list(c.LISTENER, parent=lb.id)):
            raise c.error("DuplicateListener", f"A listener already exists on this port for this load balancer "
                          f"'{lb.arn}'")
        tls_params = {"Certificates": params.get("Certificates") or body.get("Certificates"),
                      "SslPolicy": params.get("SslPolicy") or body.get("SslPolicy")}
        if protocol not in ("TLS", "HTTPS"):
            tls_params = {}
        for key in ("Certificates", "SslPolicy"):
            body.pop(key, None)
        body.update(Protocol=protocol, Port=port, **_check_tls(tls_params, protocol))
        body["DefaultActions"] = _actions(ctx, lb, protocol, params.get("DefaultActions") or body["DefaultActions"])
        if params.get("AlpnPolicy") is not None:
            body["AlpnPolicy"] = params["AlpnPolicy"]
        ctx.tx.put(record)
        return {"Listeners": [c.present(record, "Listener")]}

    def add_listener_certificates(self, ctx: RequestContext, params: shapes.AddListenerCertificatesInput
                                  ) -> shapes.AddListenerCertificatesOutput:
        record = c.require(ctx, c.LISTENER, params["ListenerArn"])
        if any(cert.get("IsDefault") is not None for cert in params["Certificates"]):
            raise c.validation("You cannot set the isDefault parameter for a certificate.")
        added = record.internal.setdefault("certificates", [])
        for cert in params["Certificates"]:
            arn = cert.get("CertificateArn")
            if not arn:
                raise c.validation("A certificate ARN must be specified")
            if arn not in added:
                added.append(arn)
        if len(added) > MAX_CERTIFICATES:
            raise c.error("TooManyCertificates", "You've reached the limit on the number of certificates per "
                          "load balancer")
        ctx.tx.put(record)
        return {"Certificates": [{"CertificateArn": cert["CertificateArn"], "IsDefault": False}
                                 for cert in params["Certificates"]]}

    def describe_listener_certificates(self, ctx: RequestContext, params: shapes.DescribeListenerCertificatesInput
                                       ) -> shapes.DescribeListenerCertificatesOutput:
        record = c.require(ctx, c.LISTENER, params["ListenerArn"])
        default = [{"CertificateArn": cert["CertificateArn"], "IsDefault": True}
                   for cert in (record.body.get("Certificates") or [])[:1]]
        others = [{"CertificateArn": arn, "IsDefault": False} for arn in record.internal.get("certificates") or []]
        return c.page(default + others, params, "Certificates")

    def remove_listener_certificates(self, ctx: RequestContext, params: shapes.RemoveListenerCertificatesInput
                                     ) -> shapes.RemoveListenerCertificatesOutput:
        record = c.require(ctx, c.LISTENER, params["ListenerArn"])
        default = {cert.get("CertificateArn") for cert in (record.body.get("Certificates") or [])[:1]}
        added = record.internal.setdefault("certificates", [])
        for cert in params["Certificates"]:
            arn = cert.get("CertificateArn")
            if arn in default:
                raise c.error("OperationNotPermitted", "Default certificate cannot be removed")
            if arn not in added:
                raise c.error("CertificateNotFound", f"Certificate '{arn}' not found")
            added.remove(arn)
        ctx.tx.put(record)
        return {}

    def delete_listener(self, ctx: RequestContext, params: shapes.DeleteListenerInput) -> shapes.DeleteListenerOutput:
        record = c.require(ctx, c.LISTENER, params["ListenerArn"])
        ctx.tx.delete(c.LISTENER, record.id)
        return {}

    def describe_listener_attributes(
            self, ctx: RequestContext, params: shapes.DescribeListenerAttributesInput
    ) -> shapes.DescribeListenerAttributesOutput:
        record = c.require(ctx, c.LISTENER, params["ListenerArn"])
        return {"Attributes": c.as_list(record.internal["attributes"])}

    def modify_listener_attributes(
            self, ctx: RequestContext, params: shapes.ModifyListenerAttributesInput
    ) -> shapes.ModifyListenerAttributesOutput:
        record = c.require(ctx, c.LISTENER, params["ListenerArn"])
        current = record.internal["attributes"]
        merged = c.merge_attributes(current, params["Attributes"], lambda k, v: _check_attribute(k, v, current))
        record.internal["attributes"] = merged
        ctx.tx.put(record)
        return {"Attributes": c.as_list(merged)}
