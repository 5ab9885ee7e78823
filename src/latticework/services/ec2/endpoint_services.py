"""VPC endpoint services: the provider side of AWS PrivateLink.

The model
    An endpoint service (``vpce-svc-``, record kind ``vpcendpointservice``) is a
    provider's network load balancer (Interface endpoints) or gateway load
    balancer (GatewayLoadBalancer endpoints) offered to other VPCs under the
    name ``com.amazonaws.vpce.<region>.vpce-svc-<id>``. Its Availability Zones
    are those of its load balancers. Who may connect is a list of allowed
    principals (``vpce-svc-perm-`` records under the service): the service's
    own account always may; others only when a principal names them
    (``arn:aws:iam::<acct>:root`` covers the whole account, ``role/``/``user/``
    ARNs one identity, a role's also every session of it, ``*`` everyone). A caller who is not allowed does not
    see the service at all: ``CreateVpcEndpoint`` answers ``InvalidServiceName``
    ("... does not exist"), as AWS does.

Connections
    An endpoint of another VPC connected to the service is a *connection*: the
    consumer's endpoint record (parent = service id) seen from the provider's
    side. With ``AcceptanceRequired`` a new endpoint waits in
    ``pendingAcceptance`` until the provider accepts (``available``) or rejects
    (``rejected``) it; the provider may also reject an ``available`` one. Only
    the consumer deletes an endpoint. A service cannot be deleted while it has
    ``available`` or ``pendingAcceptance`` connections
    (``ExistingVpcEndpointConnections`` in ``Unsuccessful``).

Private DNS names and their verification
    Setting ``PrivateDnsName`` answers a TXT record to publish
    (``PrivateDnsNameConfiguration``: ``Name`` ``_<random>``, relative to the
    domain, ``Value`` ``vpce:<random>``), state ``pendingVerification``.
    ``StartVpcEndpointServicePrivateDnsVerification`` looks the record up.
    AWS consults public DNS; Latticework has none, so "public DNS" is a local
    file, ``public-dns.txt`` in the state directory (the directory of the
    SQLite state file; ``$LATTICEWORK_PUBLIC_DNS`` names another file). Each
    line is ``<name> [IN] TXT "<value>"`` or simply ``<name> <value>``; ``#``
    starts a comment. Publishing ``_abc.example.com TXT "vpce:xyz"`` there and
    calling the operation makes the name ``verified``; without the record it is
    ``failed`` (call again after publishing). Consumers may enable private DNS
    only on a verified name.

Connection notifications
    ``vpce-nfn-`` records watch a service (or one endpoint) for ``Connect``,
    ``Accept``, ``Reject`` and ``Delete`` events and deliver to an SNS topic
    ARN. Latticework has no SNS: each delivery is one JSON line appended to
    ``notifications/<account>/<region>/<topic-name>.jsonl`` under the state
    directory (``$LATTICEWORK_NOTIFICATIONS_DIR`` names another base). AWS
    does not publish its message schema, so we write an SNS-style envelope
    (``Type``, ``MessageId``, ``TopicArn``, ``Subject``, ``Timestamp``) whose
    ``Message`` is a JSON string of ``{connectionNotificationId, eventType,
    serviceId, vpcEndpointId, vpcEndpointOwner, vpcEndpointState,
    serviceRegion, timestamp}``.

Decisions where AWS's behaviour is unpublished
    ``ServicePermissionId`` is ``vpce-svc-perm-<17 hex>``; a connection id
    ``vpce-con-<17 hex>``. Accepting an ``available`` endpoint (or rejecting a
    ``rejected`` one) is a no-op success; other state mismatches answer
    ``IncorrectState`` in ``Unsuccessful``. Cross-Region consumers
    (``ServiceRegion``) are not served yet: ``SupportedRegions`` is kept and
    answered, but endpoints connect within the service's own Region.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import uuid
from pathlib import Path
from typing import Any, Mapping, cast

from latticework.api.context import RequestContext
from latticework.config import default_state_path
from latticework.services.ec2 import api_types as shapes
from latticework.services.ec2 import aws_services
from latticework.services.ec2.common import Ec2Error, describe, get, matches, page, tags_for
from latticework.services.ec2.kinds import ENDPOINT, NOTIFICATION, PERMISSION, ENDPOINT_SERVICE
from latticework.store import Record

EVENTS = ("Accept", "Connect", "Delete", "Reject")
IP_TYPES = ("ipv4", "ipv6")
LIVE_CONNECTION = ("available", "pendingAcceptance")
_PRINCIPAL = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):(root|role/[\w+=,.@-]+|user/[\w+=,.@-]+)")
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com")
_DOMAIN = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_SNS_TOPIC = re.compile(r"arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256})")


def unsuccessful(resource_id: str, code: str, message: str) -> shapes.UnsuccessfulItem:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


def invalid_service_name(name: str) -> Ec2Error:
    return Ec2Error("InvalidServiceName", f"The Vpc Endpoint Service '{name}' does not exist")


# -- state directory ------------------------------------------------------------

def state_dir(ctx: RequestContext) -> Path:
    """The server's state directory (home of the local "public DNS" and notification files)."""
    return ctx.state_dir or default_state_path().parent


