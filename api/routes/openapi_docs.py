"""The API's documentation: a Swagger UI that reads OpenAPI 3.1 (served from local files), request examples,
and the answers every operation can give besides its own (401/403 from the routes, 413 and 503 here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

# Swagger UI 5 (from the swagger-ui-py package's static files): 4.x cannot render the OpenAPI 3.1 FastAPI writes.
_SPEC = importlib.util.find_spec("swagger_ui")
assert _SPEC is not None and _SPEC.submodule_search_locations, "swagger-ui-py is a dependency"
SWAGGER_UI_DIR = Path(next(iter(_SPEC.submodule_search_locations))) / "static"

EXAMPLE_FIELDS = ("placement_id", "service", "start_date", "age", "care_type", "provider", "core_weekly_fee")
LOG_UNAVAILABLE = {
    "description": "the decision log (which also holds users) cannot be reached: nothing was stored, try again",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}
TOO_LARGE = {
    "description": "request body too large",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Add request examples, 413 on every upload and 503 on every operation; a bearer-token security scheme."""
    paths = schema.get("paths", {})
    fields = schema.get("components", {}).get("schemas", {}).get("PlacementIn", {}).get("properties", {})
    placement = {name: fields[name]["examples"][0] for name in EXAMPLE_FIELDS if fields.get(name, {}).get("examples")}
    single = paths.get("/v1/decisions", {}).get("post")
    if single:
        _example(single, placement)
    batch = paths.get("/v1/decisions/batch", {}).get("post")
    if batch:
        _example(batch, [placement, {**placement, "placement_id": f"{placement.get('placement_id', 'P')}-B"}])
    approvals = paths.get("/v1/decisions/{decision_id}/approvals", {}).get("post")
    if approvals:
        _example(approvals, {"decision": "approve", "reason": "Care Cubed costing supports £1,140.00"})
    for path, operations in paths.items():
        for method, operation in operations.items():
            answers = operation.setdefault("responses", {})
            if method in ("post", "put", "patch"):
                answers.setdefault("413", TOO_LARGE)
            answers.setdefault("503", LOG_UNAVAILABLE)
            if path != "/healthz":
                operation.setdefault("security", [{"bearer": []}, {}])  # {}: none in the local single-user mode
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "the token printed by `carerules users add` (none needed in the local single-user mode)",
    }
    return schema


def _example(operation: dict[str, Any], example: Any) -> None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None:
        content["example"] = example
