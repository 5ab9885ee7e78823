"""AWS managed policies: the ones that exist in every account, under ``arn:aws:iam::aws:policy/...``.

They are not stored: every account sees the same, read-only. Their documents are AWS's, from the
AWS Managed Policy Reference (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/),
at the version named:

- ``VPCLatticeServicesInvokeAccess`` v1, ``VPCLatticeReadOnlyAccess`` v2 and ``AdministratorAccess`` v1
  as published.
- ``VPCLatticeFullAccess`` v2: the first statement as published; the statements that let it create
  VPC Lattice's and log delivery's service-linked roles follow the published description.
- ``ReadOnlyAccess``: AWS's document lists read actions of every AWS service (several thousand); here it
  holds the read actions of the services Latticework serves (VPC Lattice, EC2, Elastic Load Balancing,
  IAM, STS), which is what it grants on them in AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

ACCOUNT = "aws"  # the account part of their ARNs


@dataclass(frozen=True)
class ManagedPolicy:
    name: str
    policy_id: str
    description: str
    version: str  # the default version's id
    created: str
    updated: str
    document: str  # JSON text
    path: str = "/"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:policy{self.path}{self.name}"


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


_LATTICE_DEPENDENCIES = [
    "acm:DescribeCertificate", "acm:ListCertificates", "cloudwatch:GetMetricData", "ec2:DescribeInstances",
    "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcAttribute", "ec2:DescribeVpcs",
    "elasticloadbalancing:DescribeLoadBalancers", "firehose:DescribeDeliveryStream",
    "firehose:ListDeliveryStreams",
]

POLICIES = (
    ManagedPolicy(
        "VPCLatticeServicesInvokeAccess", "ANPAZ2LATTICEINVOKE1A",
        "Provides access to invoking Amazon VPC Lattice services.", "v1",
        "2023-03-30T02:45:00Z", "2023-03-30T02:45:00Z",
        _doc({"Effect": "Allow", "Action": ["vpc-lattice-svcs:Invoke"], "Resource": "*"})),
    ManagedPolicy(
        "VPCLatticeFullAccess", "ANPAZ2LATTICEFULLAC1B",
        "Provides full access to Amazon VPC Lattice and access to dependency services.", "v2",
        "2023-03-30T02:49:00Z", "2024-12-01T14:21:00Z",
        _doc({"Effect": "Allow", "Action": [
                "vpc-lattice:*", "acm:DescribeCertificate", "acm:ListCertificates", "cloudwatch:GetMetricData",
                "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics", "ec2:DescribeInstances",
                "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcAttribute", "ec2:DescribeVpcs",
                "elasticloadbalancing:DescribeLoadBalancers", "firehose:DescribeDeliveryStream",
                "firehose:ListDeliveryStreams", "logs:DescribeLogGroups", "s3:ListAllMyBuckets", "lambda:ListAliases",
                "lambda:ListFunctions", "lambda:ListVersionsByFunction", "rds:DescribeDBInstances",
                "rds:DescribeDBClusters"], "Resource": "*"},
             {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
              "Resource": "arn:aws:iam::*:role/aws-service-role/vpc-lattice.amazonaws.com/AWSServiceRoleForVpcLattice",
              "Condition": {"StringLike": {"iam:AWSServiceName": "vpc-lattice.amazonaws.com"}}},
             {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
              "Resource": "arn:aws:iam::*:role/aws-service-role/delivery.logs.amazonaws.com/AWSServiceRoleForLogDelivery",
              "Condition": {"StringLike": {"iam:AWSServiceName": "delivery.logs.amazonaws.com"}}})),
    ManagedPolicy(
        "VPCLatticeReadOnlyAccess", "ANPAZ2LATTICEREADON1C",
        "Provides read-only access to Amazon VPC Lattice via the AWS Management Console, and limited access to "
        "dependency services.", "v2",
        "2023-03-30T02:47:00Z", "2024-12-01T14:21:00Z",
        _doc({"Effect": "Allow", "Action": [
            "vpc-lattice:Get*", "vpc-lattice:List*", *_LATTICE_DEPENDENCIES, "lambda:ListAliases",
            "lambda:ListFunctions", "lambda:ListVersionsByFunction", "logs:DescribeLogGroups", "logs:GetLogDelivery",
            "logs:ListLogDeliveries", "s3:ListAllMyBuckets", "rds:DescribeDBInstances", "rds:DescribeDBClusters"],
            "Resource": "*"})),
    ManagedPolicy(
        "AdministratorAccess", "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.", "v1",
        "2015-02-06T18:39:46Z", "2015-02-06T18:39:46Z",
        _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})),
    ManagedPolicy(
        "ReadOnlyAccess", "ANPAILL3HVNFSB6DCOWYQ",
        "Provides read-only access to AWS services and resources.", "v1",
        "2015-02-06T18:39:48Z", "2015-02-06T18:39:48Z",
        _doc({"Effect": "Allow", "Action": [
            "ec2:Describe*", "ec2:Get*", "elasticloadbalancing:Describe*", "iam:Get*", "iam:List*",
            "sts:GetCallerIdentity", "vpc-lattice:Get*", "vpc-lattice:List*"], "Resource": "*"})),
)

BY_ARN = {p.arn: p for p in POLICIES}


def aws_policy(arn: str) -> ManagedPolicy | None:
    return BY_ARN.get(arn)
