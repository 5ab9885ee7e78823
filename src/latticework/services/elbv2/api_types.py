"""Typed stubs for the Elastic Load Balancing operations Latticework implements.

Generated from botocore's elbv2 2015-12-01 model by
``python -m latticework.tools.genstubs``; do not edit by hand.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

OPERATIONS = (
    'AddListenerCertificates', 'AddTags', 'CreateListener', 'CreateLoadBalancer', 'CreateTargetGroup', 'DeleteListener',
    'DeleteLoadBalancer', 'DeleteTargetGroup', 'DeregisterTargets', 'DescribeAccountLimits',
    'DescribeCapacityReservation', 'DescribeListenerAttributes', 'DescribeListenerCertificates', 'DescribeListeners',
    'DescribeLoadBalancerAttributes', 'DescribeLoadBalancers', 'DescribeTags', 'DescribeTargetGroupAttributes',
    'DescribeTargetGroups', 'DescribeTargetHealth', 'ModifyListener', 'ModifyListenerAttributes',
    'ModifyLoadBalancerAttributes', 'ModifyTargetGroup', 'ModifyTargetGroupAttributes', 'RegisterTargets',
    'RemoveListenerCertificates', 'RemoveTags', 'SetIpAddressType', 'SetSecurityGroups', 'SetSubnets',
)


ActionTypeEnum = Literal[
    'forward', 'authenticate-oidc', 'authenticate-cognito', 'redirect', 'fixed-response', 'jwt-validation',
]

AdvertiseTrustStoreCaNamesEnum = Literal['on', 'off']

AnomalyResultEnum = Literal['anomalous', 'normal']

AuthenticateCognitoActionConditionalBehaviorEnum = Literal['deny', 'allow', 'authenticate']

AuthenticateOidcActionConditionalBehaviorEnum = Literal['deny', 'allow', 'authenticate']

CapacityReservationStateEnum = Literal['provisioned', 'pending', 'rebalancing', 'failed']

ClientCertificateIdentityFilterAction = Literal['accept']

ClientCertificateIdentityFilterField = Literal['subject-cn', 'subject-ou', 'san-dns', 'san-uri']

ClientCertificateIdentityFilterMatchType = Literal['exact', 'prefix']

DescribeTargetHealthInputIncludeEnum = Literal['AnomalyDetection', 'All']

EnablePrefixForIpv6SourceNatEnum = Literal['on', 'off']

EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnum = Literal['on', 'off']

IpAddressType = Literal['ipv4', 'dualstack', 'dualstack-without-public-ipv4']

JwtValidationActionAdditionalClaimFormatEnum = Literal['single-string', 'string-array', 'space-separated-values']

LoadBalancerSchemeEnum = Literal['internet-facing', 'internal']

LoadBalancerStateEnum = Literal['active', 'provisioning', 'active_impaired', 'failed']

LoadBalancerTypeEnum = Literal['application', 'network', 'gateway']

MitigationInEffectEnum = Literal['yes', 'no']

ProtocolEnum = Literal['HTTP', 'HTTPS', 'TCP', 'TLS', 'UDP', 'TCP_UDP', 'GENEVE', 'QUIC', 'TCP_QUIC']

RedirectActionStatusCodeEnum = Literal['HTTP_301', 'HTTP_302']

TargetAdministrativeOverrideReasonEnum = Literal[
    'AdministrativeOverride.Unknown', 'AdministrativeOverride.NoOverride', 'AdministrativeOverride.ZonalShiftActive',
    'AdministrativeOverride.ZonalShiftDelegatedToDns',
]

TargetAdministrativeOverrideStateEnum = Literal[
    'unknown', 'no_override', 'zonal_shift_active', 'zonal_shift_delegated_to_dns',
]

TargetGroupIpAddressTypeEnum = Literal['ipv4', 'ipv6']

TargetHealthReasonEnum = Literal[
    'Elb.RegistrationInProgress', 'Elb.InitialHealthChecking', 'Target.ResponseCodeMismatch', 'Target.Timeout',
    'Target.FailedHealthChecks', 'Target.NotRegistered', 'Target.NotInUse', 'Target.DeregistrationInProgress',
    'Target.InvalidState', 'Target.IpUnusable', 'Target.HealthCheckDisabled', 'Elb.InternalError',
]

TargetHealthStateEnum = Literal[
    'initial', 'healthy', 'unhealthy', 'unhealthy.draining', 'unused', 'draining', 'unavailable',
]

TargetTypeEnum = Literal['instance', 'ip', 'lambda', 'alb']

TrustStoreAssociationStatusEnum = Literal['active', 'removed']


class Action(TypedDict, total=False):
    Type: Required[ActionTypeEnum]
    TargetGroupArn: str
    AuthenticateOidcConfig: AuthenticateOidcActionConfig
    AuthenticateCognitoConfig: AuthenticateCognitoActionConfig
    Order: int
    RedirectConfig: RedirectActionConfig
    FixedResponseConfig: FixedResponseActionConfig
    ForwardConfig: ForwardActionConfig
    JwtValidationConfig: JwtValidationActionConfig


class AddListenerCertificatesInput(TypedDict, total=False):
    ListenerArn: Required[str]
    Certificates: Required[list[Certificate]]


class AddListenerCertificatesOutput(TypedDict, total=False):
    Certificates: list[Certificate]


class AddTagsInput(TypedDict, total=False):
    ResourceArns: Required[list[str]]
    Tags: Required[list[Tag]]


class AddTagsOutput(TypedDict, total=False):
    pass


class AdministrativeOverride(TypedDict, total=False):
    State: TargetAdministrativeOverrideStateEnum
    Reason: TargetAdministrativeOverrideReasonEnum
    Description: str


class AnomalyDetection(TypedDict, total=False):
    Result: AnomalyResultEnum
    MitigationInEffect: MitigationInEffectEnum


class AuthenticateCognitoActionConfig(TypedDict, total=False):
    UserPoolArn: Required[str]
    UserPoolClientId: Required[str]
    UserPoolDomain: Required[str]
    SessionCookieName: str
    Scope: str
    SessionTimeout: int
    AuthenticationRequestExtraParams: dict[str, str]
    OnUnauthenticatedRequest: AuthenticateCognitoActionConditionalBehaviorEnum


class AuthenticateOidcActionConfig(TypedDict, total=False):
    Issuer: Required[str]
    AuthorizationEndpoint: Required[str]
    TokenEndpoint: Required[str]
    UserInfoEndpoint: Required[str]
    ClientId: Required[str]
    ClientSecret: str
    SessionCookieName: str
    Scope: str
    SessionTimeout: int
    AuthenticationRequestExtraParams: dict[str, str]
    OnUnauthenticatedRequest: AuthenticateOidcActionConditionalBehaviorEnum
    UseExistingClientSecret: bool


class AvailabilityZone(TypedDict, total=False):
    ZoneName: str
    SubnetId: str
    OutpostId: str
    LoadBalancerAddresses: list[LoadBalancerAddress]
    SourceNatIpv6Prefixes: list[str]


class CapacityReservationStatus(TypedDict, total=False):
    Code: CapacityReservationStateEnum
    Reason: str


class Certificate(TypedDict, total=False):
    CertificateArn: str
    IsDefault: bool


class ClientCertificateIdentityFilter(TypedDict, total=False):
    Field: Required[ClientCertificateIdentityFilterField]
    Action: Required[ClientCertificateIdentityFilterAction]
    MatchType: Required[ClientCertificateIdentityFilterMatchType]
    Value: Required[str]


class CreateListenerInput(TypedDict, total=False):
    LoadBalancerArn: Required[str]
    Protocol: ProtocolEnum
    Port: int
    SslPolicy: str
    Certificates: list[Certificate]
    DefaultActions: Required[list[Action]]
    AlpnPolicy: list[str]
    Tags: list[Tag]
    MutualAuthentication: MutualAuthenticationAttributes


class CreateListenerOutput(TypedDict, total=False):
    Listeners: list[Listener]


class CreateLoadBalancerInput(TypedDict, total=False):
    Name: Required[str]
    Subnets: list[str]
    SubnetMappings: list[SubnetMapping]
    SecurityGroups: list[str]
    Scheme: LoadBalancerSchemeEnum
    Tags: list[Tag]
    Type: LoadBalancerTypeEnum
    IpAddressType: IpAddressType
    CustomerOwnedIpv4Pool: str
    EnablePrefixForIpv6SourceNat: EnablePrefixForIpv6SourceNatEnum
    IpamPools: IpamPools


class CreateLoadBalancerOutput(TypedDict, total=False):
    LoadBalancers: list[LoadBalancer]


class CreateTargetGroupInput(TypedDict, total=False):
    Name: Required[str]
    Protocol: ProtocolEnum
    ProtocolVersion: str
    Port: int
    VpcId: str
    HealthCheckProtocol: ProtocolEnum
    HealthCheckPort: str
    HealthCheckEnabled: bool
    HealthCheckPath: str
    HealthCheckIntervalSeconds: int
    HealthCheckTimeoutSeconds: int
    HealthyThresholdCount: int
    UnhealthyThresholdCount: int
    Matcher: Matcher
    TargetType: TargetTypeEnum
    Tags: list[Tag]
    IpAddressType: TargetGroupIpAddressTypeEnum
    TargetControlPort: int


class CreateTargetGroupOutput(TypedDict, total=False):
    TargetGroups: list[TargetGroup]


class DeleteListenerInput(TypedDict, total=False):
    ListenerArn: Required[str]


class DeleteListenerOutput(TypedDict, total=False):
    pass


class DeleteLoadBalancerInput(TypedDict, total=False):
    LoadBalancerArn: Required[str]


class DeleteLoadBalancerOutput(TypedDict, total=False):
    pass


class DeleteTargetGroupInput(TypedDict, total=False):
    TargetGroupArn: Required[str]


class DeleteTargetGroupOutput(TypedDict, total=False):
    pass


class DeregisterTargetsInput(TypedDict, total=False):
    TargetGroupArn: Required[str]
    Targets: Required[list[TargetDescription]]


class DeregisterTargetsOutput(TypedDict, total=False):
    pass


class DescribeAccountLimitsInput(TypedDict, total=False):
    Marker: str
    PageSize: int


class DescribeAccountLimitsOutput(TypedDict, total=False):
    Limits: list[Limit]
    NextMarker: str


class DescribeCapacityReservationInput(TypedDict, total=False):
    LoadBalancerArn: Required[str]


class DescribeCapacityReservationOutput(TypedDict, total=False):
    LastModifiedTime: str
    DecreaseRequestsRemaining: int
    MinimumLoadBalancerCapacity: MinimumLoadBalancerCapacity
    CapacityReservationState: list[ZonalCapacityReservationState]


class DescribeListenerAttributesInput(TypedDict, total=False):
    ListenerArn: Required[str]


class DescribeListenerAttributesOutput(TypedDict, total=False):
    Attributes: list[ListenerAttribute]


class DescribeListenerCertificatesInput(TypedDict, total=False):
    ListenerArn: Required[str]
    Marker: str
    PageSize: int


class DescribeListenerCertificatesOutput(TypedDict, total=False):
    Certificates: list[Certificate]
    NextMarker: str


class DescribeListenersInput(TypedDict, total=False):
    LoadBalancerArn: str
    ListenerArns: list[str]
    Marker: str
    PageSize: int


class DescribeListenersOutput(TypedDict, total=False):
    Listeners: list[Listener]
    NextMarker: str


class DescribeLoadBalancerAttributesInput(TypedDict, total=False):
    LoadBalancerArn: Required[str]


class DescribeLoadBalancerAttributesOutput(TypedDict, total=False):
    Attributes: list[LoadBalancerAttribute]


class DescribeLoadBalancersInput(TypedDict, total=False):
    LoadBalancerArns: list[str]
    Names: list[str]
    Marker: str
    PageSize: int


class DescribeLoadBalancersOutput(TypedDict, total=False):
    LoadBalancers: list[LoadBalancer]
    NextMarker: str


class DescribeTagsInput(TypedDict, total=False):
    ResourceArns: Required[list[str]]


class DescribeTagsOutput(TypedDict, total=False):
    TagDescriptions: list[TagDescription]


class DescribeTargetGroupAttributesInput(TypedDict, total=False):
    TargetGroupArn: Required[str]


class DescribeTargetGroupAttributesOutput(TypedDict, total=False):
    Attributes: list[TargetGroupAttribute]


class DescribeTargetGroupsInput(TypedDict, total=False):
    LoadBalancerArn: str
    TargetGroupArns: list[str]
    Names: list[str]
    Marker: str
    PageSize: int


class DescribeTargetGroupsOutput(TypedDict, total=False):
    TargetGroups: list[TargetGroup]
    NextMarker: str


class DescribeTargetHealthInput(TypedDict, total=False):
    TargetGroupArn: Required[str]
    Targets: list[TargetDescription]
    Include: list[DescribeTargetHealthInputIncludeEnum]


class DescribeTargetHealthOutput(TypedDict, total=False):
    TargetHealthDescriptions: list[TargetHealthDescription]


class FixedResponseActionConfig(TypedDict, total=False):
    MessageBody: str
    StatusCode: Required[str]
    ContentType: str


class ForwardActionConfig(TypedDict, total=False):
    TargetGroups: list[TargetGroupTuple]
    TargetGroupStickinessConfig: TargetGroupStickinessConfig


class IpamPools(TypedDict, total=False):
    Ipv4IpamPoolId: str


class JwtValidationActionAdditionalClaim(TypedDict, total=False):
    Format: Required[JwtValidationActionAdditionalClaimFormatEnum]
    Name: Required[str]
    Values: Required[list[str]]


class JwtValidationActionConfig(TypedDict, total=False):
    JwksEndpoint: Required[str]
    Issuer: Required[str]
    AdditionalClaims: list[JwtValidationActionAdditionalClaim]


class Limit(TypedDict, total=False):
    Name: str
    Max: str


class Listener(TypedDict, total=False):
    ListenerArn: str
    LoadBalancerArn: str
    Port: int
    Protocol: ProtocolEnum
    Certificates: list[Certificate]
    SslPolicy: str
    DefaultActions: list[Action]
    AlpnPolicy: list[str]
    MutualAuthentication: MutualAuthenticationAttributes


class ListenerAttribute(TypedDict, total=False):
    Key: str
    Value: str


class LoadBalancer(TypedDict, total=False):
    LoadBalancerArn: str
    DNSName: str
    CanonicalHostedZoneId: str
    CreatedTime: str
    LoadBalancerName: str
    Scheme: LoadBalancerSchemeEnum
    VpcId: str
    State: LoadBalancerState
    Type: LoadBalancerTypeEnum
    AvailabilityZones: list[AvailabilityZone]
    SecurityGroups: list[str]
    IpAddressType: IpAddressType
    CustomerOwnedIpv4Pool: str
    EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: str
    EnablePrefixForIpv6SourceNat: EnablePrefixForIpv6SourceNatEnum
    IpamPools: IpamPools


class LoadBalancerAddress(TypedDict, total=False):
    IpAddress: str
    AllocationId: str
    PrivateIPv4Address: str
    IPv6Address: str


class LoadBalancerAttribute(TypedDict, total=False):
    Key: str
    Value: str


class LoadBalancerState(TypedDict, total=False):
    Code: LoadBalancerStateEnum
    Reason: str


class Matcher(TypedDict, total=False):
    HttpCode: str
    GrpcCode: str


class MinimumLoadBalancerCapacity(TypedDict, total=False):
    CapacityUnits: int


class ModifyListenerAttributesInput(TypedDict, total=False):
    ListenerArn: Required[str]
    Attributes: Required[list[ListenerAttribute]]


class ModifyListenerAttributesOutput(TypedDict, total=False):
    Attributes: list[ListenerAttribute]


class ModifyListenerInput(TypedDict, total=False):
    ListenerArn: Required[str]
    Port: int
    Protocol: ProtocolEnum
    SslPolicy: str
    Certificates: list[Certificate]
    DefaultActions: list[Action]
    AlpnPolicy: list[str]
    MutualAuthentication: MutualAuthenticationAttributes


class ModifyListenerOutput(TypedDict, total=False):
    Listeners: list[Listener]


class ModifyLoadBalancerAttributesInput(TypedDict, total=False):
    LoadBalancerArn: Required[str]
    Attributes: Required[list[LoadBalancerAttribute]]


class ModifyLoadBalancerAttributesOutput(TypedDict, total=False):
    Attributes: list[LoadBalancerAttribute]


class ModifyTargetGroupAttributesInput(TypedDict, total=False):
    TargetGroupArn: Required[str]
    Attributes: Required[list[TargetGroupAttribute]]


class ModifyTargetGroupAttributesOutput(TypedDict, total=False):
    Attributes: list[TargetGroupAttribute]


class ModifyTargetGroupInput(TypedDict, total=False):
    TargetGroupArn: Required[str]
    HealthCheckProtocol: ProtocolEnum
    HealthCheckPort: str
    HealthCheckPath: str
    HealthCheckEnabled: bool
    HealthCheckIntervalSeconds: int
    HealthCheckTimeoutSeconds: int
    HealthyThresholdCount: int
    UnhealthyThresholdCount: int
    Matcher: Matcher


class ModifyTargetGroupOutput(TypedDict, total=False):
    TargetGroups: list[TargetGroup]


class MutualAuthenticationAttributes(TypedDict, total=False):
    Mode: str
    TrustStoreArn: str
    IgnoreClientCertificateExpiry: bool
    TrustStoreAssociationStatus: TrustStoreAssociationStatusEnum
    AdvertiseTrustStoreCaNames: AdvertiseTrustStoreCaNamesEnum
    ClientCertificateIdentityFilters: list[ClientCertificateIdentityFilter]


class RedirectActionConfig(TypedDict, total=False):
    Protocol: str
    Port: str
    Host: str
    Path: str
    Query: str
    StatusCode: Required[RedirectActionStatusCodeEnum]


class RegisterTargetsInput(TypedDict, total=False):
    TargetGroupArn: Required[str]
    Targets: Required[list[TargetDescription]]


class RegisterTargetsOutput(TypedDict, total=False):
    pass


class RemoveListenerCertificatesInput(TypedDict, total=False):
    ListenerArn: Required[str]
    Certificates: Required[list[Certificate]]


class RemoveListenerCertificatesOutput(TypedDict, total=False):
    pass


class RemoveTagsInput(TypedDict, total=False):
    ResourceArns: Required[list[str]]
    TagKeys: Required[list[str]]


class RemoveTagsOutput(TypedDict, total=False):
    pass


class SetIpAddressTypeInput(TypedDict, total=False):
    LoadBalancerArn: Required[str]
    IpAddressType: Required[IpAddressType]


class SetIpAddressTypeOutput(TypedDict, total=False):
    IpAddressType: IpAddressType


class SetSecurityGroupsInput(TypedDict, total=False):
    LoadBalancerArn: Required[str]
    SecurityGroups: Required[list[str]]
    EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnum


class SetSecurityGroupsOutput(TypedDict, total=False):
    SecurityGroupIds: list[str]
    EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnum


class SetSubnetsInput(TypedDict, total=False):
    LoadBalancerArn: Required[str]
    Subnets: list[str]
    SubnetMappings: list[SubnetMapping]
    IpAddressType: IpAddressType
    EnablePrefixForIpv6SourceNat: EnablePrefixForIpv6SourceNatEnum


class SetSubnetsOutput(TypedDict, total=False):
    AvailabilityZones: list[AvailabilityZone]
    IpAddressType: IpAddressType
    EnablePrefixForIpv6SourceNat: EnablePrefixForIpv6SourceNatEnum


class SubnetMapping(TypedDict, total=False):
    SubnetId: str
    AllocationId: str
    PrivateIPv4Address: str
    IPv6Address: str
    SourceNatIpv6Prefix: str


class Tag(TypedDict, total=False):
    Key: Required[str]
    Value: str


class TagDescription(TypedDict, total=False):
    ResourceArn: str
    Tags: list[Tag]


class TargetDescription(TypedDict, total=False):
    Id: Required[str]
    Port: int
    AvailabilityZone: str
    QuicServerId: str


class TargetGroup(TypedDict, total=False):
    TargetGroupArn: str
    TargetGroupName: str
    Protocol: ProtocolEnum
    Port: int
    VpcId: str
    HealthCheckProtocol: ProtocolEnum
    HealthCheckPort: str
    HealthCheckEnabled: bool
    HealthCheckIntervalSeconds: int
    HealthCheckTimeoutSeconds: int
    HealthyThresholdCount: int
    UnhealthyThresholdCount: int
    HealthCheckPath: str
    Matcher: Matcher
    LoadBalancerArns: list[str]
    TargetType: TargetTypeEnum
    ProtocolVersion: str
    IpAddressType: TargetGroupIpAddressTypeEnum
    TargetControlPort: int


class TargetGroupAttribute(TypedDict, total=False):
    Key: str
    Value: str


class TargetGroupStickinessConfig(TypedDict, total=False):
    Enabled: bool
    DurationSeconds: int


class TargetGroupTuple(TypedDict, total=False):
    TargetGroupArn: str
    Weight: int


class TargetHealth(TypedDict, total=False):
    State: TargetHealthStateEnum
    Reason: TargetHealthReasonEnum
    Description: str


class TargetHealthDescription(TypedDict, total=False):
    Target: TargetDescription
    HealthCheckPort: str
    TargetHealth: TargetHealth
    AnomalyDetection: AnomalyDetection
    AdministrativeOverride: AdministrativeOverride


class ZonalCapacityReservationState(TypedDict, total=False):
    State: CapacityReservationStatus
    AvailabilityZone: str
    EffectiveCapacityUnits: float
