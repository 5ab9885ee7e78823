"""Typed stubs for the Amazon VPC Lattice operations Latticework implements.

Generated from botocore's vpc-lattice 2022-11-30 model by
``python -m latticework.tools.genstubs``; do not edit by hand.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

from latticework.api.errors import ServiceError

OPERATIONS = ('CreateServiceNetwork', 'DeleteServiceNetwork', 'GetServiceNetwork', 'ListServiceNetworks', 'ListTagsForResource', 'TagResource', 'UntagResource', 'UpdateServiceNetwork')


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


class CreateServiceNetworkRequest(TypedDict, total=False):
    clientToken: str
    name: Required[str]
    authType: Literal['NONE', 'AWS_IAM']
    tags: dict[str, str]
    sharingConfig: "SharingConfig"


class CreateServiceNetworkResponse(TypedDict, total=False):
    id: str
    name: str
    arn: str
    sharingConfig: "SharingConfig"
    authType: Literal['NONE', 'AWS_IAM']


class DeleteServiceNetworkRequest(TypedDict, total=False):
    serviceNetworkIdentifier: Required[str]


class DeleteServiceNetworkResponse(TypedDict, total=False):
    pass


class GetServiceNetworkRequest(TypedDict, total=False):
    serviceNetworkIdentifier: Required[str]


class GetServiceNetworkResponse(TypedDict, total=False):
    id: str
    name: str
    createdAt: str
    lastUpdatedAt: str
    arn: str
    authType: Literal['NONE', 'AWS_IAM']
    sharingConfig: "SharingConfig"
    numberOfAssociatedVPCs: int
    numberOfAssociatedServices: int


class ListServiceNetworksRequest(TypedDict, total=False):
    maxResults: int
    nextToken: str


class ListServiceNetworksResponse(TypedDict, total=False):
    items: Required[list["ServiceNetworkSummary"]]
    nextToken: str


class ListTagsForResourceRequest(TypedDict, total=False):
    resourceArn: Required[str]


class ListTagsForResourceResponse(TypedDict, total=False):
    tags: dict[str, str]


class ServiceNetworkSummary(TypedDict, total=False):
    id: str
    name: str
    arn: str
    createdAt: str
    lastUpdatedAt: str
    numberOfAssociatedVPCs: int
    numberOfAssociatedServices: int
    numberOfAssociatedResourceConfigurations: int


class SharingConfig(TypedDict, total=False):
    enabled: bool


class TagResourceRequest(TypedDict, total=False):
    resourceArn: Required[str]
    tags: Required[dict[str, str]]


class TagResourceResponse(TypedDict, total=False):
    pass


class UntagResourceRequest(TypedDict, total=False):
    resourceArn: Required[str]
    tagKeys: Required[list[str]]


class UntagResourceResponse(TypedDict, total=False):
    pass


class UpdateServiceNetworkRequest(TypedDict, total=False):
    serviceNetworkIdentifier: Required[str]
    authType: Required[Literal['NONE', 'AWS_IAM']]


class UpdateServiceNetworkResponse(TypedDict, total=False):
    id: str
    name: str
    arn: str
    authType: Literal['NONE', 'AWS_IAM']
