"""Writes a CycloneDX SBOM for a built image: the image is the described component; it holds the Java
application (its Maven module's target/bom.json, made by cyclonedx-maven-plugin, nested whole), the Java
runtime (the JDK it was linked from and the module list) and the base image, by reference and digest.
Usage: python3 hack/image-sbom.py IMAGE_REF IMAGE_ID MODULE_BOM JAVA_VERSION JRE_MODULES BASE_REF BASE_ID OUT"""
import json
import sys
import uuid
from datetime import datetime, timezone

ref, image_id, module_bom, java_version, jre_modules, base_ref, base_id, out = sys.argv[1:9]
app = json.load(open(module_bom))
name, _, tag = ref.rpartition(":")
bom = {
    "bomFormat": "CycloneDX",
    "specVersion": app.get("specVersion", "1.6"),
    "serialNumber": "urn:uuid:" + str(uuid.uuid4()),
    "version": 1,
    "metadata": {
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tools": {"components": [{"type": "application", "name": "hack/image-sbom.py"}]},
        "component": {"type": "container", "bom-ref": ref, "name": name, "version": tag,
                      "hashes": [{"alg": "SHA-256", "content": image_id.removeprefix("sha256:")}] if image_id else []},
    },
    "components": [
        dict(app["metadata"]["component"], components=app.get("components", [])),
        {"type": "application", "bom-ref": "jre", "name": "java-runtime (jlink)", "version": java_version,
         "description": "jlink image of modules " + jre_modules},
        {"type": "container", "bom-ref": base_ref, "name": base_ref,
         "hashes": [{"alg": "SHA-256", "content": base_id.removeprefix("sha256:")}] if base_id else []},
    ],
    "dependencies": [{"ref": ref, "dependsOn": [app["metadata"]["component"].get("bom-ref", "app"), "jre", base_ref]}]
                    + app.get("dependencies", []),
}
json.dump(bom, open(out, "w"), indent=2)
print("[images] SBOM", out)
