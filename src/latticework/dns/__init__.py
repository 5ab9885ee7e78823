"""DNS as clients inside a VPC see it: one resolver per VPC (see ``resolver``)."""

from latticework.dns.resolver import FORWARD, Resolvers, Upstreams, VpcResolver, answer, host_upstreams, parse

__all__ = ["FORWARD", "Resolvers", "Upstreams", "VpcResolver", "answer", "host_upstreams", "parse"]
