"""The fabric: how a VPC's addresses become host sockets.

Addressing is data, decided here and stored with the control plane's
records; a backend only realises it. The ``loopback`` backend (the default,
no root needed) gives each VPC its own /24 of 127.0.0.0/8, carved from the
server's range: ``127.64.0.0/10`` by default (16,384 VPCs), another free one
when a server on the host holds that (``leases``: servers lease their ranges
host-wide), or the one ``--fabric`` names. The destination address of a
connection names the VPC the client is in:

=========  ===========================================================
address    role
=========  ===========================================================
``.2``     the VPC's DNS resolver (AWS puts it at the VPC base + 2)
``.10``    the Lattice data plane: every service the VPC can reach answers
           here, on each of its listeners' ports, chosen by Host/SNI
``.11``    AWS services via gateway endpoints: S3's and DynamoDB's public
           names answer here in a VPC with a gateway endpoint to them
           (``dataplane.awsservices``)
``.16+``   network interfaces that carry PrivateLink traffic: one per
           node of a network load balancer (one per subnet it is placed
           in), one per subnet of an interface, Resource or
           ServiceNetwork endpoint and one per subnet of a resource
           gateway, the lowest free host number first (``.16`` ..
           ``.254``); and, from the same pool, one address per resource
           configuration the VPC reaches through a service-network VPC
           association or service-network endpoint (below)
=========  ===========================================================

Such an interface keeps the private address the EC2 API shows
(``PrivateIpAddress``, from its subnet's CIDR): that is its address *in the
VPC*. Its fabric address is how that VPC address is reached on this host,
the same rule as everywhere (a VPC address maps to a host address), except
that here the fabric allocates the host address instead of reading it from a
``latticework:host-address`` tag. The interface record keeps the host number
(internal ``FabricHost``, 16 for ``.16``), not the address, so a server that
takes another range after a restart moves the interface with its VPC's
block; the number goes back to the pool when the interface is deleted. A
VPC holds at most ``INTERFACE_CAPACITY`` (239) such interfaces: one more is
refused as AWS refuses an interface in a full subnet
(``InsufficientFreeAddressesInSubnet``).

Resource addresses: a VPC associated with a service network, or holding a
service-network endpoint, reaches each resource configuration associated
with that network at an address of its own block (AWS hands out addresses
from 129.224.0.0/17 to an association and from the endpoint's subnets to an
endpoint; no network interface shows them here). The data plane listens
there on the configuration's ports, and the configuration's generated and
private names resolve there inside that VPC only. The host number is kept
in the internal ``ResourceHosts`` (configuration id -> host number) of the
service-network VPC association, or of the endpoint's Lattice association
(``snvea``), allocated when it or a resource association of its network is
created, and given back when either goes (``resource_hosts`` feeds both
allocators, so an interface never takes a resource's number nor the reverse).
A full block leaves the configurations beyond it without an address there:
the VPC does not reach them (the association itself succeeds, as AWS's
129.224.0.0/17 does not run out).

A VPC's block index is allocated when the VPC is created (the lowest free
one across every account and region) and kept in the VPC record
(``records.ec2.Vpc.fabric_index``); a server takes the range its state file
used last time while it is free, so addresses survive restarts and clients
that cached a resolver address keep working. Indexes beyond a smaller range
(a /13 holds 2,048 VPCs, a /16 256) get no addresses (the VPC has no data
plane until the range grows).

On Linux every 127.0.0.0/8 address is local without configuration; other
systems need an alias per address (``ifconfig lo0 alias ...`` on macOS).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Iterable

from latticework.records import ec2 as ec2_records
from latticework.records import lattice as lattice_records
from latticework.store import Record

DEFAULT_RANGE = "127.64.0.0/10"
BLOCK_PREFIX = 24

RESOLVER_HOST = 2
LATTICE_HOST = 10
AWS_SERVICES_HOST = 11  # AWS services via gateway endpoints (S3, DynamoDB): ``VpcBlock.aws_services``
FIRST_ENDPOINT_HOST = 16
LAST_ENDPOINT_HOST = 254  # .255 is the block's broadcast address
INTERFACE_CAPACITY = LAST_ENDPOINT_HOST - FIRST_ENDPOINT_HOST + 1

BLOCK_KIND = "fabricblock"  # one record per allocated index, outside any account and region
GLOBAL = "*"


class FabricFull(RuntimeError):
    """Every address block of the fabric is in use."""


@dataclass(frozen=True)
class VpcBlock:
    network: ipaddress.IPv4Network

    def host(self, number: int) -> str:
        return str(self.network.network_address + number)

    @property
    def resolver(self) -> str:
        return self.host(RESOLVER_HOST)

    @property
    def lattice(self) -> str:
        return self.host(LATTICE_HOST)

    @property
    def aws_services(self) -> str:
        return self.host(AWS_SERVICES_HOST)

    def interface(self, number: int) -> str:
        """The fabric address of a network interface holding host number ``number`` (``FabricHost``)."""
        if not FIRST_ENDPOINT_HOST <= number <= LAST_ENDPOINT_HOST:
            raise ValueError(f"host number {number} is outside the interface range of a VPC block")
        return self.host(number)


@dataclass(frozen=True)
class Fabric:
    """The loopback range VPC blocks are carved from (``--fabric``, else leased: see ``leases``)."""

    range: ipaddress.IPv4Network = ipaddress.IPv4Network(DEFAULT_RANGE)

    @classmethod
    def parse(cls, text: str) -> "Fabric":
        network = ipaddress.IPv4Network(text)
        if not network.is_loopback or network.prefixlen > BLOCK_PREFIX:
            raise ValueError(f"fabric range {text} must lie in 127.0.0.0/8 and hold at least one /{BLOCK_PREFIX}")
        return cls(network)

    @property
    def capacity(self) -> int:
        return 1 << (BLOCK_PREFIX - self.range.prefixlen)

    def block(self, index: int) -> VpcBlock:
        return _block(self.range, index)

    def block_of(self, index: int | None) -> VpcBlock | None:
        """The block at a VPC's index, None without one or beyond this range."""
        return self.block(index) if index is not None and index < self.capacity else None


