"""OCI image archives of one layer, written without a registry, a daemon or a build tool.

An archive is a tar holding an OCI image layout (image-spec v1.1): `oci-layout`,
`blobs/sha256/<digest>` for the layer, the image config and the manifest, and `index.json`
naming the image. `ctr image import` takes the name from the index's
`io.containerd.image.name` annotation; `org.opencontainers.image.ref.name` carries the tag
for tools that look there (skopeo's `oci-archive:<file>:<tag>`).

The layer is an uncompressed tar: these archives only travel to a containerd on the same
machine, where gzipping 400 MB would cost more time than it saves.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ImageConfig:
    """What a container of the image runs by default (the OCI config's `config` object)."""

    user: str
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = "/"
    labels: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"User": self.user, "Env": list(self.env), "WorkingDir": self.working_dir,
                               "Labels": dict(self.labels)}
        if self.entrypoint:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            out["Cmd"] = list(self.cmd)
        return out


@dataclass(frozen=True)
class Archive:
    """What an archive's index and manifest say (read back by `read_archive`)."""

    name: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    layer_member: str  # the layer blob's path inside the archive


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def _json_blob(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _descriptor(media_type: str, data_digest: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": data_digest, "size": size, **extra}


def _blob_name(data_digest: str) -> str:
    return "blobs/" + data_digest.replace(":", "/", 1)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_archive(path: Path, *, name: str, layer: Path, config: ImageConfig, created_epoch: int,
                  architecture: str = "amd64") -> str:
    """Write the image `name` (`kafkalab.local/kafka:4.4.0`) with `layer` as its one layer to `path`.

    Returns the manifest digest. `created_epoch` fixes every timestamp, so the same layer and
    config give the same archive byte for byte.
    """
    layer_digest = file_digest(layer)  # uncompressed: the digest is also the diff id
    layer_size = layer.stat().st_size
    created = _iso(created_epoch)
    image_config = _json_blob({
        "architecture": architecture, "os": "linux", "created": created, "config": config.as_json(),
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": created, "created_by": "kafkalab kubetestbed.images"}],
    })
    config_digest = "sha256:" + hashlib.sha256(image_config).hexdigest()
    manifest = _json_blob({
        "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
        "config": _descriptor(MEDIA_CONFIG, config_digest, len(image_config)),
        "layers": [_descriptor(MEDIA_LAYER, layer_digest, layer_size)],
    })
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    index = _json_blob({
        "schemaVersion": 2, "mediaType": MEDIA_INDEX,
        "manifests": [_descriptor(MEDIA_MANIFEST, manifest_digest, len(manifest),
                                  platform={"architecture": architecture, "os": "linux"},
                                  annotations={NAME_ANNOTATION: name, REF_ANNOTATION: tag})],
    })
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", _json_blob({"imageLayoutVersion": "1.0.0"}), created_epoch)
        layer_info = tarfile.TarInfo(_blob_name(layer_digest))
        layer_info.size, layer_info.mtime, layer_info.mode = layer_size, created_epoch, 0o644
        with open(layer, "rb") as f:
            tar.addfile(layer_info, f)
        _add_bytes(tar, _blob_name(config_digest), image_config, created_epoch)
        _add_bytes(tar, _blob_name(manifest_digest), manifest, created_epoch)
        _add_bytes(tar, "index.json", index, created_epoch)
    return manifest_digest


def read_archive(path: Path) -> Archive:
    """The name, manifest and config of a one-image archive; ValueError naming what is wrong."""
    with tarfile.open(path) as tar:
        def blob(member: str) -> bytes:
            try:
                f = tar.extractfile(member)
            except KeyError:
                raise ValueError(f"{path}: {member} is missing") from None
            assert f is not None
            return f.read()

        layout = json.loads(blob("oci-layout"))
        if layout.get("imageLayoutVersion") != "1.0.0":
            raise ValueError(f"{path}: oci-layout is not image layout 1.0.0: {layout}")
        index = json.loads(blob("index.json"))
        manifests = index.get("manifests") or []
        if len(manifests) != 1:
            raise ValueError(f"{path}: index.json should name one manifest, names {len(manifests)}")
        described = manifests[0]
        manifest_bytes = blob(_blob_name(described["digest"]))
        _check_digest(path, described, manifest_bytes)
        manifest = json.loads(manifest_bytes)
        config_bytes = blob(_blob_name(manifest["config"]["digest"]))
        _check_digest(path, manifest["config"], config_bytes)
        layers = manifest.get("layers") or []
        if len(layers) != 1:
            raise ValueError(f"{path}: the manifest should have one layer, has {len(layers)}")
        layer_member = _blob_name(layers[0]["digest"])
        if tar.getmember(layer_member).size != layers[0]["size"]:
            raise ValueError(f"{path}: the layer's size differs from its descriptor's")
        name = (described.get("annotations") or {}).get(NAME_ANNOTATION)
        if not name:
            raise ValueError(f"{path}: index.json does not name the image ({NAME_ANNOTATION})")
        return Archive(name=name, manifest=manifest, config=json.loads(config_bytes), layer_member=layer_member)


def _check_digest(path: Path, descriptor: dict[str, Any], data: bytes) -> None:
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != descriptor["digest"] or len(data) != descriptor["size"]:
        raise ValueError(f"{path}: blob {descriptor['digest']} does not match its descriptor")


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
