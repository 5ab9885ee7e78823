"""Access to botocore's service models, the single source of truth for the wire.

Every route, member location, status code, error shape and constraint the API
layer uses is read from these models; nothing about the wire is hand-written.
"""

from __future__ import annotations

import functools

import botocore.loaders
import botocore.model


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@functools.cache
def service_model(service: str) -> botocore.model.ServiceModel:
    """The botocore model of ``service`` (e.g. ``vpc-lattice``, ``sts``)."""
    data = _loader().load_service_model(service, "service-2")
    return botocore.model.ServiceModel(data, service_name=service)


def error_shape(model: botocore.model.ServiceModel, code: str) -> botocore.model.StructureShape | None:
    """The model's error shape named ``code``, if the model declares one."""
    for shape in model.error_shapes:
        if isinstance(shape, botocore.model.StructureShape) and (shape.name == code or shape.error_code == code):
            return shape
    return None
