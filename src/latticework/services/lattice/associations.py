"""Service-network associations: what joins a service network, and endpoint associations.

Three association kinds live under their service network (record parent =
service network id), each in the account that created it:

``snva`` (VPC)
    A VPC joins at most one service network per account (a second association
    of the same VPC is a ``ConflictException``; more networks need service-
    network VPC endpoints). Security groups: 0-5 at create, 1-5 on update, so
    once an association has security groups it keeps at least one (the model's
    ``min: 1`` on update enforces that). Updates go ``UPDATE_IN_PROGRESS`` ->
    ``ACTIVE``.
``snsa`` (service)
    Copies the service's ``dnsEntry`` and ``customDomainName`` (both immutable
    on the service). A service joins a network once, and a custom domain name is
    unique among the services of one network.
``snra`` (resource configuration)
    SINGLE, GROUP and ARN configurations join networks; CIDR ones never do
    (they are reached through Tunnel endpoints) and CHILD ones ride on their
    GROUP: associating a GROUP creates one *managed* association per child
    (``isManagedAssociation``), which ``includeChildren`` lists, and children
    created later join the group's networks the same way.

Every association refuses deletion while it is ``*_IN_PROGRESS``; since the
framework settles statuses before a client's next call, in practice a client
sees ``ACTIVE`` associations and deletes succeed.

A VPC association holds, in its internal ``ResourceHosts``, the fabric host
number of each resource configuration its network offers
(``sync_resource_hosts``, kept in step by every association change; see
``fabric``): where the VPC reaches that configuration.

Service-network VPC endpoint associations (``snvea``, parent = service network
id) and resource endpoint associations (``rea``, parent = resource
configuration id) are written by the EC2 VPC-endpoint API; Lattice only lists
them (and lets the resource owner cut a resource endpoint off).

Decisions where AWS's behaviour is unpublished:

- ``ListServiceNetworkVpcAssociations`` and ``ListServiceNetworkServiceAssociations``
  without either filter: the docs say one is required; we answer
  ``ValidationException`` (400). Both filters given: both apply.
- Associating a configuration whose ``allowAssociationToShareableServiceNetwork``
  is false with a network whose ``sharingConfig.enabled`` is true, a CIDR or a
  CHILD configuration: ``ValidationException`` (a property of the pair, not a
  transient state). The flag is true unless its owner turned it off, and a
  service network is shareable unless created otherwise, so a configuration
  and a network both created with defaults associate (Terraform's
  ``TestAccVPCLatticeServiceNetworkResourceAssociation_basic``).
- ``privateDnsEnabled`` defaults to false on VPC associations and on resource
  associations; ARN-type configurations always get true (the user guide says
  it is forced for them). ``dnsOptions`` defaults to
  ``VERIFIED_DOMAINS_ONLY`` (the user guide's default) when private DNS is on.
- Quotas (500 VPCs / services / resource configurations per network) come
  from ``latticework.quotas`` and are charged to the service network's owner.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Mapping

from latticework import fabric
from latticework.api.context import RequestContext
from latticework.records.lattice import RESOURCE_HOSTS, ResourceHolder
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice.api_types import AccessDeniedException
from latticework.services.lattice import common, domains, vpcs
from latticework.services.lattice.common import (
    RESOURCE_CONFIGURATION, RESOURCE_ENDPOINT_ASSOCIATION, SERVICE, SERVICE_NETWORK, SN_ENDPOINT_ASSOCIATION,
    SN_RESOURCE_ASSOCIATION, SN_SERVICE_ASSOCIATION, SN_VPC_ASSOCIATION, Kind,
)
from latticework.services.lattice.quotas import check_quota
from latticework.store import Record

QUOTA_KEYS = {SN_VPC_ASSOCIATION.kind: "vpc-associations-per-network",
              SN_SERVICE_ASSOCIATION.kind: "service-associations-per-network",
              SN_RESOURCE_ASSOCIATION.kind: "resource-associations-per-network"}
_IN_PROGRESS = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
_SPECIFIED = ("VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS", "SPECIFIED_DOMAINS_ONLY")

_SNVA_CREATE = ("id", "status", "arn", "createdBy", "securityGroupIds", "privateDnsEnabled", "dnsOptions")
_SNVA_GET = _SNVA_CREATE + ("createdAt", "lastUpdatedAt", "serviceNetworkId", "serviceNetworkName",
                            "serviceNetworkArn", "vpcId", "failureMessage", "failureCode")
_SNVA_SUMMARY = ("id", "arn", "status", "createdBy", "createdAt", "serviceNetworkId", "serviceNetworkName",
                 "serviceNetworkArn", "privateDnsEnabled", "dnsOptions", "vpcId", "lastUpdatedAt")
_SNSA_CREATE = ("id", "status", "arn", "createdBy", "customDomainName", "dnsEntry")
_SNSA_GET = _SNSA_CREATE + ("createdAt", "serviceId", "serviceName", "serviceArn", "serviceNetworkId",
                            "serviceNetworkName", "serviceNetworkArn", "failureMessage", "failureCode")
_SNSA_SUMMARY = ("id", "status", "arn", "createdBy", "createdAt", "serviceId", "serviceName", "serviceArn",
                 "serviceNetworkId", "serviceNetworkName", "serviceNetworkArn", "dnsEntry", "customDomainName")
_SNRA_CREATE = ("id", "arn", "status", "createdBy", "privateDnsEnabled")
_SNRA_GET = _SNRA_CREATE + ("createdAt", "lastUpdatedAt", "resourceConfigurationId", "resourceConfigurationArn",
                            "resourceConfigurationName", "serviceNetworkId", "serviceNetworkArn",
                            "serviceNetworkName", "failureReason", "failureCode", "privateDnsEntry", "dnsEntry",
                            "isManagedAssociation", "domainVerificationStatus")
_SNRA_SUMMARY = ("id", "arn", "status", "createdBy", "createdAt", "resourceConfigurationId",
                 "resourceConfigurationArn", "resourceConfigurationName", "serviceNetworkId", "serviceNetworkArn",
                 "serviceNetworkName", "dnsEntry", "privateDnsEntry", "isManagedAssociation", "failureCode",
                 "privateDnsEnabled")
_SNVEA_SUMMARY = ("vpcEndpointId", "vpcId", "vpcEndpointOwnerId", "id", "state", "serviceNetworkArn", "createdAt")
_REA_SUMMARY = ("id", "arn", "resourceConfigurationId", "resourceConfigurationArn", "resourceConfigurationName",
                "vpcEndpointId", "vpcEndpointOwner", "createdBy", "createdAt", "payerResponsibility")
_REA_DELETE = ("id", "arn", "resourceConfigurationId", "resourceConfigurationArn", "vpcEndpointId")


# -- shared helpers ----------------------------------------------------------

def id_of(identifier: str) -> str:
    """The id an ``*Identifier`` (id or ARN) names (for filters, which never 404)."""
    return identifier.rsplit("/", 1)[-1]


def account_of(arn: str) -> str:
    return arn.split(":")[4]


def _network_fields(sn: Record) -> dict:
    return {"serviceNetworkId": sn.id, "serviceNetworkName": sn.body["name"], "serviceNetworkArn": sn.arn}


def _live(record: Record) -> bool:
    return record.status != "DELETE_IN_PROGRESS"


# The members of an association body that name what it joins: their owners see the association too.
_JOINED = ("serviceNetworkArn", "serviceArn", "resourceConfigurationArn")


def _visible(ctx: RequestContext, record: Record) -> bool:
    """An association is seen by its creator and by the owners of what it joins (AWS: "we generate an ARN in
    the entity owner account and in the account that created the association", so both can see and delete it;
    https://docs.aws.amazon.com/vpc-lattice/latest/ug/sharing.html)."""
    return record.account == ctx.account or any(
        account_of(record.body[k]) == ctx.account for k in _JOINED if record.body.get(k))


def _association(ctx: RequestContext, kind: Kind, identifier: str) -> Record:
    """The association an identifier names, for reading or deleting: the caller's own, or another account's
    that joins something the caller owns (by id, or by an ARN of either account)."""
    id = id_of(identifier)
    owner = account_of(identifier) if identifier.startswith("arn:") else None
    found = ctx.tx.get(kind.kind, id) if owner in (None, ctx.account) else None
    if found is None:
        found = next((r for r in ctx.tx.list(kind.kind, all_accounts=True)
                      if r.id == id and r.account != ctx.account and owner in (None, ctx.account, r.account)
                      and _visible(ctx, r)), None)
    if found is None:
        raise common.not_found(kind, identifier)
    return found


def _under_network(ctx: RequestContext, kind: Kind, sn_id: str) -> list[Record]:
    """Every live association of ``kind`` with the network, whoever created it."""
    return [r for r in ctx.tx.list(kind.kind, parent=sn_id, all_accounts=True) if _live(r)]


def _check_quota(ctx: RequestContext, kind: Kind, sn: Record, counted: Callable[[Record], bool] = _live) -> None:
    count = sum(1 for r in ctx.tx.list(kind.kind, parent=sn.id, all_accounts=True) if counted(r))
    check_quota(ctx, QUOTA_KEYS[kind.kind], count, kind, sn.id, account=sn.account)


def refuse_in_progress(kind: Kind, record: Record, action: str) -> None:
    if record.status in _IN_PROGRESS:
        raise common.conflict(kind, record.id, f"Cannot {action} {record.id} while its status is {record.status}.")


def _begin_delete(ctx: RequestContext, kind: Kind, record: Record) -> Any:
    """Mark an association ``DELETE_IN_PROGRESS`` (settling removes it) and answer {id, status, arn}."""
    refuse_in_progress(kind, record, "delete")
    common.touch(ctx, record, status="DELETE_IN_PROGRESS")
    return common.project(record.body, ("id", "status", "arn"))


def _require_filter(params: Mapping[str, Any], *names: str) -> None:
    if not any(params.get(n) for n in names):
        raise common.validation(f"You must provide either {' or '.join(names)}.",
                                *((n, "One of these members is required") for n in names))


def _list_records(ctx: RequestContext, params: Mapping[str, Any], kind: Kind, summary: tuple, *, parent: str | None,
                  keep: Callable[[Record], bool], filters: dict) -> Any:
    """Page through associations of every account (under ``parent`` if given) that ``keep`` accepts."""
    return common.paginate(
        ctx, params,
        lambda after, limit: ctx.tx.list(kind.kind, parent=parent, after=after, limit=limit, all_accounts=True),
        lambda r: common.project(r.body, summary),
        filters={"kind": kind.kind, **filters}, keep=lambda r: _visible(ctx, r) and keep(r),
    )


def _own_one_side(ctx: RequestContext, sn: Record, member: Record, field: str) -> None:
    """The caller must own the network or what joins it: two resources both shared with it are refused (the
    API reference of ``CreateServiceNetworkServiceAssociation``)."""
    if sn.account != ctx.account and member.account != ctx.account:
        raise AccessDeniedException(
            f"You cannot associate {member.arn} with {sn.arn}: the caller must own either the service network "
            f"or the {field.removesuffix('Identifier')}.")


def _new_association(ctx: RequestContext, kind: Kind, sn: Record, body: dict, tags: dict | None,
                     name: str | None = None) -> Record:
    body = {**_network_fields(sn), **body, "createdBy": ctx.account, "status": "CREATE_IN_PROGRESS",
            "tags": common.check_tags(tags)}
    record = common.new_record(ctx, kind, body, parent=sn.id, name=name, status="CREATE_IN_PROGRESS")
    return common.insert(ctx, record, kind)


# -- VPC associations ----------------------------------------------------------

def _dns_options(params: Mapping[str, Any], private_dns: bool) -> dict | None:
    """``dnsOptions`` as stored: only with private DNS; specified domains only with a preference that uses them."""
    options = params.get("dnsOptions")
    if options and not private_dns:
        raise common.validation("dnsOptions is only supported when private DNS is enabled.",
                                ("dnsOptions", "Requires privateDnsEnabled"))
    if not private_dns:
        return None
    options = {"privateDnsPreference": "VERIFIED_DOMAINS_ONLY", **(options or {})}
    has_domains = bool(options.get("privateDnsSpecifiedDomains"))
    if has_domains != (options["privateDnsPreference"] in _SPECIFIED):
        raise common.validation(
            "privateDnsSpecifiedDomains must be given exactly when privateDnsPreference is "
            "VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS or SPECIFIED_DOMAINS_ONLY.",
            ("dnsOptions.privateDnsSpecifiedDomains", "Does not match privateDnsPreference"))
    return options


def _vpc_taken(ctx: RequestContext, vpc_id: str) -> Record | None:
    return next((r for r in ctx.tx.list(SN_VPC_ASSOCIATION.kind) if r.body["vpcId"] == vpc_id), None)


# -- resource associations -------------------------------------------------------

def _resource_zone_id(region: str) -> str:
    """A stable zone id per region for ``vpc-lattice-rsc`` names (distinct from the services' zone)."""
    digest = hashlib.sha256(f"vpc-lattice-rsc.{region}".encode()).hexdigest().upper()
    return "Z" + digest[:20]


def _resource_dns_entry(ctx: RequestContext, snra_id: str, rcfg_id: str) -> dict:
    # Observed format: snra-<id>.rcfg-<id>.<token>.vpc-lattice-rsc.<region>.on.aws
    return {"domainName": f"{snra_id}.{rcfg_id}.{common.RESOURCE_DNS_TOKEN}.vpc-lattice-rsc.{ctx.region}.on.aws",
            "hostedZoneId": _resource_zone_id(ctx.region)}


def _check_joinable(rc: Record, sn: Record) -> None:
    """The type and sharing rules for a resource configuration joining a network."""
    rc_type = rc.body["type"]
    if rc_type in ("CIDR", "CHILD"):
        why = ("CIDR resource configurations are reached through Tunnel VPC endpoints only" if rc_type == "CIDR"
               else "a CHILD resource configuration joins through its GROUP")
        raise common.validation(f"Resource configuration {rc.id} cannot be associated with a service network: {why}.",
                                ("resourceConfigurationIdentifier", f"Type {rc_type} is not supported"))
    if not rc.body.get("allowAssociationToShareableServiceNetwork") and sn.body["sharingConfig"]["enabled"]:
        raise common.validation(
            f"Resource configuration {rc.id} does not allow association with shareable service network {sn.id}.",
            ("serviceNetworkIdentifier", "The service network is shareable"))


def _snra_record(ctx: RequestContext, sn: Record, rc: Record, private_dns: bool, managed: bool,
                 tags: dict | None, account: str | None = None) -> Record:
    """A new resource association, the caller's or (a managed one for a new CHILD) ``account``'s."""
    id = SN_RESOURCE_ASSOCIATION.new_id()
    owner = account or ctx.account
    body = {"id": id, "resourceConfigurationId": rc.id, "resourceConfigurationArn": rc.arn,
            "resourceConfigurationName": rc.body["name"], "isManagedAssociation": managed,
            "privateDnsEnabled": private_dns or rc.body["type"] == "ARN",
            "dnsEntry": _resource_dns_entry(ctx, id, rc.id)}
    if body["privateDnsEnabled"] and rc.body.get("customDomainName"):
        body["privateDnsEntry"] = {"domainName": rc.body["customDomainName"]}
    # The name makes "one association per (network, configuration)" a store constraint.
    body = {**_network_fields(sn), **body, "createdBy": owner, "status": "CREATE_IN_PROGRESS",
            "tags": common.check_tags(tags)}
    arn = ctx.arn(common.SERVICE_CODE, SN_RESOURCE_ASSOCIATION.arn_path + id, account=owner)
    record = common.new_record(ctx, SN_RESOURCE_ASSOCIATION, body, id=id, parent=sn.id, name=rc.id,
                               arn_value=arn, status="CREATE_IN_PROGRESS")
    record.account = owner
    return common.insert(ctx, record, SN_RESOURCE_ASSOCIATION)


def resource_associations(ctx: RequestContext, rc_id: str) -> list[Record]:
    """Live network associations of a resource configuration, in every account."""
    return [r for r in ctx.tx.list(SN_RESOURCE_ASSOCIATION.kind, all_accounts=True)
            if r.body["resourceConfigurationId"] == rc_id and _live(r)]


def join_group_networks(ctx: RequestContext, child: Record, group_id: str) -> None:
    """A new CHILD joins (as managed associations) every network its GROUP is associated with, each managed
    association in the account of the group's (a consumer's, for a shared group)."""
    for assoc in resource_associations(ctx, group_id):
        if not assoc.body["isManagedAssociation"]:
            assert assoc.parent is not None  # an association's parent is its service network
            sn = ctx.tx.get(SERVICE_NETWORK.kind, assoc.parent, account=account_of(assoc.body["serviceNetworkArn"]))
            assert sn is not None  # a service network cannot be deleted while associations reference it
            _snra_record(ctx, sn, child, assoc.body["privateDnsEnabled"], True, None, assoc.account)
            sync_resource_hosts(ctx, sn.id)


def leave_networks(ctx: RequestContext, rc_id: str) -> None:
    """Remove a configuration's managed associations (a CHILD being deleted)."""
    for assoc in resource_associations(ctx, rc_id):
        ctx.tx.delete(SN_RESOURCE_ASSOCIATION.kind, assoc.id, account=assoc.account)
        assert assoc.parent is not None  # an association's parent is its service network
        sync_resource_hosts(ctx, assoc.parent)


# -- resource addresses in consumer VPCs -------------------------------------------

def sync_resource_hosts(ctx: RequestContext, sn_id: str) -> None:
    """Every VPC associated with network ``sn_id`` (or with an endpoint to it) holds one fabric host number per
    resource configuration the network offers (``fabric``: resource addresses); numbers of configurations it no
    longer offers go back."""
    offered = _offered(ctx, sn_id)
    for holder in _under_network(ctx, SN_VPC_ASSOCIATION, sn_id) + _under_network(ctx, SN_ENDPOINT_ASSOCIATION,
                                                                                   sn_id):
        _sync_hosts(ctx, holder, offered)


def _offered(ctx: RequestContext, sn_id: str) -> list[str]:
    return [a.body["resourceConfigurationId"] for a in _under_network(ctx, SN_RESOURCE_ASSOCIATION, sn_id)]


def _refresh_verifications(ctx: RequestContext, sn_id: str) -> None:
    """Look the TXT records of the verifications of the network's configurations up (``domains.refresh``)."""
    for assoc in _under_network(ctx, SN_RESOURCE_ASSOCIATION, sn_id):
        rc = ctx.tx.get(RESOURCE_CONFIGURATION.kind, assoc.body["resourceConfigurationId"],
                        account=account_of(assoc.body["resourceConfigurationArn"]))
        if rc is not None:
            domains.refresh(ctx, rc.body.get("domainVerificationId"), rc.account)


def _sync_hosts(ctx: RequestContext, holder: Record, offered: list[str]) -> None:
    held = ResourceHolder(holder).resource_hosts
    hosts = {rc: n for rc, n in held.items() if rc in offered}
    missing = [rc for rc in offered if rc not in hosts]
    used = fabric.used_hosts(ctx.tx, holder.body["vpcId"], holder.account) if missing else set()
    for rc in missing:
        number = fabric.lowest_free_host(used)
        if number is None:  # the VPC's block is full: it does not reach the remaining ones (see ``fabric``)
            break
        hosts[rc] = number
        used.add(number)
    if hosts != held:
        holder.internal[RESOURCE_HOSTS] = hosts
        ctx.tx.put(holder)


def _children(ctx: RequestContext, group_id: str, account: str | None = None) -> list[Record]:
    """A GROUP's children (they live in the group's account, ``account`` when it is not the caller's)."""
    return [r for r in ctx.tx.list(RESOURCE_CONFIGURATION.kind, account=account)
            if r.body.get("resourceConfigurationGroupId") == group_id]


def _managed_of(ctx: RequestContext, group_assoc: Record) -> list[Record]:
    child_ids = {c.id for c in _children(ctx, group_assoc.body["resourceConfigurationId"],
                                         account_of(group_assoc.body["resourceConfigurationArn"]))}
    return [r for r in ctx.tx.list(SN_RESOURCE_ASSOCIATION.kind, parent=group_assoc.parent,
                                   account=group_assoc.account)
            if r.body["isManagedAssociation"] and r.body["resourceConfigurationId"] in child_ids]


def _verification_status(ctx: RequestContext, rc_id: str, account: str) -> str | None:
    rc = ctx.tx.get(RESOURCE_CONFIGURATION.kind, rc_id, account=account)
    dv_id = rc.body.get("domainVerificationId") if rc else None
    dv = ctx.tx.get(common.DOMAIN_VERIFICATION.kind, dv_id, account=account) if dv_id else None
    return dv.body["status"] if dv else None


# -- endpoint associations ----------------------------------------------------------

def _find_endpoint_association(ctx: RequestContext, identifier: str) -> Record:
    """A resource endpoint association seen by its creator or by the owner of its configuration."""
    id = id_of(identifier)
    for rea in ctx.tx.list(RESOURCE_ENDPOINT_ASSOCIATION.kind, all_accounts=True):
        if rea.id == id and (rea.account == ctx.account
                             or (rea.parent is not None and ctx.tx.get(RESOURCE_CONFIGURATION.kind, rea.parent))):
            return rea
    raise common.not_found(RESOURCE_ENDPOINT_ASSOCIATION, identifier)


def _endpoint_filters(params: Mapping[str, Any]) -> Callable[[Record], bool]:
    wanted = {"id": params.get("resourceEndpointAssociationIdentifier"),
              "vpcEndpointId": params.get("vpcEndpointId"), "vpcEndpointOwner": params.get("vpcEndpointOwner")}
    wanted = {k: (id_of(v) if k == "id" else v) for k, v in wanted.items() if v}
    return lambda r: all(r.body.get(k) == v for k, v in wanted.items())


class AssociationOps:
    # -- service network <-> VPC --------------------------------------------------
    def create_service_network_vpc_association(
            self, ctx: RequestContext, params: shapes.CreateServiceNetworkVpcAssociationRequest
    ) -> shapes.CreateServiceNetworkVpcAssociationResponse:
        sn = common.resolve(ctx, SERVICE_NETWORK, params["serviceNetworkIdentifier"], shared=True)
        vpc_id = vpcs.check_vpc(ctx, params["vpcIdentifier"])
        groups = vpcs.check_security_groups(ctx, vpc_id, params.get("securityGroupIds") or [])
        taken = _vpc_taken(ctx, vpc_id)
        if taken is not None:
            raise common.conflict(SN_VPC_ASSOCIATION, taken.id,
                                  f"VPC {vpc_id} is already associated with service network "
                                  f"{taken.body['serviceNetworkId']} ({taken.id}).")
        _check_quota(ctx, SN_VPC_ASSOCIATION, sn)
        private_dns = params.get("privateDnsEnabled", False)
        body = {"vpcId": vpc_id, "securityGroupIds": groups, "privateDnsEnabled": private_dns,
                "dnsOptions": _dns_options(params, private_dns)}
        record = _new_association(ctx, SN_VPC_ASSOCIATION, sn, body, params.get("tags"))
        _sync_hosts(ctx, record, _offered(ctx, sn.id))
        _refresh_verifications(ctx, sn.id)
        return common.project(record.body, _SNVA_CREATE)

    def get_service_network_vpc_association(
            self, ctx: RequestContext, params: shapes.GetServiceNetworkVpcAssociationRequest
    ) -> shapes.GetServiceNetworkVpcAssociationResponse:
        record = _association(ctx, SN_VPC_ASSOCIATION, params["serviceNetworkVpcAssociationIdentifier"])
        return common.project(record.body, _SNVA_GET)

    def update_service_network_vpc_association(
            self, ctx: RequestContext, params: shapes.UpdateServiceNetworkVpcAssociationRequest
    ) -> shapes.UpdateServiceNetworkVpcAssociationResponse:
        record = common.resolve(ctx, SN_VPC_ASSOCIATION, params["serviceNetworkVpcAssociationIdentifier"])
        refuse_in_progress(SN_VPC_ASSOCIATION, record, "update")
        changes: dict[str, Any] = {"status": "UPDATE_IN_PROGRESS"}
        if "securityGroupIds" in params:
            changes["securityGroupIds"] = vpcs.check_security_groups(ctx, record.body["vpcId"],
                                                                     params["securityGroupIds"])
        private_dns = params.get("privateDnsEnabled", record.body["privateDnsEnabled"])
        # Kept options follow private DNS: switching it off drops them, switching it on defaults them.
        options = params["dnsOptions"] if "dnsOptions" in params else (
            record.body.get("dnsOptions") if private_dns else None)
        changes.update(privateDnsEnabled=private_dns, dnsOptions=_dns_options({"dnsOptions": options}, private_dns))
        common.touch(ctx, record, **changes)
        assert record.parent is not None  # an association's parent is its service network
        _refresh_verifications(ctx, record.parent)
        return common.project(record.body, _SNVA_CREATE)

    def delete_service_network_vpc_association(
            self, ctx: RequestContext, params: shapes.DeleteServiceNetworkVpcAssociationRequest
    ) -> shapes.DeleteServiceNetworkVpcAssociationResponse:
        record = _association(ctx, SN_VPC_ASSOCIATION, params["serviceNetworkVpcAssociationIdentifier"])
        return _begin_delete(ctx, SN_VPC_ASSOCIATION, record)

    def list_service_network_vpc_associations(
            self, ctx: RequestContext, params: shapes.ListServiceNetworkVpcAssociationsRequest
    ) -> shapes.ListServiceNetworkVpcAssociationsResponse:
        _require_filter(params, "serviceNetworkIdentifier", "vpcIdentifier")
        sn_id = id_of(params["serviceNetworkIdentifier"]) if params.get("serviceNetworkIdentifier") else None
        vpc_id = params.get("vpcIdentifier")
        return _list_records(ctx, params, SN_VPC_ASSOCIATION, _SNVA_SUMMARY, parent=sn_id,
                             keep=lambda r: vpc_id is None or r.body["vpcId"] == vpc_id,
                             filters={"sn": sn_id, "vpc": vpc_id})

    # -- service network <-> service ------------------------------------------------
    def create_service_network_service_association(
            self, ctx: RequestContext, params: shapes.CreateServiceNetworkServiceAssociationRequest
    ) -> shapes.CreateServiceNetworkServiceAssociationResponse:
        sn = common.resolve(ctx, SERVICE_NETWORK, params["serviceNetworkIdentifier"], shared=True)
        svc = common.resolve(ctx, SERVICE, params["serviceIdentifier"], shared=True)
        _own_one_side(ctx, sn, svc, "serviceIdentifier")
        existing = _under_network(ctx, SN_SERVICE_ASSOCIATION, sn.id)
        self._check_service_joinable(sn, svc, existing)
        _check_quota(ctx, SN_SERVICE_ASSOCIATION, sn)
        body = {"serviceId": svc.id, "serviceName": svc.body["name"], "serviceArn": svc.arn,
                "customDomainName": svc.body.get("customDomainName"), "dnsEntry": svc.body.get("dnsEntry")}
        record = _new_association(ctx, SN_SERVICE_ASSOCIATION, sn, body, params.get("tags"), name=svc.id)
        return common.project(record.body, _SNSA_CREATE)

    @staticmethod
    def _check_service_joinable(sn: Record, svc: Record, existing: list[Record]) -> None:
        """One association per (network, service); custom domain names unique within the network."""
        for assoc in existing:
            if assoc.body["serviceId"] == svc.id:
                raise common.conflict(SN_SERVICE_ASSOCIATION, assoc.id,
                                      f"Service {svc.id} is already associated with service network {sn.id}.")
        domain = svc.body.get("customDomainName")
        clash = next((a for a in existing if domain and a.body.get("customDomainName") == domain), None)
        if clash is not None:
            raise common.conflict(SN_SERVICE_ASSOCIATION, clash.id,
                                  f"Service network {sn.id} already has a service with custom domain name {domain} "
                                  f"({clash.body['serviceId']}).")

    def get_service_network_service_association(
            self, ctx: RequestContext, params: shapes.GetServiceNetworkServiceAssociationRequest
    ) -> shapes.GetServiceNetworkServiceAssociationResponse:
        record = _association(ctx, SN_SERVICE_ASSOCIATION, params["serviceNetworkServiceAssociationIdentifier"])
        return common.project(record.body, _SNSA_GET)

    def delete_service_network_service_association(
            self, ctx: RequestContext, params: shapes.DeleteServiceNetworkServiceAssociationRequest
    ) -> shapes.DeleteServiceNetworkServiceAssociationResponse:
        record = _association(ctx, SN_SERVICE_ASSOCIATION, params["serviceNetworkServiceAssociationIdentifier"])
        return _begin_delete(ctx, SN_SERVICE_ASSOCIATION, record)

    def list_service_network_service_associations(
            self, ctx: RequestContext, params: shapes.ListServiceNetworkServiceAssociationsRequest
    ) -> shapes.ListServiceNetworkServiceAssociationsResponse:
        _require_filter(params, "serviceNetworkIdentifier", "serviceIdentifier")
        sn_id = id_of(params["serviceNetworkIdentifier"]) if params.get("serviceNetworkIdentifier") else None
        svc_id = id_of(params["serviceIdentifier"]) if params.get("serviceIdentifier") else None
        return _list_records(ctx, params, SN_SERVICE_ASSOCIATION, _SNSA_SUMMARY, parent=sn_id,
                             keep=lambda r: svc_id is None or r.body["serviceId"] == svc_id,
                             filters={"sn": sn_id, "svc": svc_id})

    # -- service network <-> resource configuration ---------------------------------
    def create_service_network_resource_association(
            self, ctx: RequestContext, params: shapes.CreateServiceNetworkResourceAssociationRequest
    ) -> shapes.CreateServiceNetworkResourceAssociationResponse:
        rc = common.resolve(ctx, RESOURCE_CONFIGURATION, params["resourceConfigurationIdentifier"], shared=True)
        sn = common.resolve(ctx, SERVICE_NETWORK, params["serviceNetworkIdentifier"], shared=True)
        _own_one_side(ctx, sn, rc, "resourceConfigurationIdentifier")
        _check_joinable(rc, sn)
        taken = next((a for a in _under_network(ctx, SN_RESOURCE_ASSOCIATION, sn.id)
                      if a.body["resourceConfigurationId"] == rc.id), None)
        if taken is not None:
            raise common.conflict(SN_RESOURCE_ASSOCIATION, taken.id,
                                  f"Resource configuration {rc.id} is already associated with service network {sn.id}.")
        _check_quota(ctx, SN_RESOURCE_ASSOCIATION, sn, lambda r: _live(r) and not r.body["isManagedAssociation"])
        private_dns = params.get("privateDnsEnabled", False)
        record = _snra_record(ctx, sn, rc, private_dns, False, params.get("tags"))
        for child in _children(ctx, rc.id, rc.account):
            _snra_record(ctx, sn, child, private_dns, True, None)
        sync_resource_hosts(ctx, sn.id)
        domains.refresh(ctx, rc.body.get("domainVerificationId"), rc.account)
        return common.project(record.body, _SNRA_CREATE)

    def get_service_network_resource_association(
            self, ctx: RequestContext, params: shapes.GetServiceNetworkResourceAssociationRequest
    ) -> shapes.GetServiceNetworkResourceAssociationResponse:
        record = _association(ctx, SN_RESOURCE_ASSOCIATION, params["serviceNetworkResourceAssociationIdentifier"])
        status = _verification_status(ctx, record.body["resourceConfigurationId"], record.account)
        return common.project({**record.body, "domainVerificationStatus": status}, _SNRA_GET)

    def delete_service_network_resource_association(
            self, ctx: RequestContext, params: shapes.DeleteServiceNetworkResourceAssociationRequest
    ) -> shapes.DeleteServiceNetworkResourceAssociationResponse:
        record = _association(ctx, SN_RESOURCE_ASSOCIATION, params["serviceNetworkResourceAssociationIdentifier"])
        if record.body["isManagedAssociation"]:
            raise common.conflict(SN_RESOURCE_ASSOCIATION, record.id,
                                  f"Association {record.id} is managed through the association of its group "
                                  "resource configuration; delete that association instead.")
        for managed in _managed_of(ctx, record):
            common.touch(ctx, managed, status="DELETE_IN_PROGRESS")
        answer = _begin_delete(ctx, SN_RESOURCE_ASSOCIATION, record)
        assert record.parent is not None  # an association's parent is its service network
        sync_resource_hosts(ctx, record.parent)
        return answer

    def list_service_network_resource_associations(
            self, ctx: RequestContext, params: shapes.ListServiceNetworkResourceAssociationsRequest
    ) -> shapes.ListServiceNetworkResourceAssociationsResponse:
        sn_id = id_of(params["serviceNetworkIdentifier"]) if params.get("serviceNetworkIdentifier") else None
        rc_id = id_of(params["resourceConfigurationIdentifier"]) if params.get("resourceConfigurationIdentifier") \
            else None
        children = params.get("includeChildren", False)

        def keep(r: Record) -> bool:
            return (rc_id is None or r.body["resourceConfigurationId"] == rc_id) and \
                (children or not r.body["isManagedAssociation"])

        return _list_records(ctx, params, SN_RESOURCE_ASSOCIATION, _SNRA_SUMMARY, parent=sn_id, keep=keep,
                             filters={"sn": sn_id, "rc": rc_id, "children": children})

    # -- VPC endpoint associations (written by the EC2 VPC-endpoint API) ------------
    def sn_endpoint_associations(self, ctx: RequestContext, sn: Record) -> list[Record]:
        """VPC endpoints (of any account) connected to the service network ``sn``."""
        return ctx.tx.list(SN_ENDPOINT_ASSOCIATION.kind, parent=sn.id, all_accounts=True)

    def list_service_network_vpc_endpoint_associations(
            self, ctx: RequestContext, params: shapes.ListServiceNetworkVpcEndpointAssociationsRequest
    ) -> shapes.ListServiceNetworkVpcEndpointAssociationsResponse:
        # The model lists no 404 here: an unknown (or foreign) network simply has no endpoints to show.
        sn = ctx.tx.get(SERVICE_NETWORK.kind, id_of(params["serviceNetworkIdentifier"]))
        return common.paginate(
            ctx, params,
            lambda after, limit: [] if sn is None else ctx.tx.list(
                SN_ENDPOINT_ASSOCIATION.kind, parent=sn.id, after=after, limit=limit, all_accounts=True),
            lambda r: common.project(r.body, _SNVEA_SUMMARY),
            filters={"kind": SN_ENDPOINT_ASSOCIATION.kind, "sn": sn.id if sn else None})

    def list_resource_endpoint_associations(
            self, ctx: RequestContext, params: shapes.ListResourceEndpointAssociationsRequest
    ) -> shapes.ListResourceEndpointAssociationsResponse:
        # The model lists no 404 here either: a configuration the caller does not own has no associations to show.
        rc = ctx.tx.get(RESOURCE_CONFIGURATION.kind, id_of(params["resourceConfigurationIdentifier"]))
        keep = _endpoint_filters(params)
        return common.paginate(
            ctx, params,
            lambda after, limit: [] if rc is None else ctx.tx.list(
                RESOURCE_ENDPOINT_ASSOCIATION.kind, parent=rc.id, after=after, limit=limit, all_accounts=True),
            lambda r: common.project(r.body, _REA_SUMMARY),
            filters={"kind": RESOURCE_ENDPOINT_ASSOCIATION.kind, "rc": rc.id if rc else None,
                     **{k: params.get(k) for k in ("resourceEndpointAssociationIdentifier", "vpcEndpointId",
                                                   "vpcEndpointOwner")}},
            keep=keep)

    def delete_resource_endpoint_association(
            self, ctx: RequestContext, params: shapes.DeleteResourceEndpointAssociationRequest
    ) -> shapes.DeleteResourceEndpointAssociationResponse:
        rea = _find_endpoint_association(ctx, params["resourceEndpointAssociationIdentifier"])
        ctx.tx.delete(RESOURCE_ENDPOINT_ASSOCIATION.kind, rea.id, account=rea.account)
        return common.project(rea.body, _REA_DELETE)
