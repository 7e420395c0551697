#!/usr/bin/python3
"""Interop check of common/rpc with another gRPC implementation.

Debian's python3-grpcio (run with /usr/bin/python3: the pyenv python on PATH
has no grpc) calls the campsync test server (`it_test_rpc --serve`): health
Check without a token, campsync.v1.MarketoConnector/GetProgram and the
StreamProgramMembers server stream with a bearer token, the same without a
token (UNAUTHENTICATED) and an unknown method (UNIMPLEMENTED). Messages are
built with python3-protobuf from the build's descriptor set, so the C and the
Python side share nothing but the .proto contracts.

Usage: rpc_interop.py <it_test_rpc binary> <campsync.protoset>
Exit 0 = pass, 1 = fail, 77 = skipped (python3-grpcio or protobuf missing).
"""
import os
import signal
import subprocess
import sys

try:
    import grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"skip: {e} (needs python3-grpcio and python3-protobuf)")
    sys.exit(77)

TOKEN = "interop-token"


def message_classes(protoset_path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(protoset_path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)

    def cls(name):
        desc = pool.FindMessageTypeByName(name)
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(desc)
        return message_factory.MessageFactory(pool).GetPrototype(desc)

    return cls


def unary(channel, path, req_cls, resp_cls):
    return channel.unary_unary(path, request_serializer=req_cls.SerializeToString,
                               response_deserializer=resp_cls.FromString)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok - {what}")


def run(server_bin, protoset):
    cls = message_classes(protoset)
    HealthReq = cls("grpc.health.v1.HealthCheckRequest")
    HealthResp = cls("grpc.health.v1.HealthCheckResponse")
    GetProgramReq = cls("campsync.v1.GetProgramRequest")
    Program = cls("campsync.v1.Program")
    MembersReq = cls("campsync.v1.StreamProgramMembersRequest")
    MemberPage = cls("campsync.v1.ProgramMemberPage")

    proc = subprocess.Popen([server_bin, "--serve", "--token", TOKEN], stdout=subprocess.PIPE)
    try:
        port = int(proc.stdout.readline().strip() or 0)
        check(port > 0, f"test server listens on port {port}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            grpc.channel_ready_future(ch).result(timeout=10)
            auth = (("authorization", f"Bearer {TOKEN}"), ("x-request-id", "py-interop-1"))

            health = unary(ch, "/grpc.health.v1.Health/Check", HealthReq, HealthResp)
            r = health(HealthReq(service=""), timeout=5)
            check(r.status == 1, "health Check \"\" is SERVING without a token")
            try:
                health(HealthReq(service="no.such.Service"), timeout=5)
                check(False, "health Check of an unknown service fails")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.NOT_FOUND, "unknown service -> NOT_FOUND")

            get = unary(ch, "/campsync.v1.MarketoConnector/GetProgram", GetProgramReq, Program)
            p = get(GetProgramReq(program_id=42), timeout=5, metadata=auth)
            check(p.id == 42 and p.name == "program 42", "GetProgram round trip")
            check(p.sfdc_id == "py-interop-1", "x-request-id reaches the handler")
            try:
                get(GetProgramReq(program_id=404), timeout=5, metadata=auth)
                check(False, "GetProgram(404) fails")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.NOT_FOUND and "404" in e.details(),
                      f"GetProgram(404) -> NOT_FOUND ({e.details()})")
            try:
                get(GetProgramReq(program_id=1), timeout=5)
                check(False, "GetProgram without a token fails")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.UNAUTHENTICATED, "no token -> UNAUTHENTICATED")

            stream = ch.unary_stream("/campsync.v1.MarketoConnector/StreamProgramMembers",
                                     request_serializer=MembersReq.SerializeToString,
                                     response_deserializer=MemberPage.FromString)
            pages = list(stream(MembersReq(program_id=3), timeout=10, metadata=auth))
            check([len(pg.members) for pg in pages] == [1, 2, 3], "server stream of 3 pages")

            nope = ch.unary_unary("/campsync.v1.Nope/Nothing", request_serializer=None,
                                  response_deserializer=None)
            try:
                nope(b"", timeout=5, metadata=auth)
                check(False, "unknown method fails")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.UNIMPLEMENTED, "unknown method -> UNIMPLEMENTED")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        check(rc == 0, f"server exits 0 on SIGTERM (got {rc})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    try:
        run(sys.argv[1], sys.argv[2])
    except AssertionError as e:
        print(f"FAIL - {e}")
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    sys.exit(main())
