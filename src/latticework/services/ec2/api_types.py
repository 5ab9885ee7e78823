"""Typed stubs for the Amazon Elastic Compute Cloud operations Latticework implements.

Generated from botocore's ec2 2016-11-15 model by
``python -m latticework.tools.genstubs``; do not edit by hand.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

OPERATIONS = (
    'AcceptVpcEndpointConnections', 'AssociateRouteTable', 'AuthorizeSecurityGroupEgress',
    'AuthorizeSecurityGroupIngress', 'CreateNetworkInterface', 'CreateRoute', 'CreateRouteTable', 'CreateSecurityGroup',
    'CreateSubnet', 'CreateTags', 'CreateVpc', 'CreateVpcEndpoint', 'CreateVpcEndpointConnectionNotification',
    'CreateVpcEndpointServiceConfiguration', 'DeleteNetworkInterface', 'DeleteRoute', 'DeleteRouteTable',
    'DeleteSecurityGroup', 'DeleteSubnet', 'DeleteTags', 'DeleteVpc', 'DeleteVpcEndpointConnectionNotifications',
    'DeleteVpcEndpointServiceConfigurations', 'DeleteVpcEndpoints', 'DescribeAccountAttributes',
    'DescribeAvailabilityZones', 'DescribeInstances', 'DescribeManagedPrefixLists', 'DescribeNetworkAcls',
    'DescribeNetworkInterfaces', 'DescribePrefixLists', 'DescribeRouteTables', 'DescribeSecurityGroupRules',
    'DescribeSecurityGroups', 'DescribeSubnets', 'DescribeTags', 'DescribeVpcAttribute',
    'DescribeVpcEndpointAssociations', 'DescribeVpcEndpointConnectionNotifications', 'DescribeVpcEndpointConnections',
    'DescribeVpcEndpointServiceConfigurations', 'DescribeVpcEndpointServicePermissions', 'DescribeVpcEndpointServices',
    'DescribeVpcEndpoints', 'DescribeVpcs', 'DisassociateRouteTable', 'GetManagedPrefixListEntries',
    'ModifySecurityGroupRules', 'ModifySubnetAttribute', 'ModifyVpcAttribute', 'ModifyVpcEndpoint',
    'ModifyVpcEndpointConnectionNotification', 'ModifyVpcEndpointPayerResponsibility',
    'ModifyVpcEndpointServiceConfiguration', 'ModifyVpcEndpointServicePayerResponsibility',
    'ModifyVpcEndpointServicePermissions', 'RejectVpcEndpointConnections', 'ReplaceRouteTableAssociation',
    'RevokeSecurityGroupEgress', 'RevokeSecurityGroupIngress', 'RunInstances',
    'StartVpcEndpointServicePrivateDnsVerification', 'TerminateInstances',
)


class NoOutput(TypedDict):
    """The output of an operation the model gives no output shape: ``{}``."""


AccountAttributeName = Literal['supported-platforms', 'default-vpc']

AmdSevSnpSpecification = Literal['enabled', 'disabled']

ArchitectureValues = Literal['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac']

AttachmentStatus = Literal['attaching', 'attached', 'detaching', 'detached']

AvailabilityZoneOptInStatus = Literal['opt-in-not-required', 'opted-in', 'not-opted-in']

AvailabilityZoneState = Literal['available', 'information', 'impaired', 'unavailable', 'constrained']

BlockPublicAccessMode = Literal['off', 'block-bidirectional', 'block-ingress']

BootModeValues = Literal['legacy-bios', 'uefi', 'uefi-preferred']

CapacityReservationPreference = Literal['capacity-reservations-only', 'open', 'none']

ConnectionNotificationState = Literal['Enabled', 'Disabled']

ConnectionNotificationType = Literal['Topic']

DeviceType = Literal['ebs', 'instance-store']

DnsNameState = Literal['pendingVerification', 'verified', 'failed']

DnsRecordIpType = Literal['ipv4', 'dualstack', 'ipv6', 'service-defined']

FirewallMode = Literal['monitor', 'enforce']

FirewallOnboardingStatus = Literal['pending', 'active', 'disabling']

HostnameType = Literal['ip-name', 'resource-name']

HttpTokensState = Literal['optional', 'required']

HypervisorType = Literal['ovm', 'xen']

InstanceAutoRecoveryState = Literal['disabled', 'default']

InstanceBandwidthWeighting = Literal['default', 'vpc-1', 'ebs-1']

InstanceBootModeValues = Literal['legacy-bios', 'uefi']

InstanceInterruptionBehavior = Literal['hibernate', 'stop', 'terminate']

InstanceLifecycleType = Literal['spot', 'scheduled', 'capacity-block', 'interruptible-capacity-reservation']

InstanceMetadataEndpointState = Literal['disabled', 'enabled']

InstanceMetadataOptionsState = Literal['pending', 'applied']

InstanceMetadataProtocolState = Literal['disabled', 'enabled']

InstanceMetadataTagsState = Literal['disabled', 'enabled']

InstanceRebootMigrationState = Literal['disabled', 'default']

InstanceStateName = Literal['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped']

InstanceType = Literal[
    'a1.medium', 'a1.large', 'a1.xlarge', 'a1.2xlarge', 'a1.4xlarge', 'a1.metal', 'c1.medium', 'c1.xlarge', 'c3.large',
    'c3.xlarge', 'c3.2xlarge', 'c3.4xlarge', 'c3.8xlarge', 'c4.large', 'c4.xlarge', 'c4.2xlarge', 'c4.4xlarge',
    'c4.8xlarge', 'c5.large', 'c5.xlarge', 'c5.2xlarge', 'c5.4xlarge', 'c5.9xlarge', 'c5.12xlarge', 'c5.18xlarge',
    'c5.24xlarge', 'c5.metal', 'c5a.large', 'c5a.xlarge', 'c5a.2xlarge', 'c5a.4xlarge', 'c5a.8xlarge', 'c5a.12xlarge',
    'c5a.16xlarge', 'c5a.24xlarge', 'c5ad.large', 'c5ad.xlarge', 'c5ad.2xlarge', 'c5ad.4xlarge', 'c5ad.8xlarge',
    'c5ad.12xlarge', 'c5ad.16xlarge', 'c5ad.24xlarge', 'c5d.large', 'c5d.xlarge', 'c5d.2xlarge', 'c5d.4xlarge',
    'c5d.9xlarge', 'c5d.12xlarge', 'c5d.18xlarge', 'c5d.24xlarge', 'c5d.metal', 'c5n.large', 'c5n.xlarge',
    'c5n.2xlarge', 'c5n.4xlarge', 'c5n.9xlarge', 'c5n.18xlarge', 'c5n.metal', 'c6g.medium', 'c6g.large', 'c6g.xlarge',
    'c6g.2xlarge', 'c6g.4xlarge', 'c6g.8xlarge', 'c6g.12xlarge', 'c6g.16xlarge', 'c6g.metal', 'c6gd.medium',
    'c6gd.large', 'c6gd.xlarge', 'c6gd.2xlarge', 'c6gd.4xlarge', 'c6gd.8xlarge', 'c6gd.12xlarge', 'c6gd.16xlarge',
    'c6gd.metal', 'c6gn.medium', 'c6gn.large', 'c6gn.xlarge', 'c6gn.2xlarge', 'c6gn.4xlarge', 'c6gn.8xlarge',
    'c6gn.12xlarge', 'c6gn.16xlarge', 'c6i.large', 'c6i.xlarge', 'c6i.2xlarge', 'c6i.4xlarge', 'c6i.8xlarge',
    'c6i.12xlarge', 'c6i.16xlarge', 'c6i.24xlarge', 'c6i.32xlarge', 'c6i.metal', 'cc1.4xlarge', 'cc2.8xlarge',
    'cg1.4xlarge', 'cr1.8xlarge', 'd2.xlarge', 'd2.2xlarge', 'd2.4xlarge', 'd2.8xlarge', 'd3.xlarge', 'd3.2xlarge',
    'd3.4xlarge', 'd3.8xlarge', 'd3en.xlarge', 'd3en.2xlarge', 'd3en.4xlarge', 'd3en.6xlarge', 'd3en.8xlarge',
    'd3en.12xlarge', 'dl1.24xlarge', 'f1.2xlarge', 'f1.4xlarge', 'f1.16xlarge', 'g2.2xlarge', 'g2.8xlarge',
    'g3.4xlarge', 'g3.8xlarge', 'g3.16xlarge', 'g3s.xlarge', 'g4ad.xlarge', 'g4ad.2xlarge', 'g4ad.4xlarge',
    'g4ad.8xlarge', 'g4ad.16xlarge', 'g4dn.xlarge', 'g4dn.2xlarge', 'g4dn.4xlarge', 'g4dn.8xlarge', 'g4dn.12xlarge',
    'g4dn.16xlarge', 'g4dn.metal', 'g5.xlarge', 'g5.2xlarge', 'g5.4xlarge', 'g5.8xlarge', 'g5.12xlarge', 'g5.16xlarge',
    'g5.24xlarge', 'g5.48xlarge', 'g5g.xlarge', 'g5g.2xlarge', 'g5g.4xlarge', 'g5g.8xlarge', 'g5g.16xlarge',
    'g5g.metal', 'hi1.4xlarge', 'hpc6a.48xlarge', 'hs1.8xlarge', 'h1.2xlarge', 'h1.4xlarge', 'h1.8xlarge',
    'h1.16xlarge', 'i2.xlarge', 'i2.2xlarge', 'i2.4xlarge', 'i2.8xlarge', 'i3.large', 'i3.xlarge', 'i3.2xlarge',
    'i3.4xlarge', 'i3.8xlarge', 'i3.16xlarge', 'i3.metal', 'i3en.large', 'i3en.xlarge', 'i3en.2xlarge', 'i3en.3xlarge',
    'i3en.6xlarge', 'i3en.12xlarge', 'i3en.24xlarge', 'i3en.metal', 'im4gn.large', 'im4gn.xlarge', 'im4gn.2xlarge',
    'im4gn.4xlarge', 'im4gn.8xlarge', 'im4gn.16xlarge', 'inf1.xlarge', 'inf1.2xlarge', 'inf1.6xlarge', 'inf1.24xlarge',
    'is4gen.medium', 'is4gen.large', 'is4gen.xlarge', 'is4gen.2xlarge', 'is4gen.4xlarge', 'is4gen.8xlarge', 'm1.small',
    'm1.medium', 'm1.large', 'm1.xlarge', 'm2.xlarge', 'm2.2xlarge', 'm2.4xlarge', 'm3.medium', 'm3.large', 'm3.xlarge',
    'm3.2xlarge', 'm4.large', 'm4.xlarge', 'm4.2xlarge', 'm4.4xlarge', 'm4.10xlarge', 'm4.16xlarge', 'm5.large',
    'm5.xlarge', 'm5.2xlarge', 'm5.4xlarge', 'm5.8xlarge', 'm5.12xlarge', 'm5.16xlarge', 'm5.24xlarge', 'm5.metal',
    'm5a.large', 'm5a.xlarge', 'm5a.2xlarge', 'm5a.4xlarge', 'm5a.8xlarge', 'm5a.12xlarge', 'm5a.16xlarge',
    'm5a.24xlarge', 'm5ad.large', 'm5ad.xlarge', 'm5ad.2xlarge', 'm5ad.4xlarge', 'm5ad.8xlarge', 'm5ad.12xlarge',
    'm5ad.16xlarge', 'm5ad.24xlarge', 'm5d.large', 'm5d.xlarge', 'm5d.2xlarge', 'm5d.4xlarge', 'm5d.8xlarge',
    'm5d.12xlarge', 'm5d.16xlarge', 'm5d.24xlarge', 'm5d.metal', 'm5dn.large', 'm5dn.xlarge', 'm5dn.2xlarge',
    'm5dn.4xlarge', 'm5dn.8xlarge', 'm5dn.12xlarge', 'm5dn.16xlarge', 'm5dn.24xlarge', 'm5dn.metal', 'm5n.large',
    'm5n.xlarge', 'm5n.2xlarge', 'm5n.4xlarge', 'm5n.8xlarge', 'm5n.12xlarge', 'm5n.16xlarge', 'm5n.24xlarge',
    'm5n.metal', 'm5zn.large', 'm5zn.xlarge', 'm5zn.2xlarge', 'm5zn.3xlarge', 'm5zn.6xlarge', 'm5zn.12xlarge',
    'm5zn.metal', 'm6a.large', 'm6a.xlarge', 'm6a.2xlarge', 'm6a.4xlarge', 'm6a.8xlarge', 'm6a.12xlarge',
    'm6a.16xlarge', 'm6a.24xlarge', 'm6a.32xlarge', 'm6a.48xlarge', 'm6g.metal', 'm6g.medium', 'm6g.large',
    'm6g.xlarge', 'm6g.2xlarge', 'm6g.4xlarge', 'm6g.8xlarge', 'm6g.12xlarge', 'm6g.16xlarge', 'm6gd.metal',
    'm6gd.medium', 'm6gd.large', 'm6gd.xlarge', 'm6gd.2xlarge', 'm6gd.4xlarge', 'm6gd.8xlarge', 'm6gd.12xlarge',
    'm6gd.16xlarge', 'm6i.large', 'm6i.xlarge', 'm6i.2xlarge', 'm6i.4xlarge', 'm6i.8xlarge', 'm6i.12xlarge',
    'm6i.16xlarge', 'm6i.24xlarge', 'm6i.32xlarge', 'm6i.metal', 'mac1.metal', 'p2.xlarge', 'p2.8xlarge', 'p2.16xlarge',
    'p3.2xlarge', 'p3.8xlarge', 'p3.16xlarge', 'p3dn.24xlarge', 'p4d.24xlarge', 'r3.large', 'r3.xlarge', 'r3.2xlarge',
    'r3.4xlarge', 'r3.8xlarge', 'r4.large', 'r4.xlarge', 'r4.2xlarge', 'r4.4xlarge', 'r4.8xlarge', 'r4.16xlarge',
    'r5.large', 'r5.xlarge', 'r5.2xlarge', 'r5.4xlarge', 'r5.8xlarge', 'r5.12xlarge', 'r5.16xlarge', 'r5.24xlarge',
    'r5.metal', 'r5a.large', 'r5a.xlarge', 'r5a.2xlarge', 'r5a.4xlarge', 'r5a.8xlarge', 'r5a.12xlarge', 'r5a.16xlarge',
    'r5a.24xlarge', 'r5ad.large', 'r5ad.xlarge', 'r5ad.2xlarge', 'r5ad.4xlarge', 'r5ad.8xlarge', 'r5ad.12xlarge',
    'r5ad.16xlarge', 'r5ad.24xlarge', 'r5b.large', 'r5b.xlarge', 'r5b.2xlarge', 'r5b.4xlarge', 'r5b.8xlarge',
    'r5b.12xlarge', 'r5b.16xlarge', 'r5b.24xlarge', 'r5b.metal', 'r5d.large', 'r5d.xlarge', 'r5d.2xlarge',
    'r5d.4xlarge', 'r5d.8xlarge', 'r5d.12xlarge', 'r5d.16xlarge', 'r5d.24xlarge', 'r5d.metal', 'r5dn.large',
    'r5dn.xlarge', 'r5dn.2xlarge', 'r5dn.4xlarge', 'r5dn.8xlarge', 'r5dn.12xlarge', 'r5dn.16xlarge', 'r5dn.24xlarge',
    'r5dn.metal', 'r5n.large', 'r5n.xlarge', 'r5n.2xlarge', 'r5n.4xlarge', 'r5n.8xlarge', 'r5n.12xlarge',
    'r5n.16xlarge', 'r5n.24xlarge', 'r5n.metal', 'r6g.medium', 'r6g.large', 'r6g.xlarge', 'r6g.2xlarge', 'r6g.4xlarge',
    'r6g.8xlarge', 'r6g.12xlarge', 'r6g.16xlarge', 'r6g.metal', 'r6gd.medium', 'r6gd.large', 'r6gd.xlarge',
    'r6gd.2xlarge', 'r6gd.4xlarge', 'r6gd.8xlarge', 'r6gd.12xlarge', 'r6gd.16xlarge', 'r6gd.metal', 'r6i.large',
    'r6i.xlarge', 'r6i.2xlarge', 'r6i.4xlarge', 'r6i.8xlarge', 'r6i.12xlarge', 'r6i.16xlarge', 'r6i.24xlarge',
    'r6i.32xlarge', 'r6i.metal', 't1.micro', 't2.nano', 't2.micro', 't2.small', 't2.medium', 't2.large', 't2.xlarge',
    't2.2xlarge', 't3.nano', 't3.micro', 't3.small', 't3.medium', 't3.large', 't3.xlarge', 't3.2xlarge', 't3a.nano',
    't3a.micro', 't3a.small', 't3a.medium', 't3a.large', 't3a.xlarge', 't3a.2xlarge', 't4g.nano', 't4g.micro',
    't4g.small', 't4g.medium', 't4g.large', 't4g.xlarge', 't4g.2xlarge', 'u-6tb1.56xlarge', 'u-6tb1.112xlarge',
    'u-9tb1.112xlarge', 'u-12tb1.112xlarge', 'u-6tb1.metal', 'u-9tb1.metal', 'u-12tb1.metal', 'u-18tb1.metal',
    'u-24tb1.metal', 'vt1.3xlarge', 'vt1.6xlarge', 'vt1.24xlarge', 'x1.16xlarge', 'x1.32xlarge', 'x1e.xlarge',
    'x1e.2xlarge', 'x1e.4xlarge', 'x1e.8xlarge', 'x1e.16xlarge', 'x1e.32xlarge', 'x2iezn.2xlarge', 'x2iezn.4xlarge',
    'x2iezn.6xlarge', 'x2iezn.8xlarge', 'x2iezn.12xlarge', 'x2iezn.metal', 'x2gd.medium', 'x2gd.large', 'x2gd.xlarge',
    'x2gd.2xlarge', 'x2gd.4xlarge', 'x2gd.8xlarge', 'x2gd.12xlarge', 'x2gd.16xlarge', 'x2gd.metal', 'z1d.large',
    'z1d.xlarge', 'z1d.2xlarge', 'z1d.3xlarge', 'z1d.6xlarge', 'z1d.12xlarge', 'z1d.metal', 'x2idn.16xlarge',
    'x2idn.24xlarge', 'x2idn.32xlarge', 'x2iedn.xlarge', 'x2iedn.2xlarge', 'x2iedn.4xlarge', 'x2iedn.8xlarge',
    'x2iedn.16xlarge', 'x2iedn.24xlarge', 'x2iedn.32xlarge', 'c6a.large', 'c6a.xlarge', 'c6a.2xlarge', 'c6a.4xlarge',
    'c6a.8xlarge', 'c6a.12xlarge', 'c6a.16xlarge', 'c6a.24xlarge', 'c6a.32xlarge', 'c6a.48xlarge', 'c6a.metal',
    'm6a.metal', 'i4i.large', 'i4i.xlarge', 'i4i.2xlarge', 'i4i.4xlarge', 'i4i.8xlarge', 'i4i.16xlarge', 'i4i.32xlarge',
    'i4i.metal', 'x2idn.metal', 'x2iedn.metal', 'c7g.medium', 'c7g.large', 'c7g.xlarge', 'c7g.2xlarge', 'c7g.4xlarge',
    'c7g.8xlarge', 'c7g.12xlarge', 'c7g.16xlarge', 'mac2.metal', 'c6id.large', 'c6id.xlarge', 'c6id.2xlarge',
    'c6id.4xlarge', 'c6id.8xlarge', 'c6id.12xlarge', 'c6id.16xlarge', 'c6id.24xlarge', 'c6id.32xlarge', 'c6id.metal',
    'm6id.large', 'm6id.xlarge', 'm6id.2xlarge', 'm6id.4xlarge', 'm6id.8xlarge', 'm6id.12xlarge', 'm6id.16xlarge',
    'm6id.24xlarge', 'm6id.32xlarge', 'm6id.metal', 'r6id.large', 'r6id.xlarge', 'r6id.2xlarge', 'r6id.4xlarge',
    'r6id.8xlarge', 'r6id.12xlarge', 'r6id.16xlarge', 'r6id.24xlarge', 'r6id.32xlarge', 'r6id.metal', 'r6a.large',
    'r6a.xlarge', 'r6a.2xlarge', 'r6a.4xlarge', 'r6a.8xlarge', 'r6a.12xlarge', 'r6a.16xlarge', 'r6a.24xlarge',
    'r6a.32xlarge', 'r6a.48xlarge', 'r6a.metal', 'p4de.24xlarge', 'u-3tb1.56xlarge', 'u-18tb1.112xlarge',
    'u-24tb1.112xlarge', 'trn1.2xlarge', 'trn1.32xlarge', 'hpc6id.32xlarge', 'c6in.large', 'c6in.xlarge',
    'c6in.2xlarge', 'c6in.4xlarge', 'c6in.8xlarge', 'c6in.12xlarge', 'c6in.16xlarge', 'c6in.24xlarge', 'c6in.32xlarge',
    'm6in.large', 'm6in.xlarge', 'm6in.2xlarge', 'm6in.4xlarge', 'm6in.8xlarge', 'm6in.12xlarge', 'm6in.16xlarge',
    'm6in.24xlarge', 'm6in.32xlarge', 'm6idn.large', 'm6idn.xlarge', 'm6idn.2xlarge', 'm6idn.4xlarge', 'm6idn.8xlarge',
    'm6idn.12xlarge', 'm6idn.16xlarge', 'm6idn.24xlarge', 'm6idn.32xlarge', 'r6in.large', 'r6in.xlarge', 'r6in.2xlarge',
    'r6in.4xlarge', 'r6in.8xlarge', 'r6in.12xlarge', 'r6in.16xlarge', 'r6in.24xlarge', 'r6in.32xlarge', 'r6idn.large',
    'r6idn.xlarge', 'r6idn.2xlarge', 'r6idn.4xlarge', 'r6idn.8xlarge', 'r6idn.12xlarge', 'r6idn.16xlarge',
    'r6idn.24xlarge', 'r6idn.32xlarge', 'c7g.metal', 'm7g.medium', 'm7g.large', 'm7g.xlarge', 'm7g.2xlarge',
    'm7g.4xlarge', 'm7g.8xlarge', 'm7g.12xlarge', 'm7g.16xlarge', 'm7g.metal', 'r7g.medium', 'r7g.large', 'r7g.xlarge',
    'r7g.2xlarge', 'r7g.4xlarge', 'r7g.8xlarge', 'r7g.12xlarge', 'r7g.16xlarge', 'r7g.metal', 'c6in.metal',
    'm6in.metal', 'm6idn.metal', 'r6in.metal', 'r6idn.metal', 'inf2.xlarge', 'inf2.8xlarge', 'inf2.24xlarge',
    'inf2.48xlarge', 'trn1n.32xlarge', 'i4g.large', 'i4g.xlarge', 'i4g.2xlarge', 'i4g.4xlarge', 'i4g.8xlarge',
    'i4g.16xlarge', 'hpc7g.4xlarge', 'hpc7g.8xlarge', 'hpc7g.16xlarge', 'c7gn.medium', 'c7gn.large', 'c7gn.xlarge',
    'c7gn.2xlarge', 'c7gn.4xlarge', 'c7gn.8xlarge', 'c7gn.12xlarge', 'c7gn.16xlarge', 'p5.48xlarge', 'm7i.large',
    'm7i.xlarge', 'm7i.2xlarge', 'm7i.4xlarge', 'm7i.8xlarge', 'm7i.12xlarge', 'm7i.16xlarge', 'm7i.24xlarge',
    'm7i.48xlarge', 'm7i-flex.large', 'm7i-flex.xlarge', 'm7i-flex.2xlarge', 'm7i-flex.4xlarge', 'm7i-flex.8xlarge',
    'm7a.medium', 'm7a.large', 'm7a.xlarge', 'm7a.2xlarge', 'm7a.4xlarge', 'm7a.8xlarge', 'm7a.12xlarge',
    'm7a.16xlarge', 'm7a.24xlarge', 'm7a.32xlarge', 'm7a.48xlarge', 'm7a.metal-48xl', 'hpc7a.12xlarge',
    'hpc7a.24xlarge', 'hpc7a.48xlarge', 'hpc7a.96xlarge', 'c7gd.medium', 'c7gd.large', 'c7gd.xlarge', 'c7gd.2xlarge',
    'c7gd.4xlarge', 'c7gd.8xlarge', 'c7gd.12xlarge', 'c7gd.16xlarge', 'm7gd.medium', 'm7gd.large', 'm7gd.xlarge',
    'm7gd.2xlarge', 'm7gd.4xlarge', 'm7gd.8xlarge', 'm7gd.12xlarge', 'm7gd.16xlarge', 'r7gd.medium', 'r7gd.large',
    'r7gd.xlarge', 'r7gd.2xlarge', 'r7gd.4xlarge', 'r7gd.8xlarge', 'r7gd.12xlarge', 'r7gd.16xlarge', 'r7a.medium',
    'r7a.large', 'r7a.xlarge', 'r7a.2xlarge', 'r7a.4xlarge', 'r7a.8xlarge', 'r7a.12xlarge', 'r7a.16xlarge',
    'r7a.24xlarge', 'r7a.32xlarge', 'r7a.48xlarge', 'c7i.large', 'c7i.xlarge', 'c7i.2xlarge', 'c7i.4xlarge',
    'c7i.8xlarge', 'c7i.12xlarge', 'c7i.16xlarge', 'c7i.24xlarge', 'c7i.48xlarge', 'mac2-m2pro.metal', 'r7iz.large',
    'r7iz.xlarge', 'r7iz.2xlarge', 'r7iz.4xlarge', 'r7iz.8xlarge', 'r7iz.12xlarge', 'r7iz.16xlarge', 'r7iz.32xlarge',
    'c7a.medium', 'c7a.large', 'c7a.xlarge', 'c7a.2xlarge', 'c7a.4xlarge', 'c7a.8xlarge', 'c7a.12xlarge',
    'c7a.16xlarge', 'c7a.24xlarge', 'c7a.32xlarge', 'c7a.48xlarge', 'c7a.metal-48xl', 'r7a.metal-48xl', 'r7i.large',
    'r7i.xlarge', 'r7i.2xlarge', 'r7i.4xlarge', 'r7i.8xlarge', 'r7i.12xlarge', 'r7i.16xlarge', 'r7i.24xlarge',
    'r7i.48xlarge', 'dl2q.24xlarge', 'mac2-m2.metal', 'i4i.12xlarge', 'i4i.24xlarge', 'c7i.metal-24xl',
    'c7i.metal-48xl', 'm7i.metal-24xl', 'm7i.metal-48xl', 'r7i.metal-24xl', 'r7i.metal-48xl', 'r7iz.metal-16xl',
    'r7iz.metal-32xl', 'c7gd.metal', 'm7gd.metal', 'r7gd.metal', 'g6.xlarge', 'g6.2xlarge', 'g6.4xlarge', 'g6.8xlarge',
    'g6.12xlarge', 'g6.16xlarge', 'g6.24xlarge', 'g6.48xlarge', 'gr6.4xlarge', 'gr6.8xlarge', 'c7i-flex.large',
    'c7i-flex.xlarge', 'c7i-flex.2xlarge', 'c7i-flex.4xlarge', 'c7i-flex.8xlarge', 'u7i-12tb.224xlarge',
    'u7in-16tb.224xlarge', 'u7in-24tb.224xlarge', 'u7in-32tb.224xlarge', 'u7ib-12tb.224xlarge', 'c7gn.metal',
    'r8g.medium', 'r8g.large', 'r8g.xlarge', 'r8g.2xlarge', 'r8g.4xlarge', 'r8g.8xlarge', 'r8g.12xlarge',
    'r8g.16xlarge', 'r8g.24xlarge', 'r8g.48xlarge', 'r8g.metal-24xl', 'r8g.metal-48xl', 'mac2-m1ultra.metal',
    'g6e.xlarge', 'g6e.2xlarge', 'g6e.4xlarge', 'g6e.8xlarge', 'g6e.12xlarge', 'g6e.16xlarge', 'g6e.24xlarge',
    'g6e.48xlarge', 'c8g.medium', 'c8g.large', 'c8g.xlarge', 'c8g.2xlarge', 'c8g.4xlarge', 'c8g.8xlarge',
    'c8g.12xlarge', 'c8g.16xlarge', 'c8g.24xlarge', 'c8g.48xlarge', 'c8g.metal-24xl', 'c8g.metal-48xl', 'm8g.medium',
    'm8g.large', 'm8g.xlarge', 'm8g.2xlarge', 'm8g.4xlarge', 'm8g.8xlarge', 'm8g.12xlarge', 'm8g.16xlarge',
    'm8g.24xlarge', 'm8g.48xlarge', 'm8g.metal-24xl', 'm8g.metal-48xl', 'x8g.medium', 'x8g.large', 'x8g.xlarge',
    'x8g.2xlarge', 'x8g.4xlarge', 'x8g.8xlarge', 'x8g.12xlarge', 'x8g.16xlarge', 'x8g.24xlarge', 'x8g.48xlarge',
    'x8g.metal-24xl', 'x8g.metal-48xl', 'i7ie.large', 'i7ie.xlarge', 'i7ie.2xlarge', 'i7ie.3xlarge', 'i7ie.6xlarge',
    'i7ie.12xlarge', 'i7ie.18xlarge', 'i7ie.24xlarge', 'i7ie.48xlarge', 'i8g.large', 'i8g.xlarge', 'i8g.2xlarge',
    'i8g.4xlarge', 'i8g.8xlarge', 'i8g.12xlarge', 'i8g.16xlarge', 'i8g.24xlarge', 'i8g.metal-24xl', 'u7i-6tb.112xlarge',
    'u7i-8tb.112xlarge', 'u7inh-32tb.480xlarge', 'p5e.48xlarge', 'p5en.48xlarge', 'f2.12xlarge', 'f2.48xlarge',
    'trn2.48xlarge', 'c7i-flex.12xlarge', 'c7i-flex.16xlarge', 'm7i-flex.12xlarge', 'm7i-flex.16xlarge',
    'i7ie.metal-24xl', 'i7ie.metal-48xl', 'i8g.48xlarge', 'c8gd.medium', 'c8gd.large', 'c8gd.xlarge', 'c8gd.2xlarge',
    'c8gd.4xlarge', 'c8gd.8xlarge', 'c8gd.12xlarge', 'c8gd.16xlarge', 'c8gd.24xlarge', 'c8gd.48xlarge',
    'c8gd.metal-24xl', 'c8gd.metal-48xl', 'i7i.large', 'i7i.xlarge', 'i7i.2xlarge', 'i7i.4xlarge', 'i7i.8xlarge',
    'i7i.12xlarge', 'i7i.16xlarge', 'i7i.24xlarge', 'i7i.48xlarge', 'i7i.metal-24xl', 'i7i.metal-48xl',
    'p6-b200.48xlarge', 'm8gd.medium', 'm8gd.large', 'm8gd.xlarge', 'm8gd.2xlarge', 'm8gd.4xlarge', 'm8gd.8xlarge',
    'm8gd.12xlarge', 'm8gd.16xlarge', 'm8gd.24xlarge', 'm8gd.48xlarge', 'm8gd.metal-24xl', 'm8gd.metal-48xl',
    'r8gd.medium', 'r8gd.large', 'r8gd.xlarge', 'r8gd.2xlarge', 'r8gd.4xlarge', 'r8gd.8xlarge', 'r8gd.12xlarge',
    'r8gd.16xlarge', 'r8gd.24xlarge', 'r8gd.48xlarge', 'r8gd.metal-24xl', 'r8gd.metal-48xl', 'c8gn.medium',
    'c8gn.large', 'c8gn.xlarge', 'c8gn.2xlarge', 'c8gn.4xlarge', 'c8gn.8xlarge', 'c8gn.12xlarge', 'c8gn.16xlarge',
    'c8gn.24xlarge', 'c8gn.48xlarge', 'c8gn.metal-24xl', 'c8gn.metal-48xl', 'f2.6xlarge', 'p6e-gb200.36xlarge',
    'g6f.large', 'g6f.xlarge', 'g6f.2xlarge', 'g6f.4xlarge', 'gr6f.4xlarge', 'p5.4xlarge', 'r8i.large', 'r8i.xlarge',
    'r8i.2xlarge', 'r8i.4xlarge', 'r8i.8xlarge', 'r8i.12xlarge', 'r8i.16xlarge', 'r8i.24xlarge', 'r8i.32xlarge',
    'r8i.48xlarge', 'r8i.96xlarge', 'r8i.metal-48xl', 'r8i.metal-96xl', 'r8i-flex.large', 'r8i-flex.xlarge',
    'r8i-flex.2xlarge', 'r8i-flex.4xlarge', 'r8i-flex.8xlarge', 'r8i-flex.12xlarge', 'r8i-flex.16xlarge', 'm8i.large',
    'm8i.xlarge', 'm8i.2xlarge', 'm8i.4xlarge', 'm8i.8xlarge', 'm8i.12xlarge', 'm8i.16xlarge', 'm8i.24xlarge',
    'm8i.32xlarge', 'm8i.48xlarge', 'm8i.96xlarge', 'm8i.metal-48xl', 'm8i.metal-96xl', 'm8i-flex.large',
    'm8i-flex.xlarge', 'm8i-flex.2xlarge', 'm8i-flex.4xlarge', 'm8i-flex.8xlarge', 'm8i-flex.12xlarge',
    'm8i-flex.16xlarge', 'i8ge.large', 'i8ge.xlarge', 'i8ge.2xlarge', 'i8ge.3xlarge', 'i8ge.6xlarge', 'i8ge.12xlarge',
    'i8ge.18xlarge', 'i8ge.24xlarge', 'i8ge.48xlarge', 'i8ge.metal-24xl', 'i8ge.metal-48xl', 'mac-m4.metal',
    'mac-m4pro.metal', 'r8gn.medium', 'r8gn.large', 'r8gn.xlarge', 'r8gn.2xlarge', 'r8gn.4xlarge', 'r8gn.8xlarge',
    'r8gn.12xlarge', 'r8gn.16xlarge', 'r8gn.24xlarge', 'r8gn.48xlarge', 'r8gn.metal-24xl', 'r8gn.metal-48xl',
    'c8i.large', 'c8i.xlarge', 'c8i.2xlarge', 'c8i.4xlarge', 'c8i.8xlarge', 'c8i.12xlarge', 'c8i.16xlarge',
    'c8i.24xlarge', 'c8i.32xlarge', 'c8i.48xlarge', 'c8i.96xlarge', 'c8i.metal-48xl', 'c8i.metal-96xl',
    'c8i-flex.large', 'c8i-flex.xlarge', 'c8i-flex.2xlarge', 'c8i-flex.4xlarge', 'c8i-flex.8xlarge',
    'c8i-flex.12xlarge', 'c8i-flex.16xlarge', 'r8gb.medium', 'r8gb.large', 'r8gb.xlarge', 'r8gb.2xlarge',
    'r8gb.4xlarge', 'r8gb.8xlarge', 'r8gb.12xlarge', 'r8gb.16xlarge', 'r8gb.24xlarge', 'r8gb.metal-24xl', 'm8a.medium',
    'm8a.large', 'm8a.xlarge', 'm8a.2xlarge', 'm8a.4xlarge', 'm8a.8xlarge', 'm8a.12xlarge', 'm8a.16xlarge',
    'm8a.24xlarge', 'm8a.48xlarge', 'm8a.metal-24xl', 'm8a.metal-48xl', 'trn2.3xlarge', 'r8a.medium', 'r8a.large',
    'r8a.xlarge', 'r8a.2xlarge', 'r8a.4xlarge', 'r8a.8xlarge', 'r8a.12xlarge', 'r8a.16xlarge', 'r8a.24xlarge',
    'r8a.48xlarge', 'r8a.metal-24xl', 'r8a.metal-48xl', 'p6-b300.48xlarge', 'c8a.medium', 'c8a.large', 'c8a.xlarge',
    'c8a.2xlarge', 'c8a.4xlarge', 'c8a.8xlarge', 'c8a.12xlarge', 'c8a.16xlarge', 'c8a.24xlarge', 'c8a.48xlarge',
    'c8a.metal-24xl', 'c8a.metal-48xl', 'c8gb.12xlarge', 'c8gb.16xlarge', 'c8gb.24xlarge', 'c8gb.2xlarge',
    'c8gb.4xlarge', 'c8gb.8xlarge', 'c8gb.large', 'c8gb.medium', 'c8gb.metal-24xl', 'c8gb.xlarge', 'c8gb.48xlarge',
    'c8gb.metal-48xl', 'm8gb.12xlarge', 'm8gb.16xlarge', 'm8gb.24xlarge', 'm8gb.2xlarge', 'm8gb.4xlarge',
    'm8gb.8xlarge', 'm8gb.large', 'm8gb.medium', 'm8gb.xlarge', 'm8gb.48xlarge', 'm8gb.metal-24xl', 'm8gb.metal-48xl',
    'm8gn.12xlarge', 'm8gn.16xlarge', 'm8gn.24xlarge', 'm8gn.2xlarge', 'm8gn.48xlarge', 'm8gn.4xlarge', 'm8gn.8xlarge',
    'm8gn.large', 'm8gn.medium', 'm8gn.xlarge', 'm8gn.metal-24xl', 'm8gn.metal-48xl', 'x8aedz.12xlarge',
    'x8aedz.24xlarge', 'x8aedz.3xlarge', 'x8aedz.6xlarge', 'x8aedz.large', 'x8aedz.metal-12xl', 'x8aedz.metal-24xl',
    'x8aedz.xlarge', 'm8azn.medium', 'm8azn.large', 'm8azn.xlarge', 'm8azn.3xlarge', 'm8azn.6xlarge', 'm8azn.12xlarge',
    'm8azn.24xlarge', 'm8azn.metal-12xl', 'm8azn.metal-24xl', 'x8i.large', 'x8i.xlarge', 'x8i.2xlarge', 'x8i.4xlarge',
    'x8i.8xlarge', 'x8i.12xlarge', 'x8i.16xlarge', 'x8i.24xlarge', 'x8i.32xlarge', 'x8i.48xlarge', 'x8i.64xlarge',
    'x8i.96xlarge', 'x8i.metal-48xl', 'x8i.metal-96xl', 'mac-m4max.metal', 'g7e.2xlarge', 'g7e.4xlarge', 'g7e.8xlarge',
    'g7e.12xlarge', 'g7e.24xlarge', 'g7e.48xlarge', 'r8id.large', 'r8id.xlarge', 'r8id.2xlarge', 'r8id.4xlarge',
    'r8id.8xlarge', 'r8id.12xlarge', 'r8id.16xlarge', 'r8id.24xlarge', 'r8id.32xlarge', 'r8id.48xlarge',
    'r8id.96xlarge', 'r8id.metal-48xl', 'r8id.metal-96xl', 'c8id.large', 'c8id.xlarge', 'c8id.2xlarge', 'c8id.4xlarge',
    'c8id.8xlarge', 'c8id.12xlarge', 'c8id.16xlarge', 'c8id.24xlarge', 'c8id.32xlarge', 'c8id.48xlarge',
    'c8id.96xlarge', 'c8id.metal-48xl', 'c8id.metal-96xl', 'm8id.large', 'm8id.xlarge', 'm8id.2xlarge', 'm8id.4xlarge',
    'm8id.8xlarge', 'm8id.12xlarge', 'm8id.16xlarge', 'm8id.24xlarge', 'm8id.32xlarge', 'm8id.48xlarge',
    'm8id.96xlarge', 'm8id.metal-48xl', 'm8id.metal-96xl', 'hpc8a.96xlarge', 'c8in.large', 'c8in.xlarge',
    'c8in.2xlarge', 'c8in.4xlarge', 'c8in.8xlarge', 'c8in.12xlarge', 'c8in.16xlarge', 'c8in.24xlarge', 'c8in.32xlarge',
    'c8in.48xlarge', 'c8in.96xlarge', 'c8in.metal-48xl', 'c8in.metal-96xl', 'c8ib.large', 'c8ib.xlarge', 'c8ib.2xlarge',
    'c8ib.4xlarge', 'c8ib.8xlarge', 'c8ib.12xlarge', 'c8ib.16xlarge', 'c8ib.24xlarge', 'c8ib.32xlarge', 'c8ib.48xlarge',
    'c8ib.96xlarge', 'c8ib.metal-48xl', 'c8ib.metal-96xl', 'r8in.large', 'r8in.xlarge', 'r8in.2xlarge', 'r8in.4xlarge',
    'r8in.8xlarge', 'r8in.12xlarge', 'r8in.16xlarge', 'r8in.24xlarge', 'r8in.32xlarge', 'r8in.48xlarge',
    'r8in.96xlarge', 'r8ib.large', 'r8ib.xlarge', 'r8ib.2xlarge', 'r8ib.4xlarge', 'r8ib.8xlarge', 'r8ib.12xlarge',
    'r8ib.16xlarge', 'r8ib.24xlarge', 'r8ib.32xlarge', 'r8ib.48xlarge', 'r8ib.96xlarge', 'm8in.large', 'm8in.xlarge',
    'm8in.2xlarge', 'm8in.4xlarge', 'm8in.8xlarge', 'm8in.12xlarge', 'm8in.16xlarge', 'm8in.24xlarge', 'm8in.32xlarge',
    'm8in.48xlarge', 'm8in.96xlarge', 'm8ib.large', 'm8ib.xlarge', 'm8ib.2xlarge', 'm8ib.4xlarge', 'm8ib.8xlarge',
    'm8ib.12xlarge', 'm8ib.16xlarge', 'm8ib.24xlarge', 'm8ib.32xlarge', 'm8ib.48xlarge', 'm8ib.96xlarge', 'm8ine.large',
    'm8ine.xlarge', 'm8ine.2xlarge', 'm8ine.4xlarge', 'm8ine.8xlarge', 'm8ine.12xlarge', 'c8ine.large', 'c8ine.xlarge',
    'c8ine.2xlarge', 'c8ine.4xlarge', 'c8ine.8xlarge', 'c8ine.12xlarge', 'm8idn.large', 'm8idn.xlarge', 'm8idn.2xlarge',
    'm8idn.4xlarge', 'm8idn.8xlarge', 'm8idn.12xlarge', 'm8idn.16xlarge', 'm8idn.24xlarge', 'm8idn.32xlarge',
    'm8idn.48xlarge', 'm8idn.96xlarge', 'r8idn.large', 'r8idn.xlarge', 'r8idn.2xlarge', 'r8idn.4xlarge',
    'r8idn.8xlarge', 'r8idn.12xlarge', 'r8idn.16xlarge', 'r8idn.24xlarge', 'r8idn.32xlarge', 'r8idn.48xlarge',
    'r8idn.96xlarge', 'm8idb.large', 'm8idb.xlarge', 'm8idb.2xlarge', 'm8idb.4xlarge', 'm8idb.8xlarge',
    'm8idb.12xlarge', 'm8idb.16xlarge', 'm8idb.24xlarge', 'm8idb.32xlarge', 'm8idb.48xlarge', 'm8idb.96xlarge',
    'r8idb.large', 'r8idb.xlarge', 'r8idb.2xlarge', 'r8idb.4xlarge', 'r8idb.8xlarge', 'r8idb.12xlarge',
    'r8idb.16xlarge', 'r8idb.24xlarge', 'r8idb.32xlarge', 'r8idb.48xlarge', 'r8idb.96xlarge', 'mac-m3ultra.metal',
    'm9g.large', 'm9g.xlarge', 'm9g.2xlarge', 'm9g.4xlarge', 'm9g.8xlarge', 'm9g.12xlarge', 'm9g.16xlarge',
    'm9g.24xlarge', 'm9g.48xlarge', 'm9g.metal-24xl', 'm9g.metal-48xl', 'm9gd.large', 'm9gd.xlarge', 'm9gd.2xlarge',
    'm9gd.4xlarge', 'm9gd.8xlarge', 'm9gd.12xlarge', 'm9gd.16xlarge', 'm9gd.24xlarge', 'm9gd.48xlarge',
    'm9gd.metal-24xl', 'm9gd.metal-48xl', 'r8in.metal-48xl', 'r8in.metal-96xl', 'r8ib.metal-48xl', 'r8ib.metal-96xl',
    'r8idn.metal-48xl', 'r8idn.metal-96xl', 'r8idb.metal-48xl', 'r8idb.metal-96xl', 'm8in.metal-48xl',
    'm8in.metal-96xl', 'm8ib.metal-48xl', 'm8ib.metal-96xl', 'm8idn.metal-48xl', 'm8idn.metal-96xl', 'm8idb.metal-48xl',
    'm8idb.metal-96xl', 'g7.2xlarge', 'g7.4xlarge', 'g7.8xlarge', 'g7.12xlarge', 'g7.24xlarge', 'g7.48xlarge',
    'c9g.medium', 'c9g.large', 'c9g.xlarge', 'c9g.2xlarge', 'c9g.4xlarge', 'c9g.8xlarge', 'c9g.12xlarge',
    'c9g.16xlarge', 'c9g.24xlarge', 'c9g.48xlarge', 'c9g.metal-48xl', 'c9gd.medium', 'c9gd.large', 'c9gd.xlarge',
    'c9gd.2xlarge', 'c9gd.4xlarge', 'c9gd.8xlarge', 'c9gd.12xlarge', 'c9gd.16xlarge', 'c9gd.24xlarge', 'c9gd.48xlarge',
    'c9gd.metal-48xl', 'r9g.medium', 'r9g.large', 'r9g.xlarge', 'r9g.2xlarge', 'r9g.4xlarge', 'r9g.8xlarge',
    'r9g.12xlarge', 'r9g.16xlarge', 'r9g.24xlarge', 'r9g.48xlarge', 'r9g.metal-48xl', 'r9gd.medium', 'r9gd.large',
    'r9gd.xlarge', 'r9gd.2xlarge', 'r9gd.4xlarge', 'r9gd.8xlarge', 'r9gd.12xlarge', 'r9gd.16xlarge', 'r9gd.24xlarge',
    'r9gd.48xlarge', 'r9gd.metal-48xl', 'm9g.medium', 't8i.nano', 't8i.micro', 't8i.small', 't8i.medium',
    'i8g.metal-48xl', 'r8gb.48xlarge', 'r8gb.metal-48xl', 'm9gd.medium', 'trn2u.48xlarge',
]

IpAddressType = Literal['ipv4', 'dualstack', 'ipv6']

IpSource = Literal['amazon', 'byoip', 'none']

Ipv6AddressAttribute = Literal['public', 'private']

MarketType = Literal['spot', 'capacity-block', 'interruptible-capacity-reservation', 'on-demand']

MonitoringState = Literal['disabled', 'disabling', 'enabled', 'pending']

NestedVirtualizationSpecification = Literal['enabled', 'disabled']

NetworkFirewallConnectivityType = Literal['flexible', 'outbound-only', 'bidirectional', 'exclude', 'az-unsupported']

NetworkInterfaceCreationType = Literal['efa', 'efa-only', 'branch', 'trunk']

NetworkInterfaceStatus = Literal['available', 'associated', 'attaching', 'in-use', 'detaching']

NetworkInterfaceType = Literal[
    'interface', 'natGateway', 'efa', 'efa-only', 'trunk', 'load_balancer', 'network_load_balancer', 'vpc_endpoint',
    'branch', 'transit_gateway', 'lambda', 'quicksight', 'global_accelerator_managed', 'api_gateway_managed',
    'gateway_load_balancer', 'gateway_load_balancer_endpoint', 'iot_rules_managed', 'aws_codestar_connections_managed',
]

PayerResponsibility = Literal['ServiceOwner']

PayerResponsibilityScope = Literal['vpc-endpoint-charges', 'resource-gateway-charges']

PayerResponsibilityType = Literal['vpc-endpoint-account', 'resource-gateway-account', 'vpc-endpoint-service-account']

PermissionType = Literal['vpc-endpoint', 'transit-gateway-attachment']

PlatformValues = Literal['Windows']

PrefixListState = Literal[
    'create-in-progress', 'create-complete', 'create-failed', 'modify-in-progress', 'modify-complete', 'modify-failed',
    'restore-in-progress', 'restore-complete', 'restore-failed', 'delete-in-progress', 'delete-complete',
    'delete-failed',
]

PrincipalType = Literal['All', 'Service', 'OrganizationUnit', 'Account', 'User', 'Role']

ProductCodeValues = Literal['devpay', 'marketplace']

ResourceType = Literal[
    'capacity-reservation', 'client-vpn-endpoint', 'customer-gateway', 'carrier-gateway', 'coip-pool',
    'declarative-policies-report', 'dedicated-host', 'dhcp-options', 'egress-only-internet-gateway', 'elastic-ip',
    'elastic-gpu', 'export-image-task', 'export-instance-task', 'fca-policy', 'fleet', 'fpga-image', 'host-reservation',
    'image', 'image-usage-report', 'import-image-task', 'import-snapshot-task', 'instance', 'instance-event-window',
    'internet-gateway', 'ipam', 'ipam-pool', 'ipam-scope', 'ipv4pool-ec2', 'ipv6pool-ec2', 'key-pair',
    'launch-template', 'local-gateway', 'local-gateway-route-table', 'local-gateway-virtual-interface',
    'local-gateway-virtual-interface-group', 'local-gateway-route-table-vpc-association',
    'local-gateway-route-table-virtual-interface-group-association', 'natgateway', 'network-acl', 'network-interface',
    'network-insights-analysis', 'network-insights-path', 'network-insights-access-scope',
    'network-insights-access-scope-analysis', 'outpost-lag', 'placement-group', 'prefix-list',
    'replace-root-volume-task', 'reserved-instances', 'route-table', 'security-group', 'security-group-rule',
    'service-link-virtual-interface', 'snapshot', 'spot-fleet-request', 'spot-instances-request', 'subnet',
    'subnet-cidr-reservation', 'traffic-mirror-filter', 'traffic-mirror-session', 'traffic-mirror-target',
    'transit-gateway', 'transit-gateway-attachment', 'transit-gateway-connect-peer', 'transit-gateway-multicast-domain',
    'transit-gateway-policy-table', 'transit-gateway-metering-policy', 'transit-gateway-route-table',
    'transit-gateway-route-table-announcement', 'volume', 'vpc', 'vpc-endpoint', 'vpc-endpoint-connection',
    'vpc-endpoint-service', 'vpc-endpoint-service-permission', 'vpc-peering-connection', 'vpn-connection',
    'vpn-gateway', 'vpc-flow-log', 'capacity-reservation-fleet', 'traffic-mirror-filter-rule',
    'vpc-endpoint-connection-device-type', 'verified-access-instance', 'verified-access-group',
    'verified-access-endpoint', 'verified-access-policy', 'verified-access-trust-provider',
    'vpn-connection-device-type', 'vpc-block-public-access-exclusion', 'vpc-encryption-control', 'route-server',
    'route-server-endpoint', 'route-server-peer', 'ipam-resource-discovery', 'ipam-resource-discovery-association',
    'instance-connect-endpoint', 'verified-access-endpoint-target', 'ipam-external-resource-verification-token',
    'capacity-block', 'mac-modification-task', 'ipam-prefix-list-resolver', 'ipam-policy',
    'ipam-prefix-list-resolver-target', 'ipam-internet-registry-association', 'secondary-interface',
    'secondary-network', 'secondary-subnet', 'capacity-manager-data-export', 'vpn-concentrator', 'ipam-pool-allocation',
    'capacity-reservation-cancellation-quote', 'application-status-check', 'capacity-reservation-modification-quote',
    'metric-category',
]

RouteOrigin = Literal['CreateRouteTable', 'CreateRoute', 'EnableVgwRoutePropagation', 'Advertisement']

RouteState = Literal['active', 'blackhole', 'filtered']

RouteTableAssociationStateCode = Literal['associating', 'associated', 'disassociating', 'disassociated', 'failed']

RuleAction = Literal['allow', 'deny']

SecondaryInterfaceStatus = Literal['available', 'in-use']

SecondaryInterfaceType = Literal['secondary']

ServiceConnectivityType = Literal['ipv4', 'ipv6']

ServiceState = Literal['Pending', 'Available', 'Deleting', 'Deleted', 'Failed']

ServiceType = Literal['Interface', 'Gateway', 'GatewayLoadBalancer']

ShutdownBehavior = Literal['stop', 'terminate']

SpotInstanceType = Literal['one-time', 'persistent']

State = Literal[
    'PendingAcceptance', 'Pending', 'Available', 'Deleting', 'Deleted', 'Rejected', 'Failed', 'Expired', 'Partial',
]

SubnetCidrBlockStateCode = Literal['associating', 'associated', 'disassociating', 'disassociated', 'failing', 'failed']

SubnetState = Literal['pending', 'available', 'unavailable', 'failed', 'failed-insufficient-capacity']

Tenancy = Literal['default', 'dedicated', 'host']

VirtualizationType = Literal['hvm', 'paravirtual']

VolumeType = Literal['standard', 'io1', 'io2', 'gp2', 'sc1', 'st1', 'gp3']

VpcAttributeName = Literal['enableDnsSupport', 'enableDnsHostnames', 'enableNetworkAddressUsageMetrics']

VpcCidrBlockStateCode = Literal['associating', 'associated', 'disassociating', 'disassociated', 'failing', 'failed']

VpcEncryptionControlExclusionState = Literal['enabling', 'enabled', 'disabling', 'disabled']

VpcEncryptionControlExclusionStateInput = Literal['enable', 'disable']

VpcEncryptionControlMode = Literal['monitor', 'enforce']

VpcEncryptionControlState = Literal[
    'enforce-in-progress', 'monitor-in-progress', 'enforce-failed', 'monitor-failed', 'deleting', 'deleted',
    'available', 'creating', 'delete-failed',
]

VpcEndpointType = Literal['Interface', 'Gateway', 'GatewayLoadBalancer', 'Resource', 'ServiceNetwork', 'Tunnel']

VpcState = Literal['pending', 'available', 'deleting']


class AcceptVpcEndpointConnectionsRequest(TypedDict, total=False):
    DryRun: bool
    ServiceId: Required[str]
    VpcEndpointIds: Required[list[str]]
    TransitGatewayAttachmentIds: list[str]


class AcceptVpcEndpointConnectionsResult(TypedDict, total=False):
    Unsuccessful: list[UnsuccessfulItem]


class AccountAttribute(TypedDict, total=False):
    AttributeName: str
    AttributeValues: list[AccountAttributeValue]


class AccountAttributeValue(TypedDict, total=False):
    AttributeValue: str


class AddedPrincipal(TypedDict, total=False):
    PrincipalType: PrincipalType
    Principal: str
    ServicePermissionId: str
    ServiceId: str
    PermissionType: PermissionType


class AllowedPrincipal(TypedDict, total=False):
    PrincipalType: PrincipalType
    Principal: str
    ServicePermissionId: str
    Tags: list[Tag]
    ServiceId: str
    PermissionType: PermissionType


class AssociateRouteTableRequest(TypedDict, total=False):
    GatewayId: str
    PublicIpv4Pool: str
    DryRun: bool
    SubnetId: str
    RouteTableId: Required[str]


class AssociateRouteTableResult(TypedDict, total=False):
    AssociationId: str
    AssociationState: RouteTableAssociationState


class AttachmentEnaSrdSpecification(TypedDict, total=False):
    EnaSrdEnabled: bool
    EnaSrdUdpSpecification: AttachmentEnaSrdUdpSpecification


class AttachmentEnaSrdUdpSpecification(TypedDict, total=False):
    EnaSrdUdpEnabled: bool


class AttributeBooleanValue(TypedDict, total=False):
    Value: bool


class AuthorizeSecurityGroupEgressRequest(TypedDict, total=False):
    TagSpecifications: list[TagSpecification]
    DryRun: bool
    GroupId: Required[str]
    SourceSecurityGroupName: str
    SourceSecurityGroupOwnerId: str
    IpProtocol: str
    FromPort: int
    ToPort: int
    CidrIp: str
    IpPermissions: list[IpPermission]


class AuthorizeSecurityGroupEgressResult(TypedDict, total=False):
    Return: bool
    SecurityGroupRules: list[SecurityGroupRule]


class AuthorizeSecurityGroupIngressRequest(TypedDict, total=False):
    CidrIp: str
    FromPort: int
    GroupId: str
    GroupName: str
    IpPermissions: list[IpPermission]
    IpProtocol: str
    SourceSecurityGroupName: str
    SourceSecurityGroupOwnerId: str
    ToPort: int
    TagSpecifications: list[TagSpecification]
    DryRun: bool


class AuthorizeSecurityGroupIngressResult(TypedDict, total=False):
    Return: bool
    SecurityGroupRules: list[SecurityGroupRule]


class AvailabilityZone(TypedDict, total=False):
    OptInStatus: AvailabilityZoneOptInStatus
    Messages: list[AvailabilityZoneMessage]
    RegionName: str
    ZoneName: str
    ZoneId: str
    GroupName: str
    NetworkBorderGroup: str
    ZoneType: str
    ParentZoneName: str
    ParentZoneId: str
    GroupLongName: str
    Geography: list[AvailabilityZoneGeography]
    SubGeography: list[AvailabilityZoneSubGeography]
    State: AvailabilityZoneState


class AvailabilityZoneGeography(TypedDict, total=False):
    Name: str


class AvailabilityZoneMessage(TypedDict, total=False):
    Message: str


class AvailabilityZoneSubGeography(TypedDict, total=False):
    Name: str


class BlockDeviceMapping(TypedDict, total=False):
    Ebs: EbsBlockDevice
    NoDevice: str
    DeviceName: str
    VirtualName: str


class BlockPublicAccessStates(TypedDict, total=False):
    InternetGatewayBlockMode: BlockPublicAccessMode


class CapacityReservationSpecification(TypedDict, total=False):
    CapacityReservationPreference: CapacityReservationPreference
    CapacityReservationTarget: CapacityReservationTarget


class CapacityReservationSpecificationResponse(TypedDict, total=False):
    CapacityReservationPreference: CapacityReservationPreference
    CapacityReservationTarget: CapacityReservationTargetResponse


class CapacityReservationTarget(TypedDict, total=False):
    CapacityReservationId: str
    CapacityReservationResourceGroupArn: str


class CapacityReservationTargetResponse(TypedDict, total=False):
    CapacityReservationId: str
    CapacityReservationResourceGroupArn: str


class ConnectionNotification(TypedDict, total=False):
    ConnectionNotificationId: str
    ServiceId: str
    VpcEndpointId: str
    ConnectionNotificationType: ConnectionNotificationType
    ConnectionNotificationArn: str
    ConnectionEvents: list[str]
    ConnectionNotificationState: ConnectionNotificationState
    ServiceRegion: str


class ConnectionTrackingConfiguration(TypedDict, total=False):
    TcpEstablishedTimeout: int
    UdpStreamTimeout: int
    UdpTimeout: int


class ConnectionTrackingSpecificationRequest(TypedDict, total=False):
    TcpEstablishedTimeout: int
    UdpStreamTimeout: int
    UdpTimeout: int


class ConnectionTrackingSpecificationResponse(TypedDict, total=False):
    TcpEstablishedTimeout: int
    UdpStreamTimeout: int
    UdpTimeout: int


class CpuOptions(TypedDict, total=False):
    CoreCount: int
    ThreadsPerCore: int
    AmdSevSnp: AmdSevSnpSpecification
    NestedVirtualization: NestedVirtualizationSpecification


class CpuOptionsRequest(TypedDict, total=False):
    CoreCount: int
    ThreadsPerCore: int
    AmdSevSnp: AmdSevSnpSpecification
    NestedVirtualization: NestedVirtualizationSpecification


class CreateNetworkInterfaceRequest(TypedDict, total=False):
    Ipv4Prefixes: list[Ipv4PrefixSpecificationRequest]
    Ipv4PrefixCount: int
    Ipv6Prefixes: list[Ipv6PrefixSpecificationRequest]
    Ipv6PrefixCount: int
    InterfaceType: NetworkInterfaceCreationType
    TagSpecifications: list[TagSpecification]
    ClientToken: str
    EnablePrimaryIpv6: bool
    ConnectionTrackingSpecification: ConnectionTrackingSpecificationRequest
    Operator: OperatorRequest
    SubnetId: Required[str]
    Description: str
    PrivateIpAddress: str
    Groups: list[str]
    PrivateIpAddresses: list[PrivateIpAddressSpecification]
    SecondaryPrivateIpAddressCount: int
    Ipv6Addresses: list[InstanceIpv6Address]
    Ipv6AddressCount: int
    DryRun: bool


class CreateNetworkInterfaceResult(TypedDict, total=False):
    NetworkInterface: NetworkInterface
    ClientToken: str


class CreateRouteRequest(TypedDict, total=False):
    DestinationPrefixListId: str
    VpcEndpointId: str
    TransitGatewayId: str
    LocalGatewayId: str
    CarrierGatewayId: str
    CoreNetworkArn: str
    OdbNetworkArn: str
    DryRun: bool
    RouteTableId: Required[str]
    DestinationCidrBlock: str
    GatewayId: str
    DestinationIpv6CidrBlock: str
    EgressOnlyInternetGatewayId: str
    InstanceId: str
    NetworkInterfaceId: str
    VpcPeeringConnectionId: str
    NatGatewayId: str


class CreateRouteResult(TypedDict, total=False):
    Return: bool


class CreateRouteTableRequest(TypedDict, total=False):
    TagSpecifications: list[TagSpecification]
    ClientToken: str
    DryRun: bool
    VpcId: Required[str]


class CreateRouteTableResult(TypedDict, total=False):
    RouteTable: RouteTable
    ClientToken: str


class CreateSecurityGroupRequest(TypedDict, total=False):
    Description: Required[str]
    GroupName: Required[str]
    VpcId: str
    TagSpecifications: list[TagSpecification]
    DryRun: bool


class CreateSecurityGroupResult(TypedDict, total=False):
    GroupId: str
    Tags: list[Tag]
    SecurityGroupArn: str


class CreateSubnetRequest(TypedDict, total=False):
    TagSpecifications: list[TagSpecification]
    AvailabilityZone: str
    AvailabilityZoneId: str
    CidrBlock: str
    Ipv6CidrBlock: str
    OutpostArn: str
    VpcId: Required[str]
    Ipv6Native: bool
    Ipv4IpamPoolId: str
    Ipv4NetmaskLength: int
    Ipv6IpamPoolId: str
    Ipv6NetmaskLength: int
    DryRun: bool


class CreateSubnetResult(TypedDict, total=False):
    Subnet: Subnet


class CreateTagsRequest(TypedDict, total=False):
    DryRun: bool
    Resources: Required[list[str]]
    Tags: Required[list[Tag]]


class CreateVpcEndpointConnectionNotificationRequest(TypedDict, total=False):
    DryRun: bool
    ServiceId: str
    VpcEndpointId: str
    ConnectionNotificationArn: Required[str]
    ConnectionEvents: Required[list[str]]
    ClientToken: str


class CreateVpcEndpointConnectionNotificationResult(TypedDict, total=False):
    ConnectionNotification: ConnectionNotification
    ClientToken: str


class CreateVpcEndpointRequest(TypedDict, total=False):
    DryRun: bool
    VpcEndpointType: VpcEndpointType
    VpcId: Required[str]
    ServiceName: str
    PolicyDocument: str
    RouteTableIds: list[str]
    SubnetIds: list[str]
    SecurityGroupIds: list[str]
    IpAddressType: IpAddressType
    DnsOptions: DnsOptionsSpecification
    ClientToken: str
    PrivateDnsEnabled: bool
    TagSpecifications: list[TagSpecification]
    SubnetConfigurations: list[SubnetConfiguration]
    ServiceNetworkArn: str
    ResourceConfigurationArn: str
    ServiceRegion: str


class CreateVpcEndpointResult(TypedDict, total=False):
    VpcEndpoint: VpcEndpoint
    ClientToken: str


class CreateVpcEndpointServiceConfigurationRequest(TypedDict, total=False):
    DryRun: bool
    AcceptanceRequired: bool
    PrivateDnsName: str
    NetworkLoadBalancerArns: list[str]
    GatewayLoadBalancerArns: list[str]
    SupportedIpAddressTypes: list[str]
    SupportedRegions: list[str]
    ClientToken: str
    TagSpecifications: list[TagSpecification]


class CreateVpcEndpointServiceConfigurationResult(TypedDict, total=False):
    ServiceConfiguration: ServiceConfiguration
    ClientToken: str


class CreateVpcRequest(TypedDict, total=False):
    CidrBlock: str
    Ipv6Pool: str
    Ipv6CidrBlock: str
    Ipv4IpamPoolId: str
    Ipv4NetmaskLength: int
    Ipv6IpamPoolId: str
    Ipv6NetmaskLength: int
    Ipv6CidrBlockNetworkBorderGroup: str
    VpcEncryptionControl: VpcEncryptionControlConfiguration
    TagSpecifications: list[TagSpecification]
    DryRun: bool
    InstanceTenancy: Tenancy
    AmazonProvidedIpv6CidrBlock: bool


class CreateVpcResult(TypedDict, total=False):
    Vpc: Vpc


class CreditSpecificationRequest(TypedDict, total=False):
    CpuCredits: Required[str]


class DeleteNetworkInterfaceRequest(TypedDict, total=False):
    DryRun: bool
    NetworkInterfaceId: Required[str]


class DeleteRouteRequest(TypedDict, total=False):
    DestinationPrefixListId: str
    DryRun: bool
    RouteTableId: Required[str]
    DestinationCidrBlock: str
    DestinationIpv6CidrBlock: str


class DeleteRouteTableRequest(TypedDict, total=False):
    DryRun: bool
    RouteTableId: Required[str]


class DeleteSecurityGroupRequest(TypedDict, total=False):
    GroupId: str
    GroupName: str
    DryRun: bool


class DeleteSecurityGroupResult(TypedDict, total=False):
    Return: bool
    GroupId: str


class DeleteSubnetRequest(TypedDict, total=False):
    SubnetId: Required[str]
    DryRun: bool


class DeleteTagsRequest(TypedDict, total=False):
    DryRun: bool
    Resources: Required[list[str]]
    Tags: list[Tag]


class DeleteVpcEndpointConnectionNotificationsRequest(TypedDict, total=False):
    DryRun: bool
    ConnectionNotificationIds: Required[list[str]]


class DeleteVpcEndpointConnectionNotificationsResult(TypedDict, total=False):
    Unsuccessful: list[UnsuccessfulItem]


class DeleteVpcEndpointServiceConfigurationsRequest(TypedDict, total=False):
    DryRun: bool
    ServiceIds: Required[list[str]]


class DeleteVpcEndpointServiceConfigurationsResult(TypedDict, total=False):
    Unsuccessful: list[UnsuccessfulItem]


class DeleteVpcEndpointsRequest(TypedDict, total=False):
    DryRun: bool
    VpcEndpointIds: Required[list[str]]


class DeleteVpcEndpointsResult(TypedDict, total=False):
    Unsuccessful: list[UnsuccessfulItem]


class DeleteVpcRequest(TypedDict, total=False):
    VpcId: Required[str]
    DryRun: bool


class DescribeAccountAttributesRequest(TypedDict, total=False):
    DryRun: bool
    AttributeNames: list[AccountAttributeName]


class DescribeAccountAttributesResult(TypedDict, total=False):
    AccountAttributes: list[AccountAttribute]


class DescribeAvailabilityZonesRequest(TypedDict, total=False):
    ZoneNames: list[str]
    ZoneIds: list[str]
    AllAvailabilityZones: bool
    DryRun: bool
    Filters: list[Filter]


class DescribeAvailabilityZonesResult(TypedDict, total=False):
    AvailabilityZones: list[AvailabilityZone]


class DescribeInstancesRequest(TypedDict, total=False):
    InstanceIds: list[str]
    IncludeManagedResources: bool
    DryRun: bool
    Filters: list[Filter]
    NextToken: str
    MaxResults: int


class DescribeInstancesResult(TypedDict, total=False):
    NextToken: str
    Reservations: list[Reservation]


class DescribeManagedPrefixListsRequest(TypedDict, total=False):
    DryRun: bool
    Filters: list[Filter]
    MaxResults: int
    NextToken: str
    PrefixListIds: list[str]


class DescribeManagedPrefixListsResult(TypedDict, total=False):
    NextToken: str
    PrefixLists: list[ManagedPrefixList]


class DescribeNetworkAclsRequest(TypedDict, total=False):
    NextToken: str
    MaxResults: int
    DryRun: bool
    NetworkAclIds: list[str]
    Filters: list[Filter]


class DescribeNetworkAclsResult(TypedDict, total=False):
    NetworkAcls: list[NetworkAcl]
    NextToken: str


class DescribeNetworkInterfacesRequest(TypedDict, total=False):
    NextToken: str
    MaxResults: int
    IncludeManagedResources: bool
    DryRun: bool
    NetworkInterfaceIds: list[str]
    Filters: list[Filter]


class DescribeNetworkInterfacesResult(TypedDict, total=False):
    NetworkInterfaces: list[NetworkInterface]
    NextToken: str


class DescribePrefixListsRequest(TypedDict, total=False):
    DryRun: bool
    Filters: list[Filter]
    MaxResults: int
    NextToken: str
    PrefixListIds: list[str]


class DescribePrefixListsResult(TypedDict, total=False):
    NextToken: str
    PrefixLists: list[PrefixList]


class DescribeRouteTablesRequest(TypedDict, total=False):
    NextToken: str
    MaxResults: int
    DryRun: bool
    RouteTableIds: list[str]
    Filters: list[Filter]


class DescribeRouteTablesResult(TypedDict, total=False):
    RouteTables: list[RouteTable]
    NextToken: str


class DescribeSecurityGroupRulesRequest(TypedDict, total=False):
    Filters: list[Filter]
    SecurityGroupRuleIds: list[str]
    DryRun: bool
    NextToken: str
    MaxResults: int


class DescribeSecurityGroupRulesResult(TypedDict, total=False):
    SecurityGroupRules: list[SecurityGroupRule]
    NextToken: str


class DescribeSecurityGroupsRequest(TypedDict, total=False):
    GroupIds: list[str]
    GroupNames: list[str]
    NextToken: str
    MaxResults: int
    DryRun: bool
    Filters: list[Filter]


class DescribeSecurityGroupsResult(TypedDict, total=False):
    NextToken: str
    SecurityGroups: list[SecurityGroup]


class DescribeSubnetsRequest(TypedDict, total=False):
    Filters: list[Filter]
    SubnetIds: list[str]
    NextToken: str
    MaxResults: int
    DryRun: bool


class DescribeSubnetsResult(TypedDict, total=False):
    NextToken: str
    Subnets: list[Subnet]


class DescribeTagsRequest(TypedDict, total=False):
    DryRun: bool
    Filters: list[Filter]
    MaxResults: int
    NextToken: str


class DescribeTagsResult(TypedDict, total=False):
    NextToken: str
    Tags: list[TagDescription]


class DescribeVpcAttributeRequest(TypedDict, total=False):
    Attribute: Required[VpcAttributeName]
    VpcId: Required[str]
    DryRun: bool


class DescribeVpcAttributeResult(TypedDict, total=False):
    EnableDnsHostnames: AttributeBooleanValue
    EnableDnsSupport: AttributeBooleanValue
    EnableNetworkAddressUsageMetrics: AttributeBooleanValue
    VpcId: str


class DescribeVpcEndpointAssociationsRequest(TypedDict, total=False):
    DryRun: bool
    VpcEndpointIds: list[str]
    Filters: list[Filter]
    MaxResults: int
    NextToken: str


class DescribeVpcEndpointAssociationsResult(TypedDict, total=False):
    VpcEndpointAssociations: list[VpcEndpointAssociation]
    NextToken: str


class DescribeVpcEndpointConnectionNotificationsRequest(TypedDict, total=False):
    DryRun: bool
    ConnectionNotificationId: str
    Filters: list[Filter]
    MaxResults: int
    NextToken: str


class DescribeVpcEndpointConnectionNotificationsResult(TypedDict, total=False):
    ConnectionNotificationSet: list[ConnectionNotification]
    NextToken: str


class DescribeVpcEndpointConnectionsRequest(TypedDict, total=False):
    DryRun: bool
    Filters: list[Filter]
    MaxResults: int
    NextToken: str


class DescribeVpcEndpointConnectionsResult(TypedDict, total=False):
    VpcEndpointConnections: list[VpcEndpointConnection]
    NextToken: str


class DescribeVpcEndpointServiceConfigurationsRequest(TypedDict, total=False):
    DryRun: bool
    ServiceIds: list[str]
    Filters: list[Filter]
    MaxResults: int
    NextToken: str


class DescribeVpcEndpointServiceConfigurationsResult(TypedDict, total=False):
    ServiceConfigurations: list[ServiceConfiguration]
    NextToken: str


class DescribeVpcEndpointServicePermissionsRequest(TypedDict, total=False):
    DryRun: bool
    ServiceId: Required[str]
    Filters: list[Filter]
    MaxResults: int
    NextToken: str


class DescribeVpcEndpointServicePermissionsResult(TypedDict, total=False):
    AllowedPrincipals: list[AllowedPrincipal]
    NextToken: str


class DescribeVpcEndpointServicesRequest(TypedDict, total=False):
    DryRun: bool
    ServiceNames: list[str]
    Filters: list[Filter]
    MaxResults: int
    NextToken: str
    ServiceRegions: list[str]


class DescribeVpcEndpointServicesResult(TypedDict, total=False):
    ServiceNames: list[str]
    ServiceDetails: list[ServiceDetail]
    NextToken: str


class DescribeVpcEndpointsRequest(TypedDict, total=False):
    DryRun: bool
    VpcEndpointIds: list[str]
    Filters: list[Filter]
    MaxResults: int
    NextToken: str


class DescribeVpcEndpointsResult(TypedDict, total=False):
    VpcEndpoints: list[VpcEndpoint]
    NextToken: str


class DescribeVpcsRequest(TypedDict, total=False):
    Filters: list[Filter]
    VpcIds: list[str]
    NextToken: str
    MaxResults: int
    DryRun: bool


class DescribeVpcsResult(TypedDict, total=False):
    NextToken: str
    Vpcs: list[Vpc]


class DisassociateRouteTableRequest(TypedDict, total=False):
    DryRun: bool
    AssociationId: Required[str]


class DnsEntry(TypedDict, total=False):
    DnsName: str
    HostedZoneId: str


class DnsOptions(TypedDict, total=False):
    DnsRecordIpType: DnsRecordIpType
    PrivateDnsOnlyForInboundResolverEndpoint: bool
    PrivateDnsPreference: str
    PrivateDnsSpecifiedDomains: list[str]


class DnsOptionsSpecification(TypedDict, total=False):
    DnsRecordIpType: DnsRecordIpType
    PrivateDnsOnlyForInboundResolverEndpoint: bool
    PrivateDnsPreference: str
    PrivateDnsSpecifiedDomains: list[str]


class EbsBlockDevice(TypedDict, total=False):
    DeleteOnTermination: bool
    Iops: int
    SnapshotId: str
    VolumeSize: int
    VolumeType: VolumeType
    KmsKeyId: str
    Throughput: int
    OutpostArn: str
    AvailabilityZone: str
    Encrypted: bool
    VolumeInitializationRate: int
    AvailabilityZoneId: str
    EbsCardIndex: int


class EbsInstanceBlockDevice(TypedDict, total=False):
    AttachTime: str
    DeleteOnTermination: bool
    Status: AttachmentStatus
    VolumeId: str
    AssociatedResource: str
    VolumeOwnerId: str
    Operator: OperatorResponse
    EbsCardIndex: int


class ElasticGpuAssociation(TypedDict, total=False):
    ElasticGpuId: str
    ElasticGpuAssociationId: str
    ElasticGpuAssociationState: str
    ElasticGpuAssociationTime: str


class ElasticGpuSpecification(TypedDict, total=False):
    Type: Required[str]


class ElasticInferenceAccelerator(TypedDict, total=False):
    Type: Required[str]
    Count: int


class ElasticInferenceAcceleratorAssociation(TypedDict, total=False):
    ElasticInferenceAcceleratorArn: str
    ElasticInferenceAcceleratorAssociationId: str
    ElasticInferenceAcceleratorAssociationState: str
    ElasticInferenceAcceleratorAssociationTime: str


class EnaSrdSpecificationRequest(TypedDict, total=False):
    EnaSrdEnabled: bool
    EnaSrdUdpSpecification: EnaSrdUdpSpecificationRequest


class EnaSrdUdpSpecificationRequest(TypedDict, total=False):
    EnaSrdUdpEnabled: bool


class EnclaveOptions(TypedDict, total=False):
    Enabled: bool


class EnclaveOptionsRequest(TypedDict, total=False):
    Enabled: bool


class Filter(TypedDict, total=False):
    Name: str
    Values: list[str]


class GetManagedPrefixListEntriesRequest(TypedDict, total=False):
    DryRun: bool
    PrefixListId: Required[str]
    TargetVersion: int
    MaxResults: int
    NextToken: str


class GetManagedPrefixListEntriesResult(TypedDict, total=False):
    Entries: list[PrefixListEntry]
    NextToken: str


class GroupIdentifier(TypedDict, total=False):
    GroupId: str
    GroupName: str


class HibernationOptions(TypedDict, total=False):
    Configured: bool


class HibernationOptionsRequest(TypedDict, total=False):
    Configured: bool


class IamInstanceProfile(TypedDict, total=False):
    Arn: str
    Id: str


class IamInstanceProfileSpecification(TypedDict, total=False):
    Arn: str
    Name: str


class IcmpTypeCode(TypedDict, total=False):
    Code: int
    Type: int


class IgwFirewall(TypedDict, total=False):
    FirewallArn: str
    Status: FirewallOnboardingStatus


class Instance(TypedDict, total=False):
    Architecture: ArchitectureValues
    BlockDeviceMappings: list[InstanceBlockDeviceMapping]
    ClientToken: str
    EbsOptimized: bool
    EnaSupport: bool
    Hypervisor: HypervisorType
    IamInstanceProfile: IamInstanceProfile
    InstanceLifecycle: InstanceLifecycleType
    ElasticGpuAssociations: list[ElasticGpuAssociation]
    ElasticInferenceAcceleratorAssociations: list[ElasticInferenceAcceleratorAssociation]
    NetworkInterfaces: list[InstanceNetworkInterface]
    OutpostArn: str
    RootDeviceName: str
    RootDeviceType: DeviceType
    SecurityGroups: list[GroupIdentifier]
    SourceDestCheck: bool
    SpotInstanceRequestId: str
    SriovNetSupport: str
    StateReason: StateReason
    Tags: list[Tag]
    VirtualizationType: VirtualizationType
    CpuOptions: CpuOptions
    CapacityBlockId: str
    CapacityReservationId: str
    CapacityReservationSpecification: CapacityReservationSpecificationResponse
    HibernationOptions: HibernationOptions
    Licenses: list[LicenseConfiguration]
    MetadataOptions: InstanceMetadataOptionsResponse
    EnclaveOptions: EnclaveOptions
    BootMode: BootModeValues
    PlatformDetails: str
    UsageOperation: str
    UsageOperationUpdateTime: str
    PrivateDnsNameOptions: PrivateDnsNameOptionsResponse
    Ipv6Address: str
    TpmSupport: str
    MaintenanceOptions: InstanceMaintenanceOptions
    CurrentInstanceBootMode: InstanceBootModeValues
    NetworkPerformanceOptions: InstanceNetworkPerformanceOptions
    Operator: OperatorResponse
    SecondaryInterfaces: list[InstanceSecondaryInterface]
    InstanceId: str
    ImageId: str
    State: InstanceState
    PrivateDnsName: str
    PublicDnsName: str
    StateTransitionReason: str
    KeyName: str
    AmiLaunchIndex: int
    ProductCodes: list[ProductCode]
    InstanceType: InstanceType
    LaunchTime: str
    Placement: Placement
    KernelId: str
    RamdiskId: str
    Platform: PlatformValues
    Monitoring: Monitoring
    SubnetId: str
    VpcId: str
    PrivateIpAddress: str
    PublicIpAddress: str


class InstanceAttachmentEnaSrdSpecification(TypedDict, total=False):
    EnaSrdEnabled: bool
    EnaSrdUdpSpecification: InstanceAttachmentEnaSrdUdpSpecification


class InstanceAttachmentEnaSrdUdpSpecification(TypedDict, total=False):
    EnaSrdUdpEnabled: bool


class InstanceBlockDeviceMapping(TypedDict, total=False):
    DeviceName: str
    Ebs: EbsInstanceBlockDevice


class InstanceIpv4Prefix(TypedDict, total=False):
    Ipv4Prefix: str


class InstanceIpv6Address(TypedDict, total=False):
    Ipv6Address: str
    IsPrimaryIpv6: bool


class InstanceIpv6Prefix(TypedDict, total=False):
    Ipv6Prefix: str


class InstanceMaintenanceOptions(TypedDict, total=False):
    AutoRecovery: InstanceAutoRecoveryState
    RebootMigration: InstanceRebootMigrationState


class InstanceMaintenanceOptionsRequest(TypedDict, total=False):
    AutoRecovery: InstanceAutoRecoveryState


class InstanceMarketOptionsRequest(TypedDict, total=False):
    MarketType: MarketType
    SpotOptions: SpotMarketOptions


class InstanceMetadataOptionsRequest(TypedDict, total=False):
    HttpTokens: HttpTokensState
    HttpPutResponseHopLimit: int
    HttpEndpoint: InstanceMetadataEndpointState
    HttpProtocolIpv6: InstanceMetadataProtocolState
    InstanceMetadataTags: InstanceMetadataTagsState


class InstanceMetadataOptionsResponse(TypedDict, total=False):
    State: InstanceMetadataOptionsState
    HttpTokens: HttpTokensState
    HttpPutResponseHopLimit: int
    HttpEndpoint: InstanceMetadataEndpointState
    HttpProtocolIpv6: InstanceMetadataProtocolState
    InstanceMetadataTags: InstanceMetadataTagsState


class InstanceNetworkInterface(TypedDict, total=False):
    Association: InstanceNetworkInterfaceAssociation
    Attachment: InstanceNetworkInterfaceAttachment
    Description: str
    Groups: list[GroupIdentifier]
    Ipv6Addresses: list[InstanceIpv6Address]
    MacAddress: str
    NetworkInterfaceId: str
    OwnerId: str
    PrivateDnsName: str
    PrivateIpAddress: str
    PrivateIpAddresses: list[InstancePrivateIpAddress]
    SourceDestCheck: bool
    Status: NetworkInterfaceStatus
    SubnetId: str
    VpcId: str
    InterfaceType: str
    Ipv4Prefixes: list[InstanceIpv4Prefix]
    Ipv6Prefixes: list[InstanceIpv6Prefix]
    ConnectionTrackingConfiguration: ConnectionTrackingSpecificationResponse
    Operator: OperatorResponse


class InstanceNetworkInterfaceAssociation(TypedDict, total=False):
    CarrierIp: str
    CustomerOwnedIp: str
    IpOwnerId: str
    PublicDnsName: str
    PublicIp: str


class InstanceNetworkInterfaceAttachment(TypedDict, total=False):
    AttachTime: str
    AttachmentId: str
    DeleteOnTermination: bool
    DeviceIndex: int
    Status: AttachmentStatus
    NetworkCardIndex: int
    EnaSrdSpecification: InstanceAttachmentEnaSrdSpecification
    EnaQueueCount: int


class InstanceNetworkInterfaceSpecification(TypedDict, total=False):
    AssociatePublicIpAddress: bool
    DeleteOnTermination: bool
    Description: str
    DeviceIndex: int
    Groups: list[str]
    Ipv6AddressCount: int
    Ipv6Addresses: list[InstanceIpv6Address]
    NetworkInterfaceId: str
    PrivateIpAddress: str
    PrivateIpAddresses: list[PrivateIpAddressSpecification]
    SecondaryPrivateIpAddressCount: int
    SubnetId: str
    AssociateCarrierIpAddress: bool
    InterfaceType: str
    NetworkCardIndex: int
    Ipv4Prefixes: list[Ipv4PrefixSpecificationRequest]
    Ipv4PrefixCount: int
    Ipv6Prefixes: list[Ipv6PrefixSpecificationRequest]
    Ipv6PrefixCount: int
    PrimaryIpv6: bool
    EnaSrdSpecification: EnaSrdSpecificationRequest
    ConnectionTrackingSpecification: ConnectionTrackingSpecificationRequest
    EnaQueueCount: int


class InstanceNetworkPerformanceOptions(TypedDict, total=False):
    BandwidthWeighting: InstanceBandwidthWeighting


class InstanceNetworkPerformanceOptionsRequest(TypedDict, total=False):
    BandwidthWeighting: InstanceBandwidthWeighting


class InstancePrivateIpAddress(TypedDict, total=False):
    Association: InstanceNetworkInterfaceAssociation
    Primary: bool
    PrivateDnsName: str
    PrivateIpAddress: str


class InstanceSecondaryInterface(TypedDict, total=False):
    Attachment: InstanceSecondaryInterfaceAttachment
    MacAddress: str
    SecondaryInterfaceId: str
    OwnerId: str
    PrivateIpAddresses: list[InstanceSecondaryInterfacePrivateIpAddress]
    SourceDestCheck: bool
    Status: SecondaryInterfaceStatus
    SecondarySubnetId: str
    SecondaryNetworkId: str
    InterfaceType: SecondaryInterfaceType


class InstanceSecondaryInterfaceAttachment(TypedDict, total=False):
    AttachTime: str
    AttachmentId: str
    DeleteOnTermination: bool
    DeviceIndex: int
    Status: AttachmentStatus
    NetworkCardIndex: int


class InstanceSecondaryInterfacePrivateIpAddress(TypedDict, total=False):
    PrivateIpAddress: str


class InstanceSecondaryInterfacePrivateIpAddressRequest(TypedDict, total=False):
    PrivateIpAddress: Required[str]


class InstanceSecondaryInterfaceSpecificationRequest(TypedDict, total=False):
    DeleteOnTermination: bool
    DeviceIndex: int
    PrivateIpAddresses: list[InstanceSecondaryInterfacePrivateIpAddressRequest]
    PrivateIpAddressCount: int
    SecondarySubnetId: str
    InterfaceType: SecondaryInterfaceType
    NetworkCardIndex: int


class InstanceState(TypedDict, total=False):
    Code: int
    Name: InstanceStateName


class InstanceStateChange(TypedDict, total=False):
    InstanceId: str
    CurrentState: InstanceState
    PreviousState: InstanceState


class IpPermission(TypedDict, total=False):
    IpProtocol: str
    FromPort: int
    ToPort: int
    UserIdGroupPairs: list[UserIdGroupPair]
    IpRanges: list[IpRange]
    Ipv6Ranges: list[Ipv6Range]
    PrefixListIds: list[PrefixListId]


class IpRange(TypedDict, total=False):
    Description: str
    CidrIp: str


class Ipv4PrefixSpecification(TypedDict, total=False):
    Ipv4Prefix: str


class Ipv4PrefixSpecificationRequest(TypedDict, total=False):
    Ipv4Prefix: str


class Ipv6PrefixSpecification(TypedDict, total=False):
    Ipv6Prefix: str


class Ipv6PrefixSpecificationRequest(TypedDict, total=False):
    Ipv6Prefix: str


class Ipv6Range(TypedDict, total=False):
    Description: str
    CidrIpv6: str


class LastError(TypedDict, total=False):
    Message: str
    Code: str


class LaunchTemplateSpecification(TypedDict, total=False):
    LaunchTemplateId: str
    LaunchTemplateName: str
    Version: str


class LicenseConfiguration(TypedDict, total=False):
    LicenseConfigurationArn: str


class LicenseConfigurationRequest(TypedDict, total=False):
    LicenseConfigurationArn: str


class ManagedPrefixList(TypedDict, total=False):
    PrefixListId: str
    AddressFamily: str
    State: PrefixListState
    StateMessage: str
    PrefixListArn: str
    PrefixListName: str
    MaxEntries: int
    Version: int
    Tags: list[Tag]
    OwnerId: str
    IpamPrefixListResolverTargetId: str
    IpamPrefixListResolverSyncEnabled: bool


class ModifySecurityGroupRulesRequest(TypedDict, total=False):
    GroupId: Required[str]
    SecurityGroupRules: Required[list[SecurityGroupRuleUpdate]]
    DryRun: bool


class ModifySecurityGroupRulesResult(TypedDict, total=False):
    Return: bool


class ModifySubnetAttributeRequest(TypedDict, total=False):
    AssignIpv6AddressOnCreation: AttributeBooleanValue
    MapPublicIpOnLaunch: AttributeBooleanValue
    SubnetId: Required[str]
    MapCustomerOwnedIpOnLaunch: AttributeBooleanValue
    CustomerOwnedIpv4Pool: str
    EnableDns64: AttributeBooleanValue
    PrivateDnsHostnameTypeOnLaunch: HostnameType
    EnableResourceNameDnsARecordOnLaunch: AttributeBooleanValue
    EnableResourceNameDnsAAAARecordOnLaunch: AttributeBooleanValue
    EnableLniAtDeviceIndex: int
    DisableLniAtDeviceIndex: AttributeBooleanValue


class ModifyVpcAttributeRequest(TypedDict, total=False):
    EnableDnsHostnames: AttributeBooleanValue
    EnableDnsSupport: AttributeBooleanValue
    VpcId: Required[str]
    EnableNetworkAddressUsageMetrics: AttributeBooleanValue


class ModifyVpcEndpointConnectionNotificationRequest(TypedDict, total=False):
    DryRun: bool
    ConnectionNotificationId: Required[str]
    ConnectionNotificationArn: str
    ConnectionEvents: list[str]


class ModifyVpcEndpointConnectionNotificationResult(TypedDict, total=False):
    ReturnValue: bool


class ModifyVpcEndpointPayerResponsibilityRequest(TypedDict, total=False):
    DryRun: bool
    ServiceId: str
    VpcEndpointId: Required[str]
    PayerResponsibility: Required[PayerResponsibilityType]
    Scope: Required[PayerResponsibilityScope]


class ModifyVpcEndpointPayerResponsibilityResult(TypedDict, total=False):
    VpcEndpointId: str
    PayerResponsibilities: list[PayerResponsibilityEntry]


class ModifyVpcEndpointRequest(TypedDict, total=False):
    DryRun: bool
    VpcEndpointId: Required[str]
    ResetPolicy: bool
    PolicyDocument: str
    AddRouteTableIds: list[str]
    RemoveRouteTableIds: list[str]
    AddSubnetIds: list[str]
    RemoveSubnetIds: list[str]
    AddSecurityGroupIds: list[str]
    RemoveSecurityGroupIds: list[str]
    IpAddressType: IpAddressType
    DnsOptions: DnsOptionsSpecification
    PrivateDnsEnabled: bool
    SubnetConfigurations: list[SubnetConfiguration]


class ModifyVpcEndpointResult(TypedDict, total=False):
    Return: bool


class ModifyVpcEndpointServiceConfigurationRequest(TypedDict, total=False):
    DryRun: bool
    ServiceId: Required[str]
    PrivateDnsName: str
    RemovePrivateDnsName: bool
    AcceptanceRequired: bool
    AddNetworkLoadBalancerArns: list[str]
    RemoveNetworkLoadBalancerArns: list[str]
    AddGatewayLoadBalancerArns: list[str]
    RemoveGatewayLoadBalancerArns: list[str]
    AddSupportedIpAddressTypes: list[str]
    RemoveSupportedIpAddressTypes: list[str]
    AddSupportedRegions: list[str]
    RemoveSupportedRegions: list[str]


class ModifyVpcEndpointServiceConfigurationResult(TypedDict, total=False):
    Return: bool


class ModifyVpcEndpointServicePayerResponsibilityRequest(TypedDict, total=False):
    DryRun: bool
    ServiceId: Required[str]
    PayerResponsibility: Required[PayerResponsibility]


class ModifyVpcEndpointServicePayerResponsibilityResult(TypedDict, total=False):
    ReturnValue: bool


class ModifyVpcEndpointServicePermissionsRequest(TypedDict, total=False):
    DryRun: bool
    ServiceId: Required[str]
    AddAllowedPrincipals: list[str]
    RemoveAllowedPrincipals: list[str]
    PermissionType: PermissionType


class ModifyVpcEndpointServicePermissionsResult(TypedDict, total=False):
    AddedPrincipals: list[AddedPrincipal]
    ReturnValue: bool


class Monitoring(TypedDict, total=False):
    MetricCategoryIds: list[str]
    State: MonitoringState


class NetworkAcl(TypedDict, total=False):
    Associations: list[NetworkAclAssociation]
    Entries: list[NetworkAclEntry]
    IsDefault: bool
    NetworkAclId: str
    Tags: list[Tag]
    VpcId: str
    OwnerId: str


class NetworkAclAssociation(TypedDict, total=False):
    NetworkAclAssociationId: str
    NetworkAclId: str
    SubnetId: str


class NetworkAclEntry(TypedDict, total=False):
    CidrBlock: str
    Egress: bool
    IcmpTypeCode: IcmpTypeCode
    Ipv6CidrBlock: str
    PortRange: PortRange
    Protocol: str
    RuleAction: RuleAction
    RuleNumber: int


class NetworkFirewallAssociation(TypedDict, total=False):
    FirewallArn: str
    FirewallOnboardingStatus: FirewallOnboardingStatus
    FirewallMode: FirewallMode


class NetworkInterface(TypedDict, total=False):
    Association: NetworkInterfaceAssociation
    Attachment: NetworkInterfaceAttachment
    AvailabilityZone: str
    ConnectionTrackingConfiguration: ConnectionTrackingConfiguration
    Description: str
    Groups: list[GroupIdentifier]
    InterfaceType: NetworkInterfaceType
    Ipv6Addresses: list[NetworkInterfaceIpv6Address]
    MacAddress: str
    NetworkInterfaceId: str
    OutpostArn: str
    OwnerId: str
    PrivateDnsName: str
    PublicDnsName: str
    PublicIpDnsNameOptions: PublicIpDnsNameOptions
    PrivateIpAddress: str
    PrivateIpAddresses: list[NetworkInterfacePrivateIpAddress]
    Ipv4Prefixes: list[Ipv4PrefixSpecification]
    Ipv6Prefixes: list[Ipv6PrefixSpecification]
    RequesterId: str
    RequesterManaged: bool
    SourceDestCheck: bool
    Status: NetworkInterfaceStatus
    SubnetId: str
    TagSet: list[Tag]
    VpcId: str
    DenyAllIgwTraffic: bool
    Ipv6Native: bool
    Ipv6Address: str
    Operator: OperatorResponse
    AssociatedSubnets: list[str]
    AvailabilityZoneId: str


class NetworkInterfaceAssociation(TypedDict, total=False):
    AllocationId: str
    AssociationId: str
    IpOwnerId: str
    PublicDnsName: str
    PublicIp: str
    CustomerOwnedIp: str
    CarrierIp: str


class NetworkInterfaceAttachment(TypedDict, total=False):
    AttachTime: str
    AttachmentId: str
    DeleteOnTermination: bool
    DeviceIndex: int
    NetworkCardIndex: int
    InstanceId: str
    InstanceOwnerId: str
    Status: AttachmentStatus
    EnaSrdSpecification: AttachmentEnaSrdSpecification
    EnaQueueCount: int


class NetworkInterfaceIpv6Address(TypedDict, total=False):
    Ipv6Address: str
    PublicIpv6DnsName: str
    IsPrimaryIpv6: bool


class NetworkInterfacePrivateIpAddress(TypedDict, total=False):
    Association: NetworkInterfaceAssociation
    Primary: bool
    PrivateDnsName: str
    PrivateIpAddress: str


class OperatorRequest(TypedDict, total=False):
    Principal: str


class OperatorResponse(TypedDict, total=False):
    Managed: bool
    Principal: str
    HiddenByDefault: bool


class PayerResponsibilityEntry(TypedDict, total=False):
    Scope: PayerResponsibilityScope
    PayerResponsibilityType: PayerResponsibilityType


class Placement(TypedDict, total=False):
    AvailabilityZoneId: str
    Affinity: str
    GroupName: str
    PartitionNumber: int
    HostId: str
    Tenancy: Tenancy
    SpreadDomain: str
    HostResourceGroupArn: str
    GroupId: str
    AvailabilityZone: str


class PortRange(TypedDict, total=False):
    From: int
    To: int


class PrefixList(TypedDict, total=False):
    Cidrs: list[str]
    PrefixListId: str
    PrefixListName: str


class PrefixListEntry(TypedDict, total=False):
    Cidr: str
    Description: str


class PrefixListId(TypedDict, total=False):
    Description: str
    PrefixListId: str


class PrivateDnsDetails(TypedDict, total=False):
    PrivateDnsName: str


class PrivateDnsNameConfiguration(TypedDict, total=False):
    State: DnsNameState
    Type: str
    Value: str
    Name: str


class PrivateDnsNameOptionsOnLaunch(TypedDict, total=False):
    HostnameType: HostnameType
    EnableResourceNameDnsARecord: bool
    EnableResourceNameDnsAAAARecord: bool


class PrivateDnsNameOptionsRequest(TypedDict, total=False):
    HostnameType: HostnameType
    EnableResourceNameDnsARecord: bool
    EnableResourceNameDnsAAAARecord: bool


class PrivateDnsNameOptionsResponse(TypedDict, total=False):
    HostnameType: HostnameType
    EnableResourceNameDnsARecord: bool
    EnableResourceNameDnsAAAARecord: bool


class PrivateIpAddressSpecification(TypedDict, total=False):
    Primary: bool
    PrivateIpAddress: str


class ProductCode(TypedDict, total=False):
    ProductCodeId: str
    ProductCodeType: ProductCodeValues


class PropagatingVgw(TypedDict, total=False):
    GatewayId: str


class PublicIpDnsNameOptions(TypedDict, total=False):
    DnsHostnameType: str
    PublicIpv4DnsName: str
    PublicIpv6DnsName: str
    PublicDualStackDnsName: str


class ReferencedSecurityGroup(TypedDict, total=False):
    GroupId: str
    PeeringStatus: str
    UserId: str
    VpcId: str
    VpcPeeringConnectionId: str


class RejectVpcEndpointConnectionsRequest(TypedDict, total=False):
    DryRun: bool
    ServiceId: Required[str]
    VpcEndpointIds: Required[list[str]]
    TransitGatewayAttachmentIds: list[str]


class RejectVpcEndpointConnectionsResult(TypedDict, total=False):
    Unsuccessful: list[UnsuccessfulItem]


class ReplaceRouteTableAssociationRequest(TypedDict, total=False):
    DryRun: bool
    AssociationId: Required[str]
    RouteTableId: Required[str]


class ReplaceRouteTableAssociationResult(TypedDict, total=False):
    NewAssociationId: str
    AssociationState: RouteTableAssociationState


class Reservation(TypedDict, total=False):
    ReservationId: str
    OwnerId: str
    RequesterId: str
    Groups: list[GroupIdentifier]
    Instances: list[Instance]


class RevokeSecurityGroupEgressRequest(TypedDict, total=False):
    SecurityGroupRuleIds: list[str]
    DryRun: bool
    GroupId: Required[str]
    SourceSecurityGroupName: str
    SourceSecurityGroupOwnerId: str
    IpProtocol: str
    FromPort: int
    ToPort: int
    CidrIp: str
    IpPermissions: list[IpPermission]


class RevokeSecurityGroupEgressResult(TypedDict, total=False):
    Return: bool
    UnknownIpPermissions: list[IpPermission]
    RevokedSecurityGroupRules: list[RevokedSecurityGroupRule]


class RevokeSecurityGroupIngressRequest(TypedDict, total=False):
    CidrIp: str
    FromPort: int
    GroupId: str
    GroupName: str
    IpPermissions: list[IpPermission]
    IpProtocol: str
    SourceSecurityGroupName: str
    SourceSecurityGroupOwnerId: str
    ToPort: int
    SecurityGroupRuleIds: list[str]
    DryRun: bool


class RevokeSecurityGroupIngressResult(TypedDict, total=False):
    Return: bool
    UnknownIpPermissions: list[IpPermission]
    RevokedSecurityGroupRules: list[RevokedSecurityGroupRule]


class RevokedSecurityGroupRule(TypedDict, total=False):
    SecurityGroupRuleId: str
    GroupId: str
    IsEgress: bool
    IpProtocol: str
    FromPort: int
    ToPort: int
    CidrIpv4: str
    CidrIpv6: str
    PrefixListId: str
    ReferencedGroupId: str
    Description: str


class Route(TypedDict, total=False):
    DestinationCidrBlock: str
    DestinationIpv6CidrBlock: str
    DestinationPrefixListId: str
    EgressOnlyInternetGatewayId: str
    GatewayId: str
    InstanceId: str
    InstanceOwnerId: str
    NatGatewayId: str
    TransitGatewayId: str
    LocalGatewayId: str
    CarrierGatewayId: str
    NetworkInterfaceId: str
    Origin: RouteOrigin
    State: RouteState
    VpcPeeringConnectionId: str
    CoreNetworkArn: str
    OdbNetworkArn: str
    IpAddress: str
    IgwFirewall: IgwFirewall


class RouteTable(TypedDict, total=False):
    Associations: list[RouteTableAssociation]
    PropagatingVgws: list[PropagatingVgw]
    RouteTableId: str
    Routes: list[Route]
    Tags: list[Tag]
    VpcId: str
    OwnerId: str


class RouteTableAssociation(TypedDict, total=False):
    Main: bool
    RouteTableAssociationId: str
    RouteTableId: str
    SubnetId: str
    GatewayId: str
    PublicIpv4Pool: str
    AssociationState: RouteTableAssociationState


class RouteTableAssociationState(TypedDict, total=False):
    State: RouteTableAssociationStateCode
    StatusMessage: str


class RunInstancesMonitoringEnabled(TypedDict, total=False):
    MetricCategoryIds: list[str]
    Enabled: Required[bool]


class RunInstancesRequest(TypedDict, total=False):
    BlockDeviceMappings: list[BlockDeviceMapping]
    ImageId: str
    InstanceType: InstanceType
    Ipv6AddressCount: int
    Ipv6Addresses: list[InstanceIpv6Address]
    KernelId: str
    KeyName: str
    MaxCount: Required[int]
    MinCount: Required[int]
    Monitoring: RunInstancesMonitoringEnabled
    Placement: Placement
    RamdiskId: str
    SecurityGroupIds: list[str]
    SecurityGroups: list[str]
    SubnetId: str
    UserData: str
    ElasticGpuSpecification: list[ElasticGpuSpecification]
    ElasticInferenceAccelerators: list[ElasticInferenceAccelerator]
    TagSpecifications: list[TagSpecification]
    LaunchTemplate: LaunchTemplateSpecification
    InstanceMarketOptions: InstanceMarketOptionsRequest
    CreditSpecification: CreditSpecificationRequest
    CpuOptions: CpuOptionsRequest
    CapacityReservationSpecification: CapacityReservationSpecification
    HibernationOptions: HibernationOptionsRequest
    LicenseSpecifications: list[LicenseConfigurationRequest]
    MetadataOptions: InstanceMetadataOptionsRequest
    EnclaveOptions: EnclaveOptionsRequest
    PrivateDnsNameOptions: PrivateDnsNameOptionsRequest
    MaintenanceOptions: InstanceMaintenanceOptionsRequest
    DisableApiStop: bool
    EnablePrimaryIpv6: bool
    NetworkPerformanceOptions: InstanceNetworkPerformanceOptionsRequest
    Operator: OperatorRequest
    SecondaryInterfaces: list[InstanceSecondaryInterfaceSpecificationRequest]
    DryRun: bool
    DisableApiTermination: bool
    InstanceInitiatedShutdownBehavior: ShutdownBehavior
    PrivateIpAddress: str
    ClientToken: str
    AdditionalInfo: str
    NetworkInterfaces: list[InstanceNetworkInterfaceSpecification]
    IamInstanceProfile: IamInstanceProfileSpecification
    EbsOptimized: bool


class SecurityGroup(TypedDict, total=False):
    GroupId: str
    IpPermissionsEgress: list[IpPermission]
    Tags: list[Tag]
    VpcId: str
    SecurityGroupArn: str
    OwnerId: str
    GroupName: str
    Description: str
    IpPermissions: list[IpPermission]


class SecurityGroupIdentifier(TypedDict, total=False):
    GroupId: str
    GroupName: str


class SecurityGroupRule(TypedDict, total=False):
    SecurityGroupRuleId: str
    GroupId: str
    GroupOwnerId: str
    IsEgress: bool
    IpProtocol: str
    FromPort: int
    ToPort: int
    CidrIpv4: str
    CidrIpv6: str
    PrefixListId: str
    ReferencedGroupInfo: ReferencedSecurityGroup
    Description: str
    Tags: list[Tag]
    SecurityGroupRuleArn: str


class SecurityGroupRuleRequest(TypedDict, total=False):
    IpProtocol: str
    FromPort: int
    ToPort: int
    CidrIpv4: str
    CidrIpv6: str
    PrefixListId: str
    ReferencedGroupId: str
    Description: str


class SecurityGroupRuleUpdate(TypedDict, total=False):
    SecurityGroupRuleId: Required[str]
    SecurityGroupRule: SecurityGroupRuleRequest


class ServiceConfiguration(TypedDict, total=False):
    ServiceType: list[ServiceTypeDetail]
    ServiceId: str
    ServiceName: str
    ServiceState: ServiceState
    AvailabilityZoneIds: list[str]
    AvailabilityZones: list[str]
    AcceptanceRequired: bool
    ManagesVpcEndpoints: bool
    NetworkLoadBalancerArns: list[str]
    GatewayLoadBalancerArns: list[str]
    SupportedIpAddressTypes: list[ServiceConnectivityType]
    BaseEndpointDnsNames: list[str]
    PrivateDnsName: str
    PrivateDnsNameConfiguration: PrivateDnsNameConfiguration
    PayerResponsibility: PayerResponsibility
    Tags: list[Tag]
    SupportedRegions: list[SupportedRegionDetail]
    RemoteAccessEnabled: bool


class ServiceDetail(TypedDict, total=False):
    ServiceName: str
    ServiceId: str
    ServiceType: list[ServiceTypeDetail]
    ServiceRegion: str
    AvailabilityZoneIds: list[str]
    AvailabilityZones: list[str]
    Owner: str
    BaseEndpointDnsNames: list[str]
    PrivateDnsName: str
    PrivateDnsNames: list[PrivateDnsDetails]
    VpcEndpointPolicySupported: bool
    AcceptanceRequired: bool
    ManagesVpcEndpoints: bool
    PayerResponsibility: PayerResponsibility
    Tags: list[Tag]
    PrivateDnsNameVerificationState: DnsNameState
    SupportedIpAddressTypes: list[ServiceConnectivityType]


class ServiceTypeDetail(TypedDict, total=False):
    ServiceType: ServiceType


class SpotMarketOptions(TypedDict, total=False):
    MaxPrice: str
    SpotInstanceType: SpotInstanceType
    BlockDurationMinutes: int
    ValidUntil: str
    InstanceInterruptionBehavior: InstanceInterruptionBehavior


class StartVpcEndpointServicePrivateDnsVerificationRequest(TypedDict, total=False):
    DryRun: bool
    ServiceId: Required[str]


class StartVpcEndpointServicePrivateDnsVerificationResult(TypedDict, total=False):
    ReturnValue: bool


class StateReason(TypedDict, total=False):
    Code: str
    Message: str


class Subnet(TypedDict, total=False):
    AvailabilityZoneId: str
    EnableLniAtDeviceIndex: int
    MapCustomerOwnedIpOnLaunch: bool
    CustomerOwnedIpv4Pool: str
    OwnerId: str
    AssignIpv6AddressOnCreation: bool
    Ipv6CidrBlockAssociationSet: list[SubnetIpv6CidrBlockAssociation]
    Tags: list[Tag]
    SubnetArn: str
    OutpostArn: str
    EnableDns64: bool
    Ipv6Native: bool
    PrivateDnsNameOptionsOnLaunch: PrivateDnsNameOptionsOnLaunch
    BlockPublicAccessStates: BlockPublicAccessStates
    Type: str
    NetworkFirewallConnectivityType: NetworkFirewallConnectivityType
    SubnetId: str
    State: SubnetState
    VpcId: str
    CidrBlock: str
    AvailableIpAddressCount: int
    AvailabilityZone: str
    DefaultForAz: bool
    MapPublicIpOnLaunch: bool


class SubnetCidrBlockState(TypedDict, total=False):
    State: SubnetCidrBlockStateCode
    StatusMessage: str


class SubnetConfiguration(TypedDict, total=False):
    SubnetId: str
    Ipv4: str
    Ipv6: str


class SubnetIpPrefixes(TypedDict, total=False):
    SubnetId: str
    IpPrefixes: list[str]


class SubnetIpv6CidrBlockAssociation(TypedDict, total=False):
    AssociationId: str
    Ipv6CidrBlock: str
    Ipv6CidrBlockState: SubnetCidrBlockState
    Ipv6AddressAttribute: Ipv6AddressAttribute
    IpSource: IpSource


class SupportedRegionDetail(TypedDict, total=False):
    Region: str
    ServiceState: str


class Tag(TypedDict, total=False):
    Key: str
    Value: str


class TagDescription(TypedDict, total=False):
    Key: str
    ResourceId: str
    ResourceType: ResourceType
    Value: str


class TagSpecification(TypedDict, total=False):
    ResourceType: ResourceType
    Tags: list[Tag]


class TerminateInstancesRequest(TypedDict, total=False):
    InstanceIds: Required[list[str]]
    Force: bool
    SkipOsShutdown: bool
    DryRun: bool


class TerminateInstancesResult(TypedDict, total=False):
    TerminatingInstances: list[InstanceStateChange]


class UnsuccessfulItem(TypedDict, total=False):
    Error: UnsuccessfulItemError
    ResourceId: str


class UnsuccessfulItemError(TypedDict, total=False):
    Code: str
    Message: str


class UserIdGroupPair(TypedDict, total=False):
    Description: str
    UserId: str
    GroupName: str
    GroupId: str
    VpcId: str
    VpcPeeringConnectionId: str
    PeeringStatus: str


class Vpc(TypedDict, total=False):
    OwnerId: str
    InstanceTenancy: Tenancy
    Ipv6CidrBlockAssociationSet: list[VpcIpv6CidrBlockAssociation]
    CidrBlockAssociationSet: list[VpcCidrBlockAssociation]
    IsDefault: bool
    EncryptionControl: VpcEncryptionControl
    Tags: list[Tag]
    BlockPublicAccessStates: BlockPublicAccessStates
    NetworkFirewallAssociations: list[NetworkFirewallAssociation]
    VpcId: str
    State: VpcState
    CidrBlock: str
    DhcpOptionsId: str


class VpcCidrBlockAssociation(TypedDict, total=False):
    AssociationId: str
    CidrBlock: str
    CidrBlockState: VpcCidrBlockState


class VpcCidrBlockState(TypedDict, total=False):
    State: VpcCidrBlockStateCode
    StatusMessage: str


class VpcEncryptionControl(TypedDict, total=False):
    VpcId: str
    VpcEncryptionControlId: str
    Mode: VpcEncryptionControlMode
    State: VpcEncryptionControlState
    StateMessage: str
    ResourceExclusions: VpcEncryptionControlExclusions
    Tags: list[Tag]


class VpcEncryptionControlConfiguration(TypedDict, total=False):
    Mode: Required[VpcEncryptionControlMode]
    InternetGatewayExclusion: VpcEncryptionControlExclusionStateInput
    EgressOnlyInternetGatewayExclusion: VpcEncryptionControlExclusionStateInput
    NatGatewayExclusion: VpcEncryptionControlExclusionStateInput
    VirtualPrivateGatewayExclusion: VpcEncryptionControlExclusionStateInput
    VpcPeeringExclusion: VpcEncryptionControlExclusionStateInput
    LambdaExclusion: VpcEncryptionControlExclusionStateInput
    VpcLatticeExclusion: VpcEncryptionControlExclusionStateInput
    ElasticFileSystemExclusion: VpcEncryptionControlExclusionStateInput
    GlobalAcceleratorExclusion: VpcEncryptionControlExclusionStateInput
    ApiGatewayV2Exclusion: VpcEncryptionControlExclusionStateInput


class VpcEncryptionControlExclusion(TypedDict, total=False):
    State: VpcEncryptionControlExclusionState
    StateMessage: str


class VpcEncryptionControlExclusions(TypedDict, total=False):
    InternetGateway: VpcEncryptionControlExclusion
    EgressOnlyInternetGateway: VpcEncryptionControlExclusion
    NatGateway: VpcEncryptionControlExclusion
    VirtualPrivateGateway: VpcEncryptionControlExclusion
    VpcPeering: VpcEncryptionControlExclusion
    Lambda: VpcEncryptionControlExclusion
    VpcLattice: VpcEncryptionControlExclusion
    ElasticFileSystem: VpcEncryptionControlExclusion
    GlobalAccelerator: VpcEncryptionControlExclusion
    ApiGatewayV2: VpcEncryptionControlExclusion


class VpcEndpoint(TypedDict, total=False):
    VpcEndpointId: str
    VpcEndpointType: VpcEndpointType
    VpcId: str
    ServiceName: str
    State: State
    PolicyDocument: str
    RouteTableIds: list[str]
    SubnetIds: list[str]
    Groups: list[SecurityGroupIdentifier]
    IpAddressType: IpAddressType
    DnsOptions: DnsOptions
    PrivateDnsEnabled: bool
    RequesterManaged: bool
    NetworkInterfaceIds: list[str]
    DnsEntries: list[DnsEntry]
    CreationTimestamp: str
    Tags: list[Tag]
    OwnerId: str
    LastError: LastError
    Ipv4Prefixes: list[SubnetIpPrefixes]
    Ipv6Prefixes: list[SubnetIpPrefixes]
    FailureReason: str
    ServiceNetworkArn: str
    ResourceConfigurationArn: str
    ServiceRegion: str
    PayerResponsibilities: list[PayerResponsibilityEntry]


class VpcEndpointAssociation(TypedDict, total=False):
    Id: str
    VpcEndpointId: str
    ServiceNetworkArn: str
    ServiceNetworkName: str
    AssociatedResourceAccessibility: str
    FailureReason: str
    FailureCode: str
    DnsEntry: DnsEntry
    PrivateDnsEntry: DnsEntry
    AssociatedResourceArn: str
    ResourceConfigurationGroupArn: str
    Tags: list[Tag]


class VpcEndpointConnection(TypedDict, total=False):
    ServiceId: str
    VpcEndpointId: str
    VpcEndpointOwner: str
    VpcEndpointState: State
    CreationTimestamp: str
    DnsEntries: list[DnsEntry]
    NetworkLoadBalancerArns: list[str]
    GatewayLoadBalancerArns: list[str]
    IpAddressType: IpAddressType
    VpcEndpointConnectionId: str
    Tags: list[Tag]
    VpcEndpointRegion: str
    PayerResponsibilities: list[PayerResponsibilityEntry]
    TransitGatewayAttachmentId: str
    TransitGatewayAttachmentOwner: str


class VpcIpv6CidrBlockAssociation(TypedDict, total=False):
    AssociationId: str
    Ipv6CidrBlock: str
    Ipv6CidrBlockState: VpcCidrBlockState
    NetworkBorderGroup: str
    Ipv6Pool: str
    Ipv6AddressAttribute: Ipv6AddressAttribute
    IpSource: IpSource
