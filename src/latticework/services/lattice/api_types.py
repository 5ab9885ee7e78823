"""Typed stubs for the Amazon VPC Lattice operations Latticework implements.

Generated from botocore's vpc-lattice 2022-11-30 model by
``python -m latticework.tools.genstubs``; do not edit by hand.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

from latticework.api.errors import ServiceError

OPERATIONS = (
    'BatchUpdateRule', 'CreateAccessLogSubscription', 'CreateListener', 'CreateResourceConfiguration',
    'CreateResourceGateway', 'CreateRule', 'CreateService', 'CreateServiceNetwork',
    'CreateServiceNetworkResourceAssociation', 'CreateServiceNetworkServiceAssociation',
    'CreateServiceNetworkVpcAssociation', 'CreateTargetGroup', 'DeleteAccessLogSubscription', 'DeleteAuthPolicy',
    'DeleteDomainVerification', 'DeleteListener', 'DeleteResourceConfiguration', 'DeleteResourceEndpointAssociation',
    'DeleteResourceGateway', 'DeleteResourcePolicy', 'DeleteRule', 'DeleteService', 'DeleteServiceNetwork',
    'DeleteServiceNetworkResourceAssociation', 'DeleteServiceNetworkServiceAssociation',
    'DeleteServiceNetworkVpcAssociation', 'DeleteTargetGroup', 'DeregisterTargets', 'GetAccessLogSubscription',
    'GetAuthPolicy', 'GetDomainVerification', 'GetListener', 'GetResourceConfiguration', 'GetResourceGateway',
    'GetResourcePolicy', 'GetRule', 'GetService', 'GetServiceNetwork', 'GetServiceNetworkResourceAssociation',
    'GetServiceNetworkServiceAssociation', 'GetServiceNetworkVpcAssociation', 'GetTargetGroup',
    'ListAccessLogSubscriptions', 'ListDomainVerifications', 'ListListeners', 'ListResourceConfigurations',
    'ListResourceEndpointAssociations', 'ListResourceGateways', 'ListRules', 'ListServiceNetworkResourceAssociations',
    'ListServiceNetworkServiceAssociations', 'ListServiceNetworkVpcAssociations',
    'ListServiceNetworkVpcEndpointAssociations', 'ListServiceNetworks', 'ListServices', 'ListTagsForResource',
    'ListTargetGroups', 'ListTargets', 'PutAuthPolicy', 'PutResourcePolicy', 'RegisterTargets',
    'StartDomainVerification', 'TagResource', 'UntagResource', 'UpdateAccessLogSubscription', 'UpdateListener',
    'UpdateResourceConfiguration', 'UpdateResourceGateway', 'UpdateRule', 'UpdateService', 'UpdateServiceNetwork',
    'UpdateServiceNetworkVpcAssociation', 'UpdateTargetGroup',
)


class AccessDeniedException(ServiceError):
    code = 'AccessDeniedException'
    status = 403
    sender_fault = True


class ConflictException(ServiceError):
    code = 'ConflictException'
    status = 409
    sender_fault = True


class InternalServerException(ServiceError):
    code = 'InternalServerException'
    status = 500
    sender_fault = False


class ResourceNotFoundException(ServiceError):
    code = 'ResourceNotFoundException'
    status = 404
    sender_fault = True


class ServiceQuotaExceededException(ServiceError):
    code = 'ServiceQuotaExceededException'
    status = 402
    sender_fault = True


class ThrottlingException(ServiceError):
    code = 'ThrottlingException'
    status = 429
    sender_fault = True


class ValidationException(ServiceError):
    code = 'ValidationException'
    status = 400
    sender_fault = True


AuthPolicyState = Literal['Active', 'Inactive']

AuthType = Literal['NONE', 'AWS_IAM']

HealthCheckProtocolVersion = Literal['HTTP1', 'HTTP2']

IpAddressType = Literal['IPV4', 'IPV6']

LambdaEventStructureVersion = Literal['V1', 'V2']

ListenerProtocol = Literal['HTTP', 'HTTPS', 'TLS_PASSTHROUGH']

PayerResponsibilityPayer = Literal['VpcEndpointAccount', 'ResourceGatewayAccount']

PayerResponsibilityScope = Literal['ResourceGatewayCharges']

PrivateDnsPreference = Literal[
    'VERIFIED_DOMAINS_ONLY', 'ALL_DOMAINS', 'VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS', 'SPECIFIED_DOMAINS_ONLY',
]

ProtocolType = Literal['TCP', 'TCP_UDP']

ResourceConfigDnsResolution = Literal['IN_VPC', 'PUBLIC']

ResourceConfigurationIpAddressType = Literal['IPV4', 'IPV6', 'DUALSTACK']

ResourceConfigurationStatus = Literal[
    'ACTIVE', 'CREATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'CREATE_FAILED', 'UPDATE_FAILED',
    'DELETE_FAILED',
]

ResourceConfigurationType = Literal['GROUP', 'CHILD', 'SINGLE', 'ARN', 'CIDR']

ResourceGatewayIpAddressType = Literal['IPV4', 'IPV6', 'DUALSTACK']

ResourceGatewayStatus = Literal[
    'ACTIVE', 'CREATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'CREATE_FAILED', 'UPDATE_FAILED',
    'DELETE_FAILED',
]

ServiceNetworkLogType = Literal['SERVICE', 'RESOURCE']

ServiceNetworkResourceAssociationStatus = Literal[
    'CREATE_IN_PROGRESS', 'ACTIVE', 'PARTIAL', 'DELETE_IN_PROGRESS', 'CREATE_FAILED', 'DELETE_FAILED',
]

ServiceNetworkServiceAssociationStatus = Literal[
    'CREATE_IN_PROGRESS', 'ACTIVE', 'DELETE_IN_PROGRESS', 'CREATE_FAILED', 'DELETE_FAILED',
]

ServiceNetworkVpcAssociationStatus = Literal[
    'CREATE_IN_PROGRESS', 'ACTIVE', 'UPDATE_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'CREATE_FAILED', 'DELETE_FAILED',
    'UPDATE_FAILED',
]

ServiceStatus = Literal['ACTIVE', 'CREATE_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'CREATE_FAILED', 'DELETE_FAILED']

TargetGroupProtocol = Literal['HTTP', 'HTTPS', 'TCP']

TargetGroupProtocolVersion = Literal['HTTP1', 'HTTP2', 'GRPC']

TargetGroupStatus = Literal['CREATE_IN_PROGRESS', 'ACTIVE', 'DELETE_IN_PROGRESS', 'CREATE_FAILED', 'DELETE_FAILED']

TargetGroupType = Literal['IP', 'LAMBDA', 'INSTANCE', 'ALB']

TargetStatus = Literal['DRAINING', 'UNAVAILABLE', 'HEALTHY', 'UNHEALTHY', 'INITIAL', 'UNUSED']

VerificationStatus = Literal['VERIFIED', 'PENDING', 'VERIFICATION_TIMED_OUT']


class AccessLogSubscriptionSummary(TypedDict, total=False):
    id: Required[str]
    arn: Required[str]
    resourceId: Required[str]
    resourceArn: Required[str]
    destinationArn: Required[str]
    serviceNetworkLogType: ServiceNetworkLogType
    createdAt: Required[str]
    lastUpdatedAt: Required[str]


class ArnResource(TypedDict, total=False):
    arn: str


class BatchUpdateRuleRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    listenerIdentifier: Required[str]
    rules: Required[list[RuleUpdate]]


class BatchUpdateRuleResponse(TypedDict, total=False):
    successful: list[RuleUpdateSuccess]
    unsuccessful: list[RuleUpdateFailure]


class CidrResource(TypedDict, total=False):
    cidrRanges: list[str]


class CreateAccessLogSubscriptionRequest(TypedDict, total=False):
    clientToken: str
    resourceIdentifier: Required[str]
    destinationArn: Required[str]
    serviceNetworkLogType: ServiceNetworkLogType
    tags: dict[str, str]


class CreateAccessLogSubscriptionResponse(TypedDict, total=False):
    id: Required[str]
    arn: Required[str]
    resourceId: Required[str]
    resourceArn: Required[str]
    serviceNetworkLogType: ServiceNetworkLogType
    destinationArn: Required[str]


class CreateListenerRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    name: Required[str]
    protocol: Required[ListenerProtocol]
    port: int
    defaultAction: Required[RuleAction]
    clientToken: str
    tags: dict[str, str]


class CreateListenerResponse(TypedDict, total=False):
    arn: str
    id: str
    name: str
    protocol: ListenerProtocol
    port: int
    serviceArn: str
    serviceId: str
    defaultAction: RuleAction


class CreateResourceConfigurationRequest(TypedDict, total=False):
    name: Required[str]
    type: Required[ResourceConfigurationType]
    portRanges: list[str]
    protocol: ProtocolType
    resourceGatewayIdentifier: str
    resourceConfigurationGroupIdentifier: str
    resourceConfigurationDefinition: ResourceConfigurationDefinition
    allowAssociationToShareableServiceNetwork: bool
    customDomainName: str
    groupDomain: str
    domainVerificationIdentifier: str
    clientToken: str
    tags: dict[str, str]


class CreateResourceConfigurationResponse(TypedDict, total=False):
    id: str
    name: str
    arn: str
    resourceGatewayId: str
    resourceConfigurationGroupId: str
    type: ResourceConfigurationType
    portRanges: list[str]
    protocol: ProtocolType
    status: ResourceConfigurationStatus
    resourceConfigurationDefinition: ResourceConfigurationDefinition
    allowAssociationToShareableServiceNetwork: bool
    createdAt: str
    failureReason: str
    customDomainName: str
    domainVerificationId: str
    groupDomain: str
    domainVerificationArn: str


class CreateResourceGatewayRequest(TypedDict, total=False):
    clientToken: str
    name: Required[str]
    vpcIdentifier: str
    subnetIds: list[str]
    securityGroupIds: list[str]
    ipAddressType: ResourceGatewayIpAddressType
    ipv4AddressesPerEni: int
    resourceConfigDnsResolution: ResourceConfigDnsResolution
    tags: dict[str, str]


class CreateResourceGatewayResponse(TypedDict, total=False):
    name: str
    id: str
    arn: str
    status: ResourceGatewayStatus
    vpcIdentifier: str
    subnetIds: list[str]
    securityGroupIds: list[str]
    ipAddressType: ResourceGatewayIpAddressType
    ipv4AddressesPerEni: int
    resourceConfigDnsResolution: ResourceConfigDnsResolution


class CreateRuleRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    listenerIdentifier: Required[str]
    name: Required[str]
    match: Required[RuleMatch]
    priority: Required[int]
    action: Required[RuleAction]
    clientToken: str
    tags: dict[str, str]


class CreateRuleResponse(TypedDict, total=False):
    arn: str
    id: str
    name: str
    match: RuleMatch
    priority: int
    action: RuleAction


class CreateServiceNetworkRequest(TypedDict, total=False):
    clientToken: str
    name: Required[str]
    authType: AuthType
    tags: dict[str, str]
    sharingConfig: SharingConfig


class CreateServiceNetworkResourceAssociationRequest(TypedDict, total=False):
    clientToken: str
    resourceConfigurationIdentifier: Required[str]
    serviceNetworkIdentifier: Required[str]
    privateDnsEnabled: bool
    tags: dict[str, str]


class CreateServiceNetworkResourceAssociationResponse(TypedDict, total=False):
    id: str
    arn: str
    status: ServiceNetworkResourceAssociationStatus
    createdBy: str
    privateDnsEnabled: bool


class CreateServiceNetworkResponse(TypedDict, total=False):
    id: str
    name: str
    arn: str
    sharingConfig: SharingConfig
    authType: AuthType


class CreateServiceNetworkServiceAssociationRequest(TypedDict, total=False):
    clientToken: str
    serviceIdentifier: Required[str]
    serviceNetworkIdentifier: Required[str]
    tags: dict[str, str]


class CreateServiceNetworkServiceAssociationResponse(TypedDict, total=False):
    id: str
    status: ServiceNetworkServiceAssociationStatus
    arn: str
    createdBy: str
    customDomainName: str
    dnsEntry: DnsEntry


class CreateServiceNetworkVpcAssociationRequest(TypedDict, total=False):
    clientToken: str
    serviceNetworkIdentifier: Required[str]
    vpcIdentifier: Required[str]
    privateDnsEnabled: bool
    securityGroupIds: list[str]
    tags: dict[str, str]
    dnsOptions: DnsOptions


class CreateServiceNetworkVpcAssociationResponse(TypedDict, total=False):
    id: str
    status: ServiceNetworkVpcAssociationStatus
    arn: str
    createdBy: str
    securityGroupIds: list[str]
    privateDnsEnabled: bool
    dnsOptions: DnsOptions


class CreateServiceRequest(TypedDict, total=False):
    clientToken: str
    name: Required[str]
    tags: dict[str, str]
    customDomainName: str
    certificateArn: str
    authType: AuthType
    idleTimeoutSeconds: int


class CreateServiceResponse(TypedDict, total=False):
    id: str
    arn: str
    name: str
    customDomainName: str
    certificateArn: str
    status: ServiceStatus
    authType: AuthType
    idleTimeoutSeconds: int
    dnsEntry: DnsEntry


class CreateTargetGroupRequest(TypedDict, total=False):
    name: Required[str]
    type: Required[TargetGroupType]
    config: TargetGroupConfig
    clientToken: str
    tags: dict[str, str]


class CreateTargetGroupResponse(TypedDict, total=False):
    id: str
    arn: str
    name: str
    type: TargetGroupType
    config: TargetGroupConfig
    status: TargetGroupStatus


class DeleteAccessLogSubscriptionRequest(TypedDict, total=False):
    accessLogSubscriptionIdentifier: Required[str]


class DeleteAccessLogSubscriptionResponse(TypedDict, total=False):
    pass


class DeleteAuthPolicyRequest(TypedDict, total=False):
    resourceIdentifier: Required[str]


class DeleteAuthPolicyResponse(TypedDict, total=False):
    pass


class DeleteDomainVerificationRequest(TypedDict, total=False):
    domainVerificationIdentifier: Required[str]


class DeleteDomainVerificationResponse(TypedDict, total=False):
    pass


class DeleteListenerRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    listenerIdentifier: Required[str]


class DeleteListenerResponse(TypedDict, total=False):
    pass


class DeleteResourceConfigurationRequest(TypedDict, total=False):
    resourceConfigurationIdentifier: Required[str]


class DeleteResourceConfigurationResponse(TypedDict, total=False):
    pass


class DeleteResourceEndpointAssociationRequest(TypedDict, total=False):
    resourceEndpointAssociationIdentifier: Required[str]


class DeleteResourceEndpointAssociationResponse(TypedDict, total=False):
    id: str
    arn: str
    resourceConfigurationId: str
    resourceConfigurationArn: str
    vpcEndpointId: str


class DeleteResourceGatewayRequest(TypedDict, total=False):
    resourceGatewayIdentifier: Required[str]


class DeleteResourceGatewayResponse(TypedDict, total=False):
    id: str
    arn: str
    name: str
    status: ResourceGatewayStatus


class DeleteResourcePolicyRequest(TypedDict, total=False):
    resourceArn: Required[str]


class DeleteResourcePolicyResponse(TypedDict, total=False):
    pass


class DeleteRuleRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    listenerIdentifier: Required[str]
    ruleIdentifier: Required[str]


class DeleteRuleResponse(TypedDict, total=False):
    pass


class DeleteServiceNetworkRequest(TypedDict, total=False):
    serviceNetworkIdentifier: Required[str]


class DeleteServiceNetworkResourceAssociationRequest(TypedDict, total=False):
    serviceNetworkResourceAssociationIdentifier: Required[str]


class DeleteServiceNetworkResourceAssociationResponse(TypedDict, total=False):
    id: str
    arn: str
    status: ServiceNetworkResourceAssociationStatus


class DeleteServiceNetworkResponse(TypedDict, total=False):
    pass


class DeleteServiceNetworkServiceAssociationRequest(TypedDict, total=False):
    serviceNetworkServiceAssociationIdentifier: Required[str]


class DeleteServiceNetworkServiceAssociationResponse(TypedDict, total=False):
    id: str
    status: ServiceNetworkServiceAssociationStatus
    arn: str


class DeleteServiceNetworkVpcAssociationRequest(TypedDict, total=False):
    serviceNetworkVpcAssociationIdentifier: Required[str]


class DeleteServiceNetworkVpcAssociationResponse(TypedDict, total=False):
    id: str
    status: ServiceNetworkVpcAssociationStatus
    arn: str


class DeleteServiceRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]


class DeleteServiceResponse(TypedDict, total=False):
    id: str
    arn: str
    name: str
    status: ServiceStatus


class DeleteTargetGroupRequest(TypedDict, total=False):
    targetGroupIdentifier: Required[str]


class DeleteTargetGroupResponse(TypedDict, total=False):
    id: str
    arn: str
    status: TargetGroupStatus


class DeregisterTargetsRequest(TypedDict, total=False):
    targetGroupIdentifier: Required[str]
    targets: Required[list[Target]]


class DeregisterTargetsResponse(TypedDict, total=False):
    successful: list[Target]
    unsuccessful: list[TargetFailure]


class DnsEntry(TypedDict, total=False):
    domainName: str
    hostedZoneId: str


class DnsOptions(TypedDict, total=False):
    privateDnsPreference: PrivateDnsPreference
    privateDnsSpecifiedDomains: list[str]


class DnsResource(TypedDict, total=False):
    domainName: str
    ipAddressType: ResourceConfigurationIpAddressType


class DomainVerificationSummary(TypedDict, total=False):
    id: Required[str]
    arn: Required[str]
    domainName: Required[str]
    status: Required[VerificationStatus]
    txtMethodConfig: TxtMethodConfig
    createdAt: Required[str]
    lastVerifiedTime: str
    tags: dict[str, str]


class FixedResponseAction(TypedDict, total=False):
    statusCode: Required[int]


class ForwardAction(TypedDict, total=False):
    targetGroups: Required[list[WeightedTargetGroup]]


class GetAccessLogSubscriptionRequest(TypedDict, total=False):
    accessLogSubscriptionIdentifier: Required[str]


class GetAccessLogSubscriptionResponse(TypedDict, total=False):
    id: Required[str]
    arn: Required[str]
    resourceId: Required[str]
    resourceArn: Required[str]
    destinationArn: Required[str]
    serviceNetworkLogType: ServiceNetworkLogType
    createdAt: Required[str]
    lastUpdatedAt: Required[str]


class GetAuthPolicyRequest(TypedDict, total=False):
    resourceIdentifier: Required[str]


class GetAuthPolicyResponse(TypedDict, total=False):
    policy: str
    state: AuthPolicyState
    createdAt: str
    lastUpdatedAt: str


class GetDomainVerificationRequest(TypedDict, total=False):
    domainVerificationIdentifier: Required[str]


class GetDomainVerificationResponse(TypedDict, total=False):
    id: Required[str]
    arn: Required[str]
    domainName: Required[str]
    status: Required[VerificationStatus]
    txtMethodConfig: TxtMethodConfig
    createdAt: Required[str]
    lastVerifiedTime: str
    tags: dict[str, str]


class GetListenerRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    listenerIdentifier: Required[str]


class GetListenerResponse(TypedDict, total=False):
    arn: str
    id: str
    name: str
    protocol: ListenerProtocol
    port: int
    serviceArn: str
    serviceId: str
    defaultAction: RuleAction
    createdAt: str
    lastUpdatedAt: str


class GetResourceConfigurationRequest(TypedDict, total=False):
    resourceConfigurationIdentifier: Required[str]


class GetResourceConfigurationResponse(TypedDict, total=False):
    id: str
    name: str
    arn: str
    resourceGatewayId: str
    resourceConfigurationGroupId: str
    type: ResourceConfigurationType
    allowAssociationToShareableServiceNetwork: bool
    portRanges: list[str]
    protocol: ProtocolType
    customDomainName: str
    status: ResourceConfigurationStatus
    resourceConfigurationDefinition: ResourceConfigurationDefinition
    createdAt: str
    amazonManaged: bool
    failureReason: str
    lastUpdatedAt: str
    domainVerificationId: str
    domainVerificationArn: str
    domainVerificationStatus: VerificationStatus
    groupDomain: str


class GetResourceGatewayRequest(TypedDict, total=False):
    resourceGatewayIdentifier: Required[str]


class GetResourceGatewayResponse(TypedDict, total=False):
    name: str
    id: str
    arn: str
    status: ResourceGatewayStatus
    vpcId: str
    subnetIds: list[str]
    serviceManaged: bool
    managedBy: str
    securityGroupIds: list[str]
    ipAddressType: ResourceGatewayIpAddressType
    ipv4AddressesPerEni: int
    resourceConfigDnsResolution: ResourceConfigDnsResolution
    createdAt: str
    lastUpdatedAt: str


class GetResourcePolicyRequest(TypedDict, total=False):
    resourceArn: Required[str]


class GetResourcePolicyResponse(TypedDict, total=False):
    policy: str


class GetRuleRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    listenerIdentifier: Required[str]
    ruleIdentifier: Required[str]


class GetRuleResponse(TypedDict, total=False):
    arn: str
    id: str
    name: str
    isDefault: bool
    match: RuleMatch
    priority: int
    action: RuleAction
    createdAt: str
    lastUpdatedAt: str


class GetServiceNetworkRequest(TypedDict, total=False):
    serviceNetworkIdentifier: Required[str]


class GetServiceNetworkResourceAssociationRequest(TypedDict, total=False):
    serviceNetworkResourceAssociationIdentifier: Required[str]


class GetServiceNetworkResourceAssociationResponse(TypedDict, total=False):
    id: str
    arn: str
    status: ServiceNetworkResourceAssociationStatus
    createdBy: str
    createdAt: str
    resourceConfigurationId: str
    resourceConfigurationArn: str
    resourceConfigurationName: str
    serviceNetworkId: str
    serviceNetworkArn: str
    serviceNetworkName: str
    failureReason: str
    failureCode: str
    lastUpdatedAt: str
    privateDnsEntry: DnsEntry
    privateDnsEnabled: bool
    dnsEntry: DnsEntry
    isManagedAssociation: bool
    domainVerificationStatus: VerificationStatus


class GetServiceNetworkResponse(TypedDict, total=False):
    id: str
    name: str
    createdAt: str
    lastUpdatedAt: str
    arn: str
    authType: AuthType
    sharingConfig: SharingConfig
    numberOfAssociatedVPCs: int
    numberOfAssociatedServices: int


class GetServiceNetworkServiceAssociationRequest(TypedDict, total=False):
    serviceNetworkServiceAssociationIdentifier: Required[str]


class GetServiceNetworkServiceAssociationResponse(TypedDict, total=False):
    id: str
    status: ServiceNetworkServiceAssociationStatus
    arn: str
    createdBy: str
    createdAt: str
    serviceId: str
    serviceName: str
    serviceArn: str
    serviceNetworkId: str
    serviceNetworkName: str
    serviceNetworkArn: str
    dnsEntry: DnsEntry
    customDomainName: str
    failureMessage: str
    failureCode: str


class GetServiceNetworkVpcAssociationRequest(TypedDict, total=False):
    serviceNetworkVpcAssociationIdentifier: Required[str]


class GetServiceNetworkVpcAssociationResponse(TypedDict, total=False):
    id: str
    status: ServiceNetworkVpcAssociationStatus
    arn: str
    createdBy: str
    createdAt: str
    serviceNetworkId: str
    serviceNetworkName: str
    serviceNetworkArn: str
    vpcId: str
    securityGroupIds: list[str]
    privateDnsEnabled: bool
    failureMessage: str
    failureCode: str
    lastUpdatedAt: str
    dnsOptions: DnsOptions


class GetServiceRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]


class GetServiceResponse(TypedDict, total=False):
    id: str
    name: str
    arn: str
    createdAt: str
    lastUpdatedAt: str
    dnsEntry: DnsEntry
    customDomainName: str
    certificateArn: str
    status: ServiceStatus
    authType: AuthType
    idleTimeoutSeconds: int
    failureCode: str
    failureMessage: str


class GetTargetGroupRequest(TypedDict, total=False):
    targetGroupIdentifier: Required[str]


class GetTargetGroupResponse(TypedDict, total=False):
    id: str
    arn: str
    name: str
    type: TargetGroupType
    config: TargetGroupConfig
    createdAt: str
    lastUpdatedAt: str
    status: TargetGroupStatus
    serviceArns: list[str]
    failureMessage: str
    failureCode: str


class HeaderMatch(TypedDict, total=False):
    name: Required[str]
    match: Required[HeaderMatchType]
    caseSensitive: bool


class HeaderMatchType(TypedDict, total=False):
    exact: str
    prefix: str
    contains: str


class HealthCheckConfig(TypedDict, total=False):
    enabled: bool
    protocol: TargetGroupProtocol
    protocolVersion: HealthCheckProtocolVersion
    port: int
    path: str
    healthCheckIntervalSeconds: int
    healthCheckTimeoutSeconds: int
    healthyThresholdCount: int
    unhealthyThresholdCount: int
    matcher: Matcher


class HttpMatch(TypedDict, total=False):
    method: str
    pathMatch: PathMatch
    headerMatches: list[HeaderMatch]


class IpResource(TypedDict, total=False):
    ipAddress: str


class ListAccessLogSubscriptionsRequest(TypedDict, total=False):
    resourceIdentifier: Required[str]
    maxResults: int
    nextToken: str


class ListAccessLogSubscriptionsResponse(TypedDict, total=False):
    items: Required[list[AccessLogSubscriptionSummary]]
    nextToken: str


class ListDomainVerificationsRequest(TypedDict, total=False):
    maxResults: int
    nextToken: str


class ListDomainVerificationsResponse(TypedDict, total=False):
    items: Required[list[DomainVerificationSummary]]
    nextToken: str


class ListListenersRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    maxResults: int
    nextToken: str


class ListListenersResponse(TypedDict, total=False):
    items: Required[list[ListenerSummary]]
    nextToken: str


class ListResourceConfigurationsRequest(TypedDict, total=False):
    resourceGatewayIdentifier: str
    resourceConfigurationGroupIdentifier: str
    domainVerificationIdentifier: str
    maxResults: int
    nextToken: str


class ListResourceConfigurationsResponse(TypedDict, total=False):
    items: list[ResourceConfigurationSummary]
    nextToken: str


class ListResourceEndpointAssociationsRequest(TypedDict, total=False):
    resourceConfigurationIdentifier: Required[str]
    resourceEndpointAssociationIdentifier: str
    vpcEndpointId: str
    vpcEndpointOwner: str
    maxResults: int
    nextToken: str


class ListResourceEndpointAssociationsResponse(TypedDict, total=False):
    items: Required[list[ResourceEndpointAssociationSummary]]
    nextToken: str


class ListResourceGatewaysRequest(TypedDict, total=False):
    maxResults: int
    nextToken: str


class ListResourceGatewaysResponse(TypedDict, total=False):
    items: list[ResourceGatewaySummary]
    nextToken: str


class ListRulesRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    listenerIdentifier: Required[str]
    maxResults: int
    nextToken: str


class ListRulesResponse(TypedDict, total=False):
    items: Required[list[RuleSummary]]
    nextToken: str


class ListServiceNetworkResourceAssociationsRequest(TypedDict, total=False):
    serviceNetworkIdentifier: str
    resourceConfigurationIdentifier: str
    maxResults: int
    nextToken: str
    includeChildren: bool


class ListServiceNetworkResourceAssociationsResponse(TypedDict, total=False):
    items: Required[list[ServiceNetworkResourceAssociationSummary]]
    nextToken: str


class ListServiceNetworkServiceAssociationsRequest(TypedDict, total=False):
    serviceNetworkIdentifier: str
    serviceIdentifier: str
    maxResults: int
    nextToken: str


class ListServiceNetworkServiceAssociationsResponse(TypedDict, total=False):
    items: Required[list[ServiceNetworkServiceAssociationSummary]]
    nextToken: str


class ListServiceNetworkVpcAssociationsRequest(TypedDict, total=False):
    serviceNetworkIdentifier: str
    vpcIdentifier: str
    maxResults: int
    nextToken: str


class ListServiceNetworkVpcAssociationsResponse(TypedDict, total=False):
    items: Required[list[ServiceNetworkVpcAssociationSummary]]
    nextToken: str


class ListServiceNetworkVpcEndpointAssociationsRequest(TypedDict, total=False):
    serviceNetworkIdentifier: Required[str]
    maxResults: int
    nextToken: str


class ListServiceNetworkVpcEndpointAssociationsResponse(TypedDict, total=False):
    items: Required[list[ServiceNetworkEndpointAssociation]]
    nextToken: str


class ListServiceNetworksRequest(TypedDict, total=False):
    maxResults: int
    nextToken: str


class ListServiceNetworksResponse(TypedDict, total=False):
    items: Required[list[ServiceNetworkSummary]]
    nextToken: str


class ListServicesRequest(TypedDict, total=False):
    maxResults: int
    nextToken: str


class ListServicesResponse(TypedDict, total=False):
    items: list[ServiceSummary]
    nextToken: str


class ListTagsForResourceRequest(TypedDict, total=False):
    resourceArn: Required[str]


class ListTagsForResourceResponse(TypedDict, total=False):
    tags: dict[str, str]


class ListTargetGroupsRequest(TypedDict, total=False):
    maxResults: int
    nextToken: str
    vpcIdentifier: str
    targetGroupType: TargetGroupType


class ListTargetGroupsResponse(TypedDict, total=False):
    items: list[TargetGroupSummary]
    nextToken: str


class ListTargetsRequest(TypedDict, total=False):
    targetGroupIdentifier: Required[str]
    maxResults: int
    nextToken: str
    targets: list[Target]


class ListTargetsResponse(TypedDict, total=False):
    items: Required[list[TargetSummary]]
    nextToken: str


class ListenerSummary(TypedDict, total=False):
    arn: str
    id: str
    name: str
    protocol: ListenerProtocol
    port: int
    createdAt: str
    lastUpdatedAt: str


class Matcher(TypedDict, total=False):
    httpCode: str


class PathMatch(TypedDict, total=False):
    match: Required[PathMatchType]
    caseSensitive: bool


class PathMatchType(TypedDict, total=False):
    exact: str
    prefix: str


class PayerResponsibilityEntry(TypedDict, total=False):
    scope: PayerResponsibilityScope
    payerResponsibilityType: PayerResponsibilityPayer


class PutAuthPolicyRequest(TypedDict, total=False):
    resourceIdentifier: Required[str]
    policy: Required[str]


class PutAuthPolicyResponse(TypedDict, total=False):
    policy: str
    state: AuthPolicyState


class PutResourcePolicyRequest(TypedDict, total=False):
    resourceArn: Required[str]
    policy: Required[str]


class PutResourcePolicyResponse(TypedDict, total=False):
    pass


class RegisterTargetsRequest(TypedDict, total=False):
    targetGroupIdentifier: Required[str]
    targets: Required[list[Target]]


class RegisterTargetsResponse(TypedDict, total=False):
    successful: list[Target]
    unsuccessful: list[TargetFailure]


class ResourceConfigurationDefinition(TypedDict, total=False):
    dnsResource: DnsResource
    ipResource: IpResource
    arnResource: ArnResource
    cidrResource: CidrResource


class ResourceConfigurationSummary(TypedDict, total=False):
    id: str
    name: str
    arn: str
    resourceGatewayId: str
    resourceConfigurationGroupId: str
    type: ResourceConfigurationType
    status: ResourceConfigurationStatus
    amazonManaged: bool
    createdAt: str
    lastUpdatedAt: str
    customDomainName: str
    domainVerificationId: str
    groupDomain: str


class ResourceEndpointAssociationSummary(TypedDict, total=False):
    id: str
    arn: str
    resourceConfigurationId: str
    resourceConfigurationArn: str
    resourceConfigurationName: str
    vpcEndpointId: str
    vpcEndpointOwner: str
    createdBy: str
    createdAt: str
    payerResponsibility: list[PayerResponsibilityEntry]


class ResourceGatewaySummary(TypedDict, total=False):
    name: str
    id: str
    arn: str
    status: ResourceGatewayStatus
    vpcIdentifier: str
    subnetIds: list[str]
    securityGroupIds: list[str]
    ipAddressType: ResourceGatewayIpAddressType
    ipv4AddressesPerEni: int
    resourceConfigDnsResolution: ResourceConfigDnsResolution
    createdAt: str
    lastUpdatedAt: str


class RuleAction(TypedDict, total=False):
    forward: ForwardAction
    fixedResponse: FixedResponseAction


class RuleMatch(TypedDict, total=False):
    httpMatch: HttpMatch


class RuleSummary(TypedDict, total=False):
    arn: str
    id: str
    name: str
    isDefault: bool
    priority: int
    createdAt: str
    lastUpdatedAt: str


class RuleUpdate(TypedDict, total=False):
    ruleIdentifier: Required[str]
    match: RuleMatch
    priority: int
    action: RuleAction


class RuleUpdateFailure(TypedDict, total=False):
    ruleIdentifier: str
    failureCode: str
    failureMessage: str


class RuleUpdateSuccess(TypedDict, total=False):
    arn: str
    id: str
    name: str
    isDefault: bool
    match: RuleMatch
    priority: int
    action: RuleAction


class ServiceNetworkEndpointAssociation(TypedDict, total=False):
    vpcEndpointId: str
    vpcId: str
    vpcEndpointOwnerId: str
    id: str
    state: str
    serviceNetworkArn: str
    createdAt: str


class ServiceNetworkResourceAssociationSummary(TypedDict, total=False):
    id: str
    arn: str
    status: ServiceNetworkResourceAssociationStatus
    createdBy: str
    createdAt: str
    resourceConfigurationId: str
    resourceConfigurationArn: str
    resourceConfigurationName: str
    serviceNetworkId: str
    serviceNetworkArn: str
    serviceNetworkName: str
    dnsEntry: DnsEntry
    privateDnsEntry: DnsEntry
    isManagedAssociation: bool
    failureCode: str
    privateDnsEnabled: bool


class ServiceNetworkServiceAssociationSummary(TypedDict, total=False):
    id: str
    status: ServiceNetworkServiceAssociationStatus
    arn: str
    createdBy: str
    createdAt: str
    serviceId: str
    serviceName: str
    serviceArn: str
    serviceNetworkId: str
    serviceNetworkName: str
    serviceNetworkArn: str
    dnsEntry: DnsEntry
    customDomainName: str


class ServiceNetworkSummary(TypedDict, total=False):
    id: str
    name: str
    arn: str
    createdAt: str
    lastUpdatedAt: str
    numberOfAssociatedVPCs: int
    numberOfAssociatedServices: int
    numberOfAssociatedResourceConfigurations: int


class ServiceNetworkVpcAssociationSummary(TypedDict, total=False):
    id: str
    arn: str
    status: ServiceNetworkVpcAssociationStatus
    createdBy: str
    createdAt: str
    serviceNetworkId: str
    serviceNetworkName: str
    serviceNetworkArn: str
    privateDnsEnabled: bool
    dnsOptions: DnsOptions
    vpcId: str
    lastUpdatedAt: str


class ServiceSummary(TypedDict, total=False):
    id: str
    name: str
    arn: str
    createdAt: str
    lastUpdatedAt: str
    dnsEntry: DnsEntry
    customDomainName: str
    status: ServiceStatus


class SharingConfig(TypedDict, total=False):
    enabled: bool


class StartDomainVerificationRequest(TypedDict, total=False):
    clientToken: str
    domainName: Required[str]
    tags: dict[str, str]


class StartDomainVerificationResponse(TypedDict, total=False):
    id: Required[str]
    arn: Required[str]
    domainName: Required[str]
    status: Required[VerificationStatus]
    txtMethodConfig: TxtMethodConfig


class TagResourceRequest(TypedDict, total=False):
    resourceArn: Required[str]
    tags: Required[dict[str, str]]


class TagResourceResponse(TypedDict, total=False):
    pass


class Target(TypedDict, total=False):
    id: Required[str]
    port: int


class TargetFailure(TypedDict, total=False):
    id: str
    port: int
    failureCode: str
    failureMessage: str


class TargetGroupConfig(TypedDict, total=False):
    port: int
    protocol: TargetGroupProtocol
    protocolVersion: TargetGroupProtocolVersion
    ipAddressType: IpAddressType
    vpcIdentifier: str
    healthCheck: HealthCheckConfig
    lambdaEventStructureVersion: LambdaEventStructureVersion


class TargetGroupSummary(TypedDict, total=False):
    id: str
    arn: str
    name: str
    type: TargetGroupType
    createdAt: str
    port: int
    protocol: TargetGroupProtocol
    ipAddressType: IpAddressType
    vpcIdentifier: str
    lastUpdatedAt: str
    status: TargetGroupStatus
    serviceArns: list[str]
    lambdaEventStructureVersion: LambdaEventStructureVersion


class TargetSummary(TypedDict, total=False):
    id: str
    port: int
    status: TargetStatus
    reasonCode: str


class TxtMethodConfig(TypedDict, total=False):
    value: Required[str]
    name: Required[str]


class UntagResourceRequest(TypedDict, total=False):
    resourceArn: Required[str]
    tagKeys: Required[list[str]]


class UntagResourceResponse(TypedDict, total=False):
    pass


class UpdateAccessLogSubscriptionRequest(TypedDict, total=False):
    accessLogSubscriptionIdentifier: Required[str]
    destinationArn: Required[str]


class UpdateAccessLogSubscriptionResponse(TypedDict, total=False):
    id: Required[str]
    arn: Required[str]
    resourceId: Required[str]
    resourceArn: Required[str]
    destinationArn: Required[str]


class UpdateListenerRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    listenerIdentifier: Required[str]
    defaultAction: Required[RuleAction]


class UpdateListenerResponse(TypedDict, total=False):
    arn: str
    id: str
    name: str
    protocol: ListenerProtocol
    port: int
    serviceArn: str
    serviceId: str
    defaultAction: RuleAction


class UpdateResourceConfigurationRequest(TypedDict, total=False):
    resourceConfigurationIdentifier: Required[str]
    resourceConfigurationDefinition: ResourceConfigurationDefinition
    allowAssociationToShareableServiceNetwork: bool
    portRanges: list[str]


class UpdateResourceConfigurationResponse(TypedDict, total=False):
    id: str
    name: str
    arn: str
    resourceGatewayId: str
    resourceConfigurationGroupId: str
    type: ResourceConfigurationType
    portRanges: list[str]
    allowAssociationToShareableServiceNetwork: bool
    protocol: ProtocolType
    status: ResourceConfigurationStatus
    resourceConfigurationDefinition: ResourceConfigurationDefinition


class UpdateResourceGatewayRequest(TypedDict, total=False):
    resourceGatewayIdentifier: Required[str]
    securityGroupIds: list[str]
    resourceConfigDnsResolution: ResourceConfigDnsResolution


class UpdateResourceGatewayResponse(TypedDict, total=False):
    name: str
    id: str
    arn: str
    status: ResourceGatewayStatus
    vpcId: str
    subnetIds: list[str]
    securityGroupIds: list[str]
    ipAddressType: IpAddressType
    resourceConfigDnsResolution: ResourceConfigDnsResolution


class UpdateRuleRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    listenerIdentifier: Required[str]
    ruleIdentifier: Required[str]
    match: RuleMatch
    priority: int
    action: RuleAction


class UpdateRuleResponse(TypedDict, total=False):
    arn: str
    id: str
    name: str
    isDefault: bool
    match: RuleMatch
    priority: int
    action: RuleAction


class UpdateServiceNetworkRequest(TypedDict, total=False):
    serviceNetworkIdentifier: Required[str]
    authType: Required[AuthType]


class UpdateServiceNetworkResponse(TypedDict, total=False):
    id: str
    name: str
    arn: str
    authType: AuthType


class UpdateServiceNetworkVpcAssociationRequest(TypedDict, total=False):
    serviceNetworkVpcAssociationIdentifier: Required[str]
    securityGroupIds: list[str]
    privateDnsEnabled: bool
    dnsOptions: DnsOptions


class UpdateServiceNetworkVpcAssociationResponse(TypedDict, total=False):
    id: str
    arn: str
    status: ServiceNetworkVpcAssociationStatus
    createdBy: str
    securityGroupIds: list[str]
    privateDnsEnabled: bool
    dnsOptions: DnsOptions


class UpdateServiceRequest(TypedDict, total=False):
    serviceIdentifier: Required[str]
    certificateArn: str
    authType: AuthType
    idleTimeoutSeconds: int


class UpdateServiceResponse(TypedDict, total=False):
    id: str
    arn: str
    name: str
    customDomainName: str
    certificateArn: str
    authType: AuthType
    idleTimeoutSeconds: int


class UpdateTargetGroupRequest(TypedDict, total=False):
    targetGroupIdentifier: Required[str]
    healthCheck: Required[HealthCheckConfig]


class UpdateTargetGroupResponse(TypedDict, total=False):
    id: str
    arn: str
    name: str
    type: TargetGroupType
    config: TargetGroupConfig
    status: TargetGroupStatus


class WeightedTargetGroup(TypedDict, total=False):
    targetGroupIdentifier: Required[str]
    weight: int
