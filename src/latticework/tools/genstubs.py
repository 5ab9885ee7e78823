"""Generate typed stubs for the operations each provider implements.

For a service, this writes one module with a ``TypedDict`` per structure
reachable from the implemented operations' inputs and outputs (the request
and response types the provider methods are annotated with, and the shapes
they nest), a ``Literal`` alias per enum they use, and, for the services whose
providers raise them, an exception class per error shape of the model (code
and status from the model). An operation the model gives no input or output
shape takes ``NoInput`` or answers ``NoOutput`` (the provider returns ``{}``).

Only implemented operations get stubs: a provider method named by
``xform_name`` of the operation is what makes it implemented.
``tests/test_stubs.py`` regenerates every target and fails on any difference,
so the checked-in stubs always match the pinned botocore model and the
providers.

    python -m latticework.tools.genstubs --write        # every target (make stubs)
    python -m latticework.tools.genstubs vpc-lattice    # one service, to stdout

Provider modules import the stubs as a module (``from ... import api_types as
shapes``) and name the types in annotations only, so a new operation can be
written against a type the generator has not made yet, then generated.
"""

from __future__ import annotations

import importlib
import keyword
import sys
from dataclasses import dataclass
from pathlib import Path

from botocore import xform_name
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StringShape, StructureShape

from latticework.api.models import service_model

_SCALAR = {"string": "str", "integer": "int", "long": "int", "boolean": "bool", "timestamp": "str",
           "float": "float", "double": "float", "blob": "bytes"}
NO_INPUT = "NoInput"
NO_OUTPUT = "NoOutput"
_WIDTH = 120
# Names the generated module binds itself; no shape may take one.
_RESERVED = {"Literal", "Required", "TypedDict", "ServiceError", "OPERATIONS", NO_INPUT, NO_OUTPUT}


@dataclass(frozen=True)
class Target:
    """A service with checked-in stubs: the provider that defines what is implemented, and where they live."""

    module: str
    provider: str
    path: str  # relative to the latticework package
    exceptions: bool = False  # the provider raises the generated error classes

    @property
    def file(self) -> Path:
        return Path(__file__).resolve().parent.parent / self.path


TARGETS = {
    "vpc-lattice": Target("latticework.services.lattice.provider", "LatticeProvider",
                          "services/lattice/api_types.py", exceptions=True),
    "ec2": Target("latticework.services.ec2.provider", "Ec2Provider", "services/ec2/api_types.py"),
    "elbv2": Target("latticework.services.elbv2.provider", "ElbV2Provider", "services/elbv2/api_types.py"),
    "sts": Target("latticework.services.sts", "StsProvider", "services/sts_api_types.py"),
    "iam": Target("latticework.services.iam.provider", "IamProvider", "services/iam/api_types.py"),
    "ram": Target("latticework.services.ram.provider", "RamProvider", "services/ram/api_types.py", exceptions=True),
}


# -- shapes ------------------------------------------------------------------

def _type(shape: Shape) -> str:
    if isinstance(shape, StructureShape):
        return shape.name
    if isinstance(shape, ListShape):
        return f"list[{_type(shape.member)}]"
    if isinstance(shape, MapShape):
        return f"dict[{_type(shape.key)}, {_type(shape.value)}]"
    if isinstance(shape, StringShape) and shape.enum:
        return shape.name
    return _SCALAR[shape.type_name]


def _collect(shape: Shape | None, structures: dict[str, StructureShape], enums: dict[str, StringShape]) -> None:
    """Every structure and enum reachable from ``shape``."""
    if isinstance(shape, StructureShape):
        if shape.name in structures:
            return
        structures[shape.name] = shape
        for member in shape.members.values():
            _collect(member, structures, enums)
    elif isinstance(shape, ListShape):
        _collect(shape.member, structures, enums)
    elif isinstance(shape, MapShape):
        _collect(shape.key, structures, enums)
        _collect(shape.value, structures, enums)
    elif isinstance(shape, StringShape) and shape.enum:
        enums[shape.name] = shape


def operation_types(model: ServiceModel, operation: str) -> tuple[str, str]:
    """The names of an operation's request and response types in its stubs."""
    op = model.operation_model(operation)
    return (op.input_shape.name if op.input_shape is not None else NO_INPUT,
            op.output_shape.name if op.output_shape is not None else NO_OUTPUT)


# -- rendering ---------------------------------------------------------------

