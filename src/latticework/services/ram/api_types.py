"""Typed stubs for the AWS Resource Access Manager operations Latticework implements.

Generated from botocore's ram 2018-01-04 model by
``python -m latticework.tools.genstubs``; do not edit by hand.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

from latticework.api.errors import ServiceError

OPERATIONS = (
    'AcceptResourceShareInvitation', 'AssociateResourceShare', 'CreateResourceShare', 'DeleteResourceShare',
    'DisassociateResourceShare', 'EnableSharingWithAwsOrganization', 'GetPermission', 'GetResourceShareAssociations',
    'GetResourceShareInvitations', 'GetResourceShares', 'ListPendingInvitationResources', 'ListPermissions',
    'ListPrincipals', 'ListResourceSharePermissions', 'ListResourceTypes', 'ListResources',
    'RejectResourceShareInvitation', 'TagResource', 'UntagResource', 'UpdateResourceShare',
)


class IdempotentParameterMismatchException(ServiceError):
    code = 'IdempotentParameterMismatchException'
    status = 400
    sender_fault = False


class InvalidClientTokenException(ServiceError):
    code = 'InvalidClientTokenException'
    status = 400
    sender_fault = False


class InvalidMaxResultsException(ServiceError):
    code = 'InvalidMaxResultsException'
    status = 400
    sender_fault = False


class InvalidNextTokenException(ServiceError):
    code = 'InvalidNextTokenException'
    status = 400
    sender_fault = False


class InvalidParameterException(ServiceError):
    code = 'InvalidParameterException'
    status = 400
    sender_fault = False


class InvalidPolicyException(ServiceError):
    code = 'InvalidPolicyException'
    status = 400
    sender_fault = False


class InvalidResourceTypeException(ServiceError):
    code = 'InvalidResourceTypeException'
    status = 400
    sender_fault = False


class InvalidStateTransitionException(ServiceError):
    code = 'InvalidStateTransitionException'
    status = 400
    sender_fault = False


class MalformedArnException(ServiceError):
    code = 'MalformedArnException'
    status = 400
    sender_fault = False


class MalformedPolicyTemplateException(ServiceError):
    code = 'MalformedPolicyTemplateException'
    status = 400
    sender_fault = False


class MissingRequiredParameterException(ServiceError):
    code = 'MissingRequiredParameterException'
    status = 400
    sender_fault = False


class OperationNotPermittedException(ServiceError):
    code = 'OperationNotPermittedException'
    status = 400
    sender_fault = False


class PermissionAlreadyExistsException(ServiceError):
    code = 'PermissionAlreadyExistsException'
    status = 409
    sender_fault = False


class PermissionLimitExceededException(ServiceError):
    code = 'PermissionLimitExceededException'
    status = 400
    sender_fault = False


class PermissionVersionsLimitExceededException(ServiceError):
    code = 'PermissionVersionsLimitExceededException'
    status = 400
    sender_fault = False


class ResourceArnNotFoundException(ServiceError):
    code = 'ResourceArnNotFoundException'
    status = 400
    sender_fault = False


class ResourceShareInvitationAlreadyAcceptedException(ServiceError):
    code = 'ResourceShareInvitationAlreadyAcceptedException'
    status = 400
    sender_fault = False


class ResourceShareInvitationAlreadyRejectedException(ServiceError):
    code = 'ResourceShareInvitationAlreadyRejectedException'
    status = 400
    sender_fault = False


class ResourceShareInvitationArnNotFoundException(ServiceError):
    code = 'ResourceShareInvitationArnNotFoundException'
    status = 400
    sender_fault = False


class ResourceShareInvitationExpiredException(ServiceError):
    code = 'ResourceShareInvitationExpiredException'
    status = 400
    sender_fault = False


class ResourceShareLimitExceededException(ServiceError):
    code = 'ResourceShareLimitExceededException'
    status = 400
    sender_fault = False


class ServerInternalException(ServiceError):
    code = 'ServerInternalException'
    status = 500
    sender_fault = False


class ServiceUnavailableException(ServiceError):
    code = 'ServiceUnavailableException'
    status = 503
    sender_fault = False


class TagLimitExceededException(ServiceError):
    code = 'TagLimitExceededException'
    status = 400
    sender_fault = False


class TagPolicyViolationException(ServiceError):
    code = 'TagPolicyViolationException'
    status = 400
    sender_fault = False


class ThrottlingException(ServiceError):
    code = 'ThrottlingException'
    status = 429
    sender_fault = False


class UnknownResourceException(ServiceError):
    code = 'UnknownResourceException'
    status = 400
    sender_fault = False


class UnmatchedPolicyPermissionException(ServiceError):
    code = 'UnmatchedPolicyPermissionException'
    status = 400
    sender_fault = False


PermissionFeatureSet = Literal['CREATED_FROM_POLICY', 'PROMOTING_TO_STANDARD', 'STANDARD']

PermissionStatus = Literal['ATTACHABLE', 'UNATTACHABLE', 'DELETING', 'DELETED', 'DEPRECATED']

PermissionTemplateParameterType = Literal['STRING', 'STRING_LIST']

PermissionType = Literal['CUSTOMER_MANAGED', 'AWS_MANAGED']

PermissionTypeFilter = Literal['ALL', 'AWS_MANAGED', 'CUSTOMER_MANAGED']

ResourceOwner = Literal['SELF', 'OTHER-ACCOUNTS']

ResourceRegionScope = Literal['REGIONAL', 'GLOBAL']

ResourceRegionScopeFilter = Literal['ALL', 'REGIONAL', 'GLOBAL']

ResourceShareAssociationStatus = Literal[
    'ASSOCIATING', 'ASSOCIATED', 'FAILED', 'DISASSOCIATING', 'DISASSOCIATED', 'SUSPENDED', 'SUSPENDING', 'RESTORING',
]

ResourceShareAssociationType = Literal['PRINCIPAL', 'RESOURCE', 'SOURCE']

ResourceShareFeatureSet = Literal['CREATED_FROM_POLICY', 'PROMOTING_TO_STANDARD', 'STANDARD']

ResourceShareInvitationStatus = Literal['PENDING', 'ACCEPTED', 'REJECTED', 'EXPIRED']

ResourceShareStatus = Literal['PENDING', 'ACTIVE', 'FAILED', 'DELETING', 'DELETED']

ResourceStatus = Literal['AVAILABLE', 'ZONAL_RESOURCE_INACCESSIBLE', 'LIMIT_EXCEEDED', 'UNAVAILABLE', 'PENDING']


class AcceptResourceShareInvitationRequest(TypedDict, total=False):
    resourceShareInvitationArn: Required[str]
    clientToken: str


class AcceptResourceShareInvitationResponse(TypedDict, total=False):
    resourceShareInvitation: ResourceShareInvitation
    clientToken: str


class AssociateResourceShareRequest(TypedDict, total=False):
    resourceShareArn: Required[str]
    resourceArns: list[str]
    principals: list[str]
    clientToken: str
    sources: list[str]


class AssociateResourceShareResponse(TypedDict, total=False):
    resourceShareAssociations: list[ResourceShareAssociation]
    clientToken: str


class CreateResourceShareRequest(TypedDict, total=False):
    name: Required[str]
    resourceArns: list[str]
    principals: list[str]
    tags: list[Tag]
    allowExternalPrincipals: bool
    clientToken: str
    permissionArns: list[str]
    sources: list[str]
    permissionTemplateParameters: list[PermissionArnAndTemplateParameters]
    resourceShareConfiguration: ResourceShareConfiguration


class CreateResourceShareResponse(TypedDict, total=False):
    resourceShare: ResourceShare
    clientToken: str


class DeleteResourceShareRequest(TypedDict, total=False):
    resourceShareArn: Required[str]
    clientToken: str


class DeleteResourceShareResponse(TypedDict, total=False):
    returnValue: bool
    clientToken: str


class DisassociateResourceShareRequest(TypedDict, total=False):
    resourceShareArn: Required[str]
    resourceArns: list[str]
    principals: list[str]
    clientToken: str
    sources: list[str]


class DisassociateResourceShareResponse(TypedDict, total=False):
    resourceShareAssociations: list[ResourceShareAssociation]
    clientToken: str


class EnableSharingWithAwsOrganizationRequest(TypedDict, total=False):
    pass


class EnableSharingWithAwsOrganizationResponse(TypedDict, total=False):
    returnValue: bool


class GetPermissionRequest(TypedDict, total=False):
    permissionArn: Required[str]
    permissionVersion: int
    permissionTemplateParameters: list[PermissionTemplateParameterInput]


class GetPermissionResponse(TypedDict, total=False):
    permission: ResourceSharePermissionDetail


class GetResourceShareAssociationsRequest(TypedDict, total=False):
    associationType: Required[ResourceShareAssociationType]
    resourceShareArns: list[str]
    resourceArn: str
    principal: str
    associationStatus: ResourceShareAssociationStatus
    nextToken: str
    maxResults: int


class GetResourceShareAssociationsResponse(TypedDict, total=False):
    resourceShareAssociations: list[ResourceShareAssociation]
    nextToken: str


class GetResourceShareInvitationsRequest(TypedDict, total=False):
    resourceShareInvitationArns: list[str]
    resourceShareArns: list[str]
    nextToken: str
    maxResults: int


class GetResourceShareInvitationsResponse(TypedDict, total=False):
    resourceShareInvitations: list[ResourceShareInvitation]
    nextToken: str


class GetResourceSharesRequest(TypedDict, total=False):
    resourceShareArns: list[str]
    resourceShareStatus: ResourceShareStatus
    resourceOwner: Required[ResourceOwner]
    name: str
    tagFilters: list[TagFilter]
    nextToken: str
    maxResults: int
    permissionArn: str
    permissionVersion: int


class GetResourceSharesResponse(TypedDict, total=False):
    resourceShares: list[ResourceShare]
    nextToken: str


class ListPendingInvitationResourcesRequest(TypedDict, total=False):
    resourceShareInvitationArn: Required[str]
    nextToken: str
    maxResults: int
    resourceRegionScope: ResourceRegionScopeFilter


class ListPendingInvitationResourcesResponse(TypedDict, total=False):
    resources: list[Resource]
    nextToken: str


class ListPermissionsRequest(TypedDict, total=False):
    resourceType: str
    resourceOwner: ResourceOwner
    nextToken: str
    maxResults: int
    permissionType: PermissionTypeFilter
    permissionStatus: PermissionStatus


class ListPermissionsResponse(TypedDict, total=False):
    permissions: list[ResourceSharePermissionSummary]
    nextToken: str


class ListPrincipalsRequest(TypedDict, total=False):
    resourceOwner: Required[ResourceOwner]
    resourceArn: str
    principals: list[str]
    resourceType: str
    resourceShareArns: list[str]
    nextToken: str
    maxResults: int


class ListPrincipalsResponse(TypedDict, total=False):
    principals: list[Principal]
    nextToken: str


class ListResourceSharePermissionsRequest(TypedDict, total=False):
    resourceShareArn: Required[str]
    nextToken: str
    maxResults: int


class ListResourceSharePermissionsResponse(TypedDict, total=False):
    permissions: list[ResourceSharePermissionSummary]
    nextToken: str


class ListResourceTypesRequest(TypedDict, total=False):
    nextToken: str
    maxResults: int
    resourceRegionScope: ResourceRegionScopeFilter


class ListResourceTypesResponse(TypedDict, total=False):
    resourceTypes: list[ServiceNameAndResourceType]
    nextToken: str


class ListResourcesRequest(TypedDict, total=False):
    resourceOwner: Required[ResourceOwner]
    principal: str
    resourceType: str
    resourceArns: list[str]
    resourceShareArns: list[str]
    nextToken: str
    maxResults: int
    resourceRegionScope: ResourceRegionScopeFilter


class ListResourcesResponse(TypedDict, total=False):
    resources: list[Resource]
    nextToken: str


class PermissionArnAndTemplateParameters(TypedDict, total=False):
    permissionArn: str
    permissionTemplateParameters: list[PermissionTemplateParameterInput]


class PermissionTemplateParameter(TypedDict, total=False):
    name: str
    type: PermissionTemplateParameterType
    description: str
    values: list[str]


class PermissionTemplateParameterDeclaration(TypedDict, total=False):
    name: str
    type: PermissionTemplateParameterType
    description: str


class PermissionTemplateParameterInput(TypedDict, total=False):
    name: str
    values: list[str]


class Principal(TypedDict, total=False):
    id: str
    resourceShareArn: str
    creationTime: str
    lastUpdatedTime: str
    external: bool


class RejectResourceShareInvitationRequest(TypedDict, total=False):
    resourceShareInvitationArn: Required[str]
    clientToken: str


class RejectResourceShareInvitationResponse(TypedDict, total=False):
    resourceShareInvitation: ResourceShareInvitation
    clientToken: str


class Resource(TypedDict, total=False):
    arn: str
    type: str
    resourceShareArn: str
    resourceGroupArn: str
    status: ResourceStatus
    statusMessage: str
    creationTime: str
    lastUpdatedTime: str
    resourceRegionScope: ResourceRegionScope


class ResourceShare(TypedDict, total=False):
    resourceShareArn: str
    name: str
    owningAccountId: str
    allowExternalPrincipals: bool
    status: ResourceShareStatus
    statusMessage: str
    tags: list[Tag]
    creationTime: str
    lastUpdatedTime: str
    featureSet: ResourceShareFeatureSet
    resourceShareConfiguration: ResourceShareConfiguration


class ResourceShareAssociation(TypedDict, total=False):
    resourceShareArn: str
    resourceShareName: str
    associatedEntity: str
    associationType: ResourceShareAssociationType
    status: ResourceShareAssociationStatus
    statusMessage: str
    creationTime: str
    lastUpdatedTime: str
    external: bool


class ResourceShareConfiguration(TypedDict, total=False):
    retainSharingOnAccountLeaveOrganization: bool


class ResourceShareInvitation(TypedDict, total=False):
    resourceShareInvitationArn: str
    resourceShareName: str
    resourceShareArn: str
    senderAccountId: str
    receiverAccountId: str
    invitationTimestamp: str
    status: ResourceShareInvitationStatus
    resourceShareAssociations: list[ResourceShareAssociation]
    receiverArn: str


class ResourceSharePermissionDetail(TypedDict, total=False):
    arn: str
    version: str
    defaultVersion: bool
    name: str
    resourceType: str
    permission: str
    permissionTemplateParameters: list[PermissionTemplateParameterDeclaration]
    creationTime: str
    lastUpdatedTime: str
    isResourceTypeDefault: bool
    permissionType: PermissionType
    featureSet: PermissionFeatureSet
    status: PermissionStatus
    tags: list[Tag]
    resourceOwner: ResourceOwner


class ResourceSharePermissionSummary(TypedDict, total=False):
    arn: str
    version: str
    defaultVersion: bool
    name: str
    resourceType: str
    status: str
    creationTime: str
    lastUpdatedTime: str
    isResourceTypeDefault: bool
    permissionType: PermissionType
    featureSet: PermissionFeatureSet
    permissionTemplateParameters: list[PermissionTemplateParameter]
    tags: list[Tag]
    resourceOwner: ResourceOwner


class ServiceNameAndResourceType(TypedDict, total=False):
    resourceType: str
    serviceName: str
    resourceRegionScope: ResourceRegionScope


class Tag(TypedDict, total=False):
    key: str
    value: str


class TagFilter(TypedDict, total=False):
    tagKey: str
    tagValues: list[str]


class TagResourceRequest(TypedDict, total=False):
    resourceShareArn: str
    tags: Required[list[Tag]]
    resourceArn: str


class TagResourceResponse(TypedDict, total=False):
    pass


class UntagResourceRequest(TypedDict, total=False):
    resourceShareArn: str
    tagKeys: Required[list[str]]
    resourceArn: str


class UntagResourceResponse(TypedDict, total=False):
    pass


class UpdateResourceShareRequest(TypedDict, total=False):
    resourceShareArn: Required[str]
    name: str
    allowExternalPrincipals: bool
    clientToken: str


class UpdateResourceShareResponse(TypedDict, total=False):
    resourceShare: ResourceShare
    clientToken: str
