"""The catalogue of AWS services reachable through VPC endpoints.

Consumers reach AWS services by name (``com.amazonaws.<region>.<service>``)
without any provider side: ``DescribeVpcEndpointServices`` lists them for
every account, and ``CreateVpcEndpoint`` accepts them at once (no acceptance
step). S3 and DynamoDB are offered twice, as a Gateway service (a prefix list
routed through route tables) and as an Interface service (ENIs in subnets);
``ServiceDetails`` then holds one entry per type, as AWS answers.

Names follow AWS (https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html):
the private DNS name is the service's public endpoint (``sqs.<region>.amazonaws.com``),
wildcard for services addressed by sub-domain (S3 buckets, ECR registries,
API Gateway APIs), and the endpoint DNS label is the endpoint name reversed
(``ecr.api`` -> ``api.ecr``), so that ``vpce-<id>-<suffix>.api.ecr.<region>.vpce.amazonaws.com``
reads as AWS's. Service ids of AWS services are stable per region (derived
from the name), so they read the same on every call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

OWNER = "amazon"


@dataclass(frozen=True)
class AwsService:
    short: str  # "s3", "ecr.api"
    types: tuple[str, ...]  # "Gateway", "Interface"
    private_dns: str | None  # pattern with {region}; None when the service has no private name
    policy_supported: bool = True

    def name(self, region: str) -> str:
        return f"com.amazonaws.{region}.{self.short}"

    def dns_label(self) -> str:
        """The label of endpoint DNS names: ``ecr.api`` -> ``api.ecr``."""
        return ".".join(reversed(self.short.split(".")))

    def private_dns_name(self, region: str) -> str | None:
        return self.private_dns.format(region=region) if self.private_dns else None

    def service_id(self, region: str, service_type: str) -> str:
        digest = hashlib.sha256(f"{self.name(region)}/{service_type}".encode()).hexdigest()
        return "vpce-svc-" + digest[:17]


CATALOGUE: tuple[AwsService, ...] = (
    AwsService("s3", ("Gateway", "Interface"), "*.s3.{region}.amazonaws.com"),
    AwsService("dynamodb", ("Gateway", "Interface"), "*.ddb.{region}.amazonaws.com"),
    AwsService("sts", ("Interface",), "sts.{region}.amazonaws.com"),
    AwsService("kms", ("Interface",), "kms.{region}.amazonaws.com"),
    AwsService("logs", ("Interface",), "logs.{region}.amazonaws.com"),
    AwsService("ecr.api", ("Interface",), "api.ecr.{region}.amazonaws.com"),
    AwsService("ecr.dkr", ("Interface",), "*.dkr.ecr.{region}.amazonaws.com"),
    AwsService("sqs", ("Interface",), "sqs.{region}.amazonaws.com"),
    AwsService("sns", ("Interface",), "sns.{region}.amazonaws.com"),
    AwsService("secretsmanager", ("Interface",), "secretsmanager.{region}.amazonaws.com"),
    AwsService("ssm", ("Interface",), "ssm.{region}.amazonaws.com"),
    AwsService("ssmmessages", ("Interface",), "ssmmessages.{region}.amazonaws.com"),
    AwsService("ec2", ("Interface",), "ec2.{region}.amazonaws.com"),
    AwsService("ec2messages", ("Interface",), "ec2messages.{region}.amazonaws.com"),
    AwsService("elasticloadbalancing", ("Interface",), "elasticloadbalancing.{region}.amazonaws.com"),
    AwsService("lambda", ("Interface",), "lambda.{region}.amazonaws.com"),
    AwsService("monitoring", ("Interface",), "monitoring.{region}.amazonaws.com"),
    AwsService("events", ("Interface",), "events.{region}.amazonaws.com"),
    AwsService("execute-api", ("Interface",), "*.execute-api.{region}.amazonaws.com"),
    AwsService("vpc-lattice", ("Interface",), "vpc-lattice.{region}.amazonaws.com"),
)


def find(region: str, service_name: str) -> AwsService | None:
    """The AWS service named ``com.amazonaws.<region>.<short>``, if it is in the catalogue."""
    return next((s for s in CATALOGUE if s.name(region) == service_name), None)


def zone_names(region: str) -> list[str]:
    """The Availability Zones an AWS service is offered in: a region's usual six (three elsewhere)."""
    letters = "abcdef" if region == "us-east-1" else "abc"
    return [region + letter for letter in letters]


def zone_id(zone_name: str) -> str:
    """AWS's AZ id for a zone name: ``us-east-1a`` -> ``use1-az1`` (the local mapping is the identity order)."""
    region, letter = zone_name[:-1], zone_name[-1]
    parts = region.split("-")
    short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]
    return f"{short}-az{ord(letter) - ord('a') + 1}"


def details(region: str) -> list[dict]:
    """``ServiceDetails`` entries for every catalogue service, one per type."""
    out = []
    for service in CATALOGUE:
        for service_type in service.types:
            out.append(_detail(service, service_type, region))
    return out


def _detail(service: AwsService, service_type: str, region: str) -> dict:
    zones = zone_names(region)
    detail = {
        "ServiceName": service.name(region), "ServiceId": service.service_id(region, service_type),
        "ServiceType": [{"ServiceType": service_type}], "ServiceRegion": region,
        "AvailabilityZones": zones, "AvailabilityZoneIds": [zone_id(z) for z in zones], "Owner": OWNER,
        "BaseEndpointDnsNames": [f"{service.dns_label()}.{region}.vpce.amazonaws.com"],
        "VpcEndpointPolicySupported": service.policy_supported, "AcceptanceRequired": False,
        "ManagesVpcEndpoints": False, "Tags": [], "SupportedIpAddressTypes": ["ipv4"],
    }
    private = service.private_dns_name(region) if service_type == "Interface" else None
    if private:
        detail.update(PrivateDnsName=private, PrivateDnsNames=[{"PrivateDnsName": private}],
                      PrivateDnsNameVerificationState="verified")
    return detail
