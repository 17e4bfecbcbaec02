"""The .proto comments of the fronted contracts, for the OpenAPI descriptions.

The generated modules carry no source info, so the .proto files are compiled once more, in
memory, with `--include_source_info` (grpc_tools, with the imported files taken from the loaded
descriptors). Where the protos or the compiler are not at hand (an installed package), the
document simply has no descriptions.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor, ServiceDescriptor

log = logging.getLogger(__name__)

PROTO_ROOT = Path(__file__).resolve().parent.parent / "protos"

# Field numbers of FileDescriptorProto / DescriptorProto / ... used in source-info paths.
_MESSAGE, _ENUM, _SERVICE = 4, 5, 6
_FIELD, _NESTED, _NESTED_ENUM, _ENUM_VALUE, _METHOD = 2, 3, 4, 2, 2


def _clean(comment: str) -> str:
    return " ".join(line.strip() for line in comment.strip().splitlines() if line.strip())


def _dependency_set(files: Iterable[FileDescriptor], ours: set[str]) -> bytes:
    out = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(fd: FileDescriptor) -> None:
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            add(dep)
        if fd.name not in ours:
            proto = descriptor_pb2.FileDescriptorProto()
            fd.CopyToProto(proto)
            out.file.append(proto)

    for fd in files:
        add(fd)
    return out.SerializeToString()


def _compile(files: list[FileDescriptor]) -> descriptor_pb2.FileDescriptorSet:
    from grpc_tools import protoc  # a development tool; absent in a slim install

    names = [fd.name for fd in files]
    with tempfile.TemporaryDirectory() as tmp:
        deps, out = Path(tmp) / "deps.binpb", Path(tmp) / "out.binpb"
        deps.write_bytes(_dependency_set(files, set(names)))
        code = protoc.main(
            [
                "protoc",
                f"--descriptor_set_in={deps}",
                f"-I{PROTO_ROOT}",
                "--include_source_info",
                f"-o{out}",
                *names,
            ]
        )
        if code != 0:
            raise RuntimeError(f"protoc exited with {code}")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _file_comments(proto: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
    by_path = {
        tuple(loc.path): _clean(loc.leading_comments)
        for loc in proto.source_code_info.location
        if loc.leading_comments.strip()
    }
    names: dict[str, str] = {}
    prefix = f"{proto.package}." if proto.package else ""

    def enum(e: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], scope: str) -> None:
        full = f"{scope}{e.name}"
        names[full] = by_path.get(path, "")
        for i, value in enumerate(e.value):
            names[f"{full}.{value.name}"] = by_path.get((*path, _ENUM_VALUE, i), "")

    def message(m: descriptor_pb2.DescriptorProto, path: tuple[int, ...], scope: str) -> None:
        full = f"{scope}{m.name}"
        names[full] = by_path.get(path, "")
        for i, field in enumerate(m.field):
            names[f"{full}.{field.name}"] = by_path.get((*path, _FIELD, i), "")
        for i, nested in enumerate(m.nested_type):
            message(nested, (*path, _NESTED, i), f"{full}.")
        for i, nested_enum in enumerate(m.enum_type):
            enum(nested_enum, (*path, _NESTED_ENUM, i), f"{full}.")

    for i, m in enumerate(proto.message_type):
        message(m, (_MESSAGE, i), prefix)
    for i, e in enumerate(proto.enum_type):
        enum(e, (_ENUM, i), prefix)
    for i, s in enumerate(proto.service):
        names[f"{prefix}{s.name}"] = by_path.get((_SERVICE, i), "")
        for j, method in enumerate(s.method):
            names[f"{prefix}{s.name}.{method.name}"] = by_path.get((_SERVICE, i, _METHOD, j), "")
    return {k: v for k, v in names.items() if v}


@functools.cache
def _comments_for(file_names: tuple[str, ...]) -> dict[str, str]:
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    files = [pool.FindFileByName(name) for name in file_names]
    if not PROTO_ROOT.is_dir():
        return {}
    try:
        compiled = _compile(files)
    except Exception as err:  # never fatal: descriptions are a nicety
        log.warning("no .proto comments for the OpenAPI document: %s", err)
        return {}
    comments: dict[str, str] = {}
    for proto in compiled.file:
        comments.update(_file_comments(proto))
    return comments


def proto_comments(services: Iterable[ServiceDescriptor]) -> dict[str, str]:
    """Leading comment of each message, field, enum, enum value, service and method of the
    files defining `services` and the files they import from the same proto tree, by full
    name ("paymesh.payment.v1.PaymentOrderInput.amount")."""
    names: set[str] = set()

    def add(fd: FileDescriptor) -> None:
        if fd.name in names or not (PROTO_ROOT / fd.name).is_file():
            return
        names.add(fd.name)
        for dep in fd.dependencies:
            add(dep)

    for service in services:
        add(service.file)
    return _comments_for(tuple(sorted(names)))
