"""EC2's stored kinds (the VPC and PrivateLink part) and the views other layers read.

Bodies are EC2's API shapes (``PascalCase``), tags kept under ``Tags`` for
every kind; what a family keeps beside the shape is in the record's
``internal`` fields. What the data plane needs of them: a VPC's CIDR and fabric block,
where an instance's or interface's processes listen (its private address and
``latticework:host-address`` tag), which service network a
``ServiceNetwork`` VPC endpoint joins its VPC to, and the network interfaces
that carry PrivateLink traffic: each keeps its host number in its VPC's fabric
block (internal ``FabricHost``) and the id of the record it serves (internal
``FabricOwner``: a network load balancer's record id or a VPC endpoint's id),
and an interface endpoint's DNS names resolve to those interfaces.
"""

from __future__ import annotations

from latticework.records import RecordView, tag_value

VPC = "vpc"
SUBNET = "subnet"
ROUTE_TABLE = "routetable"
NETWORK_ACL = "networkacl"
SECURITY_GROUP = "securitygroup"
SECURITY_GROUP_RULE = "securitygrouprule"
NETWORK_INTERFACE = "networkinterface"
INSTANCE = "instance"
VPC_ENDPOINT = "vpcendpoint"
VPC_ENDPOINT_SERVICE = "vpcendpointservice"
VPC_ENDPOINT_PERMISSION = "vpcendpointpermission"
VPC_ENDPOINT_NOTIFICATION = "vpcendpointnotification"

HOST_ADDRESS_TAG = "latticework:host-address"
"""EC2 tag on an instance or network interface naming the host address its processes listen on."""

FABRIC_INDEX = "FabricIndex"
"""Internal field of a VPC record: the index of the VPC's block in the fabric (``fabric``)."""

FABRIC_HOST = "FabricHost"
"""Internal field of a network interface carrying PrivateLink traffic: its host number in the VPC's fabric block."""

FABRIC_OWNER = "FabricOwner"
"""Internal field beside ``FABRIC_HOST``: the id of the load balancer or VPC endpoint record the interface serves."""

RUNNING_STATES = frozenset({"running", "pending"})
CONNECTED_STATES = frozenset({"pendingAcceptance", "pending", "available"})


class VpcRecord(RecordView):
    @property
    def cidr_block(self) -> str | None:
        return self.body.get("CidrBlock")

    def associated_cidrs(self) -> list[str]:
        """Every IPv4 block associated with the VPC, the primary one first."""
        blocks = self.body.get("CidrBlockAssociationSet") or [{"CidrBlock": self.cidr_block}]
        return [b["CidrBlock"] for b in blocks
                if (b.get("CidrBlockState") or {}).get("State", "associated") == "associated"]

    @property
    def fabric_index(self) -> int | None:
        return self.internal.get(FABRIC_INDEX)

    @property
    def main_route_table(self) -> str | None:
        return self.internal.get("MainRouteTableId")


class InVpcRecord(RecordView):
    """A resource that lives in one VPC (subnet, security group, interface, endpoint)."""

    @property
    def vpc_id(self) -> str:
        return self.body["VpcId"]


class HostRecord(RecordView):
    """An instance or a network interface: something holding a private address in a VPC."""

    @property
    def vpc_id(self) -> str | None:
        """None for an instance that has left its VPC (terminated)."""
        return self.body.get("VpcId")

    @property
    def private_ip(self) -> str | None:
        return self.body.get("PrivateIpAddress")

    @property
    def host_address(self) -> str | None:
        """The ``latticework:host-address`` tag: where its processes listen, when not 127.0.0.1."""
        return tag_value(self.body.get("Tags"), HOST_ADDRESS_TAG)


class InterfaceRecord(HostRecord):
    """A network interface; the fabric fields are set on those carrying PrivateLink traffic only."""

    @property
    def zone(self) -> str:
        return self.body.get("AvailabilityZone") or ""

    @property
    def fabric_host(self) -> int | None:
        return self.internal.get(FABRIC_HOST)

    @property
    def fabric_owner(self) -> str | None:
        return self.internal.get(FABRIC_OWNER)


class InstanceRecord(HostRecord):
    @property
    def running(self) -> bool:
        """Pending or running (a body without a state counts as running)."""
        state = (self.body.get("State") or {}).get("Name")
        return state is None or state in RUNNING_STATES