# -- load balancers --------------------------------------------------------------

def _load_balancer(ctx: RequestContext, arn: str, lb_type: str) -> Record:
    record = ctx.tx.by_arn(arn)
    if record is None or record.kind != "loadbalancer" or record.account != ctx.account \
            or record.body.get("Type") != lb_type:
        noun = "Network" if lb_type == "network" else "Gateway"
        raise Ec2Error("InvalidParameterValue", f"{noun} load balancer '{arn}' does not exist or is not of "
                       f"type {lb_type}")
    return record


def _zones(ctx: RequestContext, arns: list[str], lb_type: str) -> tuple[list[str], list[str]]:
    """(zone names, zone ids) the load balancers ``arns`` span."""
    zones: dict[str, str] = {}
    for arn in arns:
        for az in _load_balancer(ctx, arn, lb_type).body.get("AvailabilityZones") or []:
            zones[az["ZoneName"]] = az.get("ZoneId") or aws_services.zone_id(az["ZoneName"])
    names = sorted(zones)
    return names, [zones[n] for n in names]


def _set_load_balancers(ctx: RequestContext, body: dict) -> None:
    if body.get("NetworkLoadBalancerArns"):
        body["AvailabilityZones"], body["AvailabilityZoneIds"] = _zones(ctx, body["NetworkLoadBalancerArns"],
                                                                        "network")
    else:
        body["AvailabilityZones"], body["AvailabilityZoneIds"] = _zones(ctx, body["GatewayLoadBalancerArns"],
                                                                        "gateway")


# -- private DNS names -------------------------------------------------------------

def _check_private_dns_name(name: str) -> str:
    if not _DOMAIN.fullmatch(name) or len(name) > 255:
        raise Ec2Error("InvalidParameterValue", f"Private DNS name '{name}' is not a valid domain name "
                       "(lowercase; a leading '*.' wildcard is allowed)")
    return name


def _dns_configuration(name: str) -> dict:
    return {"State": "pendingVerification", "Type": "TXT", "Name": "_" + secrets.token_hex(10),
            "Value": "vpce:" + secrets.token_urlsafe(15).replace("-", "x").replace("_", "y")}


def public_dns_file(ctx: RequestContext) -> Path:
    return Path(os.environ.get("LATTICEWORK_PUBLIC_DNS") or state_dir(ctx) / "public-dns.txt")


def published_txt(ctx: RequestContext, name: str, value: str) -> bool:
    """Whether the local "public DNS" file (``public_dns_file``) holds TXT ``value`` at ``name``."""
    return value in _txt_records(public_dns_file(ctx)).get(name.lower().rstrip("."), set())


def _txt_records(path: Path) -> dict[str, set[str]]:
    """TXT records of the local "public DNS" file: name -> values."""
    records: dict[str, set[str]] = {}
    if not path.is_file():
        return records
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        fields = line.split(None, 1)
        if len(fields) < 2:
            continue
        name, rest = fields[0].lower().rstrip("."), fields[1].strip()
        rest = re.sub(r"^(IN\s+)?TXT\s+", "", rest, flags=re.IGNORECASE)
        records.setdefault(name, set()).add(rest.strip().strip('"'))
    return records


def _verified(ctx: RequestContext, private_name: str, config: dict) -> bool:
    domain = private_name.removeprefix("*.")
    wanted = f"{config['Name']}.{domain}"
    return config["Value"] in _txt_records(public_dns_file(ctx)).get(wanted, set())


def private_dns_verified(service: Record) -> bool:
    config = service.body.get("PrivateDnsNameConfiguration") or {}
    return bool(service.body.get("PrivateDnsName")) and config.get("State") == "verified"


# -- principals ----------------------------------------------------------------------

def _principal_type(principal: str) -> str:
    if principal == "*":
        return "All"
    found = _PRINCIPAL.fullmatch(principal)
    if found:
        return {"root": "Account", "role": "Role", "user": "User"}[found.group(2).split("/")[0]]
    if _SERVICE_PRINCIPAL.fullmatch(principal):
        return "Service"
    raise Ec2Error("InvalidParameterValue", f"Invalid principal '{principal}': use '*', a service principal or "
                   "an IAM ARN arn:aws:iam::<account>:root|role/<name>|user/<name> (paths are not supported)")


