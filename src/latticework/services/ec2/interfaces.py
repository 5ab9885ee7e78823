"""Network interfaces and instances.

Network interfaces
    A ``networkinterface`` record holds the ``NetworkInterface`` shape (its
    tags kept under ``Tags`` like every kind, shown as ``TagSet``). Each has
    one private IPv4 address from its subnet: the lowest free one, skipping
    the first four addresses and the last, which AWS reserves
    (``next_free_address``); the subnet record keeps the allocated addresses
    (internal ``Allocated``). Other families create the interfaces they own
    (endpoints, load balancers) through ``create_interface`` /
    ``delete_interface``: those are requester-managed and ``in-use``.

Fabric addresses
    An interface that carries PrivateLink traffic (a network load balancer's
    node, an endpoint's interface: ``create_interface(fabric_owner=...)``)
    also gets a host address in its VPC's fabric block: the lowest free host
    number from ``.16`` up (``fabric.lowest_free_host``) among the VPC's
    interfaces, kept in its internal ``FabricHost`` beside ``FabricOwner``
    (the record it serves) and given back when the interface is deleted. A
    full block is refused as a full subnet is (``InsufficientFreeAddressesInSubnet``).

Instances
    ``RunInstances`` starts instances that are ``running`` at once, each with a
    primary interface (device index 0, deleted on termination) in the given
    subnet. Terminated instances stay visible (state ``terminated``, no
    network interfaces) as in AWS, where they linger for about an hour. An
    instance record's internal fields are its ``ReservationId`` and its
    primary ``NetworkInterfaceId`` (until it is terminated).

Where an instance listens
    An instance is an address, not a machine: instance ``i-...`` is reached at
    its primary private IPv4 address (``PrivateIpAddress``). A Lattice
    ``INSTANCE`` target ``i-...`` on port P is therefore the VPC address
    ``PrivateIpAddress:P``, and the data plane's fabric maps VPC addresses to
    host sockets (DESIGN.md §3): a process started for the instance listens on
    the host socket the fabric assigns to that VPC address.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any, Iterable, Mapping

from latticework import fabric
from latticework.api.context import RequestContext
from latticework.records import ec2 as stored
from latticework.services.ec2 import api_types as shapes
from latticework.services.ec2.common import Ec2Error, get, matches, page, tags_for
from latticework.services.ec2.kinds import INSTANCE, NETWORK_INTERFACE, SUBNET, VPC
from latticework.services.ec2.security import group_named, groups_in_vpc
from latticework.store import Record, register_links

RESERVED_HEAD = 4  # network address, VPC router, DNS server, reserved for future use
RUNNING: shapes.InstanceState = {"Code": 16, "Name": "running"}
SHUTTING_DOWN: shapes.InstanceState = {"Code": 32, "Name": "shutting-down"}
TERMINATED: shapes.InstanceState = {"Code": 48, "Name": "terminated"}


# -- address allocation (pure) ------------------------------------------------------

def usable_addresses(cidr: str) -> Iterable[ipaddress.IPv4Address]:
    """The addresses of a subnet AWS lets interfaces use, lowest first."""
    network = ipaddress.IPv4Network(cidr)
    first = int(network.network_address) + RESERVED_HEAD
    last = int(network.broadcast_address) - 1
    return (ipaddress.IPv4Address(n) for n in range(first, last + 1))


def next_free_address(cidr: str, used: Iterable[str]) -> str | None:
    """The lowest usable address of ``cidr`` not in ``used``, or None when the subnet is full."""
    taken = set(used)
    return next((str(a) for a in usable_addresses(cidr) if str(a) not in taken), None)


def is_usable(cidr: str, address: str) -> bool:
    network = ipaddress.IPv4Network(cidr)
    try:
        value = int(ipaddress.IPv4Address(address))
    except ValueError:
        return False
    return int(network.network_address) + RESERVED_HEAD <= value < int(network.broadcast_address)


def mac_address(eni_id: str) -> str:
    digest = hashlib.sha256(eni_id.encode()).hexdigest()
    return "02:" + ":".join(digest[i:i + 2] for i in range(0, 10, 2))


def private_dns_name(region: str, address: str) -> str:
    host = "ip-" + address.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


# -- interfaces -----------------------------------------------------------------------

def _allocate(ctx: RequestContext, subnet: Record, wanted: str | None) -> str:
    allocated = subnet.internal["Allocated"]
    address: str | None
    if wanted:
        if not is_usable(subnet.body["CidrBlock"], wanted):
            raise Ec2Error("InvalidParameterValue",
                           f"Address {wanted} does not fall within the subnet's address range")
        if wanted in allocated:
            raise Ec2Error("InvalidIPAddress.InUse", f"The specified address {wanted} is already in use.")
        address = wanted
    else:
        address = next_free_address(subnet.body["CidrBlock"], allocated)
        if address is None:
            raise Ec2Error("InsufficientFreeAddressesInSubnet",
                           f"There are not enough free addresses in subnet '{subnet.id}' to satisfy the requested "
                           "number of instances.")
    allocated.append(address)
    ctx.tx.put(subnet)
    return address


def _claim_fabric_host(ctx: RequestContext, eni: Record, owner: str) -> None:
    """Give ``eni`` the lowest free interface host number of its VPC's fabric block."""
    vpc_id = eni.body["VpcId"]
    used = (r.internal.get(stored.FABRIC_HOST) for r in ctx.tx.linked(NETWORK_INTERFACE.kind, vpc_id))
    # Resource addresses share the pool (``fabric``: resource addresses).
    number = fabric.lowest_free_host([n for n in used if n is not None] + list(fabric.resource_hosts(ctx.tx, vpc_id)))
    if number is None:
        raise Ec2Error("InsufficientFreeAddressesInSubnet",
                       f"There are not enough free addresses in subnet '{eni.body['SubnetId']}' to satisfy the "
                       f"requested number of ips (VPC {vpc_id} holds at most {fabric.INTERFACE_CAPACITY} load "
                       "balancer and endpoint interfaces).")
    eni.internal.update({stored.FABRIC_HOST: number, stored.FABRIC_OWNER: owner})