@functools.lru_cache(maxsize=65536)
def _block(range: ipaddress.IPv4Network, index: int) -> VpcBlock:
    base = int(range.network_address) + (index << (32 - BLOCK_PREFIX))
    return VpcBlock(ipaddress.IPv4Network((base, BLOCK_PREFIX)))


def claim_block(tx, vpc_id: str) -> int:
    """Allocate the lowest free block index to a new VPC (any account, any region)."""
    index = 0
    while tx.get(BLOCK_KIND, str(index), account=GLOBAL, region=GLOBAL) is not None:
        index += 1
    tx.put(Record(BLOCK_KIND, str(index), GLOBAL, GLOBAL, {"vpcId": vpc_id}))
    return index


def release_block(tx, index: int | None) -> None:
    if index is not None:
        tx.delete(BLOCK_KIND, str(index), account=GLOBAL, region=GLOBAL)


def lowest_free_host(used: Iterable[int]) -> int | None:
    """The lowest interface host number (``.16`` up) not in ``used``, None when the block is full."""
    taken = set(used)
    return next((n for n in range(FIRST_ENDPOINT_HOST, LAST_ENDPOINT_HOST + 1) if n not in taken), None)


def resource_hosts(tx, vpc_id: str) -> set[int]:
    """Host numbers a VPC's service-network associations and service-network endpoints hold for resource
    configurations (any account)."""
    found: set[int] = set()
    for kind in (lattice_records.SN_VPC_ASSOCIATION, lattice_records.SN_VPC_ENDPOINT_ASSOCIATION):
        for record in tx.list(kind, all_accounts=True):
            holder = lattice_records.ResourceHolder(record)
            if holder.vpc_id == vpc_id:
                found.update(holder.resource_hosts.values())
    return found


def used_hosts(tx, vpc_id: str, account: str) -> set[int]:
    """Every interface host number of a VPC's block in use: its interfaces' (``account``: the VPC's owner,
    who holds them) and its resource addresses."""
    interfaces = (ec2_records.InterfaceRecord(r) for r in tx.list(ec2_records.NETWORK_INTERFACE, account=account))
    return {i.fabric_host for i in interfaces if i.vpc_id == vpc_id and i.fabric_host is not None} | \
        resource_hosts(tx, vpc_id)