def _principal_allows(principal: str, ctx: RequestContext) -> bool:
    """Does an allowed principal cover the caller? Its account (``root``), the caller's own user or role ARN,
    or the role of the caller's assumed-role session: a role principal covers its sessions, as in any IAM
    resource policy (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles)."""
    if principal == "*":
        return True
    found = _PRINCIPAL.fullmatch(principal)
    if found is None or found.group(1) != ctx.account:
        return False
    return found.group(2) == "root" or found.group(2) in _caller_names(ctx)


def _caller_names(ctx: RequestContext) -> set[str]:
    """The caller's IAM names after ``arn:<partition>:iam::<account>:`` (``user/x``, ``role/x``); a role's
    path is dropped, as allowed principals name none."""
    credential = ctx.credential
    arns = [credential.principal_arn]
    if credential.identity is not None and credential.identity.role_arn:
        arns.append(credential.identity.role_arn)
    names = set()
    for arn in arns:
        resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
        kind, _, rest = resource.partition("/")
        names.add(f"{kind}/{rest.rsplit('/', 1)[-1]}" if kind in ("role", "user") else resource)
    return names


def permissions(ctx: RequestContext, service: Record) -> list[Record]:
    return ctx.tx.list(PERMISSION.kind, parent=service.id, account=service.account)


def allowed(ctx: RequestContext, service: Record) -> bool:
    """Whether the caller may see and connect to ``service``."""
    if service.account == ctx.account:
        return True
    return any(p.body["PermissionType"] == "vpc-endpoint" and _principal_allows(p.body["Principal"], ctx)
               for p in permissions(ctx, service))


def visible_services(ctx: RequestContext) -> list[Record]:
    return [s for s in ctx.tx.list(ENDPOINT_SERVICE.kind, all_accounts=True) if allowed(ctx, s)]


def service_by_name(ctx: RequestContext, name: str) -> Record | None:
    """The endpoint service ``name`` if the caller may use it."""
    return next((s for s in visible_services(ctx) if s.body["ServiceName"] == name), None)


# -- connections and notifications ----------------------------------------------------

def connections(ctx: RequestContext, service: Record) -> list[Record]:
    return ctx.tx.list(ENDPOINT.kind, parent=service.id, all_accounts=True)


def _notifications_for(ctx: RequestContext, endpoint: Record, service: Record | None) -> list[Record]:
    found = [n for n in ctx.tx.list(NOTIFICATION.kind, account=endpoint.account)
             if n.body.get("VpcEndpointId") == endpoint.id]
    if service is not None:
        found += [n for n in ctx.tx.list(NOTIFICATION.kind, account=service.account)
                  if n.body.get("ServiceId") == service.id]
    return found


def notification_file(ctx: RequestContext, topic_arn: str) -> Path:
    base = Path(os.environ.get("LATTICEWORK_NOTIFICATIONS_DIR") or state_dir(ctx) / "notifications")
    found = _SNS_TOPIC.fullmatch(topic_arn)
    assert found is not None  # _topic checked the ARN when the notification was written
    region, account, topic = found.groups()
    return base / account / region / f"{topic}.jsonl"


def _message(ctx: RequestContext, notification: Record, endpoint: Record, event: str) -> dict:
    inner = {"connectionNotificationId": notification.id, "eventType": event,
             "serviceId": endpoint.internal.get("ServiceId"), "vpcEndpointId": endpoint.id,
             "vpcEndpointOwner": endpoint.account, "vpcEndpointState": endpoint.body["State"],
             "serviceRegion": ctx.region, "timestamp": ctx.timestamp()}
    return {"Type": "Notification", "MessageId": str(uuid.uuid4()),
            "TopicArn": notification.body["ConnectionNotificationArn"],
            "Subject": f"VPC endpoint connection {event}", "Message": json.dumps(inner), "Timestamp": ctx.timestamp()}


def notify(ctx: RequestContext, endpoint: Record, service: Record | None, event: str) -> None:
    """Deliver ``event`` about ``endpoint`` to every enabled notification watching it or its service."""
    for notification in _notifications_for(ctx, endpoint, service):
        body = notification.body
        if body["ConnectionNotificationState"] != "Enabled" or event not in body["ConnectionEvents"]:
            continue
        path = notification_file(ctx, body["ConnectionNotificationArn"])
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps(_message(ctx, notification, endpoint, event)) + "\n")


# -- presenting -----------------------------------------------------------------------

def _service_table() -> dict:
    return {
        "service-name": lambda b: b["ServiceName"], "service-id": lambda b: b["ServiceId"],
        "service-state": lambda b: b["ServiceState"],
        "supported-ip-address-types": lambda b: b.get("SupportedIpAddressTypes"),
        "service-type": lambda b: [t["ServiceType"] for t in b["ServiceType"]],
        "owner": lambda b: b.get("Owner"), "service-region": lambda b: b.get("ServiceRegion"),
    }