def _release(ctx: RequestContext, subnet_id: str, address: str) -> None:
    subnet = ctx.tx.get(SUBNET.kind, subnet_id)
    if subnet is not None and address in subnet.internal["Allocated"]:
        subnet.internal["Allocated"].remove(address)
        ctx.tx.put(subnet)


def _default_group(ctx: RequestContext, vpc_id: str) -> list[str]:
    return [get(ctx, VPC, vpc_id).internal["DefaultSecurityGroupId"]]


def _interface_body(ctx: RequestContext, eni_id: str, subnet: Record, address: str, groups: list[dict],
                    description: str, interface_type: str) -> dict:
    dns = private_dns_name(ctx.region, address)
    return {
        "NetworkInterfaceId": eni_id, "SubnetId": subnet.id, "VpcId": subnet.body["VpcId"],
        "AvailabilityZone": subnet.body["AvailabilityZone"], "AvailabilityZoneId": subnet.body["AvailabilityZoneId"],
        "Description": description or "", "Groups": groups, "InterfaceType": interface_type,
        "Ipv6Addresses": [], "MacAddress": mac_address(eni_id), "OwnerId": ctx.account,
        "PrivateDnsName": dns, "PrivateIpAddress": address,
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": address, "PrivateDnsName": dns}],
        "Ipv4Prefixes": [], "Ipv6Prefixes": [], "RequesterManaged": False, "SourceDestCheck": True,
        "Status": "available", "Tags": [],
    }


def _new_interface(ctx: RequestContext, subnet_id: str, group_ids: list[str] | None, description: str,
                   interface_type: str, address: str | None = None) -> Record:
    subnet = get(ctx, SUBNET, subnet_id)
    vpc_id = subnet.body["VpcId"]
    groups = groups_in_vpc(ctx, group_ids or _default_group(ctx, vpc_id), vpc_id)
    address = _allocate(ctx, subnet, address)
    eni_id = NETWORK_INTERFACE.new_id()
    body = _interface_body(ctx, eni_id, subnet, address, groups, description, interface_type)
    return Record(NETWORK_INTERFACE.kind, eni_id, ctx.account, ctx.region, body)


