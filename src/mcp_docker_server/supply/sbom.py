"""The SBOM: packages found in an image, as a CycloneDX 1.6 JSON document (written with the
CycloneDX project's own library) and a compact summary for the model. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from mcp_docker_server.results.security import SbomSummary
from mcp_docker_server.results.shaping import clean_text, truncate
from mcp_docker_server.supply.packages import Package

__all__ = ["build_bom", "summarize_bom"]

_TOOL = "mcp-docker-server"


def build_bom(image: str, image_id: str, packages: list[Package], os: Mapping[str, str]) -> str:
    """A CycloneDX 1.6 JSON document: the image as the described component, its operating
    system, and one library component per package (deduplicated by package URL)."""
    distro = (os.get("ID") or "").lower() or None
    bom = Bom()
    root = Component(
        type=ComponentType.CONTAINER, name=_clean(image, 200), version=image_id, bom_ref=f"image:{image_id}"
    )
    bom.metadata.component = root
    children: list[Component] = []
    if distro:
        system = Component(
            type=ComponentType.OPERATING_SYSTEM,
            name=_clean(distro, 60),
            version=_clean(os.get("VERSION_ID") or "", 60) or None,
            description=_clean(os.get("PRETTY_NAME") or "", 120) or None,
            bom_ref=f"os:{distro}",
        )
        children.append(system)
    licenses = LicenseFactory()
    seen: set[str] = set()
    for package in packages:
        purl = _purl(package, distro)
        ref = purl.to_string()
        if ref in seen:
            continue
        seen.add(ref)
        children.append(
            Component(
                type=ComponentType.LIBRARY,
                name=purl.name,
                group=purl.namespace if package.ecosystem == "npm" else None,
                version=_clean(package.version, 100),
                purl=purl,
                bom_ref=ref,
                licenses=[licenses.make_from_string(_clean(package.license, 100))]
                if package.license
                else None,
                properties=[Property(name=f"{_TOOL}:path", value=package.path)] if package.path else None,
            )
        )
    for child in children:
        bom.components.add(child)
    bom.register_dependency(root, children)
    return str(JsonV1Dot6(bom).output_as_string())


def summarize_bom(document: str, not_read: list[str], written: str | None) -> SbomSummary:
    """Counts per ecosystem, the operating system, and a few name@version samples."""
    data = json.loads(document)
    components = [c for c in data.get("components", []) if c.get("type") == "library"]
    by_type: dict[str, int] = {}
    for component in components:
        kind = str(component.get("purl", "pkg:?/")).removeprefix("pkg:").split("/", 1)[0]
        by_type[kind] = by_type.get(kind, 0) + 1
    system = next((c for c in data.get("components", []) if c.get("type") == "operating-system"), None)
    return SbomSummary(
        components=len(components),
        by_type=dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        os=(system.get("description") or system.get("name")) if system else None,
        sample=[f"{c['name']}@{c.get('version', '?')}" for c in components[:8]],
        not_read=not_read,
        written=written,
    )


def _purl(package: Package, distro: str | None) -> PackageURL:
    qualifiers: dict[str, str] = {}
    if package.arch:
        qualifiers["arch"] = _clean(package.arch, 40)
    if package.epoch:
        qualifiers["epoch"] = _clean(package.epoch, 20)
    name = _clean(package.name, 200)
    namespace = None
    if package.ecosystem == "npm" and name.startswith("@") and "/" in name:
        namespace, name = name.split("/", 1)
    elif package.ecosystem == "pypi":
        name = name.lower().replace("_", "-").replace(".", "-")
    elif package.ecosystem in ("deb", "rpm", "apk"):
        namespace = distro or {"deb": "debian", "apk": "alpine"}.get(package.ecosystem)
    return PackageURL(
        type=package.ecosystem,
        namespace=namespace,
        name=name,
        version=_clean(package.version, 100),
        qualifiers=qualifiers or None,
    )


def _clean(text: str, limit: int) -> str:
    """Package metadata is image data: cleaned and bounded like everything read from Docker."""
    return truncate(clean_text(text).replace("\n", " ").strip(), limit)[0]