def _detail(ctx: RequestContext, service: Record) -> dict:
    """The consumer's view of an endpoint service (``ServiceDetail``)."""
    body = service.body
    detail = {
        "ServiceName": body["ServiceName"], "ServiceId": body["ServiceId"], "ServiceType": body["ServiceType"],
        "ServiceRegion": ctx.region, "AvailabilityZones": body["AvailabilityZones"],
        "AvailabilityZoneIds": body["AvailabilityZoneIds"], "Owner": service.account,
        "BaseEndpointDnsNames": body["BaseEndpointDnsNames"], "VpcEndpointPolicySupported": False,
        "AcceptanceRequired": body["AcceptanceRequired"], "ManagesVpcEndpoints": body["ManagesVpcEndpoints"],
        "Tags": body.get("Tags", []) if service.account == ctx.account else [],
        "SupportedIpAddressTypes": body["SupportedIpAddressTypes"],
    }
    if body.get("PayerResponsibility"):
        detail["PayerResponsibility"] = body["PayerResponsibility"]
    if body.get("PrivateDnsName"):
        detail.update(PrivateDnsName=body["PrivateDnsName"],
                      PrivateDnsNames=[{"PrivateDnsName": body["PrivateDnsName"]}],
                      PrivateDnsNameVerificationState=body["PrivateDnsNameConfiguration"]["State"])
    return detail


def _connection(endpoint: Record, service: Record) -> dict:
    body = endpoint.body
    item = {"ServiceId": service.id, "VpcEndpointId": endpoint.id, "VpcEndpointOwner": endpoint.account,
            "VpcEndpointState": body["State"], "CreationTimestamp": body["CreationTimestamp"],
            "DnsEntries": body.get("DnsEntries", []), "IpAddressType": body.get("IpAddressType"),
            "VpcEndpointConnectionId": endpoint.internal["ConnectionId"], "Tags": [],
            "VpcEndpointRegion": endpoint.region,
            "NetworkLoadBalancerArns": service.body.get("NetworkLoadBalancerArns", []),
            "GatewayLoadBalancerArns": service.body.get("GatewayLoadBalancerArns", [])}
    if body.get("PayerResponsibilities"):
        item["PayerResponsibilities"] = body["PayerResponsibilities"]
    return item


_CONNECTION_TABLE = {
    "ip-address-type": lambda c: c.get("IpAddressType"), "service-id": lambda c: c["ServiceId"],
    "vpc-endpoint-owner": lambda c: c["VpcEndpointOwner"], "vpc-endpoint-region": lambda c: c["VpcEndpointRegion"],
    "vpc-endpoint-state": lambda c: c["VpcEndpointState"], "vpc-endpoint-id": lambda c: c["VpcEndpointId"],
    "transit-gateway-attachment-id": lambda c: c.get("TransitGatewayAttachmentId"),
}
_PERMISSION_TABLE = {
    "permission-type": lambda p: p["PermissionType"], "principal": lambda p: p["Principal"],
    "principal-type": lambda p: p["PrincipalType"],
}
_NOTIFICATION_TABLE = {
    "connection-notification-arn": lambda n: n["ConnectionNotificationArn"],
    "connection-notification-id": lambda n: n["ConnectionNotificationId"],
    "connection-notification-state": lambda n: n["ConnectionNotificationState"],
    "connection-notification-type": lambda n: n["ConnectionNotificationType"],
    "service-id": lambda n: n.get("ServiceId"), "vpc-endpoint-id": lambda n: n.get("VpcEndpointId"),
}


# -- validation helpers ------------------------------------------------------------------

def _ip_types(values: list[str]) -> list[str]:
    for value in values:
        if value not in IP_TYPES:
            raise Ec2Error("InvalidParameterValue", f"Invalid supported IP address type '{value}': use ipv4 or ipv6")
    return list(dict.fromkeys(values))


def _regions(ctx: RequestContext, regions: list[str]) -> list[dict]:
    """``SupportedRegions``: the host Region always, then the others asked for."""
    names = [ctx.region] + [r for r in regions if r != ctx.region]
    for name in names:
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", name):
            raise Ec2Error("InvalidParameterValue", f"Invalid Region '{name}'")
    return [{"Region": n, "ServiceState": "Available"} for n in dict.fromkeys(names)]


def _load_balancer_arns(params: Mapping[str, Any]) -> tuple[str, list[str]]:
    nlbs, gwlbs = params.get("NetworkLoadBalancerArns") or [], params.get("GatewayLoadBalancerArns") or []
    if bool(nlbs) == bool(gwlbs):
        raise Ec2Error("InvalidParameter", "Specify either NetworkLoadBalancerArns or GatewayLoadBalancerArns, "
                       "not both and not neither")
    return ("NetworkLoadBalancerArns", nlbs) if nlbs else ("GatewayLoadBalancerArns", gwlbs)


def _own_service(ctx: RequestContext, service_id: str) -> Record:
    return get(ctx, ENDPOINT_SERVICE, service_id)


