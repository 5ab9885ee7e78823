"""Generate typed stubs for the operations a provider implements.

For a service, this writes one module with: an exception class per error
shape of the model (status code from the model), and a ``TypedDict`` per
structure reachable from the implemented operations' inputs and outputs.
Only implemented operations get stubs. ``tests/test_stubs.py`` regenerates
and fails on any difference, so the checked-in stubs always match the pinned
botocore model and the provider.

    python -m latticework.tools.genstubs vpc-lattice > src/latticework/services/lattice/api_types.py
"""

from __future__ import annotations

import keyword
import sys

from botocore.model import ServiceModel, Shape

from latticework.api.models import service_model

_SCALAR = {"string": "str", "integer": "int", "long": "int", "boolean": "bool", "timestamp": "str",
           "float": "float", "double": "float", "blob": "bytes"}

# Services whose stubs live in the package, with the provider class that
# defines which operations are implemented.
TARGETS = {
    "vpc-lattice": ("latticework.services.lattice.provider", "LatticeProvider"),
}


def _type(shape: Shape) -> str:
    kind = shape.type_name
    if kind == "structure":
        return f'"{shape.name}"'
    if kind == "list":
        return f"list[{_type(shape.member)}]"
    if kind == "map":
        return f"dict[{_type(shape.key)}, {_type(shape.value)}]"
    if kind == "string" and shape.enum:
        return "Literal[" + ", ".join(repr(v) for v in shape.enum) + "]"
    return _SCALAR[kind]


def _structures(shape: Shape | None, seen: dict[str, Shape]) -> None:
    if shape is None:
        return
    if shape.type_name == "structure":
        if shape.name in seen:
            return
        seen[shape.name] = shape
        for member in shape.members.values():
            _structures(member, seen)
    elif shape.type_name == "list":
        _structures(shape.member, seen)
    elif shape.type_name == "map":
        _structures(shape.value, seen)


def _typed_dict(shape: Shape) -> list[str]:
    lines = [f"class {shape.name}(TypedDict, total=False):"]
    required = set(shape.required_members)
    for name, member in shape.members.items():
        attr = name + "_" if keyword.iskeyword(name) else name
        annotation = _type(member)
        lines.append(f"    {attr}: {'Required[' + annotation + ']' if name in required else annotation}")
    if len(lines) == 1:
        lines.append("    pass")
    return lines


def _exception(shape: Shape) -> list[str]:
    status = shape.metadata.get("error", {}).get("httpStatusCode", 400)
    return [
        f"class {shape.name}(ServiceError):",
        f"    code = {shape.name!r}",
        f"    status = {status}",
        f"    sender_fault = {bool(shape.metadata.get('error', {}).get('senderFault', False))}",
    ]


def render(model: ServiceModel, operations: list[str]) -> str:
    seen: dict[str, Shape] = {}
    for name in operations:
        op = model.operation_model(name)
        _structures(op.input_shape, seen)
        _structures(op.output_shape, seen)
    out = [
        f'"""Typed stubs for the {model.metadata["serviceFullName"]} operations Latticework implements.',
        "",
        f"Generated from botocore's {model.service_name} {model.api_version} model by",
        "``python -m latticework.tools.genstubs``; do not edit by hand.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Literal, Required, TypedDict",
        "",
        "from latticework.api.errors import ServiceError",
        "",
        f"OPERATIONS = {tuple(operations)!r}",
    ]
    for shape in model.error_shapes:
        out += ["", ""] + _exception(shape)
    for name in sorted(seen):
        out += ["", ""] + _typed_dict(seen[name])
    return "\n".join(out) + "\n"


def implemented(service: str) -> list[str]:
    module_name, class_name = TARGETS[service]
    module = __import__(module_name, fromlist=[class_name])
    provider = getattr(module, class_name)
    from botocore import xform_name

    model = service_model(service)
    return [op for op in model.operation_names if callable(getattr(provider, xform_name(op), None))]


def main(argv: list[str]) -> int:
    service = argv[1] if len(argv) > 1 else "vpc-lattice"
    sys.stdout.write(render(service_model(service), implemented(service)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
