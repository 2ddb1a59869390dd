"""The schema of the one `hashicorp/time` resource this configuration uses, `time_sleep`, as a
serialised tfplugin6 `GetProviderSchema.Response` that `provider.py` serves (the stand-in for
`hashicorp/time` 0.13.1). Written by hand from the provider's documentation
(registry.terraform.io/providers/hashicorp/time/latest/docs/resources/sleep): create_duration,
destroy_duration, triggers, id.

    python time_schema.py <output.pb>
"""

from __future__ import annotations

import json
import sys

from tf.gen import tfplugin_pb2 as pb


def attribute(name: str, cty: object, *, optional: bool = True, computed: bool = False) -> pb.Schema.Attribute:
    return pb.Schema.Attribute(name=name, type=json.dumps(cty).encode(), optional=optional, computed=computed)


def main(output: str) -> None:
    sleep = pb.Schema.Block(
        attributes=[
            attribute("create_duration", "string"),
            attribute("destroy_duration", "string"),
            attribute("triggers", ["map", "string"]),
            attribute("id", "string", optional=False, computed=True),
        ]
    )
    response = pb.GetProviderSchema.Response(provider=pb.Schema(block=pb.Schema.Block()))
    response.resource_schemas["time_sleep"].CopyFrom(pb.Schema(version=0, block=sleep))
    response.server_capabilities.CopyFrom(pb.ServerCapabilities(plan_destroy=True))
    with open(output, "wb") as out:
        out.write(response.SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