def present_interface(body: dict) -> Any:
    shown = dict(body)
    shown["TagSet"] = shown.pop("Tags", [])
    return shown


def create_interface(ctx: RequestContext, subnet_id: str, *, description: str, group_ids: list[str] | None,
                     interface_type: str, requester_managed: bool = True, requester_id: str | None = None,
                     fabric_owner: str | None = None) -> dict:
    """An interface another family owns (an endpoint's, a load balancer's): returns the ``NetworkInterface`` body.

    It has the subnet's next free address and ``group_ids`` (the VPC's default group when empty); with
    ``fabric_owner`` (the id of the record it serves) it carries PrivateLink traffic and gets a fabric address."""
    record = _new_interface(ctx, subnet_id, group_ids, description, interface_type)
    if fabric_owner is not None:
        _claim_fabric_host(ctx, record, fabric_owner)
    record.body.update(RequesterManaged=requester_managed, Status="in-use")
    if requester_id:
        record.body["RequesterId"] = requester_id
    ctx.tx.put(record)
    return present_interface(record.body)


def delete_interface(ctx: RequestContext, eni_id: str) -> None:
    """Remove an interface and give its address back to the subnet (missing interfaces are ignored)."""
    record = ctx.tx.get(NETWORK_INTERFACE.kind, eni_id)
    if record is None:
        return
    _release(ctx, record.body["SubnetId"], record.body["PrivateIpAddress"])
    ctx.tx.delete(NETWORK_INTERFACE.kind, eni_id)


# A VPC's interfaces, for the fabric host numbers they hold (``_claim_fabric_host``).
register_links(NETWORK_INTERFACE.kind, lambda body: [body["VpcId"]] if body.get("VpcId") else [])


def _attachment(body: dict) -> dict:
    return body.get("Attachment") or {}


INTERFACE_FILTERS = {
    "network-interface-id": lambda b: b["NetworkInterfaceId"], "subnet-id": lambda b: b["SubnetId"],
    "vpc-id": lambda b: b["VpcId"], "group-id": lambda b: [g["GroupId"] for g in b["Groups"]],
    "group-name": lambda b: [g["GroupName"] for g in b["Groups"]], "description": lambda b: b["Description"],
    "requester-managed": lambda b: b["RequesterManaged"], "requester-id": lambda b: b.get("RequesterId"),
    "interface-type": lambda b: b["InterfaceType"], "status": lambda b: b["Status"],
    "owner-id": lambda b: b["OwnerId"], "mac-address": lambda b: b["MacAddress"],
    "availability-zone": lambda b: b["AvailabilityZone"], "private-dns-name": lambda b: b["PrivateDnsName"],
    "private-ip-address": lambda b: b["PrivateIpAddress"],
    "addresses.private-ip-address": lambda b: [a["PrivateIpAddress"] for a in b["PrivateIpAddresses"]],
    "addresses.primary": lambda b: [a["Primary"] for a in b["PrivateIpAddresses"]],
    "source-dest-check": lambda b: b["SourceDestCheck"],
    "attachment.instance-id": lambda b: _attachment(b).get("InstanceId"),
    "attachment.instance-owner-id": lambda b: _attachment(b).get("InstanceOwnerId"),
    "attachment.attachment-id": lambda b: _attachment(b).get("AttachmentId"),
    "attachment.status": lambda b: _attachment(b).get("Status"),
    "attachment.device-index": lambda b: _attachment(b).get("DeviceIndex"),
    "attachment.delete-on-termination": lambda b: _attachment(b).get("DeleteOnTermination"),
}


# -- instances --------------------------------------------------------------------------

def _launch_spec(params: Mapping[str, Any]) -> dict:
    """Subnet, groups and address of the primary interface, from the flat or ``NetworkInterfaces`` form."""
    primary: Mapping[str, Any] = next(
        (n for n in params.get("NetworkInterfaces") or [] if n.get("DeviceIndex", 0) == 0), {})
    spec = {"SubnetId": primary.get("SubnetId") or params.get("SubnetId"),
            "GroupIds": primary.get("Groups") or params.get("SecurityGroupIds") or [],
            "GroupNames": params.get("SecurityGroups") or [],
            "Address": primary.get("PrivateIpAddress") or params.get("PrivateIpAddress")}
    if not spec["SubnetId"]:
        raise Ec2Error("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-"
                       "Classic and default VPC.")
    return spec