class EndpointServiceOps:
    # -- service configurations ---------------------------------------------------------
    def create_vpc_endpoint_service_configuration(
            self, ctx: RequestContext, params: shapes.CreateVpcEndpointServiceConfigurationRequest
    ) -> shapes.CreateVpcEndpointServiceConfigurationResult:
        member, arns = _load_balancer_arns(params)
        service_id = ENDPOINT_SERVICE.new_id()
        body: dict[str, Any] = {
            "ServiceType": [{"ServiceType": "Interface" if member == "NetworkLoadBalancerArns"
                             else "GatewayLoadBalancer"}],
            "ServiceId": service_id, "ServiceName": f"com.amazonaws.vpce.{ctx.region}.{service_id}",
            "ServiceState": "Available", "AcceptanceRequired": bool(params.get("AcceptanceRequired")),
            "ManagesVpcEndpoints": False, member: list(dict.fromkeys(arns)),
            "SupportedIpAddressTypes": _ip_types(params.get("SupportedIpAddressTypes") or ["ipv4"]),
            "BaseEndpointDnsNames": [f"{service_id}.{ctx.region}.vpce.amazonaws.com"],
            "Tags": tags_for(params, "vpc-endpoint-service"),
            "SupportedRegions": _regions(ctx, params.get("SupportedRegions") or []), "RemoteAccessEnabled": False,
        }
        _set_load_balancers(ctx, body)
        if params.get("PrivateDnsName"):
            if member == "GatewayLoadBalancerArns":
                raise Ec2Error("InvalidParameter", "Private DNS names are not supported for Gateway Load Balancer "
                               "endpoint services")
            body["PrivateDnsName"] = _check_private_dns_name(params["PrivateDnsName"])
            body["PrivateDnsNameConfiguration"] = _dns_configuration(body["PrivateDnsName"])
        ctx.tx.put(Record(ENDPOINT_SERVICE.kind, service_id, ctx.account, ctx.region, body,
                          arn=ctx.arn("ec2", f"vpc-endpoint-service/{service_id}")))
        result: shapes.CreateVpcEndpointServiceConfigurationResult = {
            "ServiceConfiguration": cast(shapes.ServiceConfiguration, body)}
        if params.get("ClientToken"):
            result["ClientToken"] = params["ClientToken"]
        return result

    def describe_vpc_endpoint_service_configurations(
            self, ctx: RequestContext, params: shapes.DescribeVpcEndpointServiceConfigurationsRequest
    ) -> shapes.DescribeVpcEndpointServiceConfigurationsResult:
        return describe(ctx, ENDPOINT_SERVICE, params, "ServiceIds", "ServiceConfigurations", _service_table())

    def modify_vpc_endpoint_service_configuration(
            self, ctx: RequestContext, params: shapes.ModifyVpcEndpointServiceConfigurationRequest
    ) -> shapes.ModifyVpcEndpointServiceConfigurationResult:
        service = _own_service(ctx, params["ServiceId"])
        body = service.body
        _modify_private_dns(body, params)
        if params.get("AcceptanceRequired") is not None:
            body["AcceptanceRequired"] = params["AcceptanceRequired"]
        request: Mapping[str, Any] = params  # read by the computed member names below
        for member in ("NetworkLoadBalancerArns", "GatewayLoadBalancerArns"):
            _modify_list(body, member, request.get("Add" + member), request.get("Remove" + member))
        if not body.get("NetworkLoadBalancerArns") and not body.get("GatewayLoadBalancerArns"):
            raise Ec2Error("InvalidParameter", "An endpoint service must keep at least one load balancer")
        if body.get("NetworkLoadBalancerArns") and body.get("GatewayLoadBalancerArns"):
            raise Ec2Error("InvalidParameter", "An endpoint service cannot mix network and gateway load balancers")
        _set_load_balancers(ctx, body)
        _modify_list(body, "SupportedIpAddressTypes", _ip_types(params.get("AddSupportedIpAddressTypes") or []),
                     params.get("RemoveSupportedIpAddressTypes"))
        if not body["SupportedIpAddressTypes"]:
            raise Ec2Error("InvalidParameter", "An endpoint service must support at least one IP address type")
        _modify_regions(ctx, body, params)
        ctx.tx.put(service)
        return {"Return": True}

    def delete_vpc_endpoint_service_configurations(
            self, ctx: RequestContext, params: shapes.DeleteVpcEndpointServiceConfigurationsRequest
    ) -> shapes.DeleteVpcEndpointServiceConfigurationsResult:
        failed: list[shapes.UnsuccessfulItem] = []
        for service_id in params["ServiceIds"]:
            service = ctx.tx.get(ENDPOINT_SERVICE.kind, service_id)
            if service is None:
                missing = ENDPOINT_SERVICE.missing(service_id)
                failed.append(unsuccessful(service_id, ENDPOINT_SERVICE.not_found, missing.message))
            elif any(e.body["State"] in LIVE_CONNECTION for e in connections(ctx, service)):
                failed.append(unsuccessful(service_id, "ExistingVpcEndpointConnections",
                                           "Service has existing active VPC Endpoint connections!"))
            else:
                _delete_service(ctx, service)
        return {"Unsuccessful": failed}

    # -- payer responsibility --------------------------------------------------------------
    def modify_vpc_endpoint_service_payer_responsibility(
            self, ctx: RequestContext, params: shapes.ModifyVpcEndpointServicePayerResponsibilityRequest
    ) -> shapes.ModifyVpcEndpointServicePayerResponsibilityResult:
        # Once the owner pays, it cannot hand the charges back (the enum has only ServiceOwner).
        service = _own_service(ctx, params["ServiceId"])
        service.body["PayerResponsibility"] = params["PayerResponsibility"]
        ctx.tx.put(service)
        return {"ReturnValue": True}

    # -- permissions -----------------------------------------------------------------------
    def modify_vpc_endpoint_service_permissions(
            self, ctx: RequestContext, params: shapes.ModifyVpcEndpointServicePermissionsRequest
    ) -> shapes.ModifyVpcEndpointServicePermissionsResult:
        service = _own_service(ctx, params["ServiceId"])
        permission_type = params.get("PermissionType") or "vpc-endpoint"
        current = {p.body["Principal"]: p for p in permissions(ctx, service)
                   if p.body["PermissionType"] == permission_type}
        for principal in params.get("RemoveAllowedPrincipals") or []:
            if principal in current:
                ctx.tx.delete(PERMISSION.kind, current.pop(principal).id)
        added = [_add_permission(ctx, service, principal, permission_type, current)
                 for principal in dict.fromkeys(params.get("AddAllowedPrincipals") or [])]
        result: shapes.ModifyVpcEndpointServicePermissionsResult = {"ReturnValue": True}
        if added:  # permission bodies are AddedPrincipal members plus Tags
            result["AddedPrincipals"] = [cast(shapes.AddedPrincipal, {k: v for k, v in p.body.items() if k != "Tags"})
                                         for p in added]
        return result

    def describe_vpc_endpoint_service_permissions(
            self, ctx: RequestContext, params: shapes.DescribeVpcEndpointServicePermissionsRequest
    ) -> shapes.DescribeVpcEndpointServicePermissionsResult:
        service = _own_service(ctx, params["ServiceId"])
        items = [p.body for p in permissions(ctx, service) if matches(p.body, params.get("Filters"), _PERMISSION_TABLE)]
        return page(items, params, "AllowedPrincipals")

    # -- private DNS verification -------------------------------------------------------
    def start_vpc_endpoint_service_private_dns_verification(
            self, ctx: RequestContext, params: shapes.StartVpcEndpointServicePrivateDnsVerificationRequest
    ) -> shapes.StartVpcEndpointServicePrivateDnsVerificationResult:
        service = _own_service(ctx, params["ServiceId"])
        name = service.body.get("PrivateDnsName")
        if not name:
            raise Ec2Error("InvalidParameter", f"The service {service.id} does not have a private DNS name to verify")
        config = service.body["PrivateDnsNameConfiguration"]
        config["State"] = "verified" if _verified(ctx, name, config) else "failed"
        ctx.tx.put(service)
        return {"ReturnValue": True}

    # -- consumer's catalogue ----------------------------------------------------------------
    def describe_vpc_endpoint_services(
            self, ctx: RequestContext, params: shapes.DescribeVpcEndpointServicesRequest
    ) -> shapes.DescribeVpcEndpointServicesResult:
        regions = params.get("ServiceRegions") or [ctx.region]
        details = aws_services.details(ctx.region) + [_detail(ctx, s) for s in visible_services(ctx)] \
            if ctx.region in regions else []
        names = params.get("ServiceNames") or []
        for name in names:
            if not any(d["ServiceName"] == name for d in details):
                raise invalid_service_name(name)
        details = [d for d in details if (not names or d["ServiceName"] in names)
                   and matches(d, params.get("Filters"), _service_table())]
        result = page(details, params, "ServiceDetails")
        result["ServiceNames"] = list(dict.fromkeys(d["ServiceName"] for d in result["ServiceDetails"]))
        return result

    # -- connections -------------------------------------------------------------------------
    def describe_vpc_endpoint_connections(
            self, ctx: RequestContext, params: shapes.DescribeVpcEndpointConnectionsRequest
    ) -> shapes.DescribeVpcEndpointConnectionsResult:
        items = [_connection(e, s) for s in ctx.tx.list(ENDPOINT_SERVICE.kind) for e in connections(ctx, s)]
        items = [c for c in items if matches(c, params.get("Filters"), _CONNECTION_TABLE)]
        return page(items, params, "VpcEndpointConnections")

    def accept_vpc_endpoint_connections(
            self, ctx: RequestContext, params: shapes.AcceptVpcEndpointConnectionsRequest
    ) -> shapes.AcceptVpcEndpointConnectionsResult:
        return _act_on_connections(ctx, params, "Accept")

    def reject_vpc_endpoint_connections(
            self, ctx: RequestContext, params: shapes.RejectVpcEndpointConnectionsRequest
    ) -> shapes.RejectVpcEndpointConnectionsResult:
        return _act_on_connections(ctx, params, "Reject")

    # -- connection notifications ------------------------------------------------------------
    def create_vpc_endpoint_connection_notification(
            self, ctx: RequestContext, params: shapes.CreateVpcEndpointConnectionNotificationRequest
    ) -> shapes.CreateVpcEndpointConnectionNotificationResult:
        service_id, endpoint_id = params.get("ServiceId"), params.get("VpcEndpointId")
        if bool(service_id) == bool(endpoint_id):
            raise Ec2Error("InvalidParameterCombination", "Specify either ServiceId or VpcEndpointId")
        body: dict[str, Any] = {
            "ConnectionNotificationId": NOTIFICATION.new_id(), "ConnectionNotificationType": "Topic",
            "ConnectionNotificationArn": _topic(params["ConnectionNotificationArn"]),
            "ConnectionEvents": _events(params["ConnectionEvents"]), "ConnectionNotificationState": "Enabled"}
        if service_id:
            body["ServiceId"] = _own_service(ctx, service_id).id
        elif endpoint_id:  # one of the two, as checked above
            body["VpcEndpointId"] = _own_interface_endpoint(ctx, endpoint_id).id
        ctx.tx.put(Record(NOTIFICATION.kind, body["ConnectionNotificationId"], ctx.account, ctx.region, body))
        result: shapes.CreateVpcEndpointConnectionNotificationResult = {
            "ConnectionNotification": cast(shapes.ConnectionNotification, body)}
        if params.get("ClientToken"):
            result["ClientToken"] = params["ClientToken"]
        return result

    def describe_vpc_endpoint_connection_notifications(
            self, ctx: RequestContext, params: shapes.DescribeVpcEndpointConnectionNotificationsRequest
    ) -> shapes.DescribeVpcEndpointConnectionNotificationsResult:
        wanted = params.get("ConnectionNotificationId")
        records = [get(ctx, NOTIFICATION, wanted)] if wanted else ctx.tx.list(NOTIFICATION.kind)
        items = [r.body for r in records if matches(r.body, params.get("Filters"), _NOTIFICATION_TABLE)]
        return page(items, params, "ConnectionNotificationSet")

    def modify_vpc_endpoint_connection_notification(
            self, ctx: RequestContext, params: shapes.ModifyVpcEndpointConnectionNotificationRequest
    ) -> shapes.ModifyVpcEndpointConnectionNotificationResult:
        record = get(ctx, NOTIFICATION, params["ConnectionNotificationId"])
        if params.get("ConnectionNotificationArn"):
            record.body["ConnectionNotificationArn"] = _topic(params["ConnectionNotificationArn"])
        if params.get("ConnectionEvents"):
            record.body["ConnectionEvents"] = _events(params["ConnectionEvents"])
        ctx.tx.put(record)
        return {"ReturnValue": True}

    def delete_vpc_endpoint_connection_notifications(
            self, ctx: RequestContext, params: shapes.DeleteVpcEndpointConnectionNotificationsRequest
    ) -> shapes.DeleteVpcEndpointConnectionNotificationsResult:
        failed: list[shapes.UnsuccessfulItem] = []
        for notification_id in params["ConnectionNotificationIds"]:
            if ctx.tx.get(NOTIFICATION.kind, notification_id) is None:
                failed.append(unsuccessful(notification_id, NOTIFICATION.not_found,
                                           NOTIFICATION.missing(notification_id).message))
            else:
                ctx.tx.delete(NOTIFICATION.kind, notification_id)
        return {"Unsuccessful": failed}