class VpcEndpointRecord(InVpcRecord):
    @property
    def service_network_arn(self) -> str | None:
        return self.body.get("ServiceNetworkArn")

    @property
    def joins_service_network(self) -> bool:
        """An available ``ServiceNetwork`` endpoint: its VPC reaches the network as if associated."""
        return self.body.get("VpcEndpointType") == "ServiceNetwork" and self.body.get("State") == "available"

    @property
    def type(self) -> str:
        return self.body.get("VpcEndpointType") or "Gateway"

    @property
    def available(self) -> bool:
        return self.body.get("State") == "available"

    @property
    def service_name(self) -> str | None:
        return self.body.get("ServiceName")

    def aws_service(self) -> str | None:
        """The short name (``s3``, ``dynamodb``) of the AWS service it reaches, None for other services."""
        prefix = f"com.amazonaws.{self.record.region}."
        name = self.service_name or ""
        return name[len(prefix):] if name.startswith(prefix) else None

    @property
    def policy(self) -> str | None:
        """The endpoint policy's JSON text (None for endpoints that take no policy)."""
        return self.body.get("PolicyDocument")

    @property
    def route_table_ids(self) -> tuple[str, ...]:
        return tuple(self.body.get("RouteTableIds") or ())

    @property
    def endpoint_service_id(self) -> str | None:
        """The provider's endpoint service it connects to (``vpce-svc-``); None for AWS services and others."""
        return self.internal.get("ServiceId")

    @property
    def connected(self) -> bool:
        """Created and not turned away: waiting for acceptance, accepted (``pending``) or ``available``. AWS
        creates an interface endpoint's DNS names with it, before the provider accepts."""
        return self.body.get("State") in CONNECTED_STATES

    # -- Lattice endpoints (``Resource``, ``ServiceNetwork``) --
    @property
    def resource_configuration_id(self) -> str | None:
        """The configuration a ``Resource`` endpoint reaches (from ``ResourceConfigurationArn``)."""
        arn = self.body.get("ResourceConfigurationArn")
        return arn.rsplit("/", 1)[-1] if arn else None

    @property
    def private_dns_enabled(self) -> bool:
        return bool(self.body.get("PrivateDnsEnabled"))

    @property
    def private_dns_preference(self) -> str:
        return (self.body.get("DnsOptions") or {}).get("PrivateDnsPreference") or "VERIFIED_DOMAINS_ONLY"

    @property
    def private_dns_specified_domains(self) -> tuple[str, ...]:
        return tuple((self.body.get("DnsOptions") or {}).get("PrivateDnsSpecifiedDomains") or ())

    def generated_names(self) -> list[str]:
        """The ``DnsEntries`` names the endpoint's id starts (a ``Resource`` endpoint's ``vpce-<id>.rcfg-...``)."""
        return [e["DnsName"] for e in self.body.get("DnsEntries") or [] if e["DnsName"].startswith(self.id)]

    def dns_names(self) -> list[tuple[str, str | None]]:
        """The public names of ``DnsEntries`` (not the private one) with the zone a zonal name is for
        (None: regional). Zonal names end their first label with the zone (``vpce-<id>-<suffix>-<zone>``)."""
        base = f"{self.id}-{self.internal.get('Suffix', '')}"
        found: list[tuple[str, str | None]] = []
        for entry in self.body.get("DnsEntries") or []:
            name = entry["DnsName"]
            first = name.removeprefix("*.").split(".", 1)[0]
            if first == base:
                found.append((name, None))
            elif first.startswith(base + "-"):
                found.append((name, first[len(base) + 1:]))
        return found

    def private_names(self) -> list[str]:
        """The private DNS names the endpoint's VPC resolves to it: the (verified) name of its service
        when ``PrivateDnsEnabled``. S3 answers at the service's name as well as below it
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html)."""
        name = self.internal.get("PrivateName")
        if not self.body.get("PrivateDnsEnabled") or not name:
            return []
        labels = name.split(".")
        if labels[0] == "*" and len(labels) == 5 and labels[1] == "s3" and labels[3:] == ["amazonaws", "com"]:
            return [name[2:], name]
        return [name]


class VpcEndpointServiceRecord(RecordView):
    """A provider's endpoint service: the network load balancers its interface endpoints reach."""

    def network_load_balancer_arns(self) -> list[str]:
        return list(self.body.get("NetworkLoadBalancerArns") or [])
