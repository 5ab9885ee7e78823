"""Typed stubs for the AWS Identity and Access Management operations Latticework implements.

Generated from botocore's iam 2010-05-08 model by
``python -m latticework.tools.genstubs``; do not edit by hand.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

OPERATIONS = (
    'AttachRolePolicy', 'AttachUserPolicy', 'CreateAccessKey', 'CreatePolicy', 'CreatePolicyVersion', 'CreateRole',
    'CreateUser', 'DeleteAccessKey', 'DeletePolicy', 'DeletePolicyVersion', 'DeleteRole', 'DeleteRolePolicy',
    'DeleteUser', 'DeleteUserPolicy', 'DetachRolePolicy', 'DetachUserPolicy', 'GetPolicy', 'GetPolicyVersion',
    'GetRole', 'GetRolePolicy', 'GetUser', 'GetUserPolicy', 'ListAccessKeys', 'ListAttachedRolePolicies',
    'ListAttachedUserPolicies', 'ListEntitiesForPolicy', 'ListInstanceProfilesForRole', 'ListPolicies',
    'ListPolicyTags', 'ListPolicyVersions', 'ListRolePolicies', 'ListRoleTags', 'ListRoles', 'ListUserPolicies',
    'ListUserTags', 'ListUsers', 'PutRolePolicy', 'PutUserPolicy', 'SetDefaultPolicyVersion', 'TagPolicy', 'TagRole',
    'TagUser', 'UntagPolicy', 'UntagRole', 'UntagUser', 'UpdateAccessKey', 'UpdateAssumeRolePolicy', 'UpdateRole',
    'UpdateRoleDescription',
)


class NoOutput(TypedDict):
    """The output of an operation the model gives no output shape: ``{}``."""


EntityType = Literal['User', 'Role', 'Group', 'LocalManagedPolicy', 'AWSManagedPolicy']

PermissionsBoundaryAttachmentType = Literal['PermissionsBoundaryPolicy']

PolicyUsageType = Literal['PermissionsPolicy', 'PermissionsBoundary']

policyScopeType = Literal['All', 'AWS', 'Local']

statusType = Literal['Active', 'Inactive', 'Expired']


class AccessKey(TypedDict, total=False):
    UserName: Required[str]
    AccessKeyId: Required[str]
    Status: Required[statusType]
    SecretAccessKey: Required[str]
    CreateDate: str


class AccessKeyMetadata(TypedDict, total=False):
    UserName: str
    AccessKeyId: str
    Status: statusType
    CreateDate: str


class AttachRolePolicyRequest(TypedDict, total=False):
    RoleName: Required[str]
    PolicyArn: Required[str]


class AttachUserPolicyRequest(TypedDict, total=False):
    UserName: Required[str]
    PolicyArn: Required[str]


class AttachedPermissionsBoundary(TypedDict, total=False):
    PermissionsBoundaryType: PermissionsBoundaryAttachmentType
    PermissionsBoundaryArn: str


class AttachedPolicy(TypedDict, total=False):
    PolicyName: str
    PolicyArn: str


class CreateAccessKeyRequest(TypedDict, total=False):
    UserName: str


class CreateAccessKeyResponse(TypedDict, total=False):
    AccessKey: Required[AccessKey]


class CreatePolicyRequest(TypedDict, total=False):
    PolicyName: Required[str]
    Path: str
    PolicyDocument: Required[str]
    Description: str
    Tags: list[Tag]


class CreatePolicyResponse(TypedDict, total=False):
    Policy: Policy


class CreatePolicyVersionRequest(TypedDict, total=False):
    PolicyArn: Required[str]
    PolicyDocument: Required[str]
    SetAsDefault: bool


class CreatePolicyVersionResponse(TypedDict, total=False):
    PolicyVersion: PolicyVersion


class CreateRoleRequest(TypedDict, total=False):
    Path: str
    RoleName: Required[str]
    AssumeRolePolicyDocument: Required[str]
    Description: str
    MaxSessionDuration: int
    MaxSigninSessionDuration: int
    PermissionsBoundary: str
    Tags: list[Tag]


class CreateRoleResponse(TypedDict, total=False):
    Role: Required[Role]


class CreateUserRequest(TypedDict, total=False):
    Path: str
    UserName: Required[str]
    PermissionsBoundary: str
    Tags: list[Tag]


class CreateUserResponse(TypedDict, total=False):
    User: User


class DeleteAccessKeyRequest(TypedDict, total=False):
    UserName: str
    AccessKeyId: Required[str]


class DeletePolicyRequest(TypedDict, total=False):
    PolicyArn: Required[str]


class DeletePolicyVersionRequest(TypedDict, total=False):
    PolicyArn: Required[str]
    VersionId: Required[str]


class DeleteRolePolicyRequest(TypedDict, total=False):
    RoleName: Required[str]
    PolicyName: Required[str]


class DeleteRoleRequest(TypedDict, total=False):
    RoleName: Required[str]


class DeleteUserPolicyRequest(TypedDict, total=False):
    UserName: Required[str]
    PolicyName: Required[str]


class DeleteUserRequest(TypedDict, total=False):
    UserName: Required[str]


class DetachRolePolicyRequest(TypedDict, total=False):
    RoleName: Required[str]
    PolicyArn: Required[str]


class DetachUserPolicyRequest(TypedDict, total=False):
    UserName: Required[str]
    PolicyArn: Required[str]


class GetPolicyRequest(TypedDict, total=False):
    PolicyArn: Required[str]


class GetPolicyResponse(TypedDict, total=False):
    Policy: Policy


class GetPolicyVersionRequest(TypedDict, total=False):
    PolicyArn: Required[str]
    VersionId: Required[str]


class GetPolicyVersionResponse(TypedDict, total=False):
    PolicyVersion: PolicyVersion


class GetRolePolicyRequest(TypedDict, total=False):
    RoleName: Required[str]
    PolicyName: Required[str]


class GetRolePolicyResponse(TypedDict, total=False):
    RoleName: Required[str]
    PolicyName: Required[str]
    PolicyDocument: Required[str]


class GetRoleRequest(TypedDict, total=False):
    RoleName: Required[str]


class GetRoleResponse(TypedDict, total=False):
    Role: Required[Role]


class GetUserPolicyRequest(TypedDict, total=False):
    UserName: Required[str]
    PolicyName: Required[str]


class GetUserPolicyResponse(TypedDict, total=False):
    UserName: Required[str]
    PolicyName: Required[str]
    PolicyDocument: Required[str]


class GetUserRequest(TypedDict, total=False):
    UserName: str


class GetUserResponse(TypedDict, total=False):
    User: Required[User]


class InstanceProfile(TypedDict, total=False):
    Path: Required[str]
    InstanceProfileName: Required[str]
    InstanceProfileId: Required[str]
    Arn: Required[str]
    CreateDate: Required[str]
    Roles: Required[list[Role]]
    Tags: list[Tag]


class ListAccessKeysRequest(TypedDict, total=False):
    UserName: str
    Marker: str
    MaxItems: int


class ListAccessKeysResponse(TypedDict, total=False):
    AccessKeyMetadata: Required[list[AccessKeyMetadata]]
    IsTruncated: bool
    Marker: str


class ListAttachedRolePoliciesRequest(TypedDict, total=False):
    RoleName: Required[str]
    PathPrefix: str
    Marker: str
    MaxItems: int


class ListAttachedRolePoliciesResponse(TypedDict, total=False):
    AttachedPolicies: list[AttachedPolicy]
    IsTruncated: bool
    Marker: str


class ListAttachedUserPoliciesRequest(TypedDict, total=False):
    UserName: Required[str]
    PathPrefix: str
    Marker: str
    MaxItems: int


class ListAttachedUserPoliciesResponse(TypedDict, total=False):
    AttachedPolicies: list[AttachedPolicy]
    IsTruncated: bool
    Marker: str


class ListEntitiesForPolicyRequest(TypedDict, total=False):
    PolicyArn: Required[str]
    EntityFilter: EntityType
    PathPrefix: str
    PolicyUsageFilter: PolicyUsageType
    Marker: str
    MaxItems: int


class ListEntitiesForPolicyResponse(TypedDict, total=False):
    PolicyGroups: list[PolicyGroup]
    PolicyUsers: list[PolicyUser]
    PolicyRoles: list[PolicyRole]
    IsTruncated: bool
    Marker: str


class ListInstanceProfilesForRoleRequest(TypedDict, total=False):
    RoleName: Required[str]
    Marker: str
    MaxItems: int


class ListInstanceProfilesForRoleResponse(TypedDict, total=False):
    InstanceProfiles: Required[list[InstanceProfile]]
    IsTruncated: bool
    Marker: str


class ListPoliciesRequest(TypedDict, total=False):
    Scope: policyScopeType
    OnlyAttached: bool
    PathPrefix: str
    PolicyUsageFilter: PolicyUsageType
    Marker: str
    MaxItems: int


class ListPoliciesResponse(TypedDict, total=False):
    Policies: list[Policy]
    IsTruncated: bool
    Marker: str


class ListPolicyTagsRequest(TypedDict, total=False):
    PolicyArn: Required[str]
    Marker: str
    MaxItems: int


class ListPolicyTagsResponse(TypedDict, total=False):
    Tags: Required[list[Tag]]
    IsTruncated: bool
    Marker: str


class ListPolicyVersionsRequest(TypedDict, total=False):
    PolicyArn: Required[str]
    Marker: str
    MaxItems: int


class ListPolicyVersionsResponse(TypedDict, total=False):
    Versions: list[PolicyVersion]
    IsTruncated: bool
    Marker: str


class ListRolePoliciesRequest(TypedDict, total=False):
    RoleName: Required[str]
    Marker: str
    MaxItems: int


class ListRolePoliciesResponse(TypedDict, total=False):
    PolicyNames: Required[list[str]]
    IsTruncated: bool
    Marker: str


class ListRoleTagsRequest(TypedDict, total=False):
    RoleName: Required[str]
    Marker: str
    MaxItems: int


class ListRoleTagsResponse(TypedDict, total=False):
    Tags: Required[list[Tag]]
    IsTruncated: bool
    Marker: str


class ListRolesRequest(TypedDict, total=False):
    PathPrefix: str
    Marker: str
    MaxItems: int


class ListRolesResponse(TypedDict, total=False):
    Roles: Required[list[Role]]
    IsTruncated: bool
    Marker: str


class ListUserPoliciesRequest(TypedDict, total=False):
    UserName: Required[str]
    Marker: str
    MaxItems: int


class ListUserPoliciesResponse(TypedDict, total=False):
    PolicyNames: Required[list[str]]
    IsTruncated: bool
    Marker: str


class ListUserTagsRequest(TypedDict, total=False):
    UserName: Required[str]
    Marker: str
    MaxItems: int


class ListUserTagsResponse(TypedDict, total=False):
    Tags: Required[list[Tag]]
    IsTruncated: bool
    Marker: str


class ListUsersRequest(TypedDict, total=False):
    PathPrefix: str
    Marker: str
    MaxItems: int


class ListUsersResponse(TypedDict, total=False):
    Users: Required[list[User]]
    IsTruncated: bool
    Marker: str


class Policy(TypedDict, total=False):
    PolicyName: str
    PolicyId: str
    Arn: str
    Path: str
    DefaultVersionId: str
    AttachmentCount: int
    PermissionsBoundaryUsageCount: int
    IsAttachable: bool
    Description: str
    CreateDate: str
    UpdateDate: str
    Tags: list[Tag]


class PolicyGroup(TypedDict, total=False):
    GroupName: str
    GroupId: str


class PolicyRole(TypedDict, total=False):
    RoleName: str
    RoleId: str


class PolicyUser(TypedDict, total=False):
    UserName: str
    UserId: str


class PolicyVersion(TypedDict, total=False):
    Document: str
    VersionId: str
    IsDefaultVersion: bool
    CreateDate: str


class PutRolePolicyRequest(TypedDict, total=False):
    RoleName: Required[str]
    PolicyName: Required[str]
    PolicyDocument: Required[str]


class PutUserPolicyRequest(TypedDict, total=False):
    UserName: Required[str]
    PolicyName: Required[str]
    PolicyDocument: Required[str]


class Role(TypedDict, total=False):
    Path: Required[str]
    RoleName: Required[str]
    RoleId: Required[str]
    Arn: Required[str]
    CreateDate: Required[str]
    AssumeRolePolicyDocument: str
    Description: str
    MaxSessionDuration: int
    MaxSigninSessionDuration: int
    PermissionsBoundary: AttachedPermissionsBoundary
    Tags: list[Tag]
    RoleLastUsed: RoleLastUsed
    SourceRoleTemplate: SourceRoleTemplate


class RoleLastUsed(TypedDict, total=False):
    LastUsedDate: str
    Region: str


class SetDefaultPolicyVersionRequest(TypedDict, total=False):
    PolicyArn: Required[str]
    VersionId: Required[str]


class SourceRoleTemplate(TypedDict, total=False):
    TemplateArn: Required[str]
    TemplateMinorVersion: Required[int]


class Tag(TypedDict, total=False):
    Key: Required[str]
    Value: Required[str]


class TagPolicyRequest(TypedDict, total=False):
    PolicyArn: Required[str]
    Tags: Required[list[Tag]]


class TagRoleRequest(TypedDict, total=False):
    RoleName: Required[str]
    Tags: Required[list[Tag]]


class TagUserRequest(TypedDict, total=False):
    UserName: Required[str]
    Tags: Required[list[Tag]]


class UntagPolicyRequest(TypedDict, total=False):
    PolicyArn: Required[str]
    TagKeys: Required[list[str]]


class UntagRoleRequest(TypedDict, total=False):
    RoleName: Required[str]
    TagKeys: Required[list[str]]


class UntagUserRequest(TypedDict, total=False):
    UserName: Required[str]
    TagKeys: Required[list[str]]


class UpdateAccessKeyRequest(TypedDict, total=False):
    UserName: str
    AccessKeyId: Required[str]
    Status: Required[statusType]


class UpdateAssumeRolePolicyRequest(TypedDict, total=False):
    RoleName: Required[str]
    PolicyDocument: Required[str]


class UpdateRoleDescriptionRequest(TypedDict, total=False):
    RoleName: Required[str]
    Description: Required[str]


class UpdateRoleDescriptionResponse(TypedDict, total=False):
    Role: Role


class UpdateRoleRequest(TypedDict, total=False):
    RoleName: Required[str]
    Description: str
    MaxSessionDuration: int
    MaxSigninSessionDuration: int
    ResetMaxSigninSessionDuration: bool


class UpdateRoleResponse(TypedDict, total=False):
    pass


class User(TypedDict, total=False):
    Path: Required[str]
    UserName: Required[str]
    UserId: Required[str]
    Arn: Required[str]
    CreateDate: Required[str]
    PasswordLastUsed: str
    PermissionsBoundary: AttachedPermissionsBoundary
    Tags: list[Tag]