# -- helpers of the operations -------------------------------------------------------------

def _modify_list(body: dict, member: str, add: list[str] | None, remove: list[str] | None) -> None:
    values = [v for v in body.get(member) or [] if v not in (remove or [])]
    values += [v for v in add or [] if v not in values]
    if values or member in body:
        body[member] = values
    if not values and member.endswith("LoadBalancerArns"):
        body.pop(member, None)


def _modify_private_dns(body: dict, params: Mapping[str, Any]) -> None:
    if params.get("PrivateDnsName") and params.get("RemovePrivateDnsName"):
        raise Ec2Error("InvalidParameterCombination", "PrivateDnsName and RemovePrivateDnsName cannot be combined")
    if params.get("RemovePrivateDnsName"):
        body.pop("PrivateDnsName", None)
        body.pop("PrivateDnsNameConfiguration", None)
    elif params.get("PrivateDnsName") and params["PrivateDnsName"] != body.get("PrivateDnsName"):
        if body.get("GatewayLoadBalancerArns"):
            raise Ec2Error("InvalidParameter", "Private DNS names are not supported for Gateway Load Balancer "
                           "endpoint services")
        body["PrivateDnsName"] = _check_private_dns_name(params["PrivateDnsName"])
        body["PrivateDnsNameConfiguration"] = _dns_configuration(body["PrivateDnsName"])


