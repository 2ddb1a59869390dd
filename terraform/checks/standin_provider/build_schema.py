"""Synthesise the google provider's schema from the type data inside cdktf's Python wheel.

The real `hashicorp/google` provider cannot be downloaded here, but the PyPI wheel
`cdktf-cdktf-provider-google==16.12.1` (google provider 6.50.0) carries a `.jsii` type file that
describes every resource and data source: each `...Config` struct lists the arguments (with a
link to the registry docs whose anchor is the Terraform argument name, `optional`, and a type),
struct-typed arguments are nested blocks, and read-only properties of the resource class and of
its `...OutputReference` classes are the computed attributes.

From that, this writes a serialised tfplugin6 `GetProviderSchema.Response` that `provider.py`
serves, so the real `terraform validate` and `terraform test` can check our configuration.

    python build_schema.py <wheel> <output.pb>
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
import time
import zipfile
from typing import Any

from tf.gen import tfplugin_pb2 as pb

RESOURCE_LINK = re.compile(r"docs/(resources|data-sources)/[a-z0-9_]+ (google(?:_[a-z0-9]+)*)\}")
ARGUMENT_LINK = re.compile(r"#([a-z0-9_]+) [A-Za-z0-9]+#")
META_ARGUMENTS = "cdktf.TerraformMetaArguments"
PRIMITIVES = {
    "string": "string", "number": "number", "boolean": "bool", "any": "dynamic", "json": "dynamic", "date": "string",
}  # fmt: skip
NOT_ATTRIBUTES = {
    "internalValue", "tfResourceType", "fqn", "creationStack", "node", "friendlyUniqueId", "terraformResourceType",
    "terraformGeneratorMetadata", "terraformMetaArguments", "rawOverrides",
}  # fmt: skip


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Synthesiser:
    def __init__(self, types: dict[str, Any]) -> None:
        self.types = types

    def properties(self, fqn: str) -> list[dict[str, Any]]:
        """A struct's properties, with those of the structs it extends (not the meta-arguments)."""
        found = list(self.types[fqn].get("properties", []))
        for parent in self.types[fqn].get("interfaces", []):
            if parent != META_ARGUMENTS and parent in self.types:
                found += self.properties(parent)
        return found

    def is_struct(self, fqn: str) -> bool:
        t = self.types.get(fqn)
        return bool(t) and t["kind"] == "interface" and bool(t.get("datatype"))

    def block_item(self, type_ref: dict[str, Any]) -> tuple[str, bool] | None:
        """If a property is a nested block, its struct and whether it is a single block."""
        if "fqn" in type_ref and self.is_struct(type_ref["fqn"]):
            return type_ref["fqn"], True
        candidates = type_ref["union"]["types"] if "union" in type_ref else [type_ref]
        for candidate in candidates:
            collection = candidate.get("collection")
            if collection and collection["kind"] == "array":
                element = collection["elementtype"]
                if "fqn" in element and self.is_struct(element["fqn"]):
                    return element["fqn"], False
        return None

    def cty(self, type_ref: dict[str, Any]) -> Any:
        if "primitive" in type_ref:
            return PRIMITIVES.get(type_ref["primitive"], "dynamic")
        if "collection" in type_ref:
            kind = "list" if type_ref["collection"]["kind"] == "array" else "map"
            return [kind, self.cty(type_ref["collection"]["elementtype"])]
        if "union" in type_ref:
            members = [t for t in type_ref["union"]["types"] if t.get("fqn") != "cdktf.IResolvable"]
            return self.cty(members[0]) if len(members) == 1 else "dynamic"
        return "dynamic"

    def block(self, struct_fqn: str, output_fqn: str | None) -> pb.Schema.Block:
        attributes: list[pb.Schema.Attribute] = []
        blocks: list[pb.Schema.NestedBlock] = []
        names: set[str] = set()
        for prop in self.properties(struct_fqn):
            remarks = prop.get("docs", {}).get("remarks", "")
            match = ARGUMENT_LINK.search(remarks)
            name = match.group(1) if match else snake(prop["name"])
            if name in names:
                continue
            names.add(name)
            required = not prop.get("optional")
            item = self.block_item(prop["type"])
            if item is not None:
                item_fqn, single = item
                nested = self.block(item_fqn, item_fqn + "OutputReference")
                blocks.append(
                    pb.Schema.NestedBlock(
                        type_name=name,
                        block=nested,
                        nesting=pb.Schema.NestedBlock.NestingMode.LIST,
                        min_items=1 if required else 0,
                        max_items=1 if single else 0,
                    )
                )
                continue
            attributes.append(
                pb.Schema.Attribute(
                    name=name,
                    type=json.dumps(self.cty(prop["type"])).encode(),
                    required=required,
                    optional=not required,
                    computed=not required,
                )
            )
        for prop in self.types.get(output_fqn or "", {}).get("properties", []):
            getter = prop["name"]
            if not prop.get("immutable") or prop.get("static") or getter.endswith("Input") or getter in NOT_ATTRIBUTES:
                continue
            name = snake(getter)
            if name in names:
                continue
            names.add(name)
            computed_type = self.cty(prop["type"]) if "fqn" not in prop["type"] else "dynamic"
            attributes.append(pb.Schema.Attribute(name=name, type=json.dumps(computed_type).encode(), computed=True))
        return pb.Schema.Block(attributes=attributes, block_types=blocks)

    def schema(self) -> pb.GetProviderSchema.Response:
        response = pb.GetProviderSchema.Response()
        provider_config = "@cdktf/provider-google.provider.GoogleProviderConfig"
        response.provider.CopyFrom(pb.Schema(block=self.block(provider_config, None)))
        for fqn, t in self.types.items():
            if t["kind"] != "class":
                continue
            match = RESOURCE_LINK.search(t.get("docs", {}).get("summary", ""))
            config = fqn + "Config"
            if not match or config not in self.types:
                continue
            kind, type_name = match.groups()
            target = response.resource_schemas if kind == "resources" else response.data_source_schemas
            target[type_name].CopyFrom(pb.Schema(version=0, block=self.block(config, fqn)))
        response.server_capabilities.CopyFrom(pb.ServerCapabilities(plan_destroy=True))
        return response


def load_types(wheel: str) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".jsii.tgz"))
        data = archive.read(name)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile("package/.jsii")
        assert member is not None
        types: dict[str, Any] = json.load(member)["types"]
    return types


def main(wheel: str, output: str) -> None:
    started = time.time()
    response = Synthesiser(load_types(wheel)).schema()
    with open(output, "wb") as out:
        out.write(response.SerializeToString())
    print(
        f"synthesised {len(response.resource_schemas)} resources and {len(response.data_source_schemas)} data sources "
        f"in {time.time() - started:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
