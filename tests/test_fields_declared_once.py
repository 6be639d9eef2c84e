"""A field declared once, on the placement model, reaches everything generated from it.

The API's request schema, the web form, the rule vocabulary and batch validation are all generated from
the placement model (``engine/validate/placement.py``, whose fields are declared in groups in
``engine/validate/field_groups/``). This test declares a throwaway field in a copy of one group's file only (in a fresh
process, so nothing else is touched) and shows it in the OpenAPI document, accepted and validated in a
request, rendered as a form input, known to the rule vocabulary, and read and validated from a book column in
an audit. It also pins what is generated today against the model, so a second declaration cannot creep back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from api.main import create_app
from api.routes.schemas import placement_schema
from api.serve.settings import Settings
from api.web.form import FORM_FIELDS
from engine.language.vocabulary import ENUMS, FIELDS
from engine.validate.batch import SPECS
from engine.validate.fields import field_specs
from engine.validate.placement import REGISTER_FIELDS, Placement

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    from pathlib import Path

    source = Path("engine/validate/field_groups/pricing.py").read_text()
    anchor = "    provider: Annotated["
    assert anchor in source
    throwaway = (
        '    pets_allowed: Annotated[Flag, about("The home takes pets", True, "care_home",'
        ' "Whether the person may bring a pet.")] = False\\n'
    )
    import importlib.abc, importlib.util
    path = str(Path("engine/validate/field_groups/pricing.py").resolve())
    patched = source.replace(anchor, throwaway + anchor, 1)

    class TestOnlyCopy(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, _path, _target=None):
            if name != "engine.validate.field_groups.pricing":
                return None
            return importlib.util.spec_from_loader(name, self, origin=path)

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            module.__file__ = path
            exec(compile(patched, path, "exec"), module.__dict__)

    sys.meta_path.insert(0, TestOnlyCopy())

    from fastapi.testclient import TestClient
    from api.main import create_app
    from api.serve.settings import Settings
    from engine.audit.books.read import table_from_records
    from engine.audit.run import run_audit
    from engine.language.vocabulary import FIELDS

    out = {"vocabulary": FIELDS.get("pets_allowed") and FIELDS["pets_allowed"].value}
    folder = tempfile.mkdtemp()
    settings = Settings(database_url=f"sqlite:///{folder}/log.db", allowed_hosts=["testserver"])
    with TestClient(create_app(settings)) as client:
        out["openapi"] = client.get("/openapi.json").json()["components"]["schemas"]["PlacementIn"]["properties"].get(
            "pets_allowed"
        )
        placement = {"placement_id": "P-1", "service": "care_home", "start_date": "2026-05-04", "age": 84,
                     "care_type": "residential", "core_weekly_fee": "915.00"}
        good = client.post("/v1/decisions", json={**placement, "pets_allowed": "Yes"})
        bad = client.post("/v1/decisions", json={**placement, "pets_allowed": "a cat"})
        out["accepted"] = good.status_code
        out["refused"] = [bad.status_code, bad.json()["error"]["fields"]]
        out["form"] = client.get("/").text
    rows = [{**placement, "placement_id": f"P-{i}", "pets_allowed": cell} for i, cell in enumerate(["y", "a cat"])]
    audit = run_audit(table_from_records(rows))
    out["audit_valid"] = audit.parsed.valid.tolist()
    out["audit_errors"] = audit.parsed.errors
    out["audit_value"] = bool(audit.parsed.cols["pets_allowed"].v[0])
    out["audit_warnings"] = audit.warnings
    print(json.dumps(out))
    """
)


def test_a_field_declared_once_reaches_the_api_the_form_the_vocabulary_and_the_audit() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["vocabulary"] == "bool"
    assert out["openapi"]["title"] == "The home takes pets"
    assert out["openapi"]["examples"] == [True] and out["openapi"]["default"] is False
    assert out["accepted"] == 201
    assert out["refused"][0] == 422 and "true or false" in out["refused"][1]["pets_allowed"][0]
    assert 'name="pets_allowed"' in out["form"] and "The home takes pets" in out["form"]
    assert "Whether the person may bring a pet." in out["form"]
    assert out["audit_valid"] == [True, False] and out["audit_value"] is True
    assert list(out["audit_errors"]) == ["1"] and "true or false" in out["audit_errors"]["1"]["pets_allowed"][0]
    assert not any("pets_allowed" in warning for warning in out["audit_warnings"])


def test_what_is_generated_names_the_models_fields_and_limits() -> None:
    specs = field_specs(Placement)
    assert list(SPECS) == list(Placement.model_fields)
    schema = placement_schema()
    given = [name for name in Placement.model_fields if name not in REGISTER_FIELDS]  # the register gives those
    assert list(schema["properties"]) == given and not set(REGISTER_FIELDS) & set(schema["properties"])
    assert schema["required"] == [name for name, info in Placement.model_fields.items() if info.is_required()]
    assert schema["properties"]["provider"]["anyOf"][0]["maxLength"] == specs["provider"].max_length == 200
    assert schema["properties"]["placement_id"]["pattern"] == specs["placement_id"].pattern
    assert schema["properties"]["age"]["anyOf"][0] == {"type": "integer", "minimum": 18, "maximum": 120}
    assert all(prop["examples"] and prop["title"] for prop in schema["properties"].values())
    assert set(ENUMS) == {name for name, spec in specs.items() if spec.kind == "enum"}
    assert set(FIELDS) <= set(specs)
    on_form = {name for name, spec in specs.items() if spec.section}
    assert set(FORM_FIELDS) == on_form and "end_date" in on_form


def test_the_api_documents_the_generated_placement(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    with TestClient(
        create_app(Settings(database_url=f"sqlite:///{tmp_path / 'log.db'}", allowed_hosts=["testserver"]))
    ) as client:
        documented = client.get("/openapi.json").json()["components"]["schemas"]["PlacementIn"]
    assert documented == json.loads(json.dumps(placement_schema()))