def _modify_regions(ctx: RequestContext, body: dict, params: Mapping[str, Any]) -> None:
    remove = set(params.get("RemoveSupportedRegions") or [])
    if ctx.region in remove:
        raise Ec2Error("InvalidParameter", f"The service's own Region {ctx.region} cannot be removed")
    kept = [r["Region"] for r in body.get("SupportedRegions") or [] if r["Region"] not in remove]
    body["SupportedRegions"] = _regions(ctx, kept + list(params.get("AddSupportedRegions") or []))


def _delete_service(ctx: RequestContext, service: Record) -> None:
    for permission in permissions(ctx, service):
        ctx.tx.delete(PERMISSION.kind, permission.id)
    for notification in ctx.tx.list(NOTIFICATION.kind):
        if notification.body.get("ServiceId") == service.id:
            ctx.tx.delete(NOTIFICATION.kind, notification.id)
    ctx.tx.delete(ENDPOINT_SERVICE.kind, service.id)


def _add_permission(ctx: RequestContext, service: Record, principal: str, permission_type: str,
                    current: dict[str, Record]) -> Record:
    principal_type = _principal_type(principal)
    if permission_type == "transit-gateway-attachment" and principal_type != "Account":
        raise Ec2Error("InvalidParameterValue", "Transit gateway attachment permissions take account root ARNs only")
    if principal in current:
        return current[principal]
    permission_id = PERMISSION.new_id()
    body = {"PrincipalType": principal_type, "Principal": principal, "ServicePermissionId": permission_id,
            "ServiceId": service.id, "PermissionType": permission_type, "Tags": []}
    record = ctx.tx.put(Record(PERMISSION.kind, permission_id, ctx.account, ctx.region, body, parent=service.id))
    current[principal] = record
    return record


