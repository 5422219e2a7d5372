"""A Container Runtime Interface client for the tests, speaking CRI as kubelet speaks it: gRPC
over a unix socket, runtime.v1's RuntimeService and ImageService. The messages come from the one
committed proto (tests/fixtures/cri/api.proto, kubernetes/cri-api), compiled with protoc at test
time into a directory the caller owns; the stubs are made per call from the method's name, so no
gRPC code generator is needed. Requests are written as dicts in the proto's field names (enum
values by name) and checked by protobuf's json_format: a misspelt field is an error, not a
silently dropped one."""
import importlib.util
import subprocess
import sys
from pathlib import Path

PROTO = Path(__file__).resolve().parent.parent / "fixtures" / "cri" / "api.proto"

# the ImageService's methods; every other one is the RuntimeService's
IMAGE_METHODS = {"ListImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo"}

_API = {}


def load_api(out_dir):
    """The compiled runtime.v1 messages (api_pb2), made once per process in OUT_DIR."""
    if "api" not in _API:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["protoc", "-I", str(PROTO.parent), "--python_out", str(out_dir),
                        PROTO.name], check=True, capture_output=True, text=True, timeout=60)
        spec = importlib.util.spec_from_file_location("api_pb2", out_dir / "api_pb2.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["api_pb2"] = mod
        spec.loader.exec_module(mod)
        _API["api"] = mod
    return _API["api"]


class Cri:
    """One connection to a CRI server's socket. `cri.RunPodSandbox({...})` sends the request
    (a dict of the proto's fields) and returns the response message; a failed call raises
    grpc.RpcError (`.code()`, `.details()`: the server's message)."""

    def __init__(self, sock, api, timeout=120):
        import grpc
        self.api = api
        self.timeout = timeout
        self.channel = grpc.insecure_channel(f"unix://{sock}")

    def call(self, method, request=None, timeout=None):
        from google.protobuf import json_format
        service = "ImageService" if method in IMAGE_METHODS else "RuntimeService"
        req_cls = getattr(self.api, f"{method}Request")
        resp_cls = getattr(self.api, f"{method}Response")
        stub = self.channel.unary_unary(f"/runtime.v1.{service}/{method}",
                                        request_serializer=req_cls.SerializeToString,
                                        response_deserializer=resp_cls.FromString)
        req = json_format.ParseDict(request or {}, req_cls())
        return stub(req, timeout=timeout or self.timeout)

    def __getattr__(self, method):
        if not method[:1].isupper():
            raise AttributeError(method)
        return lambda request=None, timeout=None: self.call(method, request, timeout)

    def close(self):
        self.channel.close()