def _check_counts(params: Mapping[str, Any], spec: dict) -> int:
    low, high = params["MinCount"], params["MaxCount"]
    if low < 1 or high < low:
        raise Ec2Error("InvalidParameterValue", f"Value ({low}) for parameter minCount is invalid. "
                       "Must be a positive integer not greater than maxCount.")
    if spec["Address"] and high > 1:
        raise Ec2Error("InvalidParameterCombination", "Network interfaces and an instance-level private IP address "
                       "should not be specified on the same request, nor with more than one instance")
    return high


def _check_image(image_id: str) -> None:
    if not image_id or not image_id.startswith("ami-") or not all(c in "0123456789abcdef" for c in image_id[4:]) \
            or len(image_id) < 12:
        raise Ec2Error("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')


def _group_ids(ctx: RequestContext, spec: dict, vpc_id: str) -> list[str]:
    return list(spec["GroupIds"]) + [group_named(ctx, vpc_id, n).id for n in spec["GroupNames"]]


def _instance_body(ctx: RequestContext, params: Mapping[str, Any], instance_id: str, index: int,
                   eni: Record) -> dict:
    e = eni.body
    return {
        "InstanceId": instance_id, "ImageId": params["ImageId"], "InstanceType": params.get("InstanceType") or
        "m1.small", "State": dict(RUNNING), "PrivateDnsName": e["PrivateDnsName"], "PublicDnsName": "",
        "StateTransitionReason": "", "AmiLaunchIndex": index, "ProductCodes": [], "LaunchTime": ctx.timestamp(),
        "Placement": {"AvailabilityZone": e["AvailabilityZone"], "GroupName": "", "Tenancy": "default"},
        "Monitoring": {"State": "disabled"}, "SubnetId": e["SubnetId"], "VpcId": e["VpcId"],
        "PrivateIpAddress": e["PrivateIpAddress"], "Architecture": "x86_64", "RootDeviceType": "ebs",
        "RootDeviceName": "/dev/xvda", "BlockDeviceMappings": [], "VirtualizationType": "hvm",
        "Hypervisor": "xen", "SecurityGroups": e["Groups"], "SourceDestCheck": True, "EbsOptimized": False,
        "EnaSupport": True, "PlatformDetails": "Linux/UNIX", "UsageOperation": "RunInstances",
        "ClientToken": params.get("ClientToken") or "", "Tags": tags_for(params, "instance"),
        **({"KeyName": params["KeyName"]} if params.get("KeyName") else {}),
    }


def _attach(ctx: RequestContext, eni: Record, instance_id: str) -> None:
    eni.body.update(Status="in-use", Attachment={
        "AttachmentId": "eni-attach-" + NETWORK_INTERFACE.new_id()[4:], "AttachTime": ctx.timestamp(),
        "DeleteOnTermination": True, "DeviceIndex": 0, "NetworkCardIndex": 0, "InstanceId": instance_id,
        "InstanceOwnerId": ctx.account, "Status": "attached"})
    ctx.tx.put(eni)


def _launch_one(ctx: RequestContext, params: Mapping[str, Any], spec: dict, group_ids: list[str], index: int,
                reservation_id: str) -> Record:
    """One instance and its primary interface (device index 0)."""
    instance_id = INSTANCE.new_id()
    eni = _new_interface(ctx, spec["SubnetId"], group_ids, "", "interface", spec["Address"])
    _attach(ctx, eni, instance_id)
    body = _instance_body(ctx, params, instance_id, index, eni)
    internal = {"ReservationId": reservation_id, "NetworkInterfaceId": eni.id}
    return ctx.tx.put(Record(INSTANCE.kind, instance_id, ctx.account, ctx.region, body, internal=internal))


def _instance_interface(eni: dict) -> dict:
    """An interface as ``DescribeInstances`` shows it (``InstanceNetworkInterface``)."""
    keep = ("Description", "Groups", "Ipv6Addresses", "MacAddress", "NetworkInterfaceId", "OwnerId",
            "PrivateDnsName", "PrivateIpAddress", "PrivateIpAddresses", "SourceDestCheck", "Status", "SubnetId",
            "VpcId", "InterfaceType", "Ipv4Prefixes", "Ipv6Prefixes")
    shown = {k: eni[k] for k in keep if k in eni}
    attachment = eni.get("Attachment") or {}
    shown["Attachment"] = {k: attachment[k] for k in ("AttachTime", "AttachmentId", "DeleteOnTermination",
                                                      "DeviceIndex", "Status", "NetworkCardIndex") if k in attachment}
    return shown


def present_instance(ctx: RequestContext, record: Record) -> Any:
    eni = ctx.tx.get(NETWORK_INTERFACE.kind, record.internal.get("NetworkInterfaceId") or "")
    return {**record.body, "NetworkInterfaces": [_instance_interface(eni.body)] if eni else []}


def _terminate(ctx: RequestContext, record: Record) -> shapes.InstanceStateChange:
    previous: shapes.InstanceState = {**record.body["State"]}
    if previous["Name"] != "terminated":
        delete_interface(ctx, record.internal.pop("NetworkInterfaceId", None) or "")
        for field in ("PrivateIpAddress", "SubnetId", "VpcId"):
            record.body.pop(field, None)
        record.body.update(State=dict(TERMINATED), PrivateDnsName="", SecurityGroups=[],
                           StateTransitionReason=f"User initiated ({ctx.now:%Y-%m-%d %H:%M:%S} GMT)",
                           StateReason={"Code": "Client.UserInitiatedShutdown",
                                        "Message": "Client.UserInitiatedShutdown: User initiated shutdown"})
        ctx.tx.put(record)
    # AWS answers shutting-down; the instance is terminated by the next call.
    current = SHUTTING_DOWN.copy() if previous["Name"] != "terminated" else TERMINATED.copy()
    return {"InstanceId": record.id, "PreviousState": previous, "CurrentState": current}


# Instance filters read ``_filter_subject``: the instance as shown, with the reservation it belongs to.
INSTANCE_FILTERS = {
    "instance-id": lambda b: b["InstanceId"], "image-id": lambda b: b["ImageId"],
    "instance-type": lambda b: b["InstanceType"], "instance-state-name": lambda b: b["State"]["Name"],
    "instance-state-code": lambda b: b["State"]["Code"], "subnet-id": lambda b: b.get("SubnetId"),
    "vpc-id": lambda b: b.get("VpcId"), "private-ip-address": lambda b: b.get("PrivateIpAddress"),
    "private-dns-name": lambda b: b.get("PrivateDnsName"), "reservation-id": lambda b: b["ReservationId"],
    "availability-zone": lambda b: b["Placement"]["AvailabilityZone"], "key-name": lambda b: b.get("KeyName"),
    "instance.group-id": lambda b: [g["GroupId"] for g in b["SecurityGroups"]],
    "instance.group-name": lambda b: [g["GroupName"] for g in b["SecurityGroups"]],
    "network-interface.network-interface-id": lambda b: [n["NetworkInterfaceId"] for n in b["NetworkInterfaces"]],
    "architecture": lambda b: b["Architecture"],
}


def _filter_subject(ctx: RequestContext, record: Record) -> dict:
    return {**present_instance(ctx, record), "ReservationId": record.internal["ReservationId"]}


def _reservations(ctx: RequestContext, instances: list[Record]) -> list[dict]:
    grouped: dict[str, dict] = {}
    for record in instances:
        rid = record.internal["ReservationId"]
        reservation = grouped.setdefault(rid, {"ReservationId": rid, "OwnerId": record.account, "Groups": [],
                                               "Instances": []})
        reservation["Instances"].append(present_instance(ctx, record))
    for reservation in grouped.values():  # one call's instances share a revision: launch order
        reservation["Instances"].sort(key=lambda i: i["AmiLaunchIndex"])
    return list(grouped.values())


class InterfaceOps:
    # -- network interfaces --
    def create_network_interface(self, ctx: RequestContext,
                                 params: shapes.CreateNetworkInterfaceRequest) -> shapes.CreateNetworkInterfaceResult:
        if params.get("PrivateIpAddresses") or params.get("SecondaryPrivateIpAddressCount") \
                or params.get("Ipv6Addresses") or params.get("Ipv6AddressCount"):
            raise Ec2Error("InvalidParameterValue", "Secondary and IPv6 addresses are not supported by Latticework")
        record = _new_interface(ctx, params["SubnetId"], params.get("Groups"), params.get("Description") or "",
                                params.get("InterfaceType") or "interface", params.get("PrivateIpAddress"))
        record.body["Tags"] = tags_for(params, "network-interface")
        ctx.tx.put(record)
        out: shapes.CreateNetworkInterfaceResult = {"NetworkInterface": present_interface(record.body)}
        return {**out, "ClientToken": params["ClientToken"]} if params.get("ClientToken") else out

    def describe_network_interfaces(
            self, ctx: RequestContext, params: shapes.DescribeNetworkInterfacesRequest
    ) -> shapes.DescribeNetworkInterfacesResult:
        ids = params.get("NetworkInterfaceIds") or []
        records = [get(ctx, NETWORK_INTERFACE, i) for i in dict.fromkeys(ids)] if ids \
            else ctx.tx.list(NETWORK_INTERFACE.kind)
        shown = [present_interface(r.body) for r in records if matches(r.body, params.get("Filters"),
                                                                       INTERFACE_FILTERS)]
        return page(shown, params, "NetworkInterfaces")

    def delete_network_interface(self, ctx: RequestContext,
                                 params: shapes.DeleteNetworkInterfaceRequest) -> shapes.NoOutput:
        record = get(ctx, NETWORK_INTERFACE, params["NetworkInterfaceId"])
        if record.body["Status"] == "in-use":
            raise Ec2Error("InvalidNetworkInterface.InUse", f"Interface: [{record.id}] in use.")
        delete_interface(ctx, record.id)
        return {}

    # -- instances --
    def run_instances(self, ctx: RequestContext, params: shapes.RunInstancesRequest) -> shapes.Reservation:
        _check_image(params.get("ImageId") or "")
        spec = _launch_spec(params)
        count = _check_counts(params, spec)
        subnet = get(ctx, SUBNET, spec["SubnetId"])
        group_ids = _group_ids(ctx, spec, subnet.body["VpcId"])
        free = len(list(usable_addresses(subnet.body["CidrBlock"]))) - len(subnet.internal["Allocated"])
        if free < params["MinCount"]:
            raise Ec2Error("InsufficientFreeAddressesInSubnet", f"There are not enough free addresses in subnet "
                           f"'{subnet.id}' to satisfy the requested number of instances.")
        reservation_id = "r-" + INSTANCE.new_id()[2:]
        launched = [_launch_one(ctx, params, spec, group_ids, i, reservation_id) for i in range(min(count, free))]
        return {"ReservationId": reservation_id, "OwnerId": ctx.account, "Groups": [],
                "Instances": [present_instance(ctx, r) for r in launched]}

    def describe_instances(self, ctx: RequestContext,
                           params: shapes.DescribeInstancesRequest) -> shapes.DescribeInstancesResult:
        ids = params.get("InstanceIds") or []
        records = [get(ctx, INSTANCE, i) for i in dict.fromkeys(ids)] if ids else ctx.tx.list(INSTANCE.kind)
        filters = params.get("Filters")
        chosen = [r for r in records if not filters or matches(_filter_subject(ctx, r), filters, INSTANCE_FILTERS)]
        return page(_reservations(ctx, chosen), params, "Reservations")

    def terminate_instances(self, ctx: RequestContext,
                            params: shapes.TerminateInstancesRequest) -> shapes.TerminateInstancesResult:
        records = [get(ctx, INSTANCE, i) for i in dict.fromkeys(params["InstanceIds"])]
        return {"TerminatingInstances": [_terminate(ctx, r) for r in records]}