def _act_on_connections(ctx: RequestContext, params: Mapping[str, Any],
                        action: str) -> shapes.AcceptVpcEndpointConnectionsResult:  # Reject's has the same members
    service = _own_service(ctx, params["ServiceId"])
    ours = {e.id: e for e in connections(ctx, service)}
    failed: list[shapes.UnsuccessfulItem] = []
    for endpoint_id in params["VpcEndpointIds"]:
        endpoint = ours.get(endpoint_id)
        if endpoint is None:
            failed.append(unsuccessful(endpoint_id, "InvalidVpcEndpointId.NotFound",
                                       f"The Vpc Endpoint Id '{endpoint_id}' does not exist"))
            continue
        error = _transition(ctx, endpoint, service, action)
        if error:
            failed.append(unsuccessful(endpoint_id, "IncorrectState", error))
    return {"Unsuccessful": failed}


def _transition(ctx: RequestContext, endpoint: Record, service: Record, action: str) -> str | None:
    """Accept or reject one connection; the error message if its state forbids it."""
    state = endpoint.body["State"]
    target = "available" if action == "Accept" else "rejected"
    if state == target:
        return None
    allowed_from = ("pendingAcceptance",) if action == "Accept" else LIVE_CONNECTION
    if state not in allowed_from:
        return f"The VPC endpoint {endpoint.id} is in state {state} and cannot be {action.lower()}ed"
    endpoint.body["State"] = target
    ctx.tx.put(endpoint)
    notify(ctx, endpoint, service, action)
    return None


def _topic(arn: str) -> str:
    if not _SNS_TOPIC.fullmatch(arn):
        raise Ec2Error("InvalidParameterValue", f"Invalid SNS topic ARN '{arn}'")
    return arn


def _events(events: list[str]) -> list[str]:
    for event in events:
        if event not in EVENTS:
            raise Ec2Error("InvalidParameterValue", f"Invalid connection event '{event}': use one of "
                           + ", ".join(EVENTS))
    return list(dict.fromkeys(events))


def _own_interface_endpoint(ctx: RequestContext, endpoint_id: str) -> Record:
    endpoint = ctx.tx.get(ENDPOINT.kind, endpoint_id)
    if endpoint is None:
        raise Ec2Error("InvalidVpcEndpointId.NotFound", f"The Vpc Endpoint Id '{endpoint_id}' does not exist")
    if endpoint.body["VpcEndpointType"] != "Interface":
        raise Ec2Error("InvalidParameter", "Connection notifications are supported for interface endpoints only")
    return endpoint
