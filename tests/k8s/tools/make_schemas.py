#!/usr/bin/env python3
"""Builds standalone, strict JSON schemas for kubeconform, offline.

Kubernetes kinds: from the OpenAPI v3 documents that the k8s.io/kubernetes Go
module ships (api/openapi-spec/v3/*.json). Each kind gets one file named the
way kubeconform looks schemas up ({kind}{-group}-{version}.json, e.g.
statefulset-apps-v1.json) holding the kind's schema and every definition it
references. "Strict" (kubeconform -strict): an object schema with properties
rejects unknown properties, unless it preserves unknown fields.

Custom resources: a JSON schema written as YAML (tests/k8s/schemas/*.schema.yaml)
whose "$ref"s may name Kubernetes definitions (#/definitions/io.k8s...), or a
CustomResourceDefinition YAML (its openAPIV3Schema).

usage: make_schemas.py OPENAPI_V3_DIR OUT_DIR [SCHEMA_OR_CRD_YAML...]
"""
import copy
import json
import os
import sys

import yaml

REF_PREFIXES = ("#/components/schemas/", "#/definitions/")


def load_definitions(spec_dir):
    defs = {}
    for name in sorted(os.listdir(spec_dir)):
        if name.endswith(".json"):
            with open(os.path.join(spec_dir, name)) as f:
                doc = json.load(f)
            defs.update(doc.get("components", {}).get("schemas", {}))
    return defs


def ref_name(ref):
    for p in REF_PREFIXES:
        if ref.startswith(p):
            return ref[len(p):]
    raise ValueError(f"unsupported $ref {ref}")


def strictify(schema):
    """Rewrites refs to #/definitions/ and forbids unknown properties."""
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    out = {}
    for k, v in schema.items():
        if k == "$ref" and isinstance(v, str):
            out[k] = "#/definitions/" + ref_name(v)
        elif k in ("properties", "patternProperties", "definitions") and isinstance(v, dict):
            out[k] = {name: strictify(sub) for name, sub in v.items()}
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            out[k] = strictify(v)
        elif k in ("allOf", "anyOf", "oneOf") and isinstance(v, list):
            out[k] = [strictify(sub) for sub in v]
        else:
            out[k] = copy.deepcopy(v)
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def referenced(node, found):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.add(ref_name(v))
            else:
                referenced(v, found)
    elif isinstance(node, list):
        for v in node:
            referenced(v, found)


def standalone(root, defs):
    """root + the closure of the definitions it references."""
    needed, todo = set(), set()
    referenced(root, todo)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        if name not in defs:
            raise KeyError(f"unknown definition {name}")
        needed.add(name)
        referenced(defs[name], todo)
    schema = {"$schema": "http://json-schema.org/draft-07/schema#"}
    schema.update(strictify(root))
    schema["definitions"] = {n: strictify(defs[n]) for n in sorted(needed)}
    return schema


def file_name(group, version, kind):
    suffix = f"-{group.split('.')[0].lower()}" if group else ""
    return f"{kind.lower()}{suffix}-{version.lower()}.json"


def write(out_dir, name, schema):
    with open(os.path.join(out_dir, name), "w") as f:
        json.dump(schema, f, separators=(",", ":"), sort_keys=True)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    spec_dir, out_dir, extra = argv[1], argv[2], argv[3:]
    os.makedirs(out_dir, exist_ok=True)
    defs = load_definitions(spec_dir)
    count = 0
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            root = copy.deepcopy(schema)
            write(out_dir, file_name(gvk["group"], gvk["version"], gvk["kind"]), standalone(root, defs))
            count += 1
    for path in extra:
        with open(path) as f:
            doc = yaml.safe_load(f)
        if doc.get("kind") == "CustomResourceDefinition":
            spec = doc["spec"]
            for v in spec["versions"]:
                root = v["schema"]["openAPIV3Schema"]
                write(out_dir, file_name(spec["group"], v["name"], spec["names"]["kind"]), standalone(root, defs))
                count += 1
        else:
            gvk = doc.pop("x-kubernetes-group-version-kind")[0]
            write(out_dir, file_name(gvk["group"], gvk["version"], gvk["kind"]), standalone(doc, defs))
            count += 1
    print(f"{count} schemas written to {out_dir}")


if __name__ == "__main__":
    main(sys.argv)
