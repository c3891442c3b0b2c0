#!/usr/bin/env python3
"""Offline schema check of packaging/kubernetes/*.yaml (docs/scaling.md, "Kubernetes").

kubeconform is not packaged by Debian and CI has no cluster, so this checks what a cluster's
API server would refuse, for the kinds the folder uses (Deployment, Service, Job,
HorizontalPodAutoscaler v2, ConfigMap, Secret): apiVersion/kind pairs, required fields and
their types, no unknown keys at the levels written here (a typo such as `replica:` fails), and
the references between the files: selectors match pod labels, Services and probes name
container ports, the HPA targets a Deployment, every Secret/ConfigMap a pod uses is defined,
pods run as non-root. Usage:

    check_manifests.py packaging/kubernetes            # exit 1 with every problem listed
    check_manifests.py --self-test packaging/kubernetes  # also proves broken copies are refused
"""
import copy
import os
import sys
import tomllib

import yaml

KINDS = {
    ("apps/v1", "Deployment"), ("v1", "Service"), ("batch/v1", "Job"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("v1", "ConfigMap"), ("v1", "Secret"),
}
TOP = {"apiVersion", "kind", "metadata", "spec", "data", "stringData", "type"}
META = {"name", "namespace", "labels", "annotations"}
DEPLOYMENT_SPEC = {"replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit",
                   "progressDeadlineSeconds", "paused"}
JOB_SPEC = {"parallelism", "completions", "backoffLimit", "template", "activeDeadlineSeconds",
            "ttlSecondsAfterFinished", "completionMode", "suspend", "selector", "manualSelector"}
POD_SPEC = {"containers", "initContainers", "volumes", "securityContext", "terminationGracePeriodSeconds",
            "restartPolicy", "serviceAccountName", "nodeSelector", "affinity", "tolerations", "imagePullSecrets",
            "topologySpreadConstraints", "priorityClassName"}
CONTAINER = {"name", "image", "command", "args", "env", "envFrom", "ports", "readinessProbe", "livenessProbe",
             "startupProbe", "resources", "securityContext", "volumeMounts", "workingDir", "imagePullPolicy",
             "lifecycle"}
SERVICE_SPEC = {"selector", "ports", "type", "sessionAffinity", "clusterIP", "sessionAffinityConfig"}
HPA_SPEC = {"scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior"}


class Checker:
    def __init__(self):
        self.problems = []

    def err(self, where, msg):
        self.problems.append(f"{where}: {msg}")

    def keys(self, where, obj, allowed, required=()):
        if not isinstance(obj, dict):
            self.err(where, f"expected a mapping, got {type(obj).__name__}")
            return False
        for k in obj:
            if k not in allowed:
                self.err(where, f"unknown field '{k}' (allowed: {', '.join(sorted(allowed))})")
        for k in required:
            if k not in obj:
                self.err(where, f"missing required field '{k}'")
        return True

    def typed(self, where, value, t, name):
        if not isinstance(value, t) or (t is int and isinstance(value, bool)):
            self.err(where, f"'{name}' must be {t.__name__}, got {value!r}")
            return False
        return True

    def pod(self, where, tmpl, docs):
        if not self.keys(where + ".template", tmpl, {"metadata", "spec"}, ("spec",)):
            return {}
        spec = tmpl["spec"]
        if not self.keys(where + ".template.spec", spec, POD_SPEC, ("containers",)):
            return {}
        sc = spec.get("securityContext", {})
        if sc.get("runAsNonRoot") is not True or not isinstance(sc.get("runAsUser"), int) or sc.get("runAsUser") == 0:
            self.err(where, "pods must run as non-root (securityContext.runAsNonRoot: true, runAsUser != 0)")
        volumes = {v.get("name"): v for v in spec.get("volumes", [])}
        for v in volumes.values():
            if "configMap" in v and v["configMap"].get("name") not in docs.get("ConfigMap", {}):
                self.err(where, f"volume '{v.get('name')}' uses ConfigMap '{v['configMap'].get('name')}' that is not defined")
        ports = set()
        if not isinstance(spec["containers"], list) or not spec["containers"]:
            self.err(where, "containers must be a non-empty list")
            return {}
        for i, c in enumerate(spec["containers"]):
            cw = f"{where}.containers[{i}]"
            if not self.keys(cw, c, CONTAINER, ("name", "image")):
                continue
            if "image" in c:
                self.typed(cw, c["image"], str, "image")
            for a in c.get("args", []) + c.get("command", []):
                self.typed(cw, a, str, "args item")
            for p in c.get("ports", []):
                self.keys(cw + ".ports", p, {"name", "containerPort", "protocol"}, ("containerPort",))
                self.typed(cw, p.get("containerPort"), int, "containerPort")
                if "name" in p:
                    ports.add(p["name"])
                ports.add(p.get("containerPort"))
            for e in c.get("env", []):
                self.keys(cw + ".env", e, {"name", "value", "valueFrom"}, ("name",))
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref is not None:
                    sec = docs.get("Secret", {}).get(ref.get("name"))
                    if sec is None:
                        self.err(cw, f"env {e['name']} uses Secret '{ref.get('name')}' that is not defined")
                    elif ref.get("key") not in {**sec.get("data", {}), **sec.get("stringData", {})}:
                        self.err(cw, f"env {e['name']} uses key '{ref.get('key')}' that Secret '{ref.get('name')}' lacks")
            for e in c.get("envFrom", []):
                ref = e.get("secretRef")
                if ref is not None and ref.get("name") not in docs.get("Secret", {}):
                    self.err(cw, f"envFrom uses Secret '{ref.get('name')}' that is not defined")
            for m in c.get("volumeMounts", []):
                self.keys(cw + ".volumeMounts", m, {"name", "mountPath", "readOnly", "subPath"}, ("name", "mountPath"))
                if m.get("name") not in volumes:
                    self.err(cw, f"volumeMount '{m.get('name')}' names no volume")
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                pr = c.get(probe, {}).get("httpGet")
                if pr is not None and pr.get("port") not in ports:
                    self.err(cw, f"{probe} port '{pr.get('port')}' is not a port of the container")
            if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
                self.err(cw, "securityContext.allowPrivilegeEscalation must be false")
        return ports

    def check(self, docs_list):
        docs = {}
        for path, d in docs_list:
            if not isinstance(d, dict):
                self.err(path, "a document must be a mapping")
                continue
            kind = d.get("kind")
            docs.setdefault(kind, {})[d.get("metadata", {}).get("name")] = d
        deployments = {}
        for path, d in docs_list:
            if not isinstance(d, dict):
                continue
            where = f"{path} {d.get('kind')}/{d.get('metadata', {}).get('name')}"
            if (d.get("apiVersion"), d.get("kind")) not in KINDS:
                self.err(where, f"unsupported apiVersion/kind {d.get('apiVersion')}/{d.get('kind')}")
                continue
            self.keys(where, d, TOP, ("apiVersion", "kind", "metadata"))
            if self.keys(where + ".metadata", d.get("metadata", {}), META, ("name",)):
                name = d["metadata"]["name"]
                if not isinstance(name, str) or not name or len(name) > 63 or not all(ch.isalnum() or ch == "-" for ch in name) \
                        or name != name.lower():
                    self.err(where, f"metadata.name '{name}' is not a DNS-1123 label")
            kind, spec = d["kind"], d.get("spec")
            if kind == "Deployment":
                if not self.keys(where + ".spec", spec, DEPLOYMENT_SPEC, ("selector", "template")):
                    continue
                self.typed(where, spec.get("replicas", 1), int, "replicas")
                want = spec["selector"].get("matchLabels", {})
                have = spec["template"].get("metadata", {}).get("labels", {})
                if not want or any(have.get(k) != v for k, v in want.items()):
                    self.err(where, "selector.matchLabels must be non-empty and match the pod template's labels")
                deployments[d["metadata"]["name"]] = (have, self.pod(where, spec["template"], docs))
            elif kind == "Job":
                if not self.keys(where + ".spec", spec, JOB_SPEC, ("template",)):
                    continue
                if spec["template"].get("spec", {}).get("restartPolicy") not in ("Never", "OnFailure"):
                    self.err(where, "a Job's pods need restartPolicy Never or OnFailure")
                self.pod(where, spec["template"], docs)
            elif kind == "Service":
                self.keys(where + ".spec", spec, SERVICE_SPEC, ("selector", "ports"))
            elif kind == "HorizontalPodAutoscaler":
                if not self.keys(where + ".spec", spec, HPA_SPEC, ("scaleTargetRef", "maxReplicas")):
                    continue
                ref = spec["scaleTargetRef"]
                if ref.get("kind") != "Deployment" or ref.get("name") not in docs.get("Deployment", {}):
                    self.err(where, f"scaleTargetRef {ref} is not a Deployment defined here")
                if not self.typed(where, spec["maxReplicas"], int, "maxReplicas"):
                    continue
                if spec.get("minReplicas", 1) > spec["maxReplicas"]:
                    self.err(where, "minReplicas > maxReplicas")
                for m in spec.get("metrics", []):
                    t = m.get("type")
                    if t not in ("Pods", "Resource", "Object", "External", "ContainerResource"):
                        self.err(where, f"metric type {t!r} is not one of autoscaling/v2's")
                    body = m.get(t[0].lower() + t[1:] if t else "", None)
                    if body is None or "metric" not in body and t != "Resource":
                        self.err(where, f"metric of type {t} needs its '{t[0].lower() + t[1:] if t else '?'}.metric'")
                    elif body.get("target", {}).get("type") not in ("Utilization", "Value", "AverageValue"):
                        self.err(where, "metric target.type must be Utilization, Value or AverageValue")
            elif kind == "Secret":
                for k, v in {**d.get("data", {}), **d.get("stringData", {})}.items():
                    self.typed(where, v, str, k)
        self.gateway_replicas(docs_list)
        for path, d in docs_list:
            if isinstance(d, dict) and d.get("kind") == "Service":
                where = f"{path} Service/{d['metadata'].get('name')}"
                sel = (d.get("spec") or {}).get("selector", {})
                match = [n for n, (labels, _) in deployments.items() if all(labels.get(k) == v for k, v in sel.items())]
                if not sel or not match:
                    self.err(where, f"selector {sel} matches no Deployment's pods")
                for p in (d.get("spec") or {}).get("ports", []):
                    if match and p.get("targetPort") not in deployments[match[0]][1]:
                        self.err(where, f"targetPort {p.get('targetPort')!r} is not a port of {match[0]}")
        return self.problems


    def gateway_replicas(self, docs_list):
        """More than one `atlas-host serve` replica needs [serve] shared_episodes = true in the
        atlas.toml it mounts, or a Service with session affinity (docs/serve.md)."""
        maps = {d["metadata"].get("name"): d for _, d in docs_list if isinstance(d, dict) and d.get("kind") == "ConfigMap"}
        sticky = any(isinstance(d, dict) and d.get("kind") == "Service" and (d.get("spec") or {}).get("sessionAffinity") == "ClientIP"
                     for _, d in docs_list)
        for path, d in docs_list:
            if not isinstance(d, dict) or d.get("kind") != "Deployment":
                continue
            spec = d.get("spec") or {}
            pod = (spec.get("template") or {}).get("spec") or {}
            serves = any((c.get("args") or [None])[0] == "serve" for c in pod.get("containers", []))
            if not serves or spec.get("replicas", 1) <= 1 or sticky:
                continue
            shared = False
            for v in pod.get("volumes", []):
                cm = maps.get((v.get("configMap") or {}).get("name"))
                text = (cm or {}).get("data", {}).get("atlas.toml")
                if text:
                    try:
                        shared = tomllib.loads(text).get("serve", {}).get("shared_episodes") is True
                    except tomllib.TOMLDecodeError as e:
                        self.err(f"{path} ConfigMap", f"atlas.toml does not parse: {e}")
            if not shared:
                self.err(f"{path} Deployment/{d['metadata'].get('name')}",
                         f"{spec.get('replicas')} gateway replicas without [serve] shared_episodes = true in the atlas.toml "
                         "they mount (or a Service with sessionAffinity): an episode's calls would open several sessions")


def load(folder):
    out = []
    for f in sorted(os.listdir(folder)):
        if f.endswith((".yaml", ".yml")):
            with open(os.path.join(folder, f)) as fh:
                for d in yaml.safe_load_all(fh):
                    if d is not None:
                        out.append((f, d))
    return out


def main():
    args = sys.argv[1:]
    self_test = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    if len(args) != 1 or not os.path.isdir(args[0]):
        print("usage: check_manifests.py [--self-test] packaging/kubernetes", file=sys.stderr)
        return 2
    docs = load(args[0])
    if not docs:
        print(f"check_manifests: no YAML documents in {args[0]}", file=sys.stderr)
        return 1
    problems = Checker().check(docs)
    for p in problems:
        print("check_manifests:", p, file=sys.stderr)
    if problems:
        return 1
    print(f"check_manifests: {len(docs)} document(s) in {args[0]} pass", flush=True)
    if self_test:
        def broken(fn, what):
            d = copy.deepcopy(docs)
            fn(d)
            if not Checker().check(d):
                print(f"check_manifests: self-test: a copy with {what} was accepted", file=sys.stderr)
                return 1
            return 0
        def find(d, kind):
            return next(x for _, x in d if x.get("kind") == kind)
        bad = 0
        bad += broken(lambda d: find(d, "Deployment")["spec"].__setitem__("replica", 3), "a misspelt field")
        bad += broken(lambda d: find(d, "Deployment")["spec"]["template"]["spec"]["containers"][0].pop("image"), "no image")
        bad += broken(lambda d: find(d, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].__setitem__("name", "nope"),
                      "an HPA aimed at nothing")
        bad += broken(lambda d: find(d, "Service")["spec"]["selector"].__setitem__("app.kubernetes.io/name", "x"),
                      "a Service selecting no pods")
        bad += broken(lambda d: [x for _, x in d if x.get("kind") == "Secret"][0]["metadata"].__setitem__("name", "gone"),
                      "a missing Secret")
        bad += broken(lambda d: find(d, "Job")["spec"]["template"]["spec"]["securityContext"].__setitem__("runAsNonRoot", False),
                      "a root pod")
        def unshared(d):
            cm = find(d, "ConfigMap")
            cm["data"]["atlas.toml"] = cm["data"]["atlas.toml"].replace("shared_episodes = true", "")
        bad += broken(unshared, "two gateway replicas without shared episodes")
        if bad:
            return 1
        print("check_manifests: self-test: 7 broken copies refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
