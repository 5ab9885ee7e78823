"""The checked-in typed stubs are exactly what the generator makes today, and the providers use them.

Regenerate with ``make stubs`` (``python -m latticework.tools.genstubs --write``)
after adding an operation or changing the pinned botocore.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from botocore import xform_name

from latticework.api.models import service_model
from latticework.tools.genstubs import TARGETS, generate, implemented, operation_types


def _stubs(service: str):
    target = TARGETS[service]
    return importlib.import_module("latticework." + target.path.removesuffix(".py").replace("/", "."))


def _provider(service: str):
    target = TARGETS[service]
    return getattr(importlib.import_module(target.module), target.provider)


@pytest.mark.parametrize("service", sorted(TARGETS))
def test_stubs_are_up_to_date(service):
    assert TARGETS[service].file.read_text() == generate(service), "stale stubs: regenerate with make stubs"


@pytest.mark.parametrize("service", sorted(TARGETS))
def test_stubs_list_the_implemented_operations(service):
    assert list(_stubs(service).OPERATIONS) == implemented(service)


@pytest.mark.parametrize("service", sorted(TARGETS))
def test_provider_methods_take_and_return_the_generated_types(service):
    """``params: <module>.<Input>`` and ``-> <module>.<Output>`` on every implemented operation."""
    model, stubs, provider = service_model(service), _stubs(service), _provider(service)
    for operation in implemented(service):
        request, response = operation_types(model, operation)
        signature = inspect.signature(getattr(provider, xform_name(operation)))
        annotations = (signature.parameters["params"].annotation, signature.return_annotation)
        assert tuple(a.rpartition(".")[2] for a in annotations) == (request, response), operation
        assert hasattr(stubs, request) and hasattr(stubs, response), operation


def test_every_error_shape_has_its_model_status():
    from latticework.services.lattice import api_types

    for shape in service_model("vpc-lattice").error_shapes:
        stub = getattr(api_types, shape.name)
        assert (stub.code, stub.status) == (shape.name, shape.metadata["error"]["httpStatusCode"])
