"""Export the JSON Schema of each topic's messages, so publishers in any language can validate.

`python -m customerio_gcp.messages.schema docs/messages` rewrites the files; a unit test fails
when they no longer match the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from customerio_gcp.messages.codec import adapter
from customerio_gcp.messages.models import TopicKind


def export_schemas() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    topics: tuple[TopicKind, ...] = ("identify", "track", "transactional")
    for topic in topics:
        schema = adapter(topic).json_schema(by_alias=True)
        schema["title"] = f"customerio-gcp {topic} topic message, v1"
        schemas[topic] = schema
    return schemas


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "docs/messages")
    target.mkdir(parents=True, exist_ok=True)
    for topic, schema in export_schemas().items():
        (target / f"{topic}.schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