def _wrapped(head: str, items: list[str], tail: str) -> list[str]:
    """``head`` + items joined by ", " + ``tail``, on one line or one indented block of lines."""
    line = head + ", ".join(items) + tail
    if len(line) <= _WIDTH:
        return [line]
    lines, current = [head.rstrip()], "   "
    for item in items:
        if len(current) + len(item) + 2 > _WIDTH:
            lines.append(current.rstrip())
            current = "   "
        current += f" {item},"
    return lines + [current.rstrip(), tail.strip()]


def _enum(shape: StringShape) -> list[str]:
    return _wrapped(f"{shape.name} = Literal[", [repr(v) for v in shape.enum], "]")


def _annotation(shape: StructureShape, name: str) -> str:
    annotation = _type(shape.members[name])
    return f"Required[{annotation}]" if name in shape.required_members else annotation


def _typed_dict(shape: StructureShape) -> list[str]:
    names = list(shape.members)
    if any(keyword.iskeyword(n) or not n.isidentifier() for n in names):
        # A member that cannot be a class attribute: the functional form keeps the wire key.
        fields = [f"{n!r}: {_annotation(shape, n)!r}" for n in names]
        return _wrapped(f"{shape.name} = TypedDict({shape.name!r}, {{", fields, "}, total=False)")
    lines = [f"class {shape.name}(TypedDict, total=False):"]
    lines += [f"    {n}: {_annotation(shape, n)}" for n in names]
    if not names:
        lines.append("    pass")
    return lines


def _empty(name: str, doc: str) -> list[str]:
    return [f"class {name}(TypedDict):", f'    """{doc}"""']


def _exception(shape: Shape) -> list[str]:
    error = shape.metadata.get("error", {})
    return [
        f"class {shape.name}(ServiceError):",
        f"    code = {error.get('code', shape.name)!r}",
        f"    status = {error.get('httpStatusCode', 400)}",
        f"    sender_fault = {bool(error.get('senderFault', False))}",
    ]


def render(model: ServiceModel, operations: list[str], exceptions: bool = True) -> str:
    structures: dict[str, StructureShape] = {}
    enums: dict[str, StringShape] = {}
    for name in operations:
        op = model.operation_model(name)
        _collect(op.input_shape, structures, enums)
        _collect(op.output_shape, structures, enums)
    clashes = _RESERVED & (set(structures) | set(enums))
    assert not clashes, f"shape names clash with the stubs' own names: {sorted(clashes)}"
    types = [operation_types(model, name) for name in operations]
    typing = ["Literal"] * bool(enums) + ["Required"] * any(s.required_members for s in structures.values())
    out = [
        f'"""Typed stubs for the {model.metadata["serviceFullName"]} operations Latticework implements.',
        "",
        f"Generated from botocore's {model.service_name} {model.api_version} model by",
        "``python -m latticework.tools.genstubs``; do not edit by hand.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"from typing import {', '.join(typing + ['TypedDict'])}",
    ]
    if exceptions:
        out += ["", "from latticework.api.errors import ServiceError"]
    out += [""] + _wrapped("OPERATIONS = (", [repr(name) for name in operations], ",)" if len(operations) == 1 else ")")
    if exceptions:
        for shape in model.error_shapes:
            out += ["", ""] + _exception(shape)
    if any(request == NO_INPUT for request, _ in types):
        out += ["", ""] + _empty(NO_INPUT, "The input of an operation the model gives no input shape.")
    if any(response == NO_OUTPUT for _, response in types):
        out += ["", ""] + _empty(NO_OUTPUT, "The output of an operation the model gives no output shape: ``{}``.")
    if enums:
        out.append("")
        for name in sorted(enums):
            out += [""] + _enum(enums[name])
    for name in sorted(structures):
        out += ["", ""] + _typed_dict(structures[name])
    return "\n".join(out) + "\n"


def implemented(service: str) -> list[str]:
    """The model's operations the service's provider has a method for, in model order."""
    target = TARGETS[service]
    provider = getattr(importlib.import_module(target.module), target.provider)
    return [op for op in service_model(service).operation_names if callable(getattr(provider, xform_name(op), None))]


def generate(service: str) -> str:
    return render(service_model(service), implemented(service), TARGETS[service].exceptions)


def main(argv: list[str]) -> int:
    if argv[1:] == ["--write"]:
        for service, target in TARGETS.items():
            target.file.write_text(generate(service))
        return 0
    service = argv[1] if len(argv) > 1 else "vpc-lattice"
    sys.stdout.write(generate(service))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
