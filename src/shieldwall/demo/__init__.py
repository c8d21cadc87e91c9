"""The bundled sample image: built from committed files, no Docker daemon needed.

``image/<n>-<name>/`` directories are the layers in order (a ``.wh.<name>``
file is a whiteout, as in a real layer); ``image/image.json`` holds the tag,
each layer's ``created_by`` and the image config. ``build_demo_image`` packs
them into a ``docker save`` archive with real diff IDs and history.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from shieldwall.analyze.malware.samples import eicar_test_file

_MTIME = 1_700_000_000


def _walk(node: Traversable, prefix: str) -> list[tuple[str, Traversable]]:
    items: list[tuple[str, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        path = f"{prefix}{child.name}"
        items.append((path, child))
        if child.is_dir():
            items.extend(_walk(child, path + "/"))
    return items


# Files synthesised at build time, per layer directory (see ``eicar_test_file``).
_GENERATED = {"2-node-app": {"app/web/public/uploads/invoice.pdf.com": eicar_test_file}}


def _layer_tar(root: Traversable) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, make in sorted(_GENERATED.get(root.name, {}).items()):
            data = make()
            info = tarfile.TarInfo(name)
            info.mtime = _MTIME
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        for path, node in _walk(root, ""):
            info = tarfile.TarInfo(path)
            info.mtime = _MTIME
            if node.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                data = node.read_bytes()
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_demo_image(out_dir: Path) -> Path:
    """Write ``demo-image.tar`` (docker-archive) into ``out_dir`` and return its path."""
    image = resources.files("shieldwall.demo").joinpath("image")
    spec: dict[str, Any] = json.loads(image.joinpath("image.json").read_text())
    layer_dirs = sorted((c for c in image.iterdir() if c.is_dir()), key=lambda c: int(c.name.split("-", 1)[0]))
    tars = [_layer_tar(d) for d in layer_dirs]
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
    history = [{"created": "2026-11-01T00:00:00Z", "created_by": c} for c in spec["created_by"]]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-11-01T00:00:00Z",
            "config": spec["config"],
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        },
        indent=None,
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    members: list[tuple[str, bytes]] = [(config_name, config)]
    names = []
    for tar_bytes in tars:
        name = hashlib.sha256(tar_bytes).hexdigest() + "/layer.tar"
        names.append(name)
        members.append((name, tar_bytes))
    manifest = [{"Config": config_name, "RepoTags": [spec["tag"]], "Layers": names}]
    members.insert(0, ("manifest.json", json.dumps(manifest).encode()))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "demo-image.tar"
    with tarfile.open(path, "w") as tar:
        for member_name, data in members:
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            info.mtime = _MTIME
            tar.addfile(info, io.BytesIO(data))
    return path
