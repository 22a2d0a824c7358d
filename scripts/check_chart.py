"""Checks the Helm chart offline (run through scripts/check-chart.sh, which provides the pinned tools).

For each value set in helm/weft/ci/*-values.yaml: yamllint on the values (duplicate keys, which the
YAML loaders accept silently), `helm lint --strict` (Helm v4's library, through helm-python-sdk),
the chart's values.schema.json, a render, and every rendered manifest validated against the
Kubernetes OpenAPI schemas in strict mode (unknown fields and wrong types fail), plus Weft's own
rules: every container runs one `weft` role and sets only environment variables that role reads
(the names `weft ROLE --help` lists, ARCHITECTURE §10), probes on the metrics port, non-root, a
read-only root filesystem, and a termination grace above the role's shutdown grace.

Then each value set in helm/weft/ci/bad/ must FAIL, with the message its `# expect:` line names —
the proof that the checks above catch each kind of broken value set.
"""
import glob
import os
import re
import subprocess
import sys

import helm_python
import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "helm", "weft")
KUBE_VERSION = "1.30.0"
# Kinds from CRDs, which kubernetes-validate has no schema for: checked for shape only.
CRD_KINDS = {"ServiceMonitor": "monitoring.coreos.com/v1"}
WEFT_BIN = os.environ.get("WEFT_BIN")  # the built `weft`, for the environment-variable check


class CheckError(Exception):
    pass


def role_environment():
    """Role -> the WEFT_* variables it reads, from `weft ROLE --help` (None without a binary)."""
    if not WEFT_BIN:
        return None
    roles = {}
    for role in ("migrate", "coordinator", "scheduler", "worker"):
        out = subprocess.run([WEFT_BIN, role, "--help"], capture_output=True, text=True,
                             env={**os.environ, "COLUMNS": "1000"}, check=True).stdout
        names = set(re.findall(r"env: (WEFT_[A-Z_]+)", out))
        names.add("WEFT_AUTH_TOKEN")  # read beside --token-file (CommonOptions)
        roles[role] = names
    return roles


def yamllint(path_or_text, what):
    args = ["yamllint", "-f", "parsable", "-d",
            "{extends: default, rules: {line-length: disable, document-start: disable, comments: disable, "
            "comments-indentation: disable, truthy: disable, braces: disable, indentation: {indent-sequences: whatever}}}"]
    if os.path.exists(path_or_text):
        result = subprocess.run(args + [path_or_text], capture_output=True, text=True)
    else:
        result = subprocess.run(args + ["-"], input=path_or_text, capture_output=True, text=True)
    errors = [line for line in result.stdout.splitlines() if "[error]" in line]
    if errors:
        raise CheckError(f"yamllint: {what}:\n  " + "\n  ".join(errors))


def containers(doc):
    spec = doc.get("spec", {})
    if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
        return spec["template"]["spec"].get("containers", []), spec["template"]["spec"]
    return [], {}


def check_weft_rules(doc, config_maps, roles):
    kind, name = doc["kind"], doc["metadata"]["name"]
    pods, pod_spec = containers(doc)
    for container in pods:
        image = container.get("image", "")
        if "weft" not in image.split("/")[-1] and not container.get("args", [None])[0] in (
                "migrate", "coordinator", "scheduler", "worker"):
            continue  # a trial Postgres or Redis
        role = container["args"][0]
        where = f"{kind}/{name} container {container['name']}"
        env = {e["name"] for e in container.get("env", [])}
        for source in container.get("envFrom", []):
            env |= set(config_maps.get(source["configMapRef"]["name"], {}))
        helpers = {"POD_IP"}
        unknown = sorted(n for n in env - helpers if not n.startswith("WEFT_") or (roles and n not in roles[role]))
        if unknown:
            raise CheckError(f"{where}: environment variables `weft {role}` does not read: {unknown}")
        security = container.get("securityContext", {})
        if not security.get("readOnlyRootFilesystem") or security.get("allowPrivilegeEscalation", True):
            raise CheckError(f"{where}: needs readOnlyRootFilesystem and no privilege escalation")
        if not pod_spec.get("securityContext", {}).get("runAsNonRoot"):
            raise CheckError(f"{where}: the pod must run as non-root")
        if role != "migrate":
            for probe in ("livenessProbe", "readinessProbe"):
                if container.get(probe, {}).get("httpGet", {}).get("port") != "metrics":
                    raise CheckError(f"{where}: {probe} must be an HTTP probe on the metrics port")
            grace = next((e.get("value") for e in container.get("env", []) if e["name"] == "WEFT_SHUTDOWN_GRACE"), None)
            if grace:
                seconds = int(grace.rstrip("s"))
                if pod_spec.get("terminationGracePeriodSeconds", 30) <= seconds:
                    raise CheckError(f"{where}: terminationGracePeriodSeconds must exceed the shutdown grace ({grace})")


