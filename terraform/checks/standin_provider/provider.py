"""A stand-in `hashicorp/google` 6.50.0 provider process, for offline `terraform validate/test`.

It serves the synthesised schema (`build_schema.py`) over Terraform's plugin protocol 6 using the
generated stubs and certificate helper of the PyPI package `tf`, and answers the calls that
validation and `terraform test` with `mock_provider "google"` make, and validates known values as
the real provider and the APIs do (validation.py). It plans and applies nothing: a plan without
`mock_provider` fails, by design.

    python provider.py <schema.pb>     (Terraform starts it through the plugin-dir wrapper)
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
import tempfile
from concurrent import futures

import grpc
import msgpack
from tf.gen import grpc_controller_pb2 as controller_pb
from tf.gen import grpc_controller_pb2_grpc as controller_rpc
from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc
from tf.runner import _self_signed_cert
from validation import UNKNOWN, validate


def decode(dynamic_value: pb.DynamicValue) -> object:
    """A configuration as Terraform sends it (msgpack; unknown values are extension 0)."""
    if not dynamic_value.msgpack:
        return None

    def ext_hook(code: int, data: bytes) -> object:
        return UNKNOWN if code == 0 else msgpack.ExtType(code, data)

    return msgpack.unpackb(dynamic_value.msgpack, ext_hook=ext_hook, raw=False, strict_map_key=False)


def diagnostics(type_name: str, config: object) -> list[pb.Diagnostic]:
    """The real provider's validation of known values (validation.py), as Terraform diagnostics."""
    found = []
    for problem in validate(type_name, config):
        steps = [
            pb.AttributePath.Step(element_key_int=s) if isinstance(s, int) else pb.AttributePath.Step(attribute_name=s)
            for s in problem.path
        ]
        found.append(
            pb.Diagnostic(
                severity=pb.Diagnostic.ERROR,
                summary=f"Invalid {'.'.join(str(s) for s in problem.path)} ({type_name})",
                detail=f"{problem.detail}\nSource: {problem.rule.source}",
                attribute=pb.AttributePath(steps=steps),
            )
        )
    return found


class StandInProvider(rpc.ProviderServicer):
    def __init__(self, schema: pb.GetProviderSchema.Response, stop: futures.Future[None]) -> None:
        self.schema = schema
        self.stop = stop

    def GetMetadata(self, request, context):  # noqa: N802, ANN001, ANN201
        return pb.GetMetadata.Response(
            server_capabilities=self.schema.server_capabilities,
            resources=[pb.GetMetadata.ResourceMetadata(type_name=n) for n in self.schema.resource_schemas],
            data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=n) for n in self.schema.data_source_schemas],
        )

    def GetProviderSchema(self, request, context):  # noqa: N802, ANN001, ANN201
        return self.schema

    def ValidateProviderConfig(self, request, context):  # noqa: N802, ANN001, ANN201
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request, context):  # noqa: N802, ANN001, ANN201
        return pb.ValidateResourceConfig.Response(diagnostics=diagnostics(request.type_name, decode(request.config)))

    def ValidateDataResourceConfig(self, request, context):  # noqa: N802, ANN001, ANN201
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request, context):  # noqa: N802, ANN001, ANN201
        return pb.ConfigureProvider.Response()

    def GetFunctions(self, request, context):  # noqa: N802, ANN001, ANN201
        return pb.GetFunctions.Response()

    def StopProvider(self, request, context):  # noqa: N802, ANN001, ANN201
        self.stop.set_result(None)
        return pb.StopProvider.Response()


def serve(schema_path: str) -> None:
    schema = pb.GetProviderSchema.Response()
    with open(schema_path, "rb") as handle:
        schema.ParseFromString(handle.read())
    stopped: futures.Future[None] = futures.Future()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    rpc.add_ProviderServicer_to_server(StandInProvider(schema, stopped), server)

    class Controller(controller_rpc.GRPCControllerServicer):
        def Shutdown(self, request, context):  # noqa: N802, ANN001, ANN202
            if not stopped.done():
                stopped.set_result(None)
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):
        def StreamStdio(self, request, context):  # noqa: N802, ANN001, ANN202
            return iter([])

    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)
    with tempfile.TemporaryDirectory() as tmp:
        socket_path = os.path.join(tmp, "provider.sock")
        chain, credentials = _self_signed_cert()
        server.add_secure_port(f"unix://{socket_path}", credentials)
        server.start()
        certificate = base64.b64encode(chain).decode().rstrip("=")
        print(f"1|6|unix|{socket_path}|grpc|{certificate}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stopped.result()
        server.stop(grace=0.2)


if __name__ == "__main__":
    serve(sys.argv[1])
