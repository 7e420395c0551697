// Validates rendered Kubernetes manifests offline: every object against the
// Kubernetes JSON schemas (kubernetes-models), plus campsync's own rules:
// every Deployment has startup/readiness/liveness probes, CPU and memory
// requests and a memory limit, a restrictive security context, a PDB that
// selects it, and (for the scaled services) an HPA.
// Usage: node validate.mjs rendered.yaml [more.yaml ...]
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const scaled = new Set(["campsync-marketo", "campsync-salesforce", "campsync-reconciler"]);
const problems = [];
const objects = [];

for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) problems.push(`${file}: YAML error ${doc.errors[0].message}`);
    const obj = doc.toJS();
    if (obj) objects.push(obj);
  }
}

async function modelFor(obj) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}/${obj.kind}` : `kubernetes-models/${version}/${obj.kind}`;
  const mod = await import(path);
  return mod[obj.kind] ?? mod.default;
}

for (const obj of objects) {
  const name = `${obj.kind}/${obj.metadata?.name}`;
  try {
    const Model = await modelFor(obj);
    new Model(obj).validate();
  } catch (e) {
    problems.push(`${name}: ${e.message.split("\n").slice(0, 4).join(" ")}`);
  }
}

const matches = (selector, labels) =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v);

for (const dep of objects.filter((o) => o.kind === "Deployment")) {
  const name = dep.metadata.name;
  const labels = dep.spec.template.metadata.labels;
  for (const c of dep.spec.template.spec.containers) {
    for (const p of ["startupProbe", "readinessProbe", "livenessProbe"])
      if (!c[p]) problems.push(`Deployment/${name}: container ${c.name} has no ${p}`);
    if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory)
      problems.push(`Deployment/${name}: container ${c.name} lacks cpu/memory requests`);
    if (!c.resources?.limits?.memory) problems.push(`Deployment/${name}: container ${c.name} lacks a memory limit`);
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false || sc.readOnlyRootFilesystem !== true)
      problems.push(`Deployment/${name}: container ${c.name} security context is not restrictive`);
    if (!c.lifecycle?.preStop) problems.push(`Deployment/${name}: container ${c.name} has no preStop pause`);
  }
  if (dep.spec.template.spec.securityContext?.runAsNonRoot !== true)
    problems.push(`Deployment/${name}: pod does not set runAsNonRoot`);
  if (!objects.some((o) => o.kind === "PodDisruptionBudget" && matches(o.spec.selector, labels)))
    problems.push(`Deployment/${name}: no PodDisruptionBudget selects it`);
  if (scaled.has(name) &&
      !objects.some((o) => o.kind === "HorizontalPodAutoscaler" && o.spec.scaleTargetRef?.name === name))
    problems.push(`Deployment/${name}: scaled service without a HorizontalPodAutoscaler`);
}
if (!objects.some((o) => o.kind === "NetworkPolicy" && Object.keys(o.spec.podSelector ?? {}).length === 0 &&
                         !o.spec.ingress && !o.spec.egress))
  problems.push("no default-deny NetworkPolicy");

if (problems.length) {
  console.error(problems.map((p) => `k8s-check: ${p}`).join("\n"));
  process.exit(1);
}
console.log(`k8s-check: ${objects.length} objects valid`);
