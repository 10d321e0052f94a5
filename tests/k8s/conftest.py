"""Renders every overlay once per test session.

scripts/k8s-check.sh passes K8S_RENDERED (a folder with <overlay>.yaml files
it rendered and schema-validated); without it the overlays are rendered here
with KUSTOMIZE (default: kustomize on PATH).
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import k8spolicy  # noqa: E402

OVERLAYS = ("single", "mini", "prod", "kraft", "prod-cnpg")


@pytest.fixture(scope="session")
def rendered():
    out = {}
    folder = os.environ.get("K8S_RENDERED")
    for o in OVERLAYS:
        if folder:
            out[o] = k8spolicy.load_file(os.path.join(folder, f"{o}.yaml"))
        else:
            kustomize = os.environ.get("KUSTOMIZE", "kustomize")
            text = subprocess.run([kustomize, "build", os.path.join(k8spolicy.REPO, "deploy/kubernetes/overlays", o)],
                                  capture_output=True, text=True, check=True).stdout
            out[o] = k8spolicy.load(text)
    return out
