"""The checked-in typed stubs are exactly what the generator makes today.

Regenerate with ``python -m latticework.tools.genstubs vpc-lattice >
src/latticework/services/lattice/api_types.py`` after adding an operation or
changing the pinned botocore.
"""

from __future__ import annotations

from pathlib import Path

import latticework
from latticework.api.models import service_model
from latticework.tools.genstubs import implemented, render

STUBS = Path(latticework.__file__).parent / "services" / "lattice" / "api_types.py"


def test_lattice_stubs_are_up_to_date():
    expected = render(service_model("vpc-lattice"), implemented("vpc-lattice"))
    assert STUBS.read_text() == expected, "stale stubs: regenerate with python -m latticework.tools.genstubs"


def test_stubs_list_the_implemented_operations():
    from latticework.services.lattice import api_types

    assert list(api_types.OPERATIONS) == implemented("vpc-lattice")


def test_every_error_shape_has_its_model_status():
    from latticework.services.lattice import api_types

    for shape in service_model("vpc-lattice").error_shapes:
        stub = getattr(api_types, shape.name)
        assert (stub.code, stub.status) == (shape.name, shape.metadata["error"]["httpStatusCode"])