def check(values, label, roles):
    """Raises CheckError (or a Helm error) when `values` is not a good value set."""
    report = helm_python.lint(CHART, values, strict=True, kube_version="v" + KUBE_VERSION)
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2] + report.get("errors", [])
    if problems:
        raise CheckError(f"helm lint: {problems}")
    chart = helm_python.Chart.load(CHART)
    chart.validate_schema(values)
    rendered = chart.render(values, name="weft", namespace="weft", is_install=True)
    documents = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        # Blank lines a template leaves before its first document are an artifact of templating.
        yamllint(text.lstrip("\n"), f"{label}: {path} as rendered")
        for doc in yaml.safe_load_all(text):
            if doc:
                documents.append((path, doc))
    if not documents:
        raise CheckError("nothing rendered")
    config_maps = {doc["metadata"]["name"]: doc.get("data", {}) for _, doc in documents if doc["kind"] == "ConfigMap"}
    for path, doc in documents:
        kind = doc.get("kind")
        if kind in CRD_KINDS:
            if doc.get("apiVersion") != CRD_KINDS[kind] or "spec" not in doc:
                raise CheckError(f"{path}: a {kind} needs apiVersion {CRD_KINDS[kind]} and a spec")
            continue
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise CheckError(f"kubernetes schema: {path}: {kind}/{doc['metadata'].get('name')}: {error.message} at {list(error.path)}")
        check_weft_rules(doc, config_maps, roles)
    return documents


def main():
    helm_python.disable_logging()  # `fail` messages come back as errors; no log lines besides
    roles = role_environment()
    failures = 0
    for values_file in sorted(glob.glob(os.path.join(CHART, "ci", "*-values.yaml"))):
        label = os.path.basename(values_file)
        try:
            yamllint(values_file, label)
            yamllint(os.path.join(CHART, "values.yaml"), "values.yaml")
            with open(values_file) as f:
                documents = check(yaml.safe_load(f) or {}, label, roles)
            kinds = sorted({doc["kind"] for _, doc in documents})
            print(f"ok   {label}: {len(documents)} manifests ({', '.join(kinds)})")
        except Exception as error:  # noqa: BLE001 — every failure is reported the same way
            failures += 1
            print(f"FAIL {label}: {error}")
    for values_file in sorted(glob.glob(os.path.join(CHART, "ci", "bad", "*.yaml"))):
        label = "bad/" + os.path.basename(values_file)
        with open(values_file) as f:
            text = f.read()
        expected = re.search(r"^# expect: (.+)$", text, re.M)
        if not expected:
            failures += 1
            print(f"FAIL {label}: no '# expect:' line")
            continue
        try:
            yamllint(values_file, label)
            check(yaml.safe_load(text) or {}, label, roles)
        except Exception as error:  # noqa: BLE001
            if expected.group(1).lower() in str(error).lower():
                print(f"ok   {label}: refused ({expected.group(1)}): {str(error).splitlines()[0][:160]}")
            else:
                failures += 1
                print(f"FAIL {label}: refused, but not for '{expected.group(1)}': {error}")
            continue
        failures += 1
        print(f"FAIL {label}: accepted, but it is broken ({expected.group(1)})")
    if failures:
        print(f"check-chart: {failures} failure(s)")
        sys.exit(1)
    print("check-chart: every value set passed, every broken one was refused" + ("" if roles else " (no WEFT_BIN: environment names not checked against the binary)"))


if __name__ == "__main__":
    main()
